/**
 * The established-flow fast path, pure: parse, conntrack-flow lookup, NAT rewrite (incremental
 * checksums), TTL, route lookup. The same code runs inline and in workers; what it cannot
 * decide (new flows, ICMP, expired entries) it answers FWD_SLOW.
 *
 * `run` allocates nothing per packet: a lean parse into locals, flows in an open-addressing table of
 * typed arrays, int32 keys everywhere (uint32 addresses above 2^31 would be heap numbers), one reused
 * PacketView for NAT rewrites, results in `outArg`/`outVia`.
 */

import { prefixMask } from '@calilab/model'
import { tupleHash } from '../core/conntrack/index.ts'
import { csumReplace16, PacketView, rewriteDst, rewriteSrc } from '../core/packet/index.ts'
import {
  FWD_DROP,
  FWD_DROP_REASONS,
  FWD_FORWARD,
  FWD_FORWARD_VIA,
  FWD_LOCAL,
  FWD_SLOW,
  type PacketBatch,
} from './batch.ts'
import type { FwdResult, SnapFlow, Snapshot } from './messages.ts'

/** A route reduced to what the fast path answers: a device index and gateway, or a drop, or slow. */
interface FastRoute {
  action: number
  arg: number
  via: number
}

/** The egress devices a snapshot's routes name, in a stable order (result `arg` indexes it). */
export function deviceTable(s: Snapshot): string[] {
  const devs: string[] = []
  const seen = new Set<string>()
  for (const r of s.routes)
    for (const n of r.nexthops)
      if (!seen.has(n.dev)) {
        seen.add(n.dev)
        devs.push(n.dev)
      }
  return devs
}

/** Open-addressing flow table in typed arrays: no per-entry objects, int32 keys (no heap numbers). */
class FlowTable {
  readonly mask: number
  readonly proto: Uint8Array
  readonly src: Int32Array
  readonly dst: Int32Array
  /** (sport << 16) | dport */
  readonly ports: Int32Array
  readonly toSrc: Int32Array
  readonly toDst: Int32Array
  readonly toPorts: Int32Array

  constructor(flows: readonly SnapFlow[]) {
    let cap = 16
    while (cap < flows.length * 2) cap <<= 1
    this.mask = cap - 1
    this.proto = new Uint8Array(cap)
    this.src = new Int32Array(cap)
    this.dst = new Int32Array(cap)
    this.ports = new Int32Array(cap)
    this.toSrc = new Int32Array(cap)
    this.toDst = new Int32Array(cap)
    this.toPorts = new Int32Array(cap)
    for (const f of flows) {
      const ports = (f.sport << 16) | f.dport
      let i = tupleHash(f.proto, f.src, f.dst, f.sport, f.dport) & this.mask
      while (this.proto[i] !== 0) {
        if (
          this.proto[i] === f.proto &&
          this.src[i] === (f.src | 0) &&
          this.dst[i] === (f.dst | 0) &&
          this.ports[i] === ports
        )
          break
        i = (i + 1) & this.mask
      }
      if (this.proto[i] !== 0) continue
      this.proto[i] = f.proto
      this.src[i] = f.src
      this.dst[i] = f.dst
      this.ports[i] = ports
      this.toSrc[i] = f.toSrc
      this.toDst[i] = f.toDst
      this.toPorts[i] = (f.toSport << 16) | f.toDport
    }
  }

  /** The slot of the flow, or -1. Addresses as int32. */
  find(proto: number, src: number, dst: number, sport: number, dport: number): number {
    const ports = (sport << 16) | dport
    const m = this.mask
    let i = tupleHash(proto, src, dst, sport, dport) & m
    for (;;) {
      const p = this.proto[i]!
      if (p === 0) return -1
      if (p === proto && this.src[i] === src && this.dst[i] === dst && this.ports[i] === ports) return i
      i = (i + 1) & m
    }
  }
}

export class FastPath {
  readonly version: number
  readonly devs: string[]
  /** Device index (FWD_FORWARD*) or drop reason (FWD_DROP) of the last `run`. */
  outArg = 0
  /** Gateway of the last FWD_FORWARD_VIA. */
  outVia = 0
  /** Local addresses as int32. */
  private readonly local: Set<number>
  private readonly flows: FlowTable
  /** Per prefix length present (longest first): int32 network -> route. */
  private readonly tables: Map<number, FastRoute>[]
  private readonly masks: Int32Array
  private readonly view = new PacketView()
  /**
   * Only forwards are fast: packets to a local address or a blackhole answer FWD_SLOW untouched
   * (the live node delivers and drops through the full pipeline, which counts and traces them).
   */
  private readonly onlyForward: boolean

  constructor(s: Snapshot, o: { onlyForward?: boolean } = {}) {
    this.version = s.version
    this.onlyForward = o.onlyForward === true
    this.local = new Set(s.local.map((x) => x | 0))
    this.devs = deviceTable(s)
    const devIndex = new Map(this.devs.map((d, i) => [d, i]))
    this.flows = new FlowTable(s.flows)
    const byLen = new Map<number, Map<number, FastRoute>>()
    for (const r of s.routes) {
      let m = byLen.get(r.prefix)
      if (!m) {
        m = new Map()
        byLen.set(r.prefix, m)
      }
      const key = r.dst | 0
      if (m.has(key)) continue
      const nh = r.nexthops[0]
      let fr: FastRoute
      if (r.type === 'blackhole') fr = { action: FWD_DROP, arg: FWD_DROP_REASONS.indexOf('BLACKHOLE'), via: 0 }
      else if (r.type !== 'unicast' || !nh || r.nexthops.length > 1) fr = { action: FWD_SLOW, arg: 0, via: 0 }
      else if (nh.via === undefined) fr = { action: FWD_FORWARD, arg: devIndex.get(nh.dev)!, via: 0 }
      else fr = { action: FWD_FORWARD_VIA, arg: devIndex.get(nh.dev)!, via: nh.via >>> 0 }
      m.set(key, fr)
    }
    const lens = [...byLen.keys()].sort((a, b) => b - a)
    this.tables = lens.map((l) => byLen.get(l)!)
    this.masks = Int32Array.from(lens, (l) => (l === 0 ? 0 : prefixMask(l) | 0))
  }

  private route(dst: number): FastRoute | undefined {
    const t = this.tables
    for (let i = 0; i < t.length; i++) {
      const r = t[i]!.get(dst & this.masks[i]!)
      if (r !== undefined) return r
    }
    return undefined
  }

  /**
   * Processes the packet at buf[off .. off+len) in place (the bytes are rewritten); returns its
   * action, with `outArg`/`outVia` set for forwards and drops.
   */
  run(buf: Uint8Array, off: number, len: number): number {
    // A lean parse: only what an established TCP/UDP flow needs (the full parser runs on the slow path).
    if (len < 20 || off + len > buf.length) return FWD_SLOW
    const vihl = buf[off]!
    if (vihl >> 4 !== 4) return FWD_SLOW
    const ihl = (vihl & 0x0f) << 2
    const totalLen = (buf[off + 2]! << 8) | buf[off + 3]!
    if (ihl < 20 || totalLen < ihl || totalLen > len) return FWD_SLOW
    if (((buf[off + 6]! << 8) | buf[off + 7]!) & 0x1fff) return FWD_SLOW
    const proto = buf[off + 9]!
    const l4 = off + ihl
    if (proto === 6) {
      if (totalLen - ihl < 20 || buf[l4 + 13]! & 0x07) return FWD_SLOW
    } else if (proto !== 17 || totalLen - ihl < 8) return FWD_SLOW
    const src = (buf[off + 12]! << 24) | (buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!
    const dst0 = (buf[off + 16]! << 24) | (buf[off + 17]! << 16) | (buf[off + 18]! << 8) | buf[off + 19]!
    const sport = (buf[l4]! << 8) | buf[l4 + 1]!
    const dport = (buf[l4 + 2]! << 8) | buf[l4 + 3]!
    const ft = this.flows
    const i = ft.find(proto, src, dst0, sport, dport)
    if (i < 0) return FWD_SLOW
    const toPorts = ft.toPorts[i]!
    return this.forwardFlow(
      buf,
      off,
      ihl,
      proto,
      src,
      dst0,
      sport,
      dport,
      ft.toSrc[i]!,
      ft.toDst[i]!,
      toPorts >>> 16,
      toPorts & 0xffff,
    )
  }

  /**
   * The second half of `run` for a packet whose flow the caller already found (the live node looks
   * flows up in the kernel's conntrack): NAT to the `to*` tuple, local or route, TTL. Addresses as
   * int32. Nothing is rewritten when the answer is FWD_SLOW (no route, TTL <= 1, a local address with
   * `onlyForward`), so the caller can hand the untouched packet to the full pipeline.
   */
  forwardFlow(
    buf: Uint8Array,
    off: number,
    ihl: number,
    proto: number,
    src: number,
    dst0: number,
    sport: number,
    dport: number,
    toSrc: number,
    toDst: number,
    toSport: number,
    toDport: number,
  ): number {
    const local = this.local.has(toDst)
    let r: FastRoute | undefined
    if (local) {
      if (this.onlyForward) return FWD_SLOW
    } else {
      if (buf[off + 8]! <= 1) return FWD_SLOW
      r = this.route(toDst)
      if (r === undefined || r.action === FWD_SLOW || (this.onlyForward && r.action === FWD_DROP)) return FWD_SLOW
    }
    if (toDst !== dst0 || toDport !== dport || toSrc !== src || toSport !== sport) {
      const v = this.view
      v.buf = buf
      v.off = off
      v.ihl = ihl
      v.proto = proto
      v.hasL4 = true
      v.l4off = off + ihl
      v.src = src >>> 0
      v.dst = dst0 >>> 0
      v.sport = sport
      v.dport = dport
      if (toDst !== dst0 || toDport !== dport) rewriteDst(v, toDst >>> 0, toDport)
      if (toSrc !== src || toSport !== sport) rewriteSrc(v, toSrc >>> 0, toSport)
    }
    if (r === undefined) return FWD_LOCAL
    const action = r.action
    if (action === FWD_FORWARD || action === FWD_FORWARD_VIA) {
      // TTL - 1 with the RFC 1624 incremental checksum (the TTL/protocol word).
      const oldWord = (buf[off + 8]! << 8) | proto
      buf[off + 8] = buf[off + 8]! - 1
      const c = csumReplace16((buf[off + 10]! << 8) | buf[off + 11]!, oldWord, oldWord - 0x100)
      buf[off + 10] = c >>> 8
      buf[off + 11] = c & 0xff
    }
    this.outArg = r.arg
    this.outVia = r.via
    return action
  }

  /** Runs every packet of a batch, writing the results into it. */
  runBatch(b: PacketBatch): void {
    const bytes = b.bytes
    for (let i = 0, n = b.count; i < n; i++) {
      const a = this.run(bytes, b.offset(i), b.length(i))
      b.setResult(i, a, this.outArg, this.outVia)
    }
  }

  /** One packet as a result object (allocates; tests and the slow control path). */
  process(b: Uint8Array): FwdResult {
    return toResult(this.run(b, 0, b.length), this.outArg, this.outVia, this.devs, b)
  }
}

/** Turns an action code into the FwdResult object (allocating; not for the hot path). */
export function toResult(
  action: number,
  arg: number,
  via: number,
  devs: readonly string[],
  bytes: Uint8Array,
): FwdResult {
  switch (action) {
    case FWD_LOCAL:
      return { action: 'local', bytes }
    case FWD_FORWARD:
      return { action: 'forward', dev: devs[arg] ?? '', bytes }
    case FWD_FORWARD_VIA:
      return { action: 'forward', dev: devs[arg] ?? '', via, bytes }
    case FWD_DROP:
      return { action: 'drop', reason: FWD_DROP_REASONS[arg] ?? 'DROP' }
    default:
      return { action: 'slow' }
  }
}
