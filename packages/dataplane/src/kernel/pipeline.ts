/**
 * The packet pipeline of one namespace, in the kernel's hook order:
 *
 *   receive: [decap] raw PREROUTING -> conntrack -> mangle PREROUTING -> nat PREROUTING (NEW only)
 *            -> routing -> INPUT (mangle, filter) -> confirm -> socket layer
 *                        -> FORWARD (mangle, filter) -> TTL -> POSTROUTING (mangle, nat on NEW) -> confirm -> egress
 *   output:  routing -> raw OUTPUT -> conntrack -> mangle OUTPUT -> nat OUTPUT (NEW) -> reroute
 *            -> filter OUTPUT -> POSTROUTING (mangle, nat on NEW) -> confirm -> egress
 *
 * Egress: veth -> the peer namespace (host queue), lo -> this namespace again, eth0 -> the
 * underlay, tunl0 -> IPIP to the gateway node, vxlan.calico -> VXLAN to the VTEP's node.
 */
import { formatIPv4 } from '@calilab/model'
import { ORIGINAL } from '../core/conntrack/index.ts'
import {
  type Chain,
  CT_NEW,
  CT_RELATED,
  CT_UNTRACKED,
  type EvalContext,
  type NfPacket,
  rejectResponse,
  type TraceStep,
  Verdict,
} from '../core/netfilter/index.ts'
import {
  buildIcmpError,
  buildTimeExceeded,
  copyPacket,
  decapIpip,
  decrementTtl,
  encapIpip,
  encapVxlan,
  ICMP_DEST_UNREACH,
  ICMP_HOST_UNREACH,
  ICMP_NET_UNREACH,
  IPPROTO_IPIP,
  IPPROTO_UDP,
  isIcmpError,
  PacketView,
  parseMac,
  parsePacket,
  parseVxlan,
  rewriteDst,
} from '../core/packet/index.ts'
import type { DropReason, PacketOutcome, PacketTraceStep } from './api.ts'
import type { Link } from './links.ts'
import type { NetnsImpl } from './netns.ts'
import {
  FILTER_FWD,
  FILTER_IN,
  FILTER_OUT,
  flowHash,
  HOOK_CHAIN,
  HOOK_TABLE,
  LOCAL,
  MANGLE_FWD,
  MANGLE_IN,
  MANGLE_OUT,
  MANGLE_POST,
  MANGLE_PRE,
  NAT_IN,
  NAT_OUT,
  NAT_POST,
  NAT_PRE,
  nfPacket,
  RAW_OUT,
  RAW_PRE,
  resetNfPacket,
  routeStep,
  summary,
} from './pipeline-util.ts'
import { tcEgress, tcIngress } from './tc.ts'

interface Ctx {
  v: PacketView
  p: NfPacket
  /** Conntrack handles: the packet's tuple and its entry's slot (-1: none; see Conntrack.find). */
  tuple: number
  entry: number
  /** `entry` was opened by this packet (unconfirmed until the last hook; discarded if dropped). */
  isNew: boolean
  trace: PacketTraceStep[] | undefined
}

export class Pipeline {
  private readonly ns: NetnsImpl
  private readonly verdict = new Verdict()
  private readonly evalCtx: EvalContext
  private readonly nfTrace: TraceStep[] = []
  /** The built-in chain of each hook (HOOK_TABLE/HOOK_CHAIN), as of netfilter generation `hookGen`. */
  private readonly hookChains: (Chain | undefined)[] = []
  private hookGen = -1
  /**
   * Per-packet state, reused: one frame per nesting depth (a socket answering inside `receive`
   * re-enters `output`; decapsulation re-enters `receive`), so no PacketView/NfPacket is
   * allocated per packet and a nested packet never overwrites an outer one's view.
   */
  private readonly frames: Ctx[] = []
  private readonly txViews: PacketView[] = []
  private depth = 0
  private readonly fwdOutcomes = new Map<string, PacketOutcome>()
  private readonly dropOutcomes = new Map<DropReason, PacketOutcome>()
  private readonly underlayOutcomes = new Map<number, PacketOutcome>()

  constructor(ns: NetnsImpl) {
    this.ns = ns
    this.evalCtx = { rng: ns.host.rng, isLocal: (ip) => ns.isLocal(ip) }
  }

  private now(): number {
    return this.ns.host.clock.now()
  }

  // ------------------------------------------------------------------ entry points

  /** Takes the frame of the next depth, reset for a new packet (the caller must `leave`). */
  private enter(iif: string, trace: PacketTraceStep[] | undefined): Ctx {
    let c = this.frames[this.depth]
    if (c === undefined) {
      c = {
        v: new PacketView(),
        p: nfPacket(new PacketView(), '', ''),
        tuple: -1,
        entry: -1,
        isNew: false,
        trace,
      }
      this.frames[this.depth] = c
    }
    this.depth++
    c.tuple = -1
    c.entry = -1
    c.isNew = false
    c.trace = trace
    c.p.iif = iif
    c.p.oif = ''
    return c
  }

  private leave(c: Ctx): void {
    this.depth--
    // A new entry whose packet never reached confirm (dropped, rejected) frees its slot.
    if (c.isNew) this.ns.conntrack.discard(c.entry)
    c.trace = undefined
    c.tuple = -1
    c.entry = -1
    c.isNew = false
  }

  receive(pkt: Uint8Array, dev: string, trace?: PacketTraceStep[]): PacketOutcome {
    const c = this.enter(dev, trace)
    try {
      return this.receiveIn(c, pkt, dev, trace)
    } finally {
      this.leave(c)
    }
  }

  private receiveIn(c: Ctx, pkt: Uint8Array, dev: string, trace: PacketTraceStep[] | undefined): PacketOutcome {
    const ns = this.ns
    const link = ns.linkMap.get(dev)
    if (!link?.up) return this.drop(trace, 'LINK_DOWN', dev)
    const v = c.v
    if (parsePacket(pkt, v) !== 'ok') return this.drop(trace, 'PARSE_ERROR')
    if (link.taps.length && link.tcSkipIn !== pkt) this.tapOut(link, v, pkt, 'in')
    if (link.tc !== undefined && link.tcSkipIn !== pkt) return tcIngress(this, ns.name, link, pkt, dev, trace)
    trace?.push({ kind: 'rx', ns: ns.name, dev, summary: summary(v) })
    // Tunnel endpoints: decapsulate packets addressed to this namespace.
    if (ns.isLocal(v.dst)) {
      if (v.proto === IPPROTO_IPIP) {
        const tun = this.findKind('ipip')
        const inner = tun && decapIpip(pkt)
        if (tun && inner) {
          trace?.push({ kind: 'decap', ns: ns.name, dev: tun.name, mode: 'ipip' })
          return this.receive(copyPacket(inner), tun.name, trace)
        }
      } else if (v.proto === IPPROTO_UDP && v.hasL4) {
        const wg = this.findKind('wireguard')?.wireguard
        if (wg?.port === v.dport) return wg.receive(pkt, v, trace, ns.name) ?? this.drop(trace, 'WG_AUTH', wg.dev)
        const vx = this.findKind('vxlan')
        if (vx?.vxlan && v.dport === vx.vxlan.port) {
          const p = parseVxlan(pkt, 0, vx.vxlan.port)
          if (p && p.vni === vx.vxlan.vni) {
            trace?.push({ kind: 'decap', ns: ns.name, dev: vx.name, mode: 'vxlan' })
            return this.receive(copyPacket(pkt, p.innerOff, p.innerOff + p.innerLen), vx.name, trace)
          }
        }
      }
    }
    resetNfPacket(c.p, v)
    if (this.hook(RAW_PRE, c) !== 'ACCEPT') return this.dropNf(c, 'PREROUTING')
    const notrack = this.verdict.notrack
    this.track(c, notrack)
    if (this.hook(MANGLE_PRE, c) !== 'ACCEPT') return this.dropNf(c, 'PREROUTING')
    if (c.isNew) {
      if (this.hook(NAT_PRE, c) !== 'ACCEPT') return this.dropNf(c, 'PREROUTING')
      this.natDst(c)
    } else if (c.tuple >= 0) ns.conntrack.natAt(v, c.tuple, 'dst')
    c.p.dst = v.dst
    c.p.dport = v.dport
    // Routing decision.
    if (ns.isLocal(v.dst)) {
      trace?.push({ kind: 'route', ns: ns.name, decision: 'local' })
      if (this.hook(MANGLE_IN, c) !== 'ACCEPT') return this.dropNf(c, 'INPUT')
      if (c.isNew && this.hook(NAT_IN, c) !== 'ACCEPT') return this.dropNf(c, 'INPUT')
      const fv = this.hook(FILTER_IN, c)
      if (fv !== 'ACCEPT') return this.reject(c, fv, pkt, 'INPUT')
      this.confirm(c)
      const sock = ns.stack.deliver(v)
      trace?.push({ kind: 'deliver', ns: ns.name, proto: v.proto, port: v.dport, socket: sock })
      return LOCAL
    }
    const rt = ns.routes.lookupFor(v.dst, v)
    if (!rt) return this.unreachable(c, pkt, ICMP_NET_UNREACH, 'NO_ROUTE')
    if (rt.route.type === 'blackhole') {
      trace?.push({ kind: 'route', ns: ns.name, decision: 'drop', route: rt.route.type })
      return this.drop(trace, 'BLACKHOLE')
    }
    if (rt.route.type !== 'unicast') return this.unreachable(c, pkt, ICMP_HOST_UNREACH, 'UNREACHABLE')
    trace?.push(routeStep(ns.name, rt.dev, rt.via))
    if (v.ttl <= 1) {
      const src = ns.sourceFor(v.src) ?? ns.host.nodeIp
      trace?.push({ kind: 'icmp-error', ns: ns.name, type: 11, code: 0 })
      this.emit(buildTimeExceeded(src, pkt))
      return this.drop(trace, 'TTL_EXCEEDED')
    }
    c.p.oif = rt.dev
    if (this.hook(MANGLE_FWD, c) !== 'ACCEPT') return this.dropNf(c, 'FORWARD')
    const fv = this.hook(FILTER_FWD, c)
    if (fv !== 'ACCEPT') return this.reject(c, fv, pkt, 'FORWARD')
    decrementTtl(v)
    return this.postrouting(c, pkt, rt.dev, rt.via)
  }

  output(pkt: Uint8Array, trace?: PacketTraceStep[]): PacketOutcome {
    const c = this.enter('', trace)
    try {
      return this.outputIn(c, pkt, trace)
    } finally {
      this.leave(c)
    }
  }

  private outputIn(c: Ctx, pkt: Uint8Array, trace: PacketTraceStep[] | undefined): PacketOutcome {
    const ns = this.ns
    const v = c.v
    if (parsePacket(pkt, v) !== 'ok') return this.drop(trace, 'PARSE_ERROR')
    resetNfPacket(c.p, v)
    let rt = this.route(v)
    if (!rt) return this.localError(c, pkt, 'NO_ROUTE')
    c.p.oif = rt.dev
    if (this.hook(RAW_OUT, c) !== 'ACCEPT') return this.dropNf(c, 'OUTPUT')
    this.track(c, this.verdict.notrack)
    if (this.hook(MANGLE_OUT, c) !== 'ACCEPT') return this.dropNf(c, 'OUTPUT')
    if (c.isNew) {
      if (this.hook(NAT_OUT, c) !== 'ACCEPT') return this.dropNf(c, 'OUTPUT')
      const before = v.dst
      this.natDst(c)
      if (v.dst !== before) {
        rt = this.route(v)
        if (!rt) return this.localError(c, pkt, 'NO_ROUTE')
        c.p.oif = rt.dev
      }
    } else if (c.tuple >= 0) ns.conntrack.natAt(v, c.tuple, 'dst')
    const fv = this.hook(FILTER_OUT, c)
    if (fv !== 'ACCEPT') {
      if (fv === 'REJECT') {
        const resp = rejectResponse(pkt, this.verdict.rejectWith ?? 'icmp-port-unreachable')
        if (resp) ns.host.enqueue(ns, resp, 'lo', trace)
      }
      return this.dropNf(c, 'OUTPUT')
    }
    if (rt.route.type === 'blackhole') return this.drop(trace, 'BLACKHOLE')
    trace?.push(routeStep(ns.name, rt.dev, rt.via))
    return this.postrouting(c, pkt, rt.dev, rt.via)
  }

  // ------------------------------------------------------------------ stages

  private route(v: PacketView): { route: { type: string }; dev: string; via?: number } | undefined {
    const ns = this.ns
    if (ns.isLocal(v.dst)) return { route: { type: 'local' }, dev: 'lo' }
    return ns.routes.lookupFor(v.dst, v)
  }

  private postrouting(c: Ctx, pkt: Uint8Array, dev: string, via: number | undefined): PacketOutcome {
    const ns = this.ns
    const v = c.v
    c.p.oif = dev
    if (this.hook(MANGLE_POST, c) !== 'ACCEPT') return this.dropNf(c, 'POSTROUTING')
    if (c.isNew) {
      if (this.hook(NAT_POST, c) !== 'ACCEPT') return this.dropNf(c, 'POSTROUTING')
      const t = this.verdict.nat
      if (t && (t.t === 'SNAT' || t.t === 'MASQUERADE')) {
        const e = c.entry
        let ip: number
        const o: { minPort?: number; maxPort?: number; random?: { next(): number } } = {}
        if (t.t === 'SNAT') {
          ip = t.range.minIp
          if (t.range.minPort >= 0) {
            o.minPort = t.range.minPort
            o.maxPort = t.range.maxPort
          }
          if (t.randomFully) o.random = ns.host.rng
        } else {
          ip = this.masqAddress(dev, v.dst)
          if (t.minPort >= 0) {
            o.minPort = t.minPort
            o.maxPort = t.maxPort
          }
          if (t.randomFully) o.random = ns.host.rng
        }
        ns.conntrack.snatAt(e, ip, o, this.now())
        ns.conntrack.natAt(v, e << 1, 'src')
        c.trace?.push({ kind: 'conntrack', ns: ns.name, state: 'NEW', nat: `SNAT to ${formatIPv4(ip)}` })
      }
    } else if (c.tuple >= 0) ns.conntrack.natAt(v, c.tuple, 'src')
    if (!this.confirm(c)) return this.drop(c.trace, 'CT_FULL')
    return this.transmit(pkt, dev, via, c.trace, c.v)
  }

  private masqAddress(dev: string, dst: number): number {
    const ns = this.ns
    const l = ns.linkMap.get(dev)
    const a = l && ns.addrList.find((x) => x.ifindex === l.ifindex && x.scope === 'global')
    return a?.ip ?? ns.sourceFor(dst) ?? ns.host.nodeIp
  }

  /**
   * Egress on `dev` toward `via` (or the destination itself). `parsed`: the packet's view, already
   * current (the pipeline's own, kept up to date by the NAT and TTL rewrites), to skip a re-parse.
   */
  transmit(
    pkt: Uint8Array,
    dev: string,
    via: number | undefined,
    trace?: PacketTraceStep[],
    parsed?: PacketView,
  ): PacketOutcome {
    const ns = this.ns
    const host = ns.host
    const l = ns.linkMap.get(dev)
    if (!l?.up) return this.drop(trace, 'LINK_DOWN', dev)
    let v = parsed
    if (v === undefined) {
      v = this.txViews[this.depth]
      if (v === undefined) {
        v = new PacketView()
        this.txViews[this.depth] = v
      }
      parsePacket(pkt, v)
    }
    if (l.tc !== undefined && l.tcSkipOut !== pkt) return tcEgress(this, ns.name, l, pkt, dev, via, trace, v)
    if (l.taps.length) this.tapOut(l, v, pkt, 'out')
    trace?.push({ kind: 'tx', ns: ns.name, dev, summary: summary(v) })
    switch (l.kind) {
      case 'loopback':
        host.enqueue(ns, pkt, 'lo', trace)
        return LOCAL
      case 'veth': {
        if (!l.peer) return this.drop(trace, 'LINK_DOWN', dev)
        const peerNs = host.netns(l.peer.ns)
        const pl = peerNs?.linkMap.get(l.peer.dev)
        if (!peerNs || !pl) return this.drop(trace, 'LINK_DOWN', dev)
        // The gateway must answer ARP: an address of the peer, or any address when it has proxy_arp.
        if (via !== undefined && !pl.proxyArp && !peerNs.isLocal(via)) return this.drop(trace, 'NO_NEIGHBOUR')
        host.enqueue(peerNs, pkt, pl.name, trace)
        return this.forwarded(dev)
      }
      case 'ethernet': {
        const nh = via ?? v.dst
        const u = host.underlay
        if (!u) return this.drop(trace, 'NO_UNDERLAY')
        trace?.push({ kind: 'underlay', ns: ns.name, nextHop: nh })
        u.send(nh, pkt)
        return this.underlaid(nh)
      }
      case 'ipip': {
        const nh = via ?? v.dst
        const outer = encapIpip({ src: host.nodeIp, dst: nh }, pkt)
        trace?.push({ kind: 'encap', ns: ns.name, dev, outerSrc: host.nodeIp, outerDst: nh, mode: 'ipip' })
        return this.underlayOut(outer, nh, trace)
      }
      case 'vxlan': {
        const gw = via ?? v.dst
        const nh = ns.vxlanPeers.get(gw) ?? gw
        const x = l.vxlan ?? { vni: 4096, port: 4789, local: host.nodeIp }
        const outer = encapVxlan(
          {
            src: x.local,
            dst: nh,
            sport: 32768 + (flowHash(v) % 28232),
            dport: x.port,
            vni: x.vni,
            innerSrcMac: parseMac(l.mac) ?? new Uint8Array(6),
            innerDstMac: parseMac('ee:ee:ee:ee:ee:ee')!,
          },
          pkt,
        )
        trace?.push({ kind: 'encap', ns: ns.name, dev, outerSrc: x.local, outerDst: nh, mode: 'vxlan' })
        return this.underlayOut(outer, nh, trace)
      }
      case 'wireguard':
        return l.wireguard?.transmit(pkt, v, trace, ns.name) ?? this.drop(trace, 'WG_NO_PEER', dev)
      default:
        return this.drop(trace, 'NO_NEIGHBOUR', dev)
    }
  }

  /** An encapsulated packet leaves through the link that routes to the outer destination (eth0). */
  underlayOut(outer: Uint8Array, nh: number, trace?: PacketTraceStep[]): PacketOutcome {
    const ns = this.ns
    const r = ns.routes.lookup(nh)
    const dev = r && ns.linkMap.get(r.dev)?.kind === 'ethernet' ? r.dev : 'eth0'
    const l = ns.linkMap.get(dev)
    if (l?.taps.length) {
      const ov = new PacketView()
      parsePacket(outer, ov)
      this.tapOut(l, ov, outer, 'out')
    }
    const u = ns.host.underlay
    if (!u) return this.drop(trace, 'NO_UNDERLAY')
    trace?.push({ kind: 'underlay', ns: ns.name, nextHop: nh })
    u.send(nh, outer)
    return this.underlaid(nh)
  }

  private track(c: Ctx, notrack: boolean): void {
    const ns = this.ns
    const v = c.v
    if (notrack) {
      c.p.ctstate = CT_UNTRACKED
      return
    }
    const now = this.now()
    const ct = ns.conntrack
    if (isIcmpError(v)) {
      const rel = ct.findRelated(v, now)
      if (rel >= 0) {
        c.p.ctstate = CT_RELATED
        // Un-NAT the outer header toward the original sender.
        const src = ct.tupleSrc(rel)
        if (v.dst !== src) rewriteDst(v, src)
        c.trace?.push({ kind: 'conntrack', ns: ns.name, state: 'RELATED' })
        return
      }
    }
    const t = ct.findPacket(v, now)
    if (t >= 0) {
      ct.updateAt(t, v.tcpFlags, v.totalLen, now)
      c.tuple = t
      c.entry = t >> 1
      c.p.ctstate = ct.ctstateAt(t)
      c.trace?.push({ kind: 'conntrack', ns: ns.name, state: (t & 1) === ORIGINAL ? 'ORIGINAL' : 'REPLY' })
      return
    }
    const e = ct.openPacket(v, now)
    ct.beginAt(e, v.tcpFlags, v.totalLen, now)
    c.entry = e
    c.tuple = e << 1
    c.isNew = true
    c.p.ctstate = CT_NEW
    c.trace?.push({ kind: 'conntrack', ns: ns.name, state: 'NEW' })
  }

  private natDst(c: Ctx): void {
    const t = this.verdict.nat
    if (t?.t !== 'DNAT' || c.entry < 0) return
    const ip = t.range.minIp === 0 ? c.v.dst : t.range.minIp
    const port = t.range.minPort
    this.ns.conntrack.dnatAt(c.entry, ip, port)
    this.ns.conntrack.natAt(c.v, c.entry << 1, 'dst')
    c.p.dst = c.v.dst
    c.p.dport = c.v.dport
    c.p.ctstate |= 64
    c.trace?.push({ kind: 'conntrack', ns: this.ns.name, state: 'NEW', nat: `DNAT to ${formatIPv4(ip)}:${port}` })
  }

  private confirm(c: Ctx): boolean {
    if (!c.isNew) return true
    return this.ns.conntrack.confirmAt(c.entry)
  }

  /** Traverses hook `h` (RAW_PRE, ...: a table's built-in chain) for the packet of `c`. */
  private hook(h: number, c: Ctx): string {
    const nf = this.ns.nf
    if (this.hookGen !== nf.gen) {
      // Built-in chains change only with the tables (every change bumps gen).
      for (let k = 0; k < HOOK_TABLE.length; k++)
        this.hookChains[k] = nf.tables[HOOK_TABLE[k]!].chains.get(HOOK_CHAIN[k]!)
      this.hookGen = nf.gen
    }
    const start = this.hookChains[h]
    if (start === undefined) return 'ACCEPT'
    const table = HOOK_TABLE[h]!
    const chain = HOOK_CHAIN[h]!
    const ctx = this.evalCtx
    if (c.trace) {
      this.nfTrace.length = 0
      ctx.trace = this.nfTrace
    }
    c.p.src = c.v.src
    c.p.sport = c.v.sport
    const verdict = nf.traverseChain(table, start, c.p, ctx, this.verdict)
    if (c.trace) {
      for (const step of this.nfTrace) c.trace.push({ kind: 'rule', ns: this.ns.name, step: { ...step } })
      c.trace.push({ kind: 'hook', ns: this.ns.name, hook: chain, table, verdict: verdict.verdict })
      delete ctx.trace
    }
    return verdict.verdict
  }

  private reject(c: Ctx, verdict: string, pkt: Uint8Array, chain: string): PacketOutcome {
    if (verdict === 'REJECT') {
      const src = this.ns.sourceFor(c.v.src) ?? this.ns.host.nodeIp
      const w = this.verdict.rejectWith ?? 'icmp-port-unreachable'
      const resp = rejectResponse(pkt, w, w === 'tcp-reset' ? undefined : src)
      c.trace?.push({ kind: 'icmp-error', ns: this.ns.name, type: 3, code: 3 })
      if (resp) this.emit(resp)
      return this.drop(c.trace, 'NF_REJECT', chain)
    }
    return this.dropNf(c, chain)
  }

  private unreachable(c: Ctx, pkt: Uint8Array, code: number, reason: DropReason): PacketOutcome {
    const src = this.ns.sourceFor(c.v.src) ?? this.ns.host.nodeIp
    c.trace?.push({ kind: 'route', ns: this.ns.name, decision: 'drop' })
    c.trace?.push({ kind: 'icmp-error', ns: this.ns.name, type: ICMP_DEST_UNREACH, code })
    this.emit(buildIcmpError({ src, dst: c.v.src, type: ICMP_DEST_UNREACH, code, original: pkt }))
    return this.drop(c.trace, reason)
  }

  /** No route for a locally generated packet: the socket layer learns ENETUNREACH. */
  private localError(c: Ctx, pkt: Uint8Array, reason: DropReason): PacketOutcome {
    this.ns.stack.localUnreachable(c.v, pkt)
    return this.drop(c.trace, reason)
  }

  /** Sends a kernel-generated packet (ICMP error, RST) from this namespace, after this one is done. */
  private emit(b: Uint8Array): void {
    this.ns.host.defer(() => this.output(b))
  }

  private dropNf(c: Ctx, chain: string): PacketOutcome {
    return this.drop(c.trace, 'NF_DROP', chain)
  }

  private drop(trace: PacketTraceStep[] | undefined, reason: DropReason, detail?: string): PacketOutcome {
    if (trace)
      trace.push(
        detail === undefined
          ? { kind: 'drop', ns: this.ns.name, reason }
          : { kind: 'drop', ns: this.ns.name, reason, detail },
      )
    let o = this.dropOutcomes.get(reason)
    if (o === undefined) {
      o = Object.freeze({ kind: 'dropped', reason }) as PacketOutcome
      this.dropOutcomes.set(reason, o)
    }
    return o
  }

  private underlaid(nextHop: number): PacketOutcome {
    let o = this.underlayOutcomes.get(nextHop)
    if (o === undefined) {
      o = Object.freeze({ kind: 'underlay', nextHop }) as PacketOutcome
      // Bounded by the next hops in use (nodes and gateways); cleared if it ever grows past that.
      if (this.underlayOutcomes.size >= 4096) this.underlayOutcomes.clear()
      this.underlayOutcomes.set(nextHop, o)
    }
    return o
  }

  private forwarded(dev: string): PacketOutcome {
    let o = this.fwdOutcomes.get(dev)
    if (o === undefined) {
      o = Object.freeze({ kind: 'forwarded', dev }) as PacketOutcome
      this.fwdOutcomes.set(dev, o)
    }
    return o
  }

  private findKind(kind: string): Link | undefined {
    for (const l of this.ns.linkMap.values()) if (l.kind === kind && l.up) return l
    return undefined
  }

  private tapOut(l: Link, v: PacketView, pkt: Uint8Array, dir: 'in' | 'out'): void {
    const now = this.now()
    for (const t of l.taps) {
      if (t.direction !== 'inout' && t.direction !== dir) continue
      if (t.filter && !t.filter(v)) continue
      t.n++
      t.onPacket(pkt.slice(), now, dir)
    }
  }
}

export { flowHash } from './pipeline-util.ts'
