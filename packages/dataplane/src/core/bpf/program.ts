/**
 * Calico's tc programs for service traffic (felix/bpf-gpl tc.c + nat.h, v3.21 behaviour), as a
 * pure function of a packet, the maps and the node's config. Attached by the kernel glue:
 *
 *   fromHep  tc ingress on the host interface (eth0): external clients and other nodes.
 *   fromWep  tc ingress on the host side of a pod's veth (packets leaving the pod).
 *   toHost   tc egress (eth0, veths): connections the host itself opens to a service.
 *
 * New connection to a frontend (`nat_fe`, the NodePort wildcard for local addresses): a backend
 * from `nat_be` by flow hash; conntrack gets a NAT_FWD entry (client -> frontend) and its NAT_REV
 * twin (client <-> backend). Backend here, or a pod's connection: DNAT in place and `pass` (the
 * kernel routes it on). External connection whose backend is on node Y: the original packet goes
 * to Y in VXLAN (VNI 0xca11c0, `NP_FWD`); Y decapsulates, picks the same backend (its local ones
 * only), records `tun_ip`. Replies on Y: `Tunnel` mode encapsulates them back to the ingress node,
 * which reverse-NATs and sends them to the client; `DSR` mode reverse-NATs on Y and sends them
 * straight to the client from the ingress node's IP:NodePort.
 * The result `undefined` means "pass unchanged"; a TCP packet without SYN and without an entry
 * is left to the kernel (connections opened before the programs were attached keep their path).
 */
import {
  encapVxlan,
  IPPROTO_TCP,
  IPPROTO_UDP,
  PacketView,
  parsePacket,
  parseVxlan,
  rewriteDst,
  rewriteSrc,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
} from '../packet/index.ts'
import {
  BPF_NODEPORT_VNI,
  type BpfCtEntry,
  type BpfCtType,
  type BpfMaps,
  CT_FLAG_DSR_FWD,
  CT_FLAG_EXT_LOCAL,
  CT_FLAG_NP_FWD,
  ctKey,
  NAT_FLG_EXTERNAL_LOCAL,
  type NatBackend,
  type NatFrontend,
} from './maps.ts'

export type BpfServiceMode = 'Tunnel' | 'DSR'

/** What a tc program decides (undefined: pass the packet unchanged). */
export type TcVerdict =
  | { act: 'drop'; reason: string }
  /** Continue up the stack with these bytes (rewritten in place, or decapsulated). */
  | { act: 'pass'; pkt: Uint8Array }
  /** Send out of `dev` toward `via` (or the destination), skipping the stack. */
  | { act: 'redirect'; pkt: Uint8Array; dev: string; via?: number }

/** The node's settings the programs are compiled with (mutable: Felix rewrites them). */
export interface BpfConfig {
  nodeIp: number
  mode: BpfServiceMode
  /** Felix `vxlanPort` (4789). */
  vxlanPort: number
}

/** What the programs ask of the kernel: time, local addresses, the FIB. */
export interface BpfEnv {
  now(): number
  isLocal(ip: number): boolean
  fib(dst: number): { dev: string; via?: number } | undefined
}

type From = 'hep' | 'wep' | 'host'

/**
 * One thing a program did to a packet, in order, for `calilab trace` (collected only when a trace
 * passes an array). Addresses are host-order u32.
 */
export type BpfNote =
  /** A NodePort-tunnel VXLAN packet from node `from` (forwarded, or a Tunnel-mode reply), decapsulated. */
  | { kind: 'tunnel-in'; from: number; vni: number }
  /** A conntrack hit (an established flow). */
  | { kind: 'ct'; type: BpfCtType; flags: number; tunIp: number }
  /** New flow to a NAT frontend: the backend chosen, and the node it is on (0: this node or unknown). */
  | {
      kind: 'frontend'
      addr: number
      port: number
      proto: number
      backend: number
      backendPort: number
      count: number
      node: number
      extLocal: boolean
    }
  /** No conntrack entry and no frontend for the destination. */
  | { kind: 'no-frontend'; addr: number; port: number; proto: number }
  /** Mid-connection TCP without an entry: opened before the programs, the kernel keeps it. */
  | { kind: 'kernel' }
  | { kind: 'nat'; field: 'dst' | 'src'; from: number; fromPort: number; to: number; toPort: number }
  /** Encapsulated in VXLAN to `to`: the original packet to the backend's node, or a reply back. */
  | { kind: 'tunnel-out'; to: number; reply: boolean }
  /** DSR: the reply leaves this node straight to the client. */
  | { kind: 'dsr'; to: number }

const MISS = Symbol('miss')
const ZERO_MAC = new Uint8Array(6)

/** FNV-1a over the 5-tuple: the same flow picks the same ordinal on every node. */
export function flowHash5(proto: number, src: number, sport: number, dst: number, dport: number): number {
  let h = 0x811c9dc5
  const mix = (x: number) => {
    for (let i = 0; i < 4; i++) {
      h ^= (x >>> (i * 8)) & 0xff
      h = Math.imul(h, 0x01000193)
    }
  }
  mix(src)
  mix(dst)
  mix((sport << 16) | dport)
  mix(proto)
  return h >>> 0
}

export class BpfProgram {
  readonly maps: BpfMaps
  readonly cfg: BpfConfig
  private readonly env: BpfEnv
  private readonly v = new PacketView()
  /** The current call's trace notes (set by each entry point). */
  private notes: BpfNote[] | undefined = undefined
  /** Counters by outcome (`calico-node -bpf counters`-like). */
  readonly stats = { nat: 0, encap: 0, decap: 0, revNat: 0, dsr: 0, drops: 0 }

  constructor(maps: BpfMaps, cfg: BpfConfig, env: BpfEnv) {
    this.maps = maps
    this.cfg = cfg
    this.env = env
  }

  /** tc ingress on a host interface. */
  fromHep(pkt: Uint8Array, notes?: BpfNote[]): TcVerdict | undefined {
    const v = this.v
    this.notes = notes
    if (parsePacket(pkt, v) !== 'ok' || !v.hasL4) return undefined
    let tunIp = 0
    let p = pkt
    if (v.proto === IPPROTO_UDP && v.dport === this.cfg.vxlanPort && this.env.isLocal(v.dst)) {
      const x = parseVxlan(pkt, 0, this.cfg.vxlanPort)
      if (x !== undefined && x.vni === BPF_NODEPORT_VNI) {
        tunIp = v.src
        p = pkt.slice(x.innerOff, x.innerOff + x.innerLen)
        this.stats.decap++
        notes?.push({ kind: 'tunnel-in', from: tunIp, vni: x.vni })
        if (parsePacket(p, v) !== 'ok' || !v.hasL4) return this.drop('bad inner packet')
      }
    }
    if (v.proto !== IPPROTO_TCP && v.proto !== IPPROTO_UDP) return tunIp ? { act: 'pass', pkt: p } : undefined
    const r = this.established(v, p, 'hep')
    if (r !== MISS) return r ?? (tunIp ? { act: 'pass', pkt: p } : undefined)
    return this.newFlow(v, p, 'hep', tunIp)
  }

  /** tc ingress on a workload's veth (host side). */
  fromWep(pkt: Uint8Array, notes?: BpfNote[]): TcVerdict | undefined {
    const v = this.v
    this.notes = notes
    if (parsePacket(pkt, v) !== 'ok' || !v.hasL4) return undefined
    if (v.proto !== IPPROTO_TCP && v.proto !== IPPROTO_UDP) return undefined
    const r = this.established(v, pkt, 'wep')
    if (r !== MISS) return r
    return this.newFlow(v, pkt, 'wep', 0)
  }

  /** tc egress: connections the host opens to a service (no connect-time load balancer here). */
  toHost(pkt: Uint8Array, notes?: BpfNote[]): TcVerdict | undefined {
    const v = this.v
    this.notes = notes
    if (parsePacket(pkt, v) !== 'ok' || !v.hasL4) return undefined
    if (v.proto !== IPPROTO_TCP && v.proto !== IPPROTO_UDP) return undefined
    if (!this.env.isLocal(v.src)) return undefined
    const r = this.established(v, pkt, 'host')
    if (r !== MISS) return r
    return this.newFlow(v, pkt, 'host', 0)
  }

  // ------------------------------------------------------------------ conntrack

  private established(v: PacketView, p: Uint8Array, from: From): TcVerdict | undefined | typeof MISS {
    const ct = this.maps.ct
    const k = ctKey(v.proto, v.src, v.sport, v.dst, v.dport)
    const e = ct.get(k)
    if (e === undefined) return MISS
    const twin = ct.get(e.revKey)
    const flags = v.proto === IPPROTO_TCP ? v.tcpFlags : 0
    if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && e.closing) {
      // A new connection reusing the 5-tuple of one that ended.
      ct.delete(k)
      ct.delete(e.revKey)
      return MISS
    }
    const now = this.env.now()
    e.lastSeen = now
    if (twin) twin.lastSeen = now
    if (flags & (TCP_FIN | TCP_RST)) {
      e.closing = true
      if (twin) twin.closing = true
    }
    const isClient = v.src === e.clientIp && v.sport === e.clientPort
    if (e.type === 'NAT_FWD') {
      if (!isClient) return undefined
      this.notes?.push({ kind: 'ct', type: e.type, flags: e.flags, tunIp: e.tunIp })
      if (e.flags & CT_FLAG_NP_FWD) return this.encap(p, v, e.tunIp, false)
      this.nat(v, 'dst', e.backendIp, e.backendPort)
      this.stats.nat++
      return from === 'host' ? this.route(p, v.dst) : { act: 'pass', pkt: p }
    }
    if (e.type !== 'NAT_REV' || v.src !== e.backendIp || v.sport !== e.backendPort) return undefined
    this.notes?.push({ kind: 'ct', type: e.type, flags: e.flags, tunIp: e.tunIp })
    // A reply from the backend.
    if (e.tunIp !== 0 && from === 'wep') {
      if ((e.flags & CT_FLAG_DSR_FWD) === 0) return this.encap(p, v, e.tunIp, true)
      this.nat(v, 'src', e.origIp, e.origPort)
      this.notes?.push({ kind: 'dsr', to: v.dst })
      this.stats.dsr++
      return this.route(p, v.dst)
    }
    this.nat(v, 'src', e.origIp, e.origPort)
    this.stats.revNat++
    if (e.flags & CT_FLAG_NP_FWD) return this.route(p, v.dst)
    return { act: 'pass', pkt: p }
  }

  // ------------------------------------------------------------------ new connections

  private newFlow(v: PacketView, p: Uint8Array, from: From, tunIp: number): TcVerdict | undefined {
    const maps = this.maps
    const anyLocal = tunIp !== 0 || (from === 'hep' && this.env.isLocal(v.dst))
    const fe = maps.lookupFrontend(v.dst, v.dport, v.proto, anyLocal)
    if (fe === undefined) {
      this.notes?.push({ kind: 'no-frontend', addr: v.dst, port: v.dport, proto: v.proto })
      return tunIp ? this.drop('tunnelled packet without a frontend') : undefined
    }
    // Mid-connection TCP without an entry: opened before the programs; the kernel keeps it.
    if (v.proto === IPPROTO_TCP && (v.tcpFlags & (TCP_SYN | TCP_ACK)) !== TCP_SYN && !tunIp) {
      this.notes?.push({ kind: 'kernel' })
      return undefined
    }
    const h = flowHash5(v.proto, v.src, v.sport, v.dst, v.dport)
    const extLocal = (fe.flags & NAT_FLG_EXTERNAL_LOCAL) !== 0 && from === 'hep' && tunIp === 0
    let be: NatBackend | undefined
    if (extLocal) be = this.pickLocal(fe, h)
    else {
      be = fe.count > 0 ? maps.backend(fe.id, h % fe.count) : undefined
      if (tunIp && be !== undefined && !maps.isLocalWorkload(be.addr)) be = this.pickLocal(fe, h)
    }
    if (be === undefined) return this.drop(extLocal || tunIp ? 'no local backend' : 'no backend')
    const remote = from === 'hep' && tunIp === 0 && !maps.isLocalWorkload(be.addr)
    const nextHop = remote ? (maps.routes.get(be.addr)?.nextHop ?? 0) : 0
    this.notes?.push({
      kind: 'frontend',
      node: maps.isLocalWorkload(be.addr) ? 0 : (maps.routes.get(be.addr)?.nextHop ?? 0),
      addr: v.dst,
      port: v.dport,
      proto: v.proto,
      backend: be.addr,
      backendPort: be.port,
      count: fe.count,
      extLocal,
    })
    let flags = extLocal ? CT_FLAG_EXT_LOCAL : 0
    if (nextHop !== 0) flags |= CT_FLAG_NP_FWD
    if (tunIp !== 0 && this.cfg.mode === 'DSR') flags |= CT_FLAG_DSR_FWD
    const now = this.env.now()
    const fwdKey = ctKey(v.proto, v.src, v.sport, v.dst, v.dport)
    const revKey = ctKey(v.proto, v.src, v.sport, be.addr, be.port)
    const base = {
      created: now,
      lastSeen: now,
      flags,
      proto: v.proto,
      clientIp: v.src,
      clientPort: v.sport,
      origIp: v.dst,
      origPort: v.dport,
      backendIp: be.addr,
      backendPort: be.port,
      closing: false,
    }
    const fwd: BpfCtEntry = { ...base, type: 'NAT_FWD', tunIp: nextHop, revKey }
    const rev: BpfCtEntry = { ...base, type: 'NAT_REV', tunIp, revKey: fwdKey }
    maps.ct.set(fwdKey, fwd)
    maps.ct.set(revKey, rev)
    if (nextHop !== 0) return this.encap(p, v, nextHop, false)
    this.nat(v, 'dst', be.addr, be.port)
    this.stats.nat++
    return from === 'host' ? this.route(p, v.dst) : { act: 'pass', pkt: p }
  }

  /** A backend on this node, by hash among the local ones. */
  private pickLocal(fe: NatFrontend, h: number): NatBackend | undefined {
    const local: NatBackend[] = []
    for (let i = 0; i < fe.count; i++) {
      const b = this.maps.backend(fe.id, i)
      if (b !== undefined && this.maps.isLocalWorkload(b.addr)) local.push(b)
    }
    return local.length ? local[h % local.length] : undefined
  }

  // ------------------------------------------------------------------ actions

  /** Rewrites the destination (DNAT) or source (reverse NAT) in place. */
  private nat(v: PacketView, field: 'dst' | 'src', ip: number, port: number): void {
    const [from, fromPort] = field === 'dst' ? [v.dst, v.dport] : [v.src, v.sport]
    this.notes?.push({ kind: 'nat', field, from, fromPort, to: ip, toPort: port })
    if (field === 'dst') rewriteDst(v, ip, port)
    else rewriteSrc(v, ip, port)
  }

  private encap(p: Uint8Array, v: PacketView, node: number, reply: boolean): TcVerdict {
    this.notes?.push({ kind: 'tunnel-out', to: node, reply })
    const outer = encapVxlan(
      {
        src: this.cfg.nodeIp,
        dst: node,
        sport: 32768 + (flowHash5(v.proto, v.src, v.sport, v.dst, v.dport) % 28232),
        dport: this.cfg.vxlanPort,
        vni: BPF_NODEPORT_VNI,
        innerSrcMac: ZERO_MAC,
        innerDstMac: ZERO_MAC,
      },
      p,
    )
    this.stats.encap++
    return this.route(outer, node)
  }

  private route(p: Uint8Array, dst: number): TcVerdict {
    const r = this.env.fib(dst)
    if (r === undefined) return this.drop('no route')
    return r.via === undefined
      ? { act: 'redirect', pkt: p, dev: r.dev }
      : { act: 'redirect', pkt: p, dev: r.dev, via: r.via }
  }

  private drop(reason: string): TcVerdict {
    this.stats.drops++
    return { act: 'drop', reason }
  }
}
