/**
 * The node's BGP speaker, as calico-node runs BIRD next to Felix: confd's computation
 * (`desiredBgp`) over the BGP syncer's view (BGPConfiguration, BGPPeer, Calico and Kubernetes
 * Nodes, IP pools, IPAM blocks and affinities, Services, Endpoints) carried out on a speaker by
 * `CalicoBgpDriver` (the node-to-node mesh, BGPPeers, the node's blocks / borrowed /32s / service
 * CIDRs exported), and the best routes learned from peers written into the node's kernel as
 * `proto bird` routes via the peer's node IP (ECMP as multipath), as BIRD's kernel protocol does.
 *
 * Addresses: peers are emulated IPs on port 179; a resolver maps a node IP to its real endpoint
 * (the Node annotation `calilab.dev/bgp: HOST:PORT` this module publishes, else the kubelet
 * endpoint's host with the default BGP port) and static entries (`--bgp-endpoints`, host1).
 */
import {
  BgpRouter,
  type BgpState,
  baseProtocols,
  CalicoBgpDriver,
  calicoNodeFromK8s,
  createSpeaker,
  type DesiredBgp,
  desiredBgp,
  type EndpointResolver,
  formatNodeStatus,
  formatShowProtocols,
  formatShowProtocolsAll,
  formatShowRoute,
  nodeEndpoint,
  type PeerConfig,
  type RouteSink,
  type Speaker,
  type ViewPeer,
  viewPeersFromStatus,
} from '@calilab/bgp-speaker'
import type { Netns, RouteSpec } from '@calilab/dataplane'
import type { Clock, Logger } from '@calilab/kit'
import {
  type BGPConfiguration,
  type BGPPeer,
  type BlockAffinity,
  type CalicoNode,
  cidrContains,
  type Endpoints,
  type IPAMBlock,
  type IPPool,
  type KubeObject,
  type Service,
  tryParseCidr,
  tryParseIPv4,
} from '@calilab/model'
import type { SyncerUpdate } from '../io/syncer/types.ts'
import type { Tool } from '../tools/types.ts'
import { birdcTool } from './birdc-tool.ts'

export { birdcTool }

/** Node annotation (k8s Node) with the real address of the node's BGP listener, `HOST:PORT`. */
export const BGP_ANNOTATION = 'calilab.dev/bgp'
export const DEFAULT_REAL_BGP_PORT = 1790

export interface NodeBgpInit {
  nodeName: string
  /** Emulated node IP (router id, next hop self). */
  nodeIp: string
  /** Real loopback address the speaker listens on and dials from. */
  endpoint: string
  /** Real listen port (default 1790; 0 = ephemeral, published through the annotation). */
  port?: number
  /** Real port other nodes listen on when they publish none (default 1790). */
  defaultPeerPort?: number
  /** Emulated IPs that are no Node (host1) -> their real BGP endpoint. */
  staticEndpoints?: ReadonlyMap<string, { host: string; port: number }>
  /** The node's root namespace: learned routes go into its main table. */
  netns: Netns
  /** Node subnet prefix length (CrossSubnet decisions; default 20). */
  nodePrefix?: number
  clock: Clock
  log: Logger
  timers?: Pick<PeerConfig, 'holdTime' | 'keepaliveTime' | 'connectRetryTime'>
}

type Kind =
  | 'bgpconfigurations'
  | 'bgppeers'
  | 'calicoNodes'
  | 'k8sNodes'
  | 'pools'
  | 'blocks'
  | 'affinities'
  | 'services'
  | 'endpoints'

const KINDS: Record<string, Kind> = {
  'projectcalico.org/bgpconfigurations': 'bgpconfigurations',
  'projectcalico.org/bgppeers': 'bgppeers',
  'projectcalico.org/nodes': 'calicoNodes',
  'core/nodes': 'k8sNodes',
  'projectcalico.org/ippools': 'pools',
  'projectcalico.org/ipamblocks': 'blocks',
  'projectcalico.org/blockaffinities': 'affinities',
  'core/services': 'services',
  'core/endpoints': 'endpoints',
}

function parseHostPort(s: string | undefined): { host: string; port: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s ?? '')
  if (!m) return undefined
  return { host: m[1] as string, port: Number(m[2]) }
}

/** `IP=HOST:PORT,...` (the `--bgp-endpoints` flag); throws naming the bad entry. */
export function parseBgpEndpoints(s: string): Map<string, { host: string; port: number }> {
  const out = new Map<string, { host: string; port: number }>()
  for (const raw of s.split(',')) {
    const e = raw.trim()
    if (e === '') continue
    const [ip = '', ep = ''] = e.split('=')
    const hp = parseHostPort(ep)
    if (tryParseIPv4(ip) === undefined || !hp)
      throw new Error(`--bgp-endpoints: entry "${e}" must be IP=HOST:PORT, e.g. 198.19.15.254=127.0.1.254:1790`)
    out.set(ip, hp)
  }
  return out
}

const parsePrefix = (prefix: string) => {
  const r = tryParseCidr(prefix)
  if (!r.ok) return undefined
  return { dst: r.cidr.network >>> 0, prefix: r.cidr.prefix }
}

/**
 * BIRD's kernel protocol for a Calico node: learned routes as `proto bird` via the peer's node IP
 * on eth0 (tunl0 onlink inside an IPIP pool), never over a route someone else owns at the same
 * prefix (the node's own block blackholes, a local pod's /32), nothing inside a VXLAN pool (Felix
 * programs those) or a service range the node rejects locally.
 */
class KernelRoutes implements RouteSink {
  private readonly ns: Netns
  private readonly wanted = new Map<string, string[]>()
  private readonly installed = new Set<string>()
  private pending = new Set<string>()
  /** Set while this sink changes the table itself (its own events are not news). */
  private busy = false
  private scheduled = false
  private readonly unsubscribe: () => void
  pools: { cidr: string; ipip: string; vxlan: string }[] = []
  reject: string[] = []
  subnet: { network: number; prefix: number }
  errors = 0

  constructor(ns: Netns, subnet: { network: number; prefix: number }) {
    this.ns = ns
    this.subnet = subnet
    this.unsubscribe = ns.routes.subscribe((e) => {
      if (e.type !== 'del' || this.busy) return
      const p = `${fmtIp(e.route.dst)}/${e.route.prefix}`
      if (!this.wanted.has(p)) return
      if (e.route.proto === 'bird' && e.route.type === 'unicast') {
        // Ours went away (link flushed) or is being replaced: check again.
        this.installed.delete(p)
      }
      this.later(p)
    })
  }

  private later(p: string): void {
    this.pending.add(p)
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      const ps = this.pending
      this.pending = new Set()
      for (const q of ps) this.program(q)
    })
  }

  replace(prefix: string, nexthops: readonly string[]): void {
    this.wanted.set(prefix, [...nexthops])
    this.program(prefix)
  }

  delete(prefix: string): void {
    this.wanted.delete(prefix)
    this.remove(prefix)
  }

  /** Everything again (pools or rejected ranges changed). */
  resync(): void {
    for (const p of this.wanted.keys()) this.program(p)
  }

  close(): void {
    this.unsubscribe()
  }

  private remove(prefix: string): void {
    if (!this.installed.delete(prefix)) return
    const p = parsePrefix(prefix)
    if (!p) return
    this.busy = true
    try {
      this.ns.routes.del({ ...p, proto: 'bird', type: 'unicast' })
    } finally {
      this.busy = false
    }
  }

  private program(prefix: string): void {
    const hops = this.wanted.get(prefix)
    const p = parsePrefix(prefix)
    if (!hops || !p) return
    const pool = this.pools.find((x) => cidrContains(x.cidr, prefix))
    if (pool && pool.vxlan !== 'Never') {
      this.remove(prefix)
      return
    }
    if (this.reject.some((c) => cidrContains(c, prefix))) {
      this.remove(prefix)
      return
    }
    const existing = this.ns.routes.list({ dst: { ip: p.dst, prefix: p.prefix } })
    if (existing.some((r) => !(r.proto === 'bird' && r.type === 'unicast'))) {
      // Someone else's route (our block's blackhole, a local pod): it stays; ours is not installed.
      this.installed.delete(prefix)
      return
    }
    const vias = hops.map((h) => tryParseIPv4(h)).filter((h): h is number => h !== undefined)
    if (vias.length === 0) {
      this.remove(prefix)
      return
    }
    const inSubnet = (ip: number) =>
      this.subnet.prefix === 0 || (ip & ((0xffffffff << (32 - this.subnet.prefix)) >>> 0)) >>> 0 === this.subnet.network
    const hop = (via: number) => {
      const ipip = pool !== undefined && (pool.ipip === 'Always' || (pool.ipip === 'CrossSubnet' && !inSubnet(via)))
      return ipip ? { via, dev: 'tunl0', onlink: true } : { via, dev: 'eth0' }
    }
    const spec: RouteSpec = { ...p, proto: 'bird', type: 'unicast' }
    if (vias.length === 1) Object.assign(spec, hop(vias[0] as number))
    else spec.nexthops = vias.map((v) => ({ ...hop(v), weight: 1 }))
    this.busy = true
    let res: ReturnType<Netns['routes']['replace']>
    try {
      res = this.ns.routes.replace(spec)
    } finally {
      this.busy = false
    }
    if (res.ok) this.installed.add(prefix)
    else {
      this.errors++
      this.installed.delete(prefix)
    }
  }

  list(): string[] {
    return [...this.installed].sort()
  }
}

function fmtIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

export interface NodeBgpStatus {
  node: string
  routerId?: string
  asNumber?: number
  listen?: { host: string; port: number }
  peers: ViewPeer[]
  exports: string[]
  kernelRoutes: string[]
  applies: number
}

export class NodeBgp {
  readonly speaker: Speaker
  readonly router: BgpRouter
  private readonly init: NodeBgpInit
  private readonly log: Logger
  private readonly kernel: KernelRoutes
  private readonly driver: CalicoBgpDriver
  private readonly view: Record<Kind, Map<string, KubeObject>> = {
    bgpconfigurations: new Map(),
    bgppeers: new Map(),
    calicoNodes: new Map(),
    k8sNodes: new Map(),
    pools: new Map(),
    blocks: new Map(),
    affinities: new Map(),
    services: new Map(),
    endpoints: new Map(),
  }
  /** Emulated node IP -> real BGP endpoint, from the Node objects. */
  private endpoints = new Map<string, { host: string; port: number }>()
  /** Peer name -> `host:port` it was configured with (a change restarts the session). */
  private readonly peerEndpoints = new Map<string, string>()
  private scheduled = false
  private closed = false
  private started = false
  private applies = 0
  private last: DesiredBgp | undefined
  private bound: { host: string; port: number } | undefined
  /** The real port the listener was asked for (`--bgp-port`, or listenPort when not 179). */
  private listenPort: number
  private wantPort: number
  private relistening = false

  constructor(init: NodeBgpInit) {
    this.init = init
    this.listenPort = init.port ?? DEFAULT_REAL_BGP_PORT
    this.wantPort = this.listenPort
    this.log = init.log.child({ component: 'bgp', node: init.nodeName })
    this.speaker = createSpeaker({
      routerId: init.nodeIp,
      asNumber: 64512,
      listen: { host: init.endpoint, port: init.port ?? DEFAULT_REAL_BGP_PORT },
      clock: init.clock,
      log: this.log,
      peers: [],
    })
    const ip = tryParseIPv4(init.nodeIp) ?? 0
    const prefix = init.nodePrefix ?? 20
    this.kernel = new KernelRoutes(init.netns, {
      network: (ip & ((0xffffffff << (32 - prefix)) >>> 0)) >>> 0,
      prefix,
    })
    this.router = new BgpRouter({
      filter: { name: 'ACCEPT', rules: [], otherwise: 'accept' },
      sink: this.kernel,
      clock: init.clock,
    })
    this.router.attach(this.speaker)
    this.driver = new CalicoBgpDriver(this.speaker, this.resolver, init.endpoint, init.timers ?? {})
  }

  /** Listens; returns the bound address (publish it as the `calilab.dev/bgp` annotation). */
  async start(): Promise<{ host: string; port: number }> {
    this.bound = await this.speaker.start()
    this.started = true
    this.schedule()
    return this.bound ?? { host: this.init.endpoint, port: this.init.port ?? DEFAULT_REAL_BGP_PORT }
  }

  get address(): string | undefined {
    return this.bound ? `${this.bound.host}:${this.bound.port}` : undefined
  }

  private readonly resolver: EndpointResolver = (ip, port) => {
    const st = this.init.staticEndpoints?.get(ip)
    if (st) return port === 179 ? st : { host: st.host, port }
    const ep = this.endpoints.get(ip)
    if (ep) return port === 179 ? ep : { host: ep.host, port }
    if (ip.startsWith('127.')) return { host: ip, port }
    return undefined
  }

  onUpdates(batch: readonly SyncerUpdate[]): void {
    for (const u of batch) {
      const parts = u.key.split('/')
      const kind = KINDS[`${parts[1] ?? ''}/${parts[2] ?? ''}`]
      if (!kind) continue
      const m = this.view[kind]
      if (u.value === null) m.delete(u.key)
      else m.set(u.key, u.value)
    }
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled || this.closed || !this.started) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      if (!this.closed) this.apply()
    })
  }

  private state(): BgpState {
    const v = this.view
    const calico = new Map<string, CalicoNode>()
    for (const n of v.calicoNodes.values()) {
      const c = n as unknown as CalicoNode
      if (c.metadata.name && c.spec?.bgp?.ipv4Address) calico.set(c.metadata.name, c)
    }
    // KDD: a Kubernetes Node without its Calico Node yet still has the BGP address annotation.
    for (const n of v.k8sNodes.values()) {
      const name = n.metadata.name
      if (name && !calico.has(name)) calico.set(name, calicoNodeFromK8s(n))
    }
    const vals = <T>(m: Map<string, KubeObject>) => [...m.values()] as unknown as T[]
    return {
      bgpConfigurations: vals<BGPConfiguration>(v.bgpconfigurations),
      bgpPeers: vals<BGPPeer>(v.bgppeers),
      nodes: [...calico.values()],
      ipPools: vals<IPPool>(v.pools),
      blocks: vals<IPAMBlock>(v.blocks),
      blockAffinities: vals<BlockAffinity>(v.affinities),
      services: vals<Service>(v.services),
      endpoints: vals<Endpoints>(v.endpoints),
    }
  }

  private refreshEndpoints(): void {
    const eps = new Map<string, { host: string; port: number }>()
    for (const n of this.view.k8sNodes.values()) {
      const a = n.metadata.annotations ?? {}
      const ip = (a['projectcalico.org/IPv4Address'] ?? '').split('/')[0] ?? ''
      if (tryParseIPv4(ip) === undefined) continue
      const ann = parseHostPort(a[BGP_ANNOTATION])
      if (ann) eps.set(ip, ann)
      else {
        const host = nodeEndpoint(n)
        if (host) eps.set(ip, { host, port: this.init.defaultPeerPort ?? DEFAULT_REAL_BGP_PORT })
      }
    }
    // Calico Nodes may carry an address the k8s Node does not (yet): same endpoint by name.
    this.endpoints = eps
  }

  /** Recomputes the desired configuration and carries out the difference. */
  apply(): void {
    this.applies++
    this.refreshEndpoints()
    let d: DesiredBgp | undefined
    try {
      d = desiredBgp(this.state(), this.init.nodeName)
    } catch (err) {
      this.log.warn({ err }, 'bgp: desired configuration failed')
      return
    }
    if (d) {
      // Peers we cannot reach yet (no endpoint known) wait until a Node tells us where they are.
      const peers = d.peers.filter((p) => this.resolver(p.address, p.port) !== undefined)
      d = { ...d, peers }
      // A peer whose real endpoint changed (a node restarted on another port) is restarted.
      const moved = new Set<string>()
      for (const p of peers) {
        const ep = this.resolver(p.address, p.port)
        const key = ep ? `${ep.host}:${ep.port}` : ''
        const old = this.peerEndpoints.get(p.name)
        if (old !== undefined && old !== key) moved.add(p.name)
        this.peerEndpoints.set(p.name, key)
      }
      if (moved.size > 0 && this.driver.desired)
        this.driver.apply({
          ...this.driver.desired,
          peers: this.driver.desired.peers.filter((p) => !moved.has(p.name)),
        })
    }
    const res = this.driver.apply(d)
    for (const n of res.removed) this.peerEndpoints.delete(n)
    if (res.added.length || res.removed.length || res.restarted.length || res.originated.length || res.withdrawn.length)
      this.log.info(res, 'bgp configuration applied')
    if (d) this.relisten(d.listenPort)
    // Kernel side: pools (IPIP/VXLAN) and rejected service ranges.
    const pools = [...this.view.pools.values()].map((o) => {
      const s = (o.spec ?? {}) as { cidr?: string; ipipMode?: string; vxlanMode?: string }
      return { cidr: s.cidr ?? '', ipip: s.ipipMode ?? 'Never', vxlan: s.vxlanMode ?? 'Never' }
    })
    const reject = d?.rejectCidrs ?? []
    const changed =
      JSON.stringify(pools) !== JSON.stringify(this.kernel.pools) ||
      JSON.stringify(reject) !== JSON.stringify(this.kernel.reject)
    this.kernel.pools = pools.filter((p) => tryParseCidr(p.cidr).ok)
    this.kernel.reject = reject
    if (changed) this.kernel.resync()
    this.last = d
  }

  /**
   * BGPConfiguration listenPort, live: the emulated 179 is the node's real BGP port (`--bgp-port`);
   * any other port is used as the real port too, which is where peers' resolvers dial it. The
   * listener moves; established sessions stay.
   */
  private relisten(listenPort: number): void {
    const base = this.init.port ?? DEFAULT_REAL_BGP_PORT
    this.wantPort = listenPort === 179 ? base : listenPort
    this.moveListener()
  }

  private moveListener(): void {
    if (this.relistening || this.closed || !this.bound || this.wantPort === this.listenPort) return
    const want = this.wantPort
    this.relistening = true
    this.speaker
      .setListen({ host: this.init.endpoint, port: want })
      .then(
        (b) => {
          this.bound = b
          this.listenPort = want
          this.log.info({ listen: b }, 'bgp listener moved')
        },
        (err: unknown) => {
          // Keep the old listener; retry on the next change (a port in use is an operator error).
          this.listenPort = want
          this.log.warn({ err, port: want }, 'bgp: cannot listen on the configured port; old listener kept')
        },
      )
      .finally(() => {
        this.relistening = false
        this.moveListener()
      })
  }

  // ------------------------------------------------------------------ views

  viewPeers(): ViewPeer[] {
    const desired = new Map((this.last?.peers ?? []).map((p) => [p.name, p]))
    return viewPeersFromStatus(this.speaker.status(), {
      passive: (n) => desired.get(n)?.passive === true,
      localAs: this.last?.asNumber ?? 64512,
      sourceAddress: this.init.nodeIp,
      description: (n) => {
        const p = desired.get(n)
        return p?.node ? `Connection to BGP peer ${p.node}` : undefined
      },
      importFilter: 'ACCEPT',
      exportFilter: 'calico_export_to_bgp_peers',
      preferred: (n) => this.router.countsFor(n).preferred,
    }).map((v) => {
      const p = desired.get(v.name)
      return p ? { ...v, address: p.address } : v
    })
  }

  nodeStatus(): string {
    return formatNodeStatus(this.viewPeers(), { now: this.init.clock.now() })
  }

  birdc(cmd: string): string {
    const words = cmd.trim().split(/\s+/)
    const c = words.join(' ')
    const clock = { now: this.init.clock.now() }
    if (c === 'show protocols' || c === 'show protocol')
      return formatShowProtocols(baseProtocols(this.speaker.startedAt, 'calico'), this.viewPeers(), clock)
    if (/^show protocols? all( |$)/.test(c)) {
      const want = words[3]
      const peers = this.viewPeers().filter((p) => want === undefined || p.name === want)
      if (peers.length === 0) return formatShowProtocolsAll(undefined, clock)
      return peers.map((p, i) => formatShowProtocolsAll(p, clock, { banner: i === 0 })).join('')
    }
    if (c === 'show route' || c === 'show routes') return formatShowRoute(this.router.list(), clock)
    throw new Error(`syntax error, unknown command "${c}" (supported: show protocols [all [NAME]], show route)`)
  }

  /** `birdc` and `calicoctl node status` as commands of the node (`calilab ssh NODE -- ...`). */
  tools(): Record<string, Tool> {
    return {
      birdc: birdcTool((cmd) => this.birdc(cmd)),
      birdcl: birdcTool((cmd) => this.birdc(cmd)),
      calicoctl: async (argv, _env, io) => {
        const args = argv.slice(1).filter((a) => a !== '--allow-version-mismatch')
        if (args[0] === 'node' && args[1] === 'status') {
          io.stdout(this.nodeStatus())
          return 0
        }
        io.stderr(
          `calicoctl ${args.join(' ')}: only "calicoctl node status" runs on the node here; use "calilab calicoctl ..." for the datastore\n`,
        )
        return 1
      },
    }
  }

  status(): NodeBgpStatus {
    const s: NodeBgpStatus = {
      node: this.init.nodeName,
      peers: this.viewPeers(),
      exports: (this.last?.exports ?? []).map((e) => e.prefix),
      kernelRoutes: this.kernel.list(),
      applies: this.applies,
    }
    if (this.last) {
      s.routerId = this.last.routerId
      s.asNumber = this.last.asNumber
    }
    if (this.bound) s.listen = this.bound
    return s
  }

  async close(): Promise<void> {
    this.closed = true
    this.kernel.close()
    await this.speaker.stop()
  }
}
