import { computeHash } from './hash.ts'
import { checkFit } from './scheduler.ts'
import type { Action, DaemonSet, NodeObj, Pod, Toleration } from './types.ts'
import { clone, deleteAction, jsonEqual } from './types.ts'
import { intOrPercent, isPodActive, isPodAvailable, isPodReady, ownedBy, ownerRefTo, selectorMatches } from './util.ts'

export const CONTROLLER_REVISION_HASH = 'controller-revision-hash'

/** Tolerations the DaemonSet controller adds to every pod it makes (daemon/util AddOrUpdateDaemonPodTolerations). */
export function daemonTolerations(hostNetwork: boolean): Toleration[] {
  const t: Toleration[] = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
  ]
  if (hostNetwork) t.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' })
  return t
}

export interface DaemonSetInput {
  ds: DaemonSet
  nodes: NodeObj[]
  /** Pods of the DaemonSet's namespace. */
  pods: Pod[]
  now: number
  newName: (prefix: string) => string
}

export function daemonHash(ds: DaemonSet): string {
  return computeHash(ds.spec.template)
}

function daemonPod(ds: DaemonSet, node: string, name: string, hash: string): Pod {
  const t = clone(ds.spec.template)
  const spec = t.spec
  spec.nodeName = node
  const tols = [...(spec.tolerations ?? [])]
  for (const d of daemonTolerations(spec.hostNetwork === true)) {
    if (!tols.some((x) => jsonEqual(x, d))) tols.push(d)
  }
  spec.tolerations = tols
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: `${ds.metadata.name}-`,
      namespace: ds.metadata.namespace ?? 'default',
      labels: {
        ...(t.metadata?.labels ?? {}),
        [CONTROLLER_REVISION_HASH]: hash,
        'pod-template-generation': String(ds.metadata.generation ?? 1),
      },
      ownerReferences: [ownerRefTo(ds)],
    },
    spec,
  }
  if (t.metadata?.annotations) pod.metadata.annotations = t.metadata.annotations
  return pod
}

/** Whether a daemon pod belongs on the node: selector/affinity and taints (with the daemon tolerations). */
export function nodeShouldRunDaemon(ds: DaemonSet, n: NodeObj): boolean {
  const probe = daemonPod(ds, n.metadata.name ?? '', 'probe', '')
  return checkFit(probe, n, new Set()) === undefined
}

/** DaemonSet controller: one pod per eligible node, rolling replacement on template change. */
export function reconcileDaemonSet(input: DaemonSetInput): Action[] {
  const { ds } = input
  if (ds.metadata.deletionTimestamp) return []
  const hash = daemonHash(ds)
  const mine = input.pods.filter((p) => ownedBy(p, ds) && selectorMatches(ds.spec.selector, p.metadata.labels))
  const active = mine.filter(isPodActive)
  const actions: Action[] = []
  const byNode = new Map<string, Pod[]>()
  for (const p of active) {
    const nn = p.spec.nodeName ?? ''
    byNode.set(nn, [...(byNode.get(nn) ?? []), p])
  }
  const nodes = [...input.nodes].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
  const eligible = new Set(nodes.filter((n) => nodeShouldRunDaemon(ds, n)).map((n) => n.metadata.name ?? ''))
  const minReady = ds.spec.minReadySeconds ?? 0
  const maxUnavailable = Math.max(
    1,
    intOrPercent(ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable, eligible.size, '1', true),
  )
  let unavailable = 0
  for (const nn of eligible) {
    const ps = byNode.get(nn) ?? []
    if (!ps.some((p) => isPodAvailable(p, minReady, input.now))) unavailable++
  }
  let misscheduled = 0
  for (const [nn, ps] of byNode) {
    if (!eligible.has(nn)) {
      misscheduled += ps.length
      for (const p of ps) actions.push(deleteAction(p))
    }
  }
  const rolling = (ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate'
  for (const nn of eligible) {
    const ps = byNode.get(nn) ?? []
    if (ps.length === 0) {
      actions.push({ op: 'create', obj: daemonPod(ds, nn, input.newName(`${ds.metadata.name}-`), hash) })
      continue
    }
    // Keep one: prefer the current revision, then the oldest.
    const sorted = [...ps].sort(
      (a, b) =>
        Number(b.metadata.labels?.[CONTROLLER_REVISION_HASH] === hash) -
          Number(a.metadata.labels?.[CONTROLLER_REVISION_HASH] === hash) ||
        (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
    )
    for (const extra of sorted.slice(1)) actions.push(deleteAction(extra))
    const keep = sorted[0] as Pod
    if (rolling && keep.metadata.labels?.[CONTROLLER_REVISION_HASH] !== hash) {
      const wasAvailable = isPodAvailable(keep, minReady, input.now)
      if (!wasAvailable || unavailable < maxUnavailable) {
        actions.push(deleteAction(keep))
        if (wasAvailable) unavailable++
      }
    }
  }
  const onEligible = active.filter((p) => eligible.has(p.spec.nodeName ?? ''))
  const perNode = (f: (p: Pod) => boolean) => [...eligible].filter((nn) => (byNode.get(nn) ?? []).some(f)).length
  const status: Record<string, number> = {
    currentNumberScheduled: perNode(() => true),
    desiredNumberScheduled: eligible.size,
    numberMisscheduled: misscheduled,
    numberReady: perNode(isPodReady),
    numberAvailable: perNode((p) => isPodAvailable(p, minReady, input.now)),
    observedGeneration: ds.metadata.generation ?? 1,
    updatedNumberScheduled: perNode((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH] === hash),
  }
  const numberUnavailable = eligible.size - (status.numberAvailable ?? 0)
  if (numberUnavailable > 0) status.numberUnavailable = numberUnavailable
  void onEligible
  if (!jsonEqual(ds.status ?? {}, status)) {
    const next = clone(ds)
    next.status = status
    actions.push({ op: 'updateStatus', obj: next })
  }
  return actions
}
