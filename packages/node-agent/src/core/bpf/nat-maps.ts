/**
 * Felix's BPF service maps for one node, from Services, Endpoints and node addresses (pure): the
 * `cali_v4_nat_fe` frontends (ClusterIP; externalIPs, LoadBalancer IPs, this node's IP:NodePort
 * and `255.255.255.255:NodePort`), the `cali_v4_nat_be` backends, and `cali_v4_routes` /32
 * entries for the backends (local workload, or the node that hosts them).
 *
 * Frontend ids are the service ports' rank in `ns/name:port/proto` order (x2: the cluster set and
 * the external set, which carries NAT_FLG_EXTERNAL_LOCAL for externalTrafficPolicy Local), so
 * every node gives the same flow the same ordinal; backends are sorted by `ip:port`.
 */
import {
  beKey,
  feKey,
  NAT_FLG_EXTERNAL_LOCAL,
  NAT_WILDCARD,
  type NatBackend,
  type NatFrontend,
  type RouteValue,
  RT_LOCAL,
  RT_WORKLOAD,
} from '@calilab/dataplane'
import type { Endpoints, Service } from '@calilab/model'
import { tryParseIPv4 } from '@calilab/model'

export interface BpfNatInput {
  services: readonly Service[]
  endpoints: readonly Endpoints[]
  nodeName: string
  nodeIp: number
  /** Node name -> node IP (where remote backends live). */
  nodeIps: ReadonlyMap<string, number>
}

export interface BpfNatMaps {
  fe: Map<string, NatFrontend>
  be: Map<string, NatBackend>
  routes: Map<number, RouteValue>
}

const PROTO: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 }

interface Be {
  addr: number
  port: number
  node: string
}

export function renderBpfNat(input: BpfNatInput): BpfNatMaps {
  const eps = new Map<string, Endpoints>()
  for (const e of input.endpoints) eps.set(`${e.metadata.namespace ?? 'default'}/${e.metadata.name ?? ''}`, e)
  const ports: { key: string; svc: Service; port: NonNullable<Service['spec']['ports']>[number] }[] = []
  for (const svc of input.services) {
    const ip = svc.spec.clusterIP
    if (svc.spec.type === 'ExternalName' || !ip || ip === 'None') continue
    for (const p of svc.spec.ports ?? [])
      ports.push({
        key: `${svc.metadata.namespace}/${svc.metadata.name}:${p.port}/${p.protocol ?? 'TCP'}`,
        svc,
        port: p,
      })
  }
  ports.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const out: BpfNatMaps = { fe: new Map(), be: new Map(), routes: new Map() }
  ports.forEach(({ svc, port: p }, i) => {
    const proto = PROTO[p.protocol ?? 'TCP'] ?? 6
    const spec = svc.spec
    const backends: Be[] = []
    const epObj = eps.get(`${svc.metadata.namespace ?? 'default'}/${svc.metadata.name ?? ''}`)
    for (const sub of epObj?.subsets ?? [])
      for (const ep of sub.ports ?? []) {
        if ((ep.name ?? '') !== (p.name ?? '')) continue
        for (const a of sub.addresses ?? []) {
          const addr = tryParseIPv4(a.ip)
          if (addr !== undefined) backends.push({ addr, port: ep.port, node: a.nodeName ?? '' })
        }
      }
    backends.sort((a, b) => a.addr - b.addr || a.port - b.port)
    const localCount = backends.filter((b) => b.node === input.nodeName).length
    const clusterId = 2 * i + 1
    const extId = 2 * i + 2
    const external = spec.type === 'NodePort' || spec.type === 'LoadBalancer'
    const extFlags = external && spec.externalTrafficPolicy === 'Local' ? NAT_FLG_EXTERNAL_LOCAL : 0
    const fe = (id: number, flags: number): NatFrontend => ({
      id,
      count: backends.length,
      localCount,
      affinityTimeout: 0,
      flags,
    })
    const cip = tryParseIPv4(spec.clusterIP ?? '')
    if (cip !== undefined) out.fe.set(feKey(cip, p.port, proto), fe(clusterId, 0))
    const extIps = [...(spec.externalIPs ?? []), ...(svc.status?.loadBalancer?.ingress ?? []).map((x) => x.ip ?? '')]
    for (const s of extIps) {
      const a = tryParseIPv4(s)
      if (a !== undefined) out.fe.set(feKey(a, p.port, proto), fe(extId, extFlags))
    }
    if (external && p.nodePort) {
      out.fe.set(feKey(input.nodeIp, p.nodePort, proto), fe(extId, extFlags))
      out.fe.set(feKey(NAT_WILDCARD, p.nodePort, proto), fe(extId, extFlags))
    }
    backends.forEach((b, k) => {
      out.be.set(beKey(clusterId, k), { addr: b.addr, port: b.port })
      out.be.set(beKey(extId, k), { addr: b.addr, port: b.port })
      const local = b.node === input.nodeName
      out.routes.set(b.addr, {
        flags: RT_WORKLOAD | (local ? RT_LOCAL : 0),
        nextHop: local ? 0 : (input.nodeIps.get(b.node) ?? 0),
      })
    })
  })
  return out
}
