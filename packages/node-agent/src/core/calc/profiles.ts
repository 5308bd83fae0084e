import type { Labels } from './label-index.ts'

/**
 * Profiles as label parents (Calico `conversion`): a namespace is profile `kns.<ns>` whose labels
 * are the namespace's labels prefixed `pcns.` plus `pcns.projectcalico.org/name`; a service account
 * is `ksa.<ns>.<sa>` with `pcsa.` labels plus `pcsa.projectcalico.org/name`. A pod's parents are
 * `[kns.<ns>, ksa.<ns>.<sa>]`, so its effective labels carry both (namespaceSelector and
 * serviceAccountSelector match on them).
 */
export function namespaceProfileId(ns: string): string {
  return `kns.${ns}`
}

export function serviceAccountProfileId(ns: string, sa: string): string {
  return `ksa.${ns}.${sa}`
}

export function namespaceProfileLabels(ns: string, labels: Labels = {}): Labels {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels)) out[`pcns.${k}`] = v
  out['pcns.projectcalico.org/name'] = ns
  return out
}

export function serviceAccountProfileLabels(sa: string, labels: Labels = {}): Labels {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels)) out[`pcsa.${k}`] = v
  out['pcsa.projectcalico.org/name'] = sa
  return out
}

/** The label parents of a pod's workload endpoint, in Calico's order. */
export function podProfileIds(ns: string, serviceAccount: string | undefined): string[] {
  return serviceAccount
    ? [namespaceProfileId(ns), serviceAccountProfileId(ns, serviceAccount)]
    : [namespaceProfileId(ns)]
}
