/**
 * The node's dataplane driver: one emulated kernel (`Host`) per node, its UDP underlay, the pod
 * networks the kubelet asks for, and everything Felix and kube-proxy program from the datastore:
 * routes to other nodes' blocks (plain, IPIP or VXLAN per pool, CrossSubnet aware) and the
 * blackholes of this node's blocks, natOutgoing (`cali-nat-outgoing` + the pool IP sets), and
 * kube-proxy's iptables rules (rendered by core/kubeproxy, loaded with --noflush).
 *
 * `onUpdates` only records objects and marks what is dirty (CONVENTIONS §5); `apply()` (run on
 * a microtask after each batch) reconciles. Everything programmed carries its owner prefix
 * (`cali-`, `KUBE-`) or is a route this driver remembers having installed.
 */
import {
  createHost,
  type Host,
  iptablesRestore,
  LiveFastPath,
  type LiveFastPathStats,
  type Netns,
  type RouteSpec,
  runIptables,
  tokenize,
  type UdpEndpoint,
  type UdpUnderlay,
} from '@calilab/dataplane'
import type { Clock, Logger, Rng } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import { tryParseIPv4 } from '@calilab/model'
import { renderKubeProxy } from '../core/kubeproxy/index.ts'
import type { SyncerUpdate } from '../io/syncer/types.ts'
import { bindUnderlay } from './bind-underlay.ts'
import { type DesiredNet, type DesiredRoute, desiredNet, formatIp, type NetView } from './desired.ts'
import { ApplySoon, kindOf } from './follow.ts'
import { removeKubeProxyRules } from './kube-proxy-cleanup.ts'
import {
  type PodNetInfo,
  type PodNetwork,
  type PodRef,
  podNetnsName,
  setupPodNetwork,
  teardownPodNetwork,
} from './pod-network.ts'

export const IPSET_ALL_POOLS = 'cali40all-ipam-pools'
export const IPSET_MASQ_POOLS = 'cali40masq-ipam-pools'

/** Felix's natOutgoing chains (nat table), as iptables-restore --noflush input. */
export const NAT_OUTGOING_RESTORE = `*nat
:cali-POSTROUTING - [0:0]
:cali-fip-snat - [0:0]
:cali-nat-outgoing - [0:0]
-A cali-POSTROUTING -m comment --comment "cali:Z-c7XtVd2Bq7s_hA" -j cali-fip-snat
-A cali-POSTROUTING -m comment --comment "cali:nYKhEzDlr11Jccal" -j cali-nat-outgoing
-A cali-nat-outgoing -m comment --comment "cali:flqWnvo8yq4ULQLa" -m set --match-set ${IPSET_MASQ_POOLS} src -m set ! --match-set ${IPSET_ALL_POOLS} dst -j MASQUERADE --random-fully
COMMIT
`
const CALI_POSTROUTING_JUMP = ['-m', 'comment', '--comment', 'cali:O3lYWMrLQYEMJtB5', '-j', 'cali-POSTROUTING']

export interface NodeDataplaneInit {
  nodeName: string
  /** The node IP on eth0 (198.19.0.x). */
  nodeIp: string
  nodePrefix?: number
  clock: Clock
  rng: Rng
  log: Logger
  /** Real underlay socket (bind address = the node's endpoint; port 0 in tests, 4789 by default). */
  underlay?: { bind: string; port?: number }
  /** Default gateway on eth0 (host1, 198.19.15.254) and where its underlay socket is. */
  gateway?: { ip: string; endpoint?: { host: string; port: number } }
  /** kube-proxy's --cluster-cidr (default 198.19.16.0/20). */
  clusterCIDR?: string
  /** Protocol of routes to other nodes' blocks (default 'static'; 'bird' once BGP programs them). */
  remoteProto?: 'static' | 'bird'
  /**
   * Who programs routes to other nodes' blocks: 'static' (this driver, default) or 'bgp' (the
   * node's BGP speaker, `proto bird`; this driver then keeps only VXLAN routes and blackholes).
   */
  routing?: 'static' | 'bgp'
  /** Program kube-proxy's rules (default true). */
  kubeProxy?: boolean
  /** Established flows through the root namespace take the fast path (default true). */
  fastPath?: boolean
}

export interface DataplaneStatus {
  node: string
  nodeIp: string
  underlay?: { address: string; sent: number; received: number; noPeer: number; sendErrors: number }
  /** The live fast path's counters (absent when it is off). */
  fastPath?: LiveFastPathStats
  peers: { nodeIp: string; endpoint: string }[]
  pods: PodNetInfo[]
  routes: string[]
  pools: { all: string[]; masq: string[] }
  services: number
  kubeProxyLoads: number
  applies: number
  errors: number
}

type Category = 'routes' | 'services'

function sameRoute(a: DesiredRoute, b: DesiredRoute): boolean {
  return a.text === b.text && a.type === b.type && a.proto === b.proto
}

export class NodeDataplane implements PodNetwork {
  readonly host: Host
  /** The underlay socket, once `start()` bound it (when configured). */
  underlay: UdpUnderlay | undefined
  readonly fastPath: LiveFastPath | undefined
  private readonly init: NodeDataplaneInit
  private readonly log: Logger
  private readonly view = {
    pools: new Map<string, KubeObject>(),
    blocks: new Map<string, KubeObject>(),
    calicoNodes: new Map<string, KubeObject>(),
    k8sNodes: new Map<string, KubeObject>(),
    services: new Map<string, KubeObject>(),
    endpoints: new Map<string, KubeObject>(),
  }
  private readonly dirty = new Set<Category>(['routes', 'services'])
  private readonly programmed = new Map<string, DesiredRoute>()
  private readonly pods = new Map<string, PodNetInfo>()
  private readonly gatewayPeer = new Map<number, UdpEndpoint>()
  private peers = new Map<number, UdpEndpoint>()
  private last: DesiredNet | undefined
  private kubeProxyLoads = 0
  /** Felix in eBPF mode removed kube-proxy's rules (bpf.ts). */
  private kubeProxyOff = false
  private applies = 0
  private errors = 0
  private closed = false

  constructor(init: NodeDataplaneInit) {
    this.init = init
    this.log = init.log.child({ component: 'dataplane', node: init.nodeName })
    const nodeIp = tryParseIPv4(init.nodeIp)
    if (nodeIp === undefined) throw new Error(`dataplane: node IP ${JSON.stringify(init.nodeIp)} is not IPv4`)
    const gw = init.gateway ? tryParseIPv4(init.gateway.ip) : undefined
    this.host = createHost({
      name: init.nodeName,
      nodeIp,
      nodePrefix: init.nodePrefix ?? 20,
      clock: init.clock,
      rng: init.rng,
      ...(gw !== undefined ? { gateway: gw } : {}),
    })
    if (gw !== undefined && init.gateway?.endpoint)
      this.gatewayPeer.set(gw, { address: init.gateway.endpoint.host, port: init.gateway.endpoint.port })
    this.fastPath = init.fastPath === false ? undefined : LiveFastPath.attach(this.host)
    this.host.root.sets.create(IPSET_ALL_POOLS, 'hash:net', {}, true)
    this.host.root.sets.create(IPSET_MASQ_POOLS, 'hash:net', {}, true)
    iptablesRestore(this.host.root.nf, NAT_OUTGOING_RESTORE, { noflush: true })
    this.ensureCaliJump()
  }

  /** Binds the underlay socket (when configured) and programs the initial (empty) state. */
  async start(): Promise<void> {
    if (this.init.underlay && !this.underlay) {
      this.underlay = await bindUnderlay(this.host, {
        bind: this.init.underlay.bind,
        ...(this.init.underlay.port !== undefined ? { port: this.init.underlay.port } : {}),
        log: this.log,
      })
      this.syncPeers()
    }
    this.apply()
  }

  /** Where the gateway's (host1's) underlay socket is, when it becomes known after start. */
  setGatewayEndpoint(ep: { host: string; port: number }): void {
    const gw = this.init.gateway ? tryParseIPv4(this.init.gateway.ip) : undefined
    if (gw === undefined) return
    this.gatewayPeer.set(gw, { address: ep.host, port: ep.port })
    this.syncPeers()
  }

  /** Underlay peers: the nodes the datastore names, then the configured gateway (host1). */
  private syncPeers(): void {
    const all = new Map(this.peers)
    for (const [k, v] of this.gatewayPeer) all.set(k, v)
    this.underlay?.replacePeers(all)
  }

  /** `HOST:PORT` of the underlay socket (for the node's `calilab.dev/underlay` annotation). */
  get underlayAddress(): string | undefined {
    return this.underlay?.address
  }

  // ------------------------------------------------------------------ datastore updates

  onUpdates(batch: readonly SyncerUpdate[]): void {
    for (const u of batch) {
      const k = kindOf(u.key)
      let m: Map<string, KubeObject> | undefined
      let cat: Category = 'routes'
      switch (k) {
        case 'projectcalico.org/ippools':
          m = this.view.pools
          break
        case 'projectcalico.org/ipamblocks':
          m = this.view.blocks
          break
        case 'projectcalico.org/nodes':
          m = this.view.calicoNodes
          break
        case 'core/nodes':
          m = this.view.k8sNodes
          break
        case 'core/services':
          m = this.view.services
          cat = 'services'
          break
        case 'core/endpoints':
          m = this.view.endpoints
          cat = 'services'
          break
        default:
          continue
      }
      const before = m.get(u.key)
      if (u.value === null) m.delete(u.key)
      else m.set(u.key, u.value)
      // A Node changes what this driver programs only through its addresses (routes, NodePort
      // addresses); its status heartbeats every 10 s must not re-render kube-proxy's rules.
      if (k === 'core/nodes' && u.value !== null && before && sameAddresses(before, u.value)) continue
      this.dirty.add(cat)
      if (k === 'core/nodes') this.dirty.add('services')
    }
    this.schedule()
  }

  private readonly soon = new ApplySoon(() => {
    if (!this.closed) this.apply()
  })

  private schedule(): void {
    if (!this.closed) this.soon.schedule()
  }

  // ------------------------------------------------------------------ reconcile

  /** Carries out everything dirty. Safe to call at any time. */
  apply(): void {
    if (this.dirty.size === 0) return
    this.applies++
    const cats = new Set(this.dirty)
    this.dirty.clear()
    const nodeIp = this.host.nodeIp
    const d = desiredNet(this.view as NetView, {
      nodeName: this.init.nodeName,
      nodeIp,
      nodePrefix: this.init.nodePrefix ?? 20,
      ...(this.init.remoteProto ? { remoteProto: this.init.remoteProto } : {}),
      ...(this.init.routing ? { routing: this.init.routing } : {}),
    })
    this.last = d
    try {
      if (cats.has('routes')) {
        this.peers = new Map([...d.peers].map(([ip, e]) => [ip, { address: e.host, port: e.port }]))
        this.syncPeers()
        this.applyTunnels(d)
        this.applyPoolSets(d)
        this.applyRoutes(d)
      }
      if (cats.has('services') && this.init.kubeProxy !== false && !this.kubeProxyOff) this.applyKubeProxy(d)
    } catch (err) {
      this.errors++
      this.log.warn({ err }, 'dataplane apply failed')
    }
  }

  private applyTunnels(d: DesiredNet): void {
    const root = this.host.root
    if (d.needIpip && !root.link('tunl0')) root.addLink('tunl0', 'ipip', { up: true, mtu: 1480 })
    if (!d.needIpip && root.link('tunl0')) root.delLink('tunl0')
    if (d.needVxlan && !root.link('vxlan.calico')) root.addLink('vxlan.calico', 'vxlan', { up: true, mtu: 1450 })
    if (!d.needVxlan && root.link('vxlan.calico')) root.delLink('vxlan.calico')
    const setAddr = (dev: string, want: number | undefined) => {
      if (!root.link(dev)) return
      const have = root.addrs().filter((a) => root.linkByIndex(a.ifindex)?.name === dev)
      for (const a of have) if (a.ip !== want) root.delAddr(dev, a.ip, a.prefix)
      if (want !== undefined && !have.some((a) => a.ip === want)) root.addAddr(dev, want, 32)
    }
    setAddr('tunl0', d.ipipAddr)
    setAddr('vxlan.calico', d.vxlanAddr)
    if (root.link('vxlan.calico')) for (const [vtep, ip] of d.vxlanPeers) root.setVxlanPeer(vtep, ip)
  }

  private applyPoolSets(d: DesiredNet): void {
    const sync = (name: string, want: readonly string[]) => {
      const s = this.host.root.sets
      const have = new Set<string>(s.get(name)?.entries() ?? [])
      for (const m of have) if (!want.includes(m)) s.del(name, m, true)
      for (const m of want) if (!have.has(m)) s.add(name, m, true)
    }
    sync(IPSET_ALL_POOLS, d.allPools)
    sync(IPSET_MASQ_POOLS, d.masqPools)
  }

  private applyRoutes(d: DesiredNet): void {
    const routes = this.host.root.routes
    for (const [k, r] of this.programmed) {
      if (d.routes.has(k) && sameRoute(d.routes.get(k) as DesiredRoute, r)) continue
      routes.del({ dst: r.dst, prefix: r.prefix, proto: r.proto, type: r.type })
      this.programmed.delete(k)
    }
    for (const [k, r] of d.routes) {
      if (this.programmed.has(k)) continue
      // A local pod's /32 (borrowed address) wins over a remote route.
      if (r.prefix === 32 && [...this.pods.values()].some((p) => tryParseIPv4(p.ip) === r.dst)) continue
      const spec: RouteSpec = { dst: r.dst, prefix: r.prefix, type: r.type, proto: r.proto }
      if (r.type === 'unicast') {
        if (r.via !== undefined) spec.via = r.via
        if (r.dev !== undefined) spec.dev = r.dev
        if (r.onlink) spec.onlink = true
      }
      const res = routes.replace(spec)
      if (res.ok) this.programmed.set(k, r)
      else {
        this.errors++
        this.log.warn({ route: r.text, code: res.code, message: res.message }, 'route not programmed')
      }
    }
  }

  private applyKubeProxy(d: DesiredNet): void {
    const nf = this.host.root.nf
    const rules = renderKubeProxy({
      services: d.services,
      endpoints: d.endpoints,
      nodeName: this.init.nodeName,
      nodeIP: this.init.nodeIp,
      clusterCIDR: this.init.clusterCIDR ?? '198.19.16.0/20',
    })
    // Chains of services that are gone: kube-proxy deletes them in the same restore.
    const declared = new Set<string>()
    for (const line of rules.nat.split('\n')) if (line.startsWith(':')) declared.add(line.slice(1).split(' ')[0] ?? '')
    const stale = nf
      .table('nat')
      .ordered()
      .map((c) => c.name)
      .filter((n) => /^KUBE-(SVC|SEP|XLB|FW|EXT)-/.test(n) && !declared.has(n))
    iptablesRestore(nf, rules.restore, { noflush: true })
    for (const c of stale) nf.flush('nat', c)
    for (const c of stale) nf.deleteChain('nat', c)
    for (const j of rules.jumps) {
      const t = tokenize(j.rule)
      const spec = t.slice(2)
      const chk = runIptables(nf, ['-t', j.table, '-C', j.chain, ...spec])
      if (chk.exitCode !== 0) {
        const r = runIptables(nf, ['-t', j.table, '-I', j.chain, '1', ...spec])
        if (r.exitCode !== 0) this.log.warn({ rule: j.rule, err: r.stderr }, 'kube-proxy jump failed')
      }
    }
    this.ensureCaliJump()
    this.kubeProxyLoads++
  }

  /** kube-proxy's rules on (iptables mode) or removed (eBPF mode with kube-proxy cleanup). */
  setKubeProxyActive(on: boolean): void {
    if (on !== this.kubeProxyOff) return
    this.kubeProxyOff = !on
    if (!on) removeKubeProxyRules(this.host.root.nf)
    else this.dirty.add('services')
    this.schedule()
  }

  /** Felix keeps its POSTROUTING jump first (insert mode). */
  private ensureCaliJump(): void {
    const nf = this.host.root.nf
    const first = nf.chain('nat', 'POSTROUTING')?.rules[0]
    const isOurs =
      first !== undefined &&
      runIptables(nf, ['-t', 'nat', '-S', 'POSTROUTING']).stdout.split('\n')[1]?.includes('cali-POSTROUTING')
    if (isOurs) return
    if (runIptables(nf, ['-t', 'nat', '-C', 'POSTROUTING', ...CALI_POSTROUTING_JUMP]).exitCode === 0)
      runIptables(nf, ['-t', 'nat', '-D', 'POSTROUTING', ...CALI_POSTROUTING_JUMP])
    runIptables(nf, ['-t', 'nat', '-I', 'POSTROUTING', '1', ...CALI_POSTROUTING_JUMP])
  }

  // ------------------------------------------------------------------ PodNetwork

  setup(pod: PodRef, ip: string): void {
    const namespace = pod.metadata.namespace ?? 'default'
    const name = pod.metadata.name ?? ''
    const info = setupPodNetwork(this.host, namespace, name, ip)
    this.pods.set(podNetnsName(namespace, name), info)
    // A remote /32 we had for this address (borrowed IP moving here) gives way.
    const k = `${ip}/32`
    if (this.programmed.has(k)) this.programmed.delete(k)
    this.log.info({ pod: name, namespace, ip, iface: info.iface }, 'pod network set up')
  }

  teardown(pod: PodRef): void {
    const namespace = pod.metadata.namespace ?? 'default'
    const name = pod.metadata.name ?? ''
    const key = podNetnsName(namespace, name)
    if (!this.pods.has(key) && !this.host.netns(key)) return
    teardownPodNetwork(this.host, namespace, name)
    this.pods.delete(key)
    this.dirty.add('routes')
    this.schedule()
    this.log.info({ pod: name, namespace }, 'pod network removed')
  }

  podNetns(namespace: string, name: string): Netns | undefined {
    return this.host.netns(podNetnsName(namespace, name))
  }

  /** For the exec/tools layer: a pod's netns, or the root (`'host'`). */
  /** Services with a cluster IP, as the emulated kube-dns answers for them. */
  serviceList(): { name: string; namespace: string; clusterIP: string }[] {
    const out: { name: string; namespace: string; clusterIP: string }[] = []
    for (const svc of this.view.services.values()) {
      const ip = (svc.spec as { clusterIP?: string } | undefined)?.clusterIP
      if (ip && ip !== 'None')
        out.push({ name: svc.metadata.name ?? '', namespace: svc.metadata.namespace ?? '', clusterIP: ip })
    }
    return out
  }

  execNetns = (target: { namespace: string; pod: string } | 'host'): Netns | undefined =>
    target === 'host' ? this.host.root : this.podNetns(target.namespace, target.pod)

  // ------------------------------------------------------------------ status

  status(): DataplaneStatus {
    const u = this.underlay
    const s: DataplaneStatus = {
      node: this.init.nodeName,
      nodeIp: this.init.nodeIp,
      peers: (u?.peerList() ?? []).map((p) => ({ nodeIp: formatIp(p.nodeIp), endpoint: `${p.address}:${p.port}` })),
      pods: [...this.pods.values()],
      routes: [...this.programmed.values()].map((r) => r.text).sort(),
      pools: { all: this.last?.allPools ?? [], masq: this.last?.masqPools ?? [] },
      services: this.view.services.size,
      kubeProxyLoads: this.kubeProxyLoads,
      applies: this.applies,
      errors: this.errors,
    }
    if (u) s.underlay = { address: u.address, ...u.stats }
    if (this.fastPath) s.fastPath = { ...this.fastPath.stats }
    return s
  }

  async close(): Promise<void> {
    this.closed = true
    this.fastPath?.detach()
    this.host.setUnderlay(undefined)
    await this.underlay?.close()
  }
}

/** Whether two versions of a Node carry the same addresses and annotations (what routing uses). */
function sameAddresses(a: KubeObject, b: KubeObject): boolean {
  const addrs = (o: KubeObject) => JSON.stringify((o.status as { addresses?: unknown } | undefined)?.addresses ?? null)
  const ann = (o: KubeObject) => JSON.stringify(o.metadata.annotations ?? {})
  return addrs(a) === addrs(b) && ann(a) === ann(b) && JSON.stringify(a.spec ?? null) === JSON.stringify(b.spec ?? null)
}
