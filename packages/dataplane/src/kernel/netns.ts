/**
 * One network namespace: links, addresses, routes, iptables, conntrack, the socket stack, and the
 * packet pipeline (pipeline.ts). Packets to other namespaces of the same host go through the
 * host's queue, so one packet's processing never recurses into another namespace.
 */
import { Conntrack } from '../core/conntrack/index.ts'
import { IpSetStore, Netfilter } from '../core/netfilter/index.ts'
import { compileFilter, formatMac } from '../core/packet/index.ts'
import { Stack } from '../stack/stack.ts'
import type {
  AddLinkOptions,
  AddrInfo,
  AddrScope,
  CmdResult,
  LinkInfo,
  LinkKind,
  Netns,
  PacketOptions,
  PacketOutcome,
  PingOptions,
  PingResult,
  RouteResult,
  SockAddr,
  Tap,
  TapOptions,
  TcpConn,
  TcpConnectOptions,
  TcpListener,
  UdpSocket,
  WireguardConfig,
  WireguardStatus,
} from './api.ts'
import type { HostImpl } from './host.ts'
import { runIp } from './ip-cmd.ts'
import { Addr, DEFAULT_MTU, Link, type TapEntry } from './links.ts'
import { Pipeline } from './pipeline.ts'
import { RouteTables } from './routes.ts'
import type { TcProgram } from './tc.ts'
import { WireguardDevice } from './wireguard.ts'

export class NetnsImpl implements Netns {
  readonly name: string
  readonly id: number | undefined
  readonly host: HostImpl
  readonly sets = new IpSetStore()
  readonly nf: Netfilter
  readonly conntrack: Conntrack
  readonly routes: RouteTables
  readonly stack: Stack
  readonly pipeline: Pipeline
  readonly linkMap = new Map<string, Link>()
  readonly byIndex = new Map<number, Link>()
  readonly addrList: Addr[] = []
  /** Local addresses (fast isLocal). */
  readonly local = new Set<number>()
  readonly vxlanPeers = new Map<number, number>()
  private nextIfindex = 1
  /** Bumped on every link/address/route change (forwarder snapshots). */
  get version(): number {
    return this.routes.version
  }

  constructor(host: HostImpl, name: string, id: number | undefined) {
    this.host = host
    this.name = name
    this.id = id
    this.nf = new Netfilter(this.sets)
    // The root namespace gets the kernel's default hash table for a host with 4 GiB or more
    // (nf_conntrack_buckets 262144); pods' tables start small and grow.
    this.conntrack = new Conntrack(262144, name === '' ? 262144 : 64)
    this.routes = new RouteTables({ hasDev: (d) => this.linkMap.has(d) })
    this.pipeline = new Pipeline(this)
    this.stack = new Stack({
      clock: host.clock,
      rng: host.rng,
      output: (pkt) => {
        this.output(pkt)
      },
      sourceFor: (dst) => this.sourceFor(dst),
      isLocal: (ip) => this.isLocal(ip),
    })
    const lo = this.addLink('lo', 'loopback', { up: true, mac: '00:00:00:00:00:00' })
    void lo
    this.addAddr('lo', 0x7f000001, 8, { scope: 'host' })
  }

  // ------------------------------------------------------------------ links

  allocIfindex(): number {
    return this.nextIfindex++
  }

  addLink(name: string, kind: LinkKind, o: AddLinkOptions = {}): LinkInfo {
    if (this.linkMap.has(name)) throw new Error(`RTNETLINK answers: File exists (${name})`)
    const mac = o.mac ?? (kind === 'ipip' || kind === 'wireguard' ? '' : this.host.randomMac())
    const l = new Link(this.allocIfindex(), name, kind, o.mtu ?? DEFAULT_MTU[kind], mac)
    l.up = o.up ?? false
    l.proxyArp = o.proxyArp ?? false
    if (kind === 'vxlan')
      l.vxlan = { vni: o.vxlan?.vni ?? 4096, port: o.vxlan?.port ?? 4789, local: o.vxlan?.local ?? this.host.nodeIp }
    this.linkMap.set(name, l)
    this.byIndex.set(l.ifindex, l)
    this.routes.version++
    return l
  }

  /** Inserts an already built link (veth ends made by the host). */
  attach(l: Link): void {
    this.linkMap.set(l.name, l)
    this.byIndex.set(l.ifindex, l)
    this.routes.version++
  }

  delLink(name: string): boolean {
    const l = this.linkMap.get(name)
    if (!l) return false
    this.linkMap.delete(name)
    this.byIndex.delete(l.ifindex)
    for (let i = this.addrList.length - 1; i >= 0; i--)
      if (this.addrList[i]!.ifindex === l.ifindex) this.removeAddr(this.addrList[i]!)
    this.routes.flushDev(name)
    if (l.kind === 'veth' && l.peer) {
      const peerNs = this.host.netns(l.peer.ns)
      const pl = peerNs?.linkMap.get(l.peer.dev)
      l.peer = undefined
      if (peerNs && pl) {
        pl.peer = undefined
        peerNs.delLink(pl.name)
      }
    }
    this.routes.version++
    return true
  }

  link(name: string): LinkInfo | undefined {
    return this.linkMap.get(name)
  }

  linkByIndex(ifindex: number): LinkInfo | undefined {
    return this.byIndex.get(ifindex)
  }

  links(): LinkInfo[] {
    return [...this.byIndex.values()].sort((a, b) => a.ifindex - b.ifindex)
  }

  private must(name: string): Link {
    const l = this.linkMap.get(name)
    if (!l) throw new Error(`Cannot find device "${name}"`)
    return l
  }

  setLinkUp(name: string, up: boolean): void {
    this.must(name).up = up
    this.routes.version++
  }

  setMtu(name: string, mtu: number): void {
    this.must(name).mtu = mtu
  }

  setProxyArp(name: string, on: boolean): void {
    this.must(name).proxyArp = on
  }

  // ------------------------------------------------------------------ addresses

  addAddr(
    dev: string,
    ip: number,
    prefix: number,
    o: { scope?: AddrScope; noprefixroute?: boolean } = {},
  ): RouteResult {
    const l = this.linkMap.get(dev)
    if (!l) return { ok: false, code: 'ENODEV', message: `Cannot find device "${dev}"` }
    if (this.addrList.some((a) => a.ifindex === l.ifindex && a.ip === ip))
      return { ok: false, code: 'EEXIST', message: 'RTNETLINK answers: File exists' }
    const a = new Addr(l.ifindex, ip >>> 0, prefix, o.scope ?? 'global', dev)
    this.addrList.push(a)
    this.local.add(a.ip)
    // The kernel's local-table route, and the connected route for prefixes shorter than /32.
    this.routes.add({
      table: 'local',
      type: 'local',
      dst: a.ip,
      prefix: 32,
      dev,
      proto: 'kernel',
      scope: 'host',
      src: a.ip,
    })
    if (l.kind === 'loopback' && prefix < 32)
      this.routes.replace({
        table: 'local',
        type: 'local',
        dst: a.ip,
        prefix,
        dev,
        proto: 'kernel',
        scope: 'host',
        src: a.ip,
      })
    else if (prefix < 32 && !o.noprefixroute)
      this.routes.replace({ dst: a.ip, prefix, dev, proto: 'kernel', scope: 'link', src: a.ip })
    return { ok: true }
  }

  delAddr(dev: string, ip: number, prefix: number): RouteResult {
    const l = this.linkMap.get(dev)
    const a = l && this.addrList.find((x) => x.ifindex === l.ifindex && x.ip === ip >>> 0 && x.prefix === prefix)
    if (!a) return { ok: false, code: 'EINVAL', message: 'RTNETLINK answers: Cannot assign requested address' }
    this.removeAddr(a)
    return { ok: true }
  }

  private removeAddr(a: Addr): void {
    this.addrList.splice(this.addrList.indexOf(a), 1)
    if (!this.addrList.some((x) => x.ip === a.ip)) this.local.delete(a.ip)
    this.routes.del({ table: 'local', dst: a.ip, prefix: 32 })
    if (a.prefix < 32) this.routes.del({ dst: a.ip, prefix: a.prefix, proto: 'kernel' })
  }

  addrs(): AddrInfo[] {
    return [...this.addrList]
  }

  isLocal(ip: number): boolean {
    return this.local.has(ip >>> 0)
  }

  /** The source address the kernel picks for `dst` (route src, else the egress link's first address, else any global). */
  sourceFor(dst: number): number | undefined {
    if (this.isLocal(dst)) return dst
    const r = this.routes.lookup(dst)
    if (!r) return undefined
    if (r.route.src !== undefined) return r.route.src
    const l = this.linkMap.get(r.dev)
    const own = l && this.addrList.find((a) => a.ifindex === l.ifindex && a.scope === 'global')
    if (own) return own.ip
    const any = this.addrList.find((a) => a.scope === 'global')
    return any?.ip
  }

  setVxlanPeer(vtepIp: number, nodeIp: number): void {
    this.vxlanPeers.set(vtepIp >>> 0, nodeIp >>> 0)
    this.routes.version++
  }

  delVxlanPeer(vtepIp: number): void {
    this.vxlanPeers.delete(vtepIp >>> 0)
    this.routes.version++
  }

  setWireguard(dev: string, cfg: WireguardConfig | undefined): void {
    const l = this.must(dev)
    if (l.kind !== 'wireguard') throw new Error(`Unable to access interface: Protocol not supported (${dev})`)
    if (cfg === undefined) delete l.wireguard
    else {
      l.wireguard ??= new WireguardDevice(dev, {
        nodeIp: () => this.host.nodeIp,
        deliver: (inner, d, trace) => this.pipeline.receive(inner, d, trace),
        underlayOut: (outer, nh, trace) => this.pipeline.underlayOut(outer, nh, trace),
      })
      l.wireguard.configure(cfg)
    }
    this.routes.version++
  }

  wireguardStatus(dev: string): WireguardStatus | undefined {
    return this.linkMap.get(dev)?.wireguard?.status()
  }

  setTc(dev: string, prog: TcProgram | undefined): boolean {
    const l = this.linkMap.get(dev)
    if (l === undefined) return false
    l.tc = prog
    return true
  }

  // ------------------------------------------------------------------ pipeline

  // `o?` rather than a `{}` default: no options object allocated per packet.
  receive(pkt: Uint8Array, dev: string, o?: PacketOptions): PacketOutcome {
    const out = this.pipeline.receive(pkt, dev, o?.trace)
    this.host.pump()
    return out
  }

  output(pkt: Uint8Array, o?: PacketOptions): PacketOutcome {
    const out = this.pipeline.output(pkt, o?.trace)
    this.host.pump()
    return out
  }

  tap(dev: string, onPacket: (pkt: Uint8Array, timeMs: number, dir: 'in' | 'out') => void, o: TapOptions = {}): Tap {
    const l = this.must(dev)
    let filter: TapEntry['filter']
    if (o.filter) {
      const f = compileFilter(o.filter)
      if (!f.ok) throw new Error(f.message)
      filter = f.filter
    }
    const e: TapEntry = {
      filter,
      direction: o.direction ?? 'inout',
      onPacket,
      n: 0,
      get count() {
        return e.n
      },
      close: () => {
        l.taps = l.taps.filter((x) => x !== e)
      },
    }
    l.taps = [...l.taps, e]
    return e
  }

  ip(argv: readonly string[]): CmdResult {
    return runIp(this, argv)
  }

  // ------------------------------------------------------------------ sockets

  tcpConnect(o: TcpConnectOptions): Promise<TcpConn> {
    return this.stack.tcpConnect(o)
  }

  tcpListen(port: number, onConn: (c: TcpConn) => void, o: { addr?: number } = {}): TcpListener {
    return this.stack.tcpListen(port, onConn, o)
  }

  udpBind(
    port: number,
    onMsg: (data: Uint8Array, from: SockAddr, to: SockAddr) => void,
    o: { addr?: number } = {},
  ): UdpSocket {
    return this.stack.udpBind(port, onMsg, o)
  }

  ping(dst: number | string, o: PingOptions = {}): Promise<PingResult> {
    return this.stack.ping(dst, o)
  }

  macOf(dev: string): string {
    return this.linkMap.get(dev)?.mac ?? formatMac(new Uint8Array(6))
  }
}
