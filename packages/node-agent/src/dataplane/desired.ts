/**
 * What one node's dataplane should hold, computed from the datastore view (pure: objects in,
 * desired routes / underlay peers / IP sets / kube-proxy input out). The driver (driver.ts)
 * diffs this against what it programmed and carries out the difference.
 *
 * Sources: IP pools, IPAM blocks (affinity `host:<node>` and per-allocation `secondary.node`),
 * Calico and Kubernetes Node objects (node IP, tunnel addresses, real underlay endpoint),
 * Services and Endpoints.
 */

import type { Endpoints, KubeObject, Service } from '@calilab/model'
import { tryParseCidr, tryParseIPv4 } from '@calilab/model'
import type { PoolInfo } from '../core/ipam/index.ts'
import { poolFromResource } from '../core/ipam/index.ts'

/** Node annotation (k8s Node) with the node's real underlay endpoint, `HOST:PORT`. */
export const UNDERLAY_ANNOTATION = 'calilab.dev/underlay'
export const KUBELET_ENDPOINT_ANNOTATION = 'calilab.dev/kubelet-endpoint'
/** Felix's route protocol for VXLAN routes (`proto 80`). */
export const PROTO_VXLAN = 80

/** The datastore view the driver keeps: store key → object, split by what the calculation needs. */
export interface NetView {
  readonly pools: ReadonlyMap<string, KubeObject>
  readonly blocks: ReadonlyMap<string, KubeObject>
  readonly calicoNodes: ReadonlyMap<string, KubeObject>
  readonly k8sNodes: ReadonlyMap<string, KubeObject>
  readonly services: ReadonlyMap<string, KubeObject>
  readonly endpoints: ReadonlyMap<string, KubeObject>
}

export interface NodeAddr {
  name: string
  ip: number
  prefix: number
  ipipTunnelAddr?: number
  vxlanTunnelAddr?: number
  /** Real underlay endpoint. */
  underlay?: { host: string; port: number }
}

/** A route the driver owns (the kernel's RouteSpec, with the dotted forms for views). */
export interface DesiredRoute {
  dst: number
  prefix: number
  type: 'unicast' | 'blackhole'
  proto: 'static' | 'bird' | number
  dev?: string
  via?: number
  onlink?: boolean
  /** `a.b.c.d/n via ... dev ...` (status pages). */
  text: string
}

export interface DesiredNet {
  routes: Map<string, DesiredRoute>
  /** node IP → real underlay endpoint. */
  peers: Map<number, { host: string; port: number }>
  /** VXLAN FDB: VTEP address → node IP. */
  vxlanPeers: Map<number, number>
  /** cali40all-ipam-pools / cali40masq-ipam-pools members. */
  allPools: string[]
  masqPools: string[]
  needIpip: boolean
  needVxlan: boolean
  /** This node's tunnel addresses (when IPAM gave it some). */
  ipipAddr?: number
  vxlanAddr?: number
  services: Service[]
  endpoints: Endpoints[]
}

function ip4(s: string | undefined): number | undefined {
  if (!s) return undefined
  return tryParseIPv4(s.split('/')[0] ?? '')
}

function fmt(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

function cidrOf(s: string): { network: number; prefix: number } | undefined {
  const r = tryParseCidr(s)
  return r.ok ? { network: r.cidr.network >>> 0, prefix: r.cidr.prefix } : undefined
}

function contains(net: { network: number; prefix: number }, ip: number): boolean {
  if (net.prefix === 0) return true
  const mask = (0xffffffff << (32 - net.prefix)) >>> 0
  return (ip & mask) >>> 0 === net.network
}

function parseHostPort(s: string | undefined): { host: string; port: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s ?? '')
  if (!m) return undefined
  return { host: m[1] as string, port: Number(m[2]) }
}

/** Every node we know of, by name: IPs from the Calico Node (or the k8s annotation), underlay from k8s. */
export function nodeAddresses(view: NetView): Map<string, NodeAddr> {
  const out = new Map<string, NodeAddr>()
  const get = (name: string): NodeAddr => {
    let n = out.get(name)
    if (!n) {
      n = { name, ip: 0, prefix: 20 }
      out.set(name, n)
    }
    return n
  }
  for (const o of view.k8sNodes.values()) {
    const name = o.metadata.name ?? ''
    const a = o.metadata.annotations ?? {}
    const n = get(name)
    const addr = a['projectcalico.org/IPv4Address']
    const ip = ip4(addr)
    if (ip !== undefined && n.ip === 0) {
      n.ip = ip
      n.prefix = Number(addr?.split('/')[1] ?? 20)
    }
    const u = parseHostPort(a[UNDERLAY_ANNOTATION])
    if (u) n.underlay = u
    if (a['projectcalico.org/IPv4IPIPTunnelAddr']) {
      const t = ip4(a['projectcalico.org/IPv4IPIPTunnelAddr'])
      if (t !== undefined) n.ipipTunnelAddr = t
    }
    if (a['projectcalico.org/IPv4VXLANTunnelAddr']) {
      const t = ip4(a['projectcalico.org/IPv4VXLANTunnelAddr'])
      if (t !== undefined) n.vxlanTunnelAddr = t
    }
  }
  for (const o of view.calicoNodes.values()) {
    const name = o.metadata.name ?? ''
    const spec = (o.spec ?? {}) as {
      bgp?: { ipv4Address?: string; ipv4IPIPTunnelAddr?: string }
      ipv4VXLANTunnelAddr?: string
    }
    const n = get(name)
    const ip = ip4(spec.bgp?.ipv4Address)
    if (ip !== undefined) {
      n.ip = ip
      n.prefix = Number(spec.bgp?.ipv4Address?.split('/')[1] ?? 20)
    }
    const t1 = ip4(spec.bgp?.ipv4IPIPTunnelAddr)
    if (t1 !== undefined) n.ipipTunnelAddr = t1
    const t2 = ip4(spec.ipv4VXLANTunnelAddr)
    if (t2 !== undefined) n.vxlanTunnelAddr = t2
  }
  for (const [k, n] of out) if (n.ip === 0) out.delete(k)
  return out
}

function poolsOf(view: NetView): { info: PoolInfo; net: { network: number; prefix: number } }[] {
  const out: { info: PoolInfo; net: { network: number; prefix: number } }[] = []
  for (const o of view.pools.values()) {
    try {
      const info = poolFromResource(o as Parameters<typeof poolFromResource>[0])
      const net = cidrOf(info.cidr)
      if (net) out.push({ info, net })
    } catch {
      // An invalid pool programs nothing.
    }
  }
  return out.sort((a, b) => b.net.prefix - a.net.prefix)
}

type Mode = 'Always' | 'CrossSubnet' | 'Never'
function encapFor(mode: Mode, sameSubnet: boolean): boolean {
  return mode === 'Always' || (mode === 'CrossSubnet' && !sameSubnet)
}

export interface DesiredInit {
  nodeName: string
  nodeIp: number
  nodePrefix: number
  /** Protocol of routes to other nodes' blocks: 'static' until BGP programs them. */
  remoteProto?: 'static' | 'bird'
  /**
   * 'bgp': routes to other nodes' blocks and borrowed /32s (plain and IPIP) come from the node's
   * BGP speaker (`proto bird`), so only VXLAN routes (Felix's own) are computed here. Default 'static'.
   */
  routing?: 'static' | 'bgp'
}

/** The whole desired state for `nodeName`. */
export function desiredNet(view: NetView, init: DesiredInit): DesiredNet {
  const nodes = nodeAddresses(view)
  const pools = poolsOf(view)
  const remoteProto = init.remoteProto ?? 'static'
  const me = nodes.get(init.nodeName)
  const mySubnet = {
    network: (init.nodeIp & ((0xffffffff << (32 - init.nodePrefix)) >>> 0)) >>> 0,
    prefix: init.nodePrefix,
  }
  const routes = new Map<string, DesiredRoute>()
  const vxlanPeers = new Map<number, number>()
  const peers = new Map<number, { host: string; port: number }>()
  for (const n of nodes.values()) if (n.underlay && n.name !== init.nodeName) peers.set(n.ip, n.underlay)

  const needIpip = pools.some((p) => !p.info.disabled && p.info.ipipMode !== 'Never')
  const needVxlan = pools.some((p) => !p.info.disabled && p.info.vxlanMode !== 'Never')

  const viaBgp = init.routing === 'bgp'
  const routeTo = (
    dst: number,
    prefix: number,
    owner: NodeAddr,
    pool: PoolInfo | undefined,
  ): DesiredRoute | undefined => {
    const same = contains(mySubnet, owner.ip)
    const key = `${fmt(dst)}/${prefix}`
    const vxlan = pool !== undefined && encapFor(pool.vxlanMode as Mode, same)
    if (viaBgp && !vxlan) return undefined
    if (pool && vxlan) {
      const vtep = owner.vxlanTunnelAddr ?? owner.ip
      vxlanPeers.set(vtep, owner.ip)
      return {
        dst,
        prefix,
        type: 'unicast',
        proto: PROTO_VXLAN,
        via: vtep,
        dev: 'vxlan.calico',
        onlink: true,
        text: `${key} via ${fmt(vtep)} dev vxlan.calico onlink`,
      }
    }
    if (pool && encapFor(pool.ipipMode as Mode, same)) {
      return {
        dst,
        prefix,
        type: 'unicast',
        proto: remoteProto,
        via: owner.ip,
        dev: 'tunl0',
        onlink: true,
        text: `${key} via ${fmt(owner.ip)} dev tunl0 onlink`,
      }
    }
    return {
      dst,
      prefix,
      type: 'unicast',
      proto: remoteProto,
      via: owner.ip,
      dev: 'eth0',
      text: `${key} via ${fmt(owner.ip)} dev eth0`,
    }
  }

  for (const b of view.blocks.values()) {
    const spec = b.spec as
      | {
          cidr?: string
          affinity?: string
          allocations?: (number | null)[]
          attributes?: { secondary?: Record<string, string> }[]
          deleted?: boolean
        }
      | undefined
    if (!spec?.cidr || spec.deleted) continue
    const net = cidrOf(spec.cidr)
    if (!net) continue
    const pool = pools.find((p) => contains(p.net, net.network))?.info
    const owner = spec.affinity?.startsWith('host:') ? spec.affinity.slice(5) : undefined
    const key = `${fmt(net.network)}/${net.prefix}`
    if (owner === init.nodeName) {
      if (net.prefix < 32) {
        const vx = pool !== undefined && pool.vxlanMode !== 'Never'
        routes.set(key, {
          dst: net.network,
          prefix: net.prefix,
          type: 'blackhole',
          proto: vx ? PROTO_VXLAN : 'bird',
          text: `blackhole ${key}`,
        })
      }
    } else if (owner !== undefined) {
      const o = nodes.get(owner)
      const r = o ? routeTo(net.network, net.prefix, o, pool) : undefined
      if (r) routes.set(key, r)
    }
    // Borrowed addresses: a /32 toward the node that holds each one (not the block's owner).
    const allocs = spec.allocations ?? []
    for (let i = 0; i < allocs.length; i++) {
      const a = allocs[i]
      if (a === null || a === undefined) continue
      const holder = spec.attributes?.[a]?.secondary?.['node']
      if (!holder || holder === owner || holder === init.nodeName) continue
      const h = nodes.get(holder)
      if (!h) continue
      const ip = (net.network + i) >>> 0
      const r = routeTo(ip, 32, h, pool)
      if (r) routes.set(`${fmt(ip)}/32`, r)
    }
  }

  const allPools = pools.filter((p) => !p.info.disabled).map((p) => p.info.cidr)
  const masqPools = pools.filter((p) => !p.info.disabled && p.info.natOutgoing).map((p) => p.info.cidr)
  const d: DesiredNet = {
    routes,
    peers,
    vxlanPeers,
    allPools,
    masqPools,
    needIpip,
    needVxlan,
    services: [...view.services.values()] as unknown as Service[],
    endpoints: [...view.endpoints.values()] as unknown as Endpoints[],
  }
  if (me?.ipipTunnelAddr !== undefined) d.ipipAddr = me.ipipTunnelAddr
  if (me?.vxlanTunnelAddr !== undefined) d.vxlanAddr = me.vxlanTunnelAddr
  return d
}

export { fmt as formatIp }
