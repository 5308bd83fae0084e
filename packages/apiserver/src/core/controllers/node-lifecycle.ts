import type { Action, Condition, NodeObj, Taint } from './types.ts'
import { clone, jsonEqual, rfc3339 } from './types.ts'
import { getCondition, TAINT_NOT_READY, TAINT_UNREACHABLE } from './util.ts'

/** node-monitor-grace-period: a node whose kubelet is silent this long goes Unknown. */
export const NODE_GRACE_MS = 40_000

/**
 * Node lifecycle controller: a silent kubelet → every condition Unknown ("Kubelet stopped posting
 * node status."); taints follow Ready (TaintNodesByCondition + taint-based eviction keys):
 * False → not-ready NoSchedule/NoExecute, Unknown → unreachable NoSchedule/NoExecute, True → none.
 */
export function reconcileNodeLifecycle(nodes: NodeObj[], now: number): Action[] {
  const actions: Action[] = []
  const nowIso = rfc3339(now)
  for (const n of nodes) {
    const ready = getCondition(n.status?.conditions, 'Ready')
    let conds = n.status?.conditions
    let statusChanged = false
    const hb = ready?.lastHeartbeatTime ? Date.parse(ready.lastHeartbeatTime) : undefined
    if (ready && ready.status !== 'Unknown' && hb !== undefined && now - hb > NODE_GRACE_MS) {
      conds = (conds ?? []).map(
        (c): Condition => ({
          ...c,
          status: 'Unknown',
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
          lastTransitionTime: nowIso,
        }),
      )
      statusChanged = true
    }
    const status = getCondition(conds, 'Ready')?.status
    if (status === undefined) continue
    const own = (n.spec?.taints ?? []).filter((t) => t.key !== TAINT_NOT_READY && t.key !== TAINT_UNREACHABLE)
    const key = status === 'False' ? TAINT_NOT_READY : status === 'Unknown' ? TAINT_UNREACHABLE : undefined
    const prevManaged = (n.spec?.taints ?? []).filter((t) => t.key === TAINT_NOT_READY || t.key === TAINT_UNREACHABLE)
    let managed: Taint[] = []
    if (key) {
      managed = (['NoSchedule', 'NoExecute'] as const).map((effect) => {
        const prev = prevManaged.find((t) => t.key === key && t.effect === effect)
        const t: Taint = { key, effect }
        if (effect === 'NoExecute') t.timeAdded = prev?.timeAdded ?? nowIso
        return t
      })
    }
    if (statusChanged) {
      const next = clone(n)
      next.status = { ...(next.status ?? {}), conditions: conds ?? [] }
      delete next.metadata.resourceVersion
      actions.push({ op: 'updateStatus', obj: next })
    }
    const taints = [...own, ...managed]
    if (!jsonEqual(taints, n.spec?.taints ?? [])) {
      const next = clone(n)
      next.spec = { ...(next.spec ?? {}) }
      if (taints.length) next.spec.taints = taints
      else delete next.spec.taints
      actions.push({ op: 'update', obj: next })
    }
  }
  return actions
}
