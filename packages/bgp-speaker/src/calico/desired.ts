/**
 * Calico's BGP model as confd computes it for one node (confd/pkg/backends/calico + the bird*.cfg
 * templates of v3.21; calico.md §7). Pure: resources in, the node's BGP configuration out.
 *
 * - router id / AS / listen port from the Calico Node and BGPConfiguration `default` / `node.<name>`;
 * - peers: the node-to-node mesh (passive towards string-greater IPs, route reflectors left out),
 *   global BGPPeers, node-scoped BGPPeers (`node` / `nodeSelector`), `peerSelector` expanded to
 *   Calico nodes, and the reverse of every peering whose remote side is a Calico node;
 * - exports: the node's affine blocks (aggregates), borrowed /32s, service CIDRs and the /32s of
 *   `externalTrafficPolicy: Local` services with a local endpoint; nothing inside a pool with
 *   `disableBGPExport`.
 */
import type {
  BGPConfiguration,
  BGPPeer,
  BlockAffinity,
  CalicoNode,
  Endpoints,
  IPAMBlock,
  IPPool,
  KubeObject,
  Service,
} from '@calilab/model'
import { cidrContains, formatCidr, formatIPv4, parseSelector, tryParseCidr, tryParseIPv4 } from '@calilab/model'

export const DEFAULT_AS = 64512
export const DEFAULT_BGP_PORT = 179
/** Nodes with this label originate no service routes (they only reject them locally). */
export const EXCLUDE_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers'

export type PeerType = 'node-to-node mesh' | 'global' | 'node specific'

export interface DesiredPeer {
  /** BIRD protocol name: `Mesh_198_19_0_2`, `Global_198_19_15_254[_port_1790]`, `Node_...`. */
  name: string
  /** Emulated IP of the peer (what views show). */
  address: string
  port: number
  asNumber: number
  type: PeerType
  passive: boolean
  /** This node is a route reflector and the peer is its client. */
  rrClient: boolean
  /** `source address` (the node IP) unless the BGPPeer says `sourceAddress: None`. */
  localAddress?: string
  /** The Calico node on the other side, when there is one. */
  node?: string
}

export type ExportKind = 'block' | 'borrowed' | 'service-cluster' | 'service-external' | 'service-lb' | 'local-service'

export interface DesiredExport {
  prefix: string
  kind: ExportKind
}

export interface DesiredBgp {
  nodeName: string
  routerId: string
  asNumber: number
  listenPort: number
  /** Route-reflector cluster id when this node is a reflector. */
  clusterId?: string
  peers: DesiredPeer[]
  exports: DesiredExport[]
  /** Service ranges advertised but never installed locally (BIRD's reject filter). */
  rejectCidrs: string[]
}

/** What confd reads. Every list may be empty; missing BGPConfiguration = all defaults. */
export interface BgpState {
  bgpConfigurations?: readonly BGPConfiguration[]
  bgpPeers?: readonly BGPPeer[]
  nodes: readonly CalicoNode[]
  ipPools?: readonly IPPool[]
  blocks?: readonly IPAMBlock[]
  /** When given, only blocks whose affinity is `confirmed` are exported (confd: state confirmed or none). */
  blockAffinities?: readonly BlockAffinity[]
  services?: readonly Service[]
  endpoints?: readonly Endpoints[]
}

interface NodeInfo {
  name: string
  ip: string
  asNumber: number
  clusterId: string
  listenPort: number
  labels: Record<string, string>
}

/** `198.19.0.2/20` -> `198.19.0.2`; undefined when absent or not IPv4. */
function stripMask(s: string | undefined): string | undefined {
  if (s === undefined || s === '') return undefined
  const ip = s.split('/')[0] ?? ''
  return tryParseIPv4(ip) === undefined ? undefined : ip
}

const under = (ip: string) => ip.replace(/\./g, '_')

/** `IP` or `IP:port` (Calico's BGPPeer peerIP). */
export function parsePeerIP(s: string): { ip: string; port?: number } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(s.trim())
  if (!m || tryParseIPv4(m[1] ?? '') === undefined) return undefined
  if (m[2] === undefined) return { ip: m[1] as string }
  const port = Number(m[2])
  if (port < 1 || port > 65535) return undefined
  return { ip: m[1] as string, port }
}

function configNamed(state: BgpState, name: string): BGPConfiguration | undefined {
  return state.bgpConfigurations?.find((c) => c.metadata.name === name)
}

function nodeInfos(state: BgpState, globalAs: number, globalPort: number): Map<string, NodeInfo> {
  const out = new Map<string, NodeInfo>()
  for (const n of state.nodes) {
    const name = n.metadata.name
    const ip = stripMask(n.spec?.bgp?.ipv4Address)
    if (name === undefined || ip === undefined) continue
    out.set(name, {
      name,
      ip,
      asNumber: n.spec.bgp?.asNumber ?? globalAs,
      clusterId: n.spec.bgp?.routeReflectorClusterID ?? '',
      listenPort: configNamed(state, `node.${name}`)?.spec?.listenPort ?? globalPort,
      labels: n.metadata.labels ?? {},
    })
  }
  return out
}

function selects(selector: string | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return false
  try {
    return parseSelector(selector).evaluate(labels)
  } catch {
    return false
  }
}

/** Peer candidates one BGPPeer yields when its local side is `local` (confd's per-node peer list). */
function remotesOf(p: BGPPeer, nodes: Map<string, NodeInfo>, localName: string): Omit<Remote, 'scope'>[] {
  const s = p.spec ?? {}
  if (s.peerSelector !== undefined && s.peerSelector !== '') {
    const out: Omit<Remote, 'scope'>[] = []
    for (const n of nodes.values()) {
      if (n.name === localName || !selects(s.peerSelector, n.labels)) continue
      out.push({ ip: n.ip, port: n.listenPort, explicitPort: false, asNumber: n.asNumber, node: n.name, res: p })
    }
    return out
  }
  const pip = s.peerIP !== undefined ? parsePeerIP(s.peerIP) : undefined
  if (!pip) return []
  const calico = [...nodes.values()].find((n) => n.ip === pip.ip)
  const r: Omit<Remote, 'scope'> = {
    ip: pip.ip,
    port: pip.port ?? calico?.listenPort ?? DEFAULT_BGP_PORT,
    explicitPort: pip.port !== undefined,
    asNumber: s.asNumber ?? calico?.asNumber ?? DEFAULT_AS,
    res: p,
  }
  if (calico) r.node = calico.name
  return [r]
}

interface Remote {
  ip: string
  port: number
  explicitPort: boolean
  asNumber: number
  node?: string
  res: BGPPeer
  scope: 'global' | 'node'
}

/** Which nodes a BGPPeer applies to: all for a global one, else `node` / `nodeSelector`. */
function appliesTo(p: BGPPeer, n: NodeInfo): 'global' | 'node' | undefined {
  const s = p.spec ?? {}
  const hasNode = s.node !== undefined && s.node !== ''
  const hasSel = s.nodeSelector !== undefined && s.nodeSelector !== ''
  if (!hasNode && !hasSel) return 'global'
  if (hasNode) return s.node === n.name ? 'node' : undefined
  return selects(s.nodeSelector, n.labels) ? 'node' : undefined
}

/** confd's peer list of node `n`: passes 1-2 (global then node-scoped) before reversal. */
function forwardPeers(state: BgpState, nodes: Map<string, NodeInfo>, n: NodeInfo): Remote[] {
  const out: Remote[] = []
  for (const p of state.bgpPeers ?? []) {
    const scope = appliesTo(p, n)
    if (!scope) continue
    for (const r of remotesOf(p, nodes, n.name)) out.push({ ...r, scope })
  }
  return out
}

/**
 * The node's BGP configuration, or undefined when the node is unknown or has no IPv4 BGP address
 * (confd renders no BGP peers then).
 */
export function desiredBgp(state: BgpState, nodeName: string): DesiredBgp | undefined {
  const global = configNamed(state, 'default')?.spec ?? {}
  const perNode = configNamed(state, `node.${nodeName}`)?.spec ?? {}
  const globalAs = global.asNumber ?? DEFAULT_AS
  const globalPort = global.listenPort ?? DEFAULT_BGP_PORT
  const nodes = nodeInfos(state, globalAs, globalPort)
  const me = nodes.get(nodeName)
  if (!me) return undefined
  const mesh = global.nodeToNodeMeshEnabled ?? true

  const peers: DesiredPeer[] = []
  const seenIp = new Set<string>([me.ip])
  const add = (p: DesiredPeer) => {
    seenIp.add(p.address)
    peers.push(p)
  }
  const rrClientOf = (asNumber: number, peerCid: string) =>
    me.clusterId !== '' && asNumber === me.asNumber && peerCid !== me.clusterId

  // Node-to-node mesh: every other node that is not a route reflector, unless we are one.
  if (mesh && me.clusterId === '') {
    for (const o of [...nodes.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))) {
      if (o.name === me.name || o.clusterId !== '' || seenIp.has(o.ip)) continue
      add({
        name: `Mesh_${under(o.ip)}`,
        address: o.ip,
        port: o.listenPort,
        asNumber: o.asNumber,
        type: 'node-to-node mesh',
        // BIRD template: `{{if gt $onode_ip $node_ip}} passive on` (string comparison).
        passive: o.ip > me.ip,
        rrClient: false,
        localAddress: me.ip,
        node: o.name,
      })
    }
  }

  // Passes 1-2: global then node-scoped BGPPeers; pass 3: reverse peerings onto Calico nodes.
  const remotes = forwardPeers(state, nodes, me)
  for (const o of nodes.values()) {
    if (o.name === me.name) continue
    for (const r of forwardPeers(state, nodes, o)) {
      if (r.node !== me.name) continue
      remotes.push({
        ip: o.ip,
        port: o.listenPort,
        explicitPort: false,
        asNumber: o.asNumber,
        node: o.name,
        res: r.res,
        scope: 'node',
      })
    }
  }
  const ordered = [...remotes.filter((r) => r.scope === 'global'), ...remotes.filter((r) => r.scope === 'node')]
  const seenKey = new Set<string>()
  for (const r of ordered) {
    const key = `${r.ip}:${r.explicitPort ? r.port : ''}`
    if (r.ip === me.ip || seenKey.has(key)) continue
    // A node-specific peering to an IP already peered (mesh or global) is suppressed.
    if (
      seenIp.has(r.ip) &&
      (r.scope === 'node' || peers.some((p) => p.type === 'node-to-node mesh' && p.address === r.ip))
    )
      continue
    seenKey.add(key)
    const peerNode = r.node !== undefined ? nodes.get(r.node) : undefined
    const prefix = r.scope === 'global' ? 'Global' : 'Node'
    const p: DesiredPeer = {
      name: `${prefix}_${under(r.ip)}${r.explicitPort ? `_port_${r.port}` : ''}`,
      address: r.ip,
      port: r.port,
      asNumber: r.asNumber,
      type: r.scope === 'global' ? 'global' : 'node specific',
      passive: false,
      rrClient: rrClientOf(r.asNumber, peerNode?.clusterId ?? ''),
    }
    if (r.res.spec?.sourceAddress !== 'None') p.localAddress = me.ip
    if (r.node !== undefined) p.node = r.node
    add(p)
  }

  const out: DesiredBgp = {
    nodeName,
    routerId: me.ip,
    asNumber: me.asNumber,
    listenPort: perNode.listenPort ?? globalPort,
    peers,
    exports: [],
    rejectCidrs: [],
  }
  if (me.clusterId !== '') out.clusterId = me.clusterId
  const ex = desiredExports(state, me, global)
  out.exports = ex.exports
  out.rejectCidrs = ex.reject
  return out
}

function cidrList(l: readonly { cidr: string }[] | undefined): string[] {
  const out: string[] = []
  for (const c of l ?? []) {
    const r = tryParseCidr(c.cidr)
    if (r.ok) out.push(formatCidr({ ...r.cidr, ip: r.cidr.network }))
  }
  return out
}

const inAny = (cidrs: readonly string[], ip: string) => cidrs.some((c) => cidrContains(c, ip))

function desiredExports(
  state: BgpState,
  me: NodeInfo,
  global: NonNullable<BGPConfiguration['spec']>,
): { exports: DesiredExport[]; reject: string[] } {
  const exports: DesiredExport[] = []
  const seen = new Set<string>()
  const disabledPools = (state.ipPools ?? []).filter((p) => p.spec?.disableBGPExport === true).map((p) => p.spec.cidr)
  const push = (prefix: string, kind: ExportKind) => {
    if (seen.has(prefix)) return
    // reject_disabled_pools(): anything inside a pool with disableBGPExport.
    if (disabledPools.some((d) => cidrContains(d, prefix))) return
    seen.add(prefix)
    exports.push({ prefix, kind })
  }

  // Affine blocks (calico_aggr + static blackholes) and borrowed /32s.
  const host = `host:${me.name}`
  const affinityState = new Map<string, string>()
  for (const a of state.blockAffinities ?? []) {
    if (a.spec?.node === me.name) affinityState.set(a.spec.cidr, a.spec.state)
  }
  const blocks = [...(state.blocks ?? [])].filter((b) => b.spec && b.spec.deleted !== true)
  const ownBlocks: string[] = []
  for (const b of blocks) {
    if (b.spec.affinity !== host) continue
    const st = affinityState.get(b.spec.cidr)
    if (state.blockAffinities !== undefined && st !== undefined && st !== 'confirmed') continue
    ownBlocks.push(b.spec.cidr)
  }
  for (const c of ownBlocks.sort(byCidr)) push(c, 'block')
  const borrowed: string[] = []
  for (const b of blocks) {
    if (b.spec.affinity === host) continue
    const r = tryParseCidr(b.spec.cidr)
    if (!r.ok) continue
    b.spec.allocations.forEach((attrIdx, ord) => {
      if (attrIdx === null || attrIdx === undefined) return
      const attr = b.spec.attributes[attrIdx]
      if (attr?.secondary?.['node'] !== me.name) return
      borrowed.push(`${formatIPv4((r.cidr.network + ord) >>> 0)}/32`)
    })
  }
  for (const c of borrowed.sort(byCidr)) push(c, 'borrowed')

  // Services (confd routes.go).
  const clusterCidrs = cidrList(global.serviceClusterIPs)
  const externalCidrs = cidrList(global.serviceExternalIPs)
  const lbCidrs = cidrList(global.serviceLoadBalancerIPs)
  const reject = [...clusterCidrs, ...externalCidrs, ...lbCidrs]
  if (me.labels[EXCLUDE_LB_LABEL] !== undefined) return { exports, reject }
  for (const c of clusterCidrs) push(c, 'service-cluster')
  for (const c of externalCidrs) push(c, 'service-external')
  for (const c of lbCidrs) push(c, 'service-lb')
  const local: string[] = []
  for (const svc of state.services ?? []) {
    const s = svc.spec
    if (s?.externalTrafficPolicy !== 'Local' || s.type === 'ExternalName') continue
    if (s.clusterIP === undefined || s.clusterIP === '' || s.clusterIP === 'None') continue
    if (!hasLocalEndpoint(state, svc, me.name)) continue
    if (inAny(clusterCidrs, s.clusterIP)) local.push(`${s.clusterIP}/32`)
    for (const ip of s.externalIPs ?? []) if (inAny(externalCidrs, ip)) local.push(`${ip}/32`)
    const st = svc.status as { loadBalancer?: { ingress?: { ip?: string }[] } } | undefined
    for (const ing of st?.loadBalancer?.ingress ?? []) {
      if (ing.ip !== undefined && inAny(lbCidrs, ing.ip)) local.push(`${ing.ip}/32`)
    }
  }
  for (const c of local.sort(byCidr)) push(c, 'local-service')
  return { exports, reject }
}

function hasLocalEndpoint(state: BgpState, svc: KubeObject, node: string): boolean {
  const ep = state.endpoints?.find(
    (e) => e.metadata.name === svc.metadata.name && e.metadata.namespace === svc.metadata.namespace,
  )
  return (ep?.subsets ?? []).some((s) => (s.addresses ?? []).some((a) => a.nodeName === node))
}

function byCidr(a: string, b: string): number {
  const ra = tryParseCidr(a)
  const rb = tryParseCidr(b)
  if (!ra.ok || !rb.ok) return a < b ? -1 : a > b ? 1 : 0
  return ra.cidr.network - rb.cidr.network || ra.cidr.prefix - rb.cidr.prefix
}

export interface PeerDiff {
  add: DesiredPeer[]
  remove: DesiredPeer[]
  /** Same name, some session parameter changed: the session is restarted (remove + add). */
  change: { from: DesiredPeer; to: DesiredPeer }[]
  unchanged: DesiredPeer[]
}

const samePeer = (a: DesiredPeer, b: DesiredPeer) =>
  a.address === b.address &&
  a.port === b.port &&
  a.asNumber === b.asNumber &&
  a.passive === b.passive &&
  a.rrClient === b.rrClient &&
  a.localAddress === b.localAddress &&
  a.type === b.type

/** What to do to go from one peer list to another, by protocol name (sessions not named stay up). */
export function diffPeers(from: readonly DesiredPeer[], to: readonly DesiredPeer[]): PeerDiff {
  const old = new Map(from.map((p) => [p.name, p]))
  const d: PeerDiff = { add: [], remove: [], change: [], unchanged: [] }
  const names = new Set<string>()
  for (const p of to) {
    names.add(p.name)
    const o = old.get(p.name)
    if (!o) d.add.push(p)
    else if (samePeer(o, p)) d.unchanged.push(p)
    else d.change.push({ from: o, to: p })
  }
  for (const p of from) if (!names.has(p.name)) d.remove.push(p)
  return d
}

export interface ExportDiff {
  originate: DesiredExport[]
  withdraw: DesiredExport[]
}

export function diffExports(from: readonly DesiredExport[], to: readonly DesiredExport[]): ExportDiff {
  const a = new Set(from.map((e) => e.prefix))
  const b = new Set(to.map((e) => e.prefix))
  return { originate: to.filter((e) => !a.has(e.prefix)), withdraw: from.filter((e) => !b.has(e.prefix)) }
}

/**
 * A Calico Node as KDD shows it, from a Kubernetes Node's annotations
 * (`projectcalico.org/IPv4Address`, `ASNumber`, `RouteReflectorClusterID`).
 */
export function calicoNodeFromK8s(n: KubeObject): CalicoNode {
  const a = n.metadata.annotations ?? {}
  const bgp: NonNullable<CalicoNode['spec']['bgp']> = {}
  const ip = a['projectcalico.org/IPv4Address']
  if (ip !== undefined) bgp.ipv4Address = ip
  const as = a['projectcalico.org/ASNumber']
  if (as !== undefined && /^\d+$/.test(as)) bgp.asNumber = Number(as)
  const cid = a['projectcalico.org/RouteReflectorClusterID']
  if (cid !== undefined && cid !== '') bgp.routeReflectorClusterID = cid
  const meta: CalicoNode['metadata'] = {}
  if (n.metadata.name !== undefined) meta.name = n.metadata.name
  if (n.metadata.labels !== undefined) meta.labels = n.metadata.labels
  if (n.metadata.annotations !== undefined) meta.annotations = n.metadata.annotations
  return { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: meta, spec: { bgp } }
}

/** The host part of a node's `calilab.dev/kubelet-endpoint` annotation: its real loopback address. */
export function nodeEndpoint(n: KubeObject): string | undefined {
  const v = n.metadata.annotations?.['calilab.dev/kubelet-endpoint']
  if (v === undefined) return undefined
  const host = v.replace(/:\d+$/, '')
  return tryParseIPv4(host) === undefined ? undefined : host
}
