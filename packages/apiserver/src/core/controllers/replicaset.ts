import type { Action, Pod, ReplicaSet } from './types.ts'
import { clone, deleteAction, jsonEqual } from './types.ts'
import { isPodActive, isPodAvailable, isPodReady, ownedBy, ownerRefTo, selectorMatches } from './util.ts'

export interface RsInput {
  rs: ReplicaSet
  /** Pods of the ReplicaSet's namespace. */
  pods: Pod[]
  now: number
  /** Makes a pod name from a prefix (`<rs>-`): generateName with the injected Rng. */
  newName: (prefix: string) => string
}

/** Rank for scale-down, lower goes first: unscheduled, pending, not ready, then newest. */
function deletionRank(p: Pod): number {
  if (!p.spec.nodeName) return 0
  if (p.status?.phase !== 'Running') return 1
  if (!isPodReady(p)) return 2
  return 3
}

export function podsOf(rs: ReplicaSet, pods: Pod[]): Pod[] {
  return pods.filter((p) => ownedBy(p, rs) && selectorMatches(rs.spec.selector, p.metadata.labels))
}

export function podFromTemplate(owner: ReplicaSet, name: string): Pod {
  const t = owner.spec.template
  const meta = clone(t.metadata ?? {})
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: `${owner.metadata.name}-`,
      namespace: owner.metadata.namespace ?? 'default',
      labels: { ...(meta.labels ?? {}) },
      ownerReferences: [ownerRefTo(owner)],
    },
    spec: clone(t.spec),
  }
  if (meta.annotations) pod.metadata.annotations = meta.annotations
  return pod
}

/** ReplicaSet controller: keep `replicas` active pods and report status. */
export function reconcileReplicaSet(input: RsInput): Action[] {
  const { rs } = input
  if (rs.metadata.deletionTimestamp) return []
  const mine = podsOf(rs, input.pods)
  const active = mine.filter(isPodActive)
  const want = rs.spec.replicas ?? 1
  const actions: Action[] = []
  if (active.length < want) {
    for (let i = active.length; i < want; i++) {
      actions.push({ op: 'create', obj: podFromTemplate(rs, input.newName(`${rs.metadata.name}-`)) })
    }
  } else if (active.length > want) {
    const victims = [...active]
      .sort(
        (a, b) =>
          deletionRank(a) - deletionRank(b) ||
          (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
      )
      .slice(0, active.length - want)
    for (const v of victims) actions.push(deleteAction(v))
  }
  const minReady = rs.spec.minReadySeconds ?? 0
  const kept = active.filter((p) => !actions.some((a) => a.op === 'delete' && a.name === p.metadata.name))
  const status = {
    replicas: kept.length,
    fullyLabeledReplicas: kept.filter((p) =>
      Object.entries(rs.spec.template.metadata?.labels ?? {}).every(([k, v]) => p.metadata.labels?.[k] === v),
    ).length,
    readyReplicas: kept.filter(isPodReady).length,
    availableReplicas: kept.filter((p) => isPodAvailable(p, minReady, input.now)).length,
    observedGeneration: rs.metadata.generation ?? 1,
  }
  if (!jsonEqual({ ...(rs.status ?? {}) }, status)) {
    const next = clone(rs)
    next.status = status
    actions.push({ op: 'updateStatus', obj: next })
  }
  return actions
}
