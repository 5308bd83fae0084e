/**
 * The established-flow fast path, pure: parse, conntrack-flow lookup, NAT rewrite (incremental
 * checksums), TTL, route lookup. The same code runs inline and in workers; what it cannot
 * decide (new flows, ICMP, expired entries) it answers 'slow'.
 */

import { prefixMask } from '@calilab/model'
import { tupleHash } from '../core/conntrack/index.ts'
import { decrementTtl, PacketView, parsePacket, rewriteDst, rewriteSrc } from '../core/packet/index.ts'
import type { FwdResult, SnapFlow, SnapRoute, Snapshot } from './messages.ts'

export class FastPath {
  readonly version: number
  private readonly local: Set<number>
  private readonly flows = new Map<number, SnapFlow[]>()
  private readonly byLen: (Map<number, SnapRoute> | undefined)[] = new Array(33)
  private readonly lens: number[]
  private readonly view = new PacketView()

  constructor(s: Snapshot) {
    this.version = s.version
    this.local = new Set(s.local)
    for (const f of s.flows) {
      const h = tupleHash(f.proto, f.src, f.dst, f.sport, f.dport)
      const l = this.flows.get(h)
      if (l) l.push(f)
      else this.flows.set(h, [f])
    }
    const lens = new Set<number>()
    for (const r of s.routes) {
      let m = this.byLen[r.prefix]
      if (!m) {
        m = new Map()
        this.byLen[r.prefix] = m
      }
      if (!m.has(r.dst)) m.set(r.dst, r)
      lens.add(r.prefix)
    }
    this.lens = [...lens].sort((a, b) => b - a)
  }

  private route(dst: number): SnapRoute | undefined {
    for (const len of this.lens) {
      const r = this.byLen[len]!.get(len === 0 ? 0 : (dst & prefixMask(len)) >>> 0)
      if (r) return r
    }
    return undefined
  }

  /** Processes one packet in place (the bytes are rewritten). */
  process(b: Uint8Array): FwdResult {
    const v = this.view
    if (parsePacket(b, v) !== 'ok' || !v.hasL4 || (v.proto !== 6 && v.proto !== 17)) return { action: 'slow' }
    const list = this.flows.get(tupleHash(v.proto, v.src, v.dst, v.sport, v.dport))
    let f: SnapFlow | undefined
    if (list)
      for (const x of list)
        if (x.src === v.src && x.dst === v.dst && x.sport === v.sport && x.dport === v.dport && x.proto === v.proto) {
          f = x
          break
        }
    if (!f || v.tcpFlags & 0x07) return { action: 'slow' }
    if (f.toDst !== v.dst || f.toDport !== v.dport) rewriteDst(v, f.toDst, f.toDport)
    if (f.toSrc !== v.src || f.toSport !== v.sport) rewriteSrc(v, f.toSrc, f.toSport)
    if (this.local.has(v.dst)) return { action: 'local', bytes: b }
    if (v.ttl <= 1) return { action: 'slow' }
    const r = this.route(v.dst)
    if (!r) return { action: 'slow' }
    if (r.type === 'blackhole') return { action: 'drop', reason: 'BLACKHOLE' }
    const nh = r.nexthops[0]
    if (r.type !== 'unicast' || !nh || r.nexthops.length > 1) return { action: 'slow' }
    decrementTtl(v)
    return nh.via === undefined
      ? { action: 'forward', dev: nh.dev, bytes: b }
      : { action: 'forward', dev: nh.dev, via: nh.via, bytes: b }
  }
}
