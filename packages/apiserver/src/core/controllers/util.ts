import type { KubeObject, OwnerReference } from '@calilab/model'
import type { Condition, LabelSelector, NodeObj, Pod, Taint, Toleration } from './types.ts'

/** matchLabels + matchExpressions against a label map. An empty selector matches everything. */
export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel) return false
  const l = labels ?? {}
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key)
    const v = l[e.key]
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(v as string)) return false
        break
      case 'NotIn':
        if (has && (e.values ?? []).includes(v as string)) return false
        break
      case 'Exists':
        if (!has) return false
        break
      case 'DoesNotExist':
        if (has) return false
        break
      default:
        return false
    }
  }
  return true
}

/** A Service-style map selector: every key must match. */
export function mapMatches(sel: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {}
  return Object.entries(sel).every(([k, v]) => l[k] === v)
}

export function getCondition(conds: Condition[] | undefined, type: string): Condition | undefined {
  return (conds ?? []).find((c) => c.type === type)
}

/**
 * Sets a condition, keeping lastTransitionTime when the status did not change.
 * Returns a new array.
 */
export function setCondition(conds: Condition[] | undefined, c: Condition, nowIso: string): Condition[] {
  const list = [...(conds ?? [])]
  const i = list.findIndex((x) => x.type === c.type)
  const prev = i >= 0 ? list[i] : undefined
  const next: Condition = { ...c }
  if (prev && prev.status === c.status) {
    if (prev.lastTransitionTime !== undefined) next.lastTransitionTime = prev.lastTransitionTime
    if (prev.lastUpdateTime !== undefined && 'lastUpdateTime' in c) {
      next.lastUpdateTime =
        prev.reason === c.reason && prev.message === c.message ? prev.lastUpdateTime : (c.lastUpdateTime ?? nowIso)
    }
  } else if ('lastTransitionTime' in c || !prev) {
    next.lastTransitionTime = nowIso
  }
  if (i >= 0) list[i] = next
  else list.push(next)
  return list
}

export function isPodActive(p: Pod): boolean {
  return !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed'
}

export function isPodReady(p: Pod): boolean {
  return getCondition(p.status?.conditions, 'Ready')?.status === 'True'
}

/** Ready for at least minReadySeconds at `now`. */
export function isPodAvailable(p: Pod, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(p)) return false
  if (minReadySeconds <= 0) return true
  const t = getCondition(p.status?.conditions, 'Ready')?.lastTransitionTime
  return t !== undefined && Date.parse(t) + minReadySeconds * 1000 <= now
}

export function isNodeReady(n: NodeObj): boolean {
  return getCondition(n.status?.conditions, 'Ready')?.status === 'True'
}

export function controllerRef(o: KubeObject): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller === true)
}

export function ownedBy(o: KubeObject, owner: KubeObject): boolean {
  return controllerRef(o)?.uid === owner.metadata.uid && owner.metadata.uid !== undefined
}

export function ownerRefTo(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  }
}

/** v1 toleration semantics (k8s.io/api/core/v1 toleration.go ToleratesTaint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false
  if (t.key && t.key !== taint.key) return false
  if (!t.key && t.operator !== 'Exists') return false
  if (t.operator === 'Exists') return true
  return (t.value ?? '') === (taint.value ?? '')
}

export function toleratesAll(tols: Toleration[] | undefined, taint: Taint): boolean {
  return (tols ?? []).some((t) => tolerates(t, taint))
}

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready'
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable'
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable'
export const TAINT_CONTROL_PLANE = 'node-role.kubernetes.io/control-plane'
export const TAINT_MASTER = 'node-role.kubernetes.io/master'

/** Resolves an int-or-percent (maxSurge, maxUnavailable) against a total. */
export function intOrPercent(v: number | string | undefined, total: number, dflt: string, roundUp: boolean): number {
  const x = v ?? dflt
  if (typeof x === 'number') return x
  const m = /^(\d+)%$/.exec(x)
  if (!m) return Number.parseInt(x, 10) || 0
  const f = (Number(m[1]) * total) / 100
  return roundUp ? Math.ceil(f) : Math.floor(f)
}

export function nameOf(o: KubeObject): string {
  return o.metadata.name ?? ''
}
