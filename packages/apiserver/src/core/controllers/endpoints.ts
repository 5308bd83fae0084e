import type { KubeObject } from '@calilab/model'
import type { Action, Pod } from './types.ts'
import { clone, jsonEqual } from './types.ts'
import { isPodReady, mapMatches } from './util.ts'

export interface ServicePort {
  name?: string
  port: number
  targetPort?: number | string
  protocol?: string
}

export interface Service extends KubeObject {
  spec?: {
    selector?: Record<string, string>
    ports?: ServicePort[]
    publishNotReadyAddresses?: boolean
    clusterIP?: string
    [k: string]: unknown
  }
}

export interface EndpointAddress {
  ip: string
  nodeName?: string
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string }
}

export interface EndpointPort {
  name?: string
  port: number
  protocol: string
}

export interface EndpointSubset {
  addresses?: EndpointAddress[]
  notReadyAddresses?: EndpointAddress[]
  ports?: EndpointPort[]
}

export const LAST_CHANGE_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time'

/** targetPort → the pod's port number: a number as is; a name through the containers' ports. */
export function resolveTargetPort(sp: ServicePort, pod: Pod): number | undefined {
  const tp = sp.targetPort ?? sp.port
  if (typeof tp === 'number') return tp
  if (/^\d+$/.test(tp)) return Number(tp)
  const proto = sp.protocol ?? 'TCP'
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === tp && (p.protocol ?? 'TCP') === proto) return p.containerPort
  }
  return undefined
}

/** The subsets for a Service, packed like the real controller: addresses grouped by identical ports. */
export function buildSubsets(svc: Service, pods: Pod[]): EndpointSubset[] {
  const sel = svc.spec?.selector ?? {}
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>()
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp || !mapMatches(sel, pod.metadata.labels)) continue
    if (pod.metadata.namespace !== svc.metadata.namespace) continue
    const ip = pod.status?.podIP
    if (!ip || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue
    const ports: EndpointPort[] = []
    for (const sp of svc.spec?.ports ?? []) {
      const port = resolveTargetPort(sp, pod)
      if (port === undefined) continue
      const ep: EndpointPort = { port, protocol: sp.protocol ?? 'TCP' }
      if (sp.name) ep.name = sp.name
      ports.push(ep)
    }
    ports.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port)
    const addr: EndpointAddress = {
      ip,
      targetRef: {
        kind: 'Pod',
        namespace: pod.metadata.namespace ?? '',
        name: pod.metadata.name ?? '',
        uid: pod.metadata.uid ?? '',
      },
    }
    if (pod.spec.nodeName) addr.nodeName = pod.spec.nodeName
    const key = JSON.stringify(ports)
    const g = groups.get(key) ?? { ports, ready: [], notReady: [] }
    groups.set(key, g)
    if (isPodReady(pod) || publishNotReady) g.ready.push(addr)
    else g.notReady.push(addr)
  }
  const byIp = (a: EndpointAddress, b: EndpointAddress) => ipKey(a.ip) - ipKey(b.ip) || a.ip.localeCompare(b.ip)
  const subsets: EndpointSubset[] = []
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)
    if (!g) continue
    const s: EndpointSubset = {}
    if (g.ready.length) s.addresses = g.ready.sort(byIp)
    if (g.notReady.length) s.notReadyAddresses = g.notReady.sort(byIp)
    if (g.ports.length) s.ports = g.ports
    subsets.push(s)
  }
  return subsets
}

function ipKey(ip: string): number {
  const p = ip.split('.').map(Number)
  return p.length === 4 ? (((p[0] ?? 0) << 24) >>> 0) + ((p[1] ?? 0) << 16) + ((p[2] ?? 0) << 8) + (p[3] ?? 0) : 0
}

export interface EndpointsInput {
  services: Service[]
  endpoints: KubeObject[]
  pods: Pod[]
  nowIso: string
}

/** Endpoints controller: one Endpoints per selector Service; selector-less Services are left alone. */
export function reconcileEndpoints(input: EndpointsInput): Action[] {
  const actions: Action[] = []
  const key = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`
  const existing = new Map(input.endpoints.map((e) => [key(e), e]))
  const podsByNs = new Map<string, Pod[]>()
  for (const p of input.pods) {
    const ns = p.metadata.namespace ?? ''
    podsByNs.set(ns, [...(podsByNs.get(ns) ?? []), p])
  }
  const svcKeys = new Set<string>()
  for (const svc of input.services) {
    svcKeys.add(key(svc))
    if (!svc.spec?.selector || Object.keys(svc.spec.selector).length === 0) continue
    if (svc.metadata.deletionTimestamp) continue
    const subsets = buildSubsets(svc, podsByNs.get(svc.metadata.namespace ?? '') ?? [])
    const labels = { ...(svc.metadata.labels ?? {}) }
    if (svc.spec.clusterIP === 'None') labels['service.kubernetes.io/headless'] = ''
    const cur = existing.get(key(svc))
    if (!cur) {
      const ep: KubeObject = {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: {
          name: svc.metadata.name ?? '',
          namespace: svc.metadata.namespace ?? 'default',
          labels,
          annotations: { [LAST_CHANGE_ANNOTATION]: input.nowIso },
        },
      }
      if (subsets.length) ep.subsets = subsets
      actions.push({ op: 'create', obj: ep })
      continue
    }
    const curSubsets = (cur.subsets as EndpointSubset[] | undefined) ?? []
    if (jsonEqual(curSubsets, subsets) && jsonEqual(cur.metadata.labels ?? {}, labels)) continue
    const next = clone(cur)
    next.metadata.labels = labels
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [LAST_CHANGE_ANNOTATION]: input.nowIso }
    if (subsets.length) next.subsets = subsets
    else delete next.subsets
    actions.push({ op: 'update', obj: next })
  }
  // Endpoints this controller wrote whose Service is gone.
  for (const ep of input.endpoints) {
    if (!svcKeys.has(key(ep)) && ep.metadata.annotations?.[LAST_CHANGE_ANNOTATION] !== undefined) {
      actions.push({
        op: 'delete',
        apiVersion: 'v1',
        kind: 'Endpoints',
        namespace: ep.metadata.namespace,
        name: ep.metadata.name ?? '',
      })
    }
  }
  return actions
}
