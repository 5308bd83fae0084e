import { computeHash } from './hash.ts'
import type { Action, Condition, Deployment, ReplicaSet } from './types.ts'
import { clone, jsonEqual } from './types.ts'
import { getCondition, intOrPercent, ownedBy, ownerRefTo, setCondition } from './util.ts'

export const POD_TEMPLATE_HASH = 'pod-template-hash'
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision'

export interface DeploymentInput {
  deploy: Deployment
  /** ReplicaSets of the Deployment's namespace. */
  replicaSets: ReplicaSet[]
  nowIso: string
}

export function templateHash(d: Deployment): string {
  return computeHash(d.spec.template, d.status?.collisionCount)
}

export function newReplicaSetName(d: Deployment): string {
  return `${d.metadata.name}-${templateHash(d)}`
}

function specReplicas(rs: ReplicaSet): number {
  return rs.spec.replicas ?? 0
}

function withoutHash(t: ReplicaSet['spec']['template']): unknown {
  const c = clone(t)
  if (c.metadata?.labels) delete c.metadata.labels[POD_TEMPLATE_HASH]
  return c
}

export function resolveRolling(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const replicas = d.spec.replicas ?? 1
  if (d.spec.strategy?.type === 'Recreate') return { maxSurge: 0, maxUnavailable: replicas }
  const ru = d.spec.strategy?.rollingUpdate
  const maxSurge = intOrPercent(ru?.maxSurge, replicas, '25%', true)
  let maxUnavailable = intOrPercent(ru?.maxUnavailable, replicas, '25%', false)
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) }
}

function newReplicaSet(d: Deployment, hash: string, replicas: number, revision: number): ReplicaSet {
  const t = clone(d.spec.template)
  t.metadata = { ...(t.metadata ?? {}), labels: { ...(t.metadata?.labels ?? {}), [POD_TEMPLATE_HASH]: hash } }
  const sel = clone(d.spec.selector)
  sel.matchLabels = { ...(sel.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash }
  const rs: ReplicaSet = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace ?? 'default',
      labels: { ...(t.metadata.labels ?? {}) },
      annotations: {
        'deployment.kubernetes.io/desired-replicas': String(d.spec.replicas ?? 1),
        'deployment.kubernetes.io/max-replicas': String((d.spec.replicas ?? 1) + resolveRolling(d).maxSurge),
        [REVISION_ANNOTATION]: String(revision),
      },
      ownerReferences: [ownerRefTo(d)],
    },
    spec: { replicas, selector: sel, template: t },
  }
  if (d.spec.minReadySeconds !== undefined) rs.spec.minReadySeconds = d.spec.minReadySeconds
  return rs
}

function scaled(rs: ReplicaSet, replicas: number, d: Deployment): Action {
  const next = clone(rs)
  next.spec.replicas = replicas
  next.metadata.annotations = {
    ...(next.metadata.annotations ?? {}),
    'deployment.kubernetes.io/desired-replicas': String(d.spec.replicas ?? 1),
  }
  return { op: 'update', obj: next }
}

/**
 * Deployment controller (pkg/controller/deployment): finds or creates the ReplicaSet for the
 * current template, scales it and the old ones (rolling update within maxSurge/maxUnavailable, or
 * recreate), and writes status so `kubectl rollout status` can finish.
 */
export function reconcileDeployment(input: DeploymentInput): Action[] {
  const d = input.deploy
  if (d.metadata.deletionTimestamp) return []
  const replicas = d.spec.replicas ?? 1
  const owned = input.replicaSets.filter((rs) => ownedBy(rs, d))
  const hash = templateHash(d)
  const tmpl = d.spec.template
  const newRs = owned.find(
    (rs) => rs.metadata.labels?.[POD_TEMPLATE_HASH] === hash || jsonEqual(withoutHash(rs.spec.template), tmpl),
  )
  const olds = owned.filter((rs) => rs !== newRs)
  const actions: Action[] = []
  const { maxSurge, maxUnavailable } = resolveRolling(d)
  const recreate = d.spec.strategy?.type === 'Recreate'
  const maxRevision = Math.max(0, ...owned.map((rs) => Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0)))
  const avail = (rs: ReplicaSet) => rs.status?.availableReplicas ?? 0
  const oldActive = olds.filter((rs) => specReplicas(rs) > 0 || (rs.status?.replicas ?? 0) > 0)

  let newReplicas = newRs ? specReplicas(newRs) : 0
  if (!d.spec.paused) {
    if (recreate) {
      for (const rs of olds) if (specReplicas(rs) > 0) actions.push(scaled(rs, 0, d))
      if (oldActive.length === 0) newReplicas = replicas
      else newReplicas = newRs ? specReplicas(newRs) : 0
    } else if (oldActive.length === 0) {
      newReplicas = replicas
    } else {
      // Scale up the new RS within maxSurge.
      const total = owned.reduce((s, rs) => s + specReplicas(rs), 0)
      const maxTotal = replicas + maxSurge
      if (total < maxTotal) newReplicas = Math.min(newReplicas + (maxTotal - total), replicas)
      // Scale down old RSs while keeping minAvailable.
      const minAvailable = replicas - maxUnavailable
      const allAfterUp = total - (newRs ? specReplicas(newRs) : 0) + newReplicas
      const newUnavailable = Math.max(0, newReplicas - (newRs ? avail(newRs) : 0))
      let budget = allAfterUp - minAvailable - newUnavailable
      const oldsOldest = [...olds].sort((a, b) =>
        (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
      )
      for (const rs of oldsOldest) {
        const cur = specReplicas(rs)
        if (cur === 0) continue
        // Unhealthy replicas of old sets can always go first.
        const unhealthy = Math.max(0, cur - avail(rs))
        let down = Math.min(cur, unhealthy + Math.max(0, budget))
        down = Math.min(down, cur)
        if (down > 0) {
          actions.push(scaled(rs, cur - down, d))
          budget -= Math.max(0, down - unhealthy)
        }
      }
    }
    if (!newRs) {
      actions.unshift({ op: 'create', obj: newReplicaSet(d, hash, newReplicas, maxRevision + 1) })
    } else if (specReplicas(newRs) !== newReplicas) {
      actions.push(scaled(newRs, newReplicas, d))
    }
    if (newRs && Number(newRs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) < maxRevision && olds.length > 0) {
      const latestOld = Math.max(...olds.map((rs) => Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0)))
      if (Number(newRs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) < latestOld) {
        const bumped = clone(newRs)
        if (actions.some((a) => a.op === 'update' && a.obj.metadata.name === newRs.metadata.name)) {
          // already being written; the next pass bumps the revision
        } else {
          bumped.metadata.annotations = {
            ...(bumped.metadata.annotations ?? {}),
            [REVISION_ANNOTATION]: String(latestOld + 1),
          }
          actions.push({ op: 'update', obj: bumped })
        }
      }
    }
  }

  // Status, from what the ReplicaSets report.
  const sum = (f: (rs: ReplicaSet) => number) => owned.reduce((s, rs) => s + f(rs), 0)
  const updated = newRs ? (newRs.status?.replicas ?? 0) : 0
  const status = {
    observedGeneration: d.metadata.generation ?? 1,
    replicas: sum((rs) => rs.status?.replicas ?? 0),
    updatedReplicas: updated,
    readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: sum(avail),
    unavailableReplicas: 0,
    conditions: [] as Condition[],
  }
  status.unavailableReplicas = Math.max(0, (d.spec.replicas ?? 1) - status.availableReplicas)
  const prevConds = d.status?.conditions
  const availableOk = status.availableReplicas >= replicas - maxUnavailable
  let conds = setCondition(
    prevConds,
    availableOk
      ? {
          type: 'Available',
          status: 'True',
          reason: 'MinimumReplicasAvailable',
          message: 'Deployment has minimum availability.',
          lastUpdateTime: input.nowIso,
          lastTransitionTime: input.nowIso,
        }
      : {
          type: 'Available',
          status: 'False',
          reason: 'MinimumReplicasUnavailable',
          message: 'Deployment does not have minimum availability.',
          lastUpdateTime: input.nowIso,
          lastTransitionTime: input.nowIso,
        },
    input.nowIso,
  )
  const rsName = newRs?.metadata.name ?? newReplicaSetName(d)
  const complete =
    newRs !== undefined &&
    updated === replicas &&
    status.replicas === replicas &&
    status.availableReplicas === replicas &&
    specReplicas(newRs) === replicas
  const progressing: Condition = complete
    ? {
        type: 'Progressing',
        status: 'True',
        reason: 'NewReplicaSetAvailable',
        message: `ReplicaSet "${rsName}" has successfully progressed.`,
        lastUpdateTime: input.nowIso,
        lastTransitionTime: input.nowIso,
      }
    : {
        type: 'Progressing',
        status: 'True',
        reason: newRs ? 'ReplicaSetUpdated' : 'NewReplicaSetCreated',
        message: newRs ? `ReplicaSet "${rsName}" is progressing.` : `Created new replica set "${rsName}"`,
        lastUpdateTime: input.nowIso,
        lastTransitionTime: input.nowIso,
      }
  conds = setCondition(conds, progressing, input.nowIso)
  // Real order: Available first, then Progressing.
  conds.sort((a, b) => (a.type === 'Available' ? -1 : b.type === 'Available' ? 1 : 0))
  status.conditions = conds
  const prev = d.status ?? {}
  const nextStatus: Record<string, unknown> = { ...status }
  if (d.status?.collisionCount !== undefined) nextStatus.collisionCount = d.status.collisionCount
  if (status.unavailableReplicas === 0) delete nextStatus.unavailableReplicas
  if (!jsonEqual(prev, nextStatus)) {
    const next = clone(d)
    next.status = nextStatus as NonNullable<Deployment['status']>
    actions.push({ op: 'updateStatus', obj: next })
  }
  // Deployment annotation revision follows the new RS.
  const rev = newRs?.metadata.annotations?.[REVISION_ANNOTATION] ?? String(maxRevision + 1)
  if (d.metadata.annotations?.[REVISION_ANNOTATION] !== rev && !d.spec.paused) {
    const next = clone(d)
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [REVISION_ANNOTATION]: rev }
    delete next.status
    actions.push({ op: 'update', obj: next })
  }
  return actions
}

export { getCondition }
