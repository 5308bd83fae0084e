import type { Action, NodeObj, NodeSelectorRequirement, Pod, Taint } from './types.ts'
import { clone, jsonEqual } from './types.ts'
import {
  getCondition,
  isNodeReady,
  isPodActive,
  setCondition,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_UNSCHEDULABLE,
  toleratesAll,
} from './util.ts'

/** Why one node cannot take a pod: the phrase the real scheduler counts ("N node(s) ..."). */
export type FitFailure = string

/**
 * The taints a node effectively has for scheduling: its own, plus not-ready / unreachable /
 * unschedulable implied by its state (the node lifecycle controller writes them a moment later).
 */
export function effectiveTaints(n: NodeObj): Taint[] {
  const taints = [...(n.spec?.taints ?? [])]
  const has = (k: string) => taints.some((t) => t.key === k && t.effect === 'NoSchedule')
  if (!isNodeReady(n)) {
    const ready = getCondition(n.status?.conditions, 'Ready')
    const key = ready?.status === 'Unknown' ? TAINT_UNREACHABLE : TAINT_NOT_READY
    if (!has(key)) taints.push({ key, effect: 'NoSchedule' })
  }
  if (n.spec?.unschedulable && !has(TAINT_UNSCHEDULABLE))
    taints.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' })
  return taints
}

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  switch (r.operator) {
    case 'In':
      return value !== undefined && (r.values ?? []).includes(value)
    case 'NotIn':
      return value === undefined || !(r.values ?? []).includes(value)
    case 'Exists':
      return value !== undefined
    case 'DoesNotExist':
      return value === undefined
    case 'Gt':
      return value !== undefined && Number(value) > Number(r.values?.[0])
    case 'Lt':
      return value !== undefined && Number(value) < Number(r.values?.[0])
    default:
      return false
  }
}

function affinityMatches(pod: Pod, n: NodeObj): boolean {
  const labels = n.metadata.labels ?? {}
  for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) if (labels[k] !== v) return false
  const terms = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms
  if (!terms || terms.length === 0) return true
  return terms.some(
    (t) =>
      (t.matchExpressions ?? []).every((r) => requirementMatches(r, labels[r.key])) &&
      (t.matchFields ?? []).every((r) => r.key === 'metadata.name' && requirementMatches(r, n.metadata.name)),
  )
}

function hostPorts(p: Pod): string[] {
  const out: string[] = []
  for (const c of p.spec.containers ?? []) {
    for (const port of c.ports ?? []) {
      const hp = port.hostPort ?? (p.spec.hostNetwork ? port.containerPort : undefined)
      if (hp) out.push(`${port.protocol ?? 'TCP'}/${hp}`)
    }
  }
  return out
}

/** Checks one node for one pod; undefined = fits. `usedPorts` = host ports already taken there. */
export function checkFit(pod: Pod, n: NodeObj, usedPorts: ReadonlySet<string>): FitFailure | undefined {
  if (pod.spec.nodeName && pod.spec.nodeName !== n.metadata.name) return "didn't match the requested node name"
  if (!affinityMatches(pod, n)) return "didn't match Pod's node affinity/selector"
  for (const t of effectiveTaints(n)) {
    if (t.effect === 'PreferNoSchedule') continue
    if (!toleratesAll(pod.spec.tolerations, t)) {
      return `had untolerated taint {${t.key}: ${t.value ?? ''}}`
    }
  }
  if (hostPorts(pod).some((p) => usedPorts.has(p))) return "didn't have free ports for the requested pod ports"
  return undefined
}

/** "0/3 nodes are available: 1 node(s) had untolerated taint {...}, 2 node(s) ..." (kube-scheduler 1.32). */
export function unschedulableMessage(total: number, failures: FitFailure[]): string {
  const counts = new Map<string, number>()
  for (const f of failures) counts.set(f, (counts.get(f) ?? 0) + 1)
  const parts = [...counts.entries()].map(([f, c]) => `${c} node(s) ${f}`).sort()
  const reasons = parts.length ? ` ${parts.join(', ')}.` : ''
  return `0/${total} nodes are available:${reasons} preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`
}

export interface ScheduleInput {
  pods: Pod[]
  nodes: NodeObj[]
  nowIso: string
}

/**
 * One scheduling pass: every pending pod (no nodeName, default scheduler) goes to the
 * least-loaded feasible node (ties: node name). Binding = an update of spec.nodeName followed
 * by a status update with PodScheduled=True; an unschedulable pod gets PodScheduled=False
 * (reason Unschedulable) once, and again only when the message changes.
 */
export function schedule(input: ScheduleInput): Action[] {
  const actions: Action[] = []
  const load = new Map<string, number>()
  const ports = new Map<string, Set<string>>()
  for (const n of input.nodes) {
    load.set(n.metadata.name ?? '', 0)
    ports.set(n.metadata.name ?? '', new Set())
  }
  for (const p of input.pods) {
    const nn = p.spec.nodeName
    if (!nn || !isPodActive(p)) continue
    load.set(nn, (load.get(nn) ?? 0) + 1)
    for (const hp of hostPorts(p)) ports.get(nn)?.add(hp)
  }
  const pending = input.pods
    .filter((p) => !p.spec.nodeName && isPodActive(p))
    .filter((p) => (p.spec.schedulerName ?? 'default-scheduler') === 'default-scheduler')
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))
  const nodes = [...input.nodes].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
  for (const pod of pending) {
    const failures: FitFailure[] = []
    let best: NodeObj | undefined
    for (const n of nodes) {
      const name = n.metadata.name ?? ''
      const f = checkFit(pod, n, ports.get(name) ?? new Set())
      if (f) {
        failures.push(f)
        continue
      }
      if (!best || (load.get(name) ?? 0) < (load.get(best.metadata.name ?? '') ?? 0)) best = n
    }
    if (best) {
      const name = best.metadata.name ?? ''
      load.set(name, (load.get(name) ?? 0) + 1)
      for (const hp of hostPorts(pod)) ports.get(name)?.add(hp)
      const bound = clone(pod)
      bound.spec.nodeName = name
      actions.push({ op: 'update', obj: bound })
      const st = clone(bound)
      st.status = {
        ...(st.status ?? {}),
        phase: st.status?.phase ?? 'Pending',
        conditions: setCondition(
          st.status?.conditions,
          { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: input.nowIso },
          input.nowIso,
        ),
      }
      delete st.metadata.resourceVersion // written right after the bind, which moves the version
      delete st.metadata.uid
      actions.push({ op: 'updateStatus', obj: st })
      continue
    }
    const message = unschedulableMessage(nodes.length, failures)
    const prev = getCondition(pod.status?.conditions, 'PodScheduled')
    const cond = {
      type: 'PodScheduled',
      status: 'False' as const,
      reason: 'Unschedulable',
      message,
      lastProbeTime: null,
      lastTransitionTime: input.nowIso,
    }
    if (prev && prev.status === 'False' && prev.message === message) continue
    const st = clone(pod)
    st.status = {
      ...(st.status ?? {}),
      phase: 'Pending',
      conditions: setCondition(st.status?.conditions, cond, input.nowIso),
    }
    if (!jsonEqual(st.status, pod.status)) actions.push({ op: 'updateStatus', obj: st })
  }
  return actions
}
