import type { KubeObject } from '@calilab/model'
import { parseTimestamp } from '../ids.ts'
import { type Action, type Condition, deleteAction } from './types.ts'

/**
 * The namespace controller (kube-controller-manager's namespace deleter) for one namespace. A
 * Terminating namespace that still carries the `kubernetes` finalizer is emptied (every namespaced
 * kind, CRD-defined ones too), then finalized (the finalizer taken off through the finalize
 * subresource), then deleted again, which removes it. One step per pass: each pass decides from
 * what is stored now, so a restart anywhere in between simply carries on.
 *
 * Like kube-controller-manager's (namespaceDeletionGracePeriod), it starts only a grace period
 * after the deletion, so a client deleting a namespace and then its objects one by one
 * (`kubectl delete -f` with the Namespace first) finds each of them still there.
 */

export const NAMESPACE_FINALIZER = 'kubernetes'
/** kube-controller-manager's namespaceDeletionGracePeriod. */
export const NAMESPACE_DELETION_GRACE_MS = 5000

/** How long until the controller may start on this Terminating namespace (0: now). */
export function namespaceDueInMs(ns: KubeObject, nowMs: number, graceMs: number): number {
  const since = parseTimestamp(ns.metadata.deletionTimestamp)
  if (since === undefined) return 0
  return Math.max(0, since + graceMs - nowMs)
}

export interface NamespaceContent {
  apiVersion: string
  kind: string
  /** Objects of this kind still in the namespace. */
  count: number
}

export interface NamespaceInput {
  namespace: KubeObject
  /** Every namespaced kind served, with what the namespace still holds of it. */
  content: NamespaceContent[]
  nowIso: string
}

function finalizersOf(ns: KubeObject): string[] {
  const f = (ns.spec as { finalizers?: unknown } | undefined)?.finalizers
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : []
}

/** The conditions the real deleter leaves once content deletion succeeded. */
export function deletionConditions(nowIso: string): Condition[] {
  const c = (type: string, reason: string, message: string): Condition => ({
    type,
    status: 'False',
    lastTransitionTime: nowIso,
    reason,
    message,
  })
  return [
    c('NamespaceDeletionDiscoveryFailure', 'ResourcesDiscovered', 'All resources successfully discovered'),
    c(
      'NamespaceDeletionGroupVersionParsingFailure',
      'ParsedGroupVersions',
      'All legacy kube types successfully parsed',
    ),
    c(
      'NamespaceDeletionContentFailure',
      'ContentDeleted',
      'All content successfully deleted, may be waiting on finalization',
    ),
    c('NamespaceContentRemaining', 'ContentRemoved', 'All content successfully removed'),
    c('NamespaceFinalizersRemaining', 'ContentHasNoFinalizers', 'All content-preserving finalizers finished'),
  ]
}

function hasConditions(ns: KubeObject, want: Condition[]): boolean {
  const have = (ns.status as { conditions?: Condition[] } | undefined)?.conditions ?? []
  return want.every((w) => have.some((h) => h.type === w.type && h.status === w.status && h.reason === w.reason))
}

export function reconcileNamespace(input: NamespaceInput): Action[] {
  const ns = input.namespace
  if (!ns.metadata.deletionTimestamp) return []
  const finalizers = finalizersOf(ns)
  if (!finalizers.includes(NAMESPACE_FINALIZER)) {
    // Our part is done; once no other spec finalizer is left, the second DELETE removes it.
    return finalizers.length === 0 ? [deleteAction(ns)] : []
  }
  const actions: Action[] = []
  const wanted = deletionConditions(input.nowIso)
  if (!hasConditions(ns, wanted)) {
    const status = (ns.status ?? {}) as Record<string, unknown>
    actions.push({ op: 'updateStatus', obj: { ...ns, status: { ...status, conditions: wanted } } })
  }
  const name = ns.metadata.name ?? ''
  for (const c of input.content) {
    if (c.count > 0) actions.push({ op: 'deleteCollection', apiVersion: c.apiVersion, kind: c.kind, namespace: name })
  }
  // The status write changed the resourceVersion: finalize on the next pass, from fresh state.
  if (actions.length) return actions
  const spec = (ns.spec ?? {}) as Record<string, unknown>
  return [
    {
      op: 'finalize',
      obj: { ...ns, spec: { ...spec, finalizers: finalizers.filter((f) => f !== NAMESPACE_FINALIZER) } },
    },
  ]
}
