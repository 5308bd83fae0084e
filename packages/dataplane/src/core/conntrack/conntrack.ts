/**
 * Connection tracking: entries keyed by 5-tuple numbers (no strings), each holding an original
 * and a reply tuple; both are indexed, so a packet's lookup tells its direction. NAT is set once
 * on the first packet (DNAT changes the reply's source, SNAT/MASQUERADE the reply's
 * destination) and every later packet is rewritten from the entry. Time is the caller's `now`
 * (ms); expired entries vanish on lookup and on gc.
 *
 * Entries live in typed arrays (store.ts), so tracking a connection allocates no object. Two
 * APIs over the same table: handles (an entry's slot `s`, its tuples `2s` and `2s + 1`; what the
 * packet pipeline uses) and object views (`CtEntry`/`CtTuple`, made on demand, one per entry).
 * A handle entry made with `open` holds its slot until `confirm`ed or `discard`ed; one made with
 * `create` until confirmed (then like any other entry) — an unconfirmed view is never reclaimed.
 */
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../packet/constants.ts'
import { rewriteDst, rewriteSrc } from '../packet/nat.ts'
import type { PacketView } from '../packet/view.ts'
import { CtEntry, type CtTuple } from './entry.ts'
import {
  beginSlot,
  CtArrays,
  ctstateOf,
  F_EXPIRES,
  F_MARK,
  F64_STRIDE,
  I_CHAIN,
  I_HASH,
  I_NEXT,
  I_PREV,
  I_PROTO,
  I_SLOT,
  I_STATUS,
  I32_STRIDE,
  IPS_CONFIRMED,
  IPS_DST_NAT,
  IPS_SRC_NAT,
  initSlot,
  ORIGINAL,
  SLOT_FREE,
  SLOT_LISTED,
  SLOT_PENDING,
  timeoutMs,
  tupleHash,
  U32_STRIDE,
  updateTuple,
} from './store.ts'

export interface CtFilter {
  proto?: number
  /** Original-direction source/destination (conntrack -s / -d). */
  src?: number
  dst?: number
  /** Reply-direction source/destination (conntrack -r / -q). */
  replySrc?: number
  replyDst?: number
  sport?: number
  dport?: number
  mark?: number
  /** Either direction's addresses contain this IP (what Calico uses to clean a deleted pod). */
  anyIp?: number
}

export interface SnatOptions {
  minPort?: number
  maxPort?: number
  /** --random-fully: pick the port at random. */
  random?: { next(): number }
}

export type NatWhich = 'src' | 'dst' | 'both'

export class Conntrack {
  private readonly a: CtArrays
  /**
   * The hash table: per bucket (hash & mask) the first tuple handle of its chain (-1: empty);
   * doubled when the tuples outnumber the buckets.
   */
  private buckets: Int32Array
  private mask: number
  private readonly initialBuckets: number
  private tuples = 0
  /** Confirmed entries in confirm order: a doubly linked list of slots (I_PREV/I_NEXT). */
  private first = -1
  private last = -1
  private size = 0
  /** Free slots, linked through I_NEXT; `used` slots have ever been handed out. */
  private freeHead = -1
  private used = 0
  private nextId = 1
  /** The object view of each slot that has one (made on demand). */
  private views: (CtEntry | undefined)[] | undefined = undefined
  /** nf_conntrack_max */
  max: number

  /** `buckets`: initial hash table size (a power of two; the kernel's nf_conntrack_buckets). */
  constructor(max = 262144, buckets = 1024) {
    this.max = max
    let n = 16
    while (n < buckets) n *= 2
    this.initialBuckets = n
    this.buckets = new Int32Array(n).fill(-1)
    this.mask = n - 1
    this.a = new CtArrays(Math.min(n, 4096))
  }

  get count(): number {
    return this.size
  }

  /** Entry slots the table holds (confirmed, unconfirmed and free ones); grows by doubling. */
  get capacity(): number {
    return this.a.cap
  }

  // ------------------------------------------------------------------ handles

  /** The tuple handle (with its direction in bit 0) a packet belongs to, or -1. */
  find(proto: number, src: number, dst: number, sport: number, dport: number, now: number): number {
    const u = this.a.u32
    const i = this.a.i32
    let t = this.buckets[tupleHash(proto, src, dst, sport, dport) & this.mask]!
    while (t >= 0) {
      const b = t << 2
      const c = (t >> 1) * I32_STRIDE
      if (u[b] === src && u[b + 1] === dst && u[b + 2] === sport && u[b + 3] === dport && i[c + I_PROTO] === proto) {
        if (this.a.f64[(t >> 1) * F64_STRIDE + F_EXPIRES]! <= now) {
          this.removeSlot(t >> 1)
          return -1
        }
        return t
      }
      t = i[c + I_CHAIN + (t & 1)]!
    }
    return -1
  }

  /** `find` for the packet in `v` (ICMP echo: id as port). */
  findPacket(v: PacketView, now: number): number {
    return this.find(v.proto, v.src, v.dst, sportOf(v), dportOf(v), now)
  }

  /** A new, unconfirmed entry for a first packet (not yet findable): its slot. */
  open(proto: number, src: number, dst: number, sport: number, dport: number, now: number): number {
    const s = this.alloc()
    const a = this.a
    initSlot(a, s, this.nextId++, proto, src >>> 0, dst >>> 0, sport, dport)
    a.f64[s * F64_STRIDE + F_EXPIRES] = now + timeoutMs(a, s)
    return s
  }

  openPacket(v: PacketView, now: number): number {
    return this.open(v.proto, v.src, v.dst, sportOf(v), dportOf(v), now)
  }

  /** Frees an entry that was never confirmed (its packet was dropped); no-op for any other. */
  discard(s: number): void {
    if (this.a.i32[s * I32_STRIDE + I_SLOT] !== SLOT_PENDING) return
    this.unview(s)
    this.free(s)
  }

  /** Sets the state of a fresh entry from its first packet (see `begin`). */
  beginAt(s: number, tcpFlags: number, len: number, now: number): void {
    beginSlot(this.a, s, tcpFlags, len, now)
  }

  /** Records a packet of tuple `t` (see `update`). */
  updateAt(t: number, tcpFlags: number, len: number, now: number): void {
    updateTuple(this.a, t, tcpFlags, len, now)
  }

  dnatAt(s: number, ip: number, port = -1): void {
    dnat(this.a, s, ip, port)
  }

  snatAt(s: number, ip: number, o: SnatOptions & { port?: number } = {}, now = 0): boolean {
    return this.snat(this.a, s, ip, o, now)
  }

  natAt(v: PacketView, t: number, which: NatWhich = 'both'): void {
    applyNat(this.a, v, t, which)
  }

  ctstateAt(t: number): number {
    return ctstateOf(this.a, t)
  }

  confirmAt(s: number): boolean {
    const i = this.a.i32
    const c = s * I32_STRIDE
    if (i[c + I_STATUS]! & IPS_CONFIRMED) return true
    if (this.size >= this.max) return false
    this.insert(s << 1)
    this.insert((s << 1) | 1)
    i[c + I_STATUS] = i[c + I_STATUS]! | IPS_CONFIRMED
    i[c + I_SLOT] = SLOT_LISTED
    i[c + I_PREV] = this.last
    i[c + I_NEXT] = -1
    if (this.last >= 0) i[this.last * I32_STRIDE + I_NEXT] = s
    else this.first = s
    this.last = s
    this.size++
    return true
  }

  /** A tuple's source address (the other fields: tupleDst, tupleSport, tupleDport). */
  tupleSrc(t: number): number {
    return this.a.u32[t << 2]!
  }

  /** The handle of the entry an ICMP error relates to (its quoted header, inverted), or -1. */
  findRelated(v: PacketView, now: number): number {
    if (v.proto !== IPPROTO_ICMP || (v.icmpType !== 3 && v.icmpType !== 11) || v.l4len < 8 + 20 + 8) return -1
    const b = v.buf
    const q = v.l4off + 8
    const ihl = (b[q]! & 0x0f) << 2
    const proto = b[q + 9]!
    const src = ((b[q + 12]! << 24) | (b[q + 13]! << 16) | (b[q + 14]! << 8) | b[q + 15]!) >>> 0
    const dst = ((b[q + 16]! << 24) | (b[q + 17]! << 16) | (b[q + 18]! << 8) | b[q + 19]!) >>> 0
    let sp = 0
    let dp = 0
    if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
      sp = (b[q + ihl]! << 8) | b[q + ihl + 1]!
      dp = (b[q + ihl + 2]! << 8) | b[q + ihl + 3]!
    } else if (proto === IPPROTO_ICMP) sp = (b[q + ihl + 4]! << 8) | b[q + ihl + 5]!
    return this.find(proto, src, dst, sp, dp, now)
  }

  /** The object view of slot `s` (one per entry, kept while it lives). */
  entryView(s: number): CtEntry {
    let vs = this.views
    if (vs === undefined) {
      vs = new Array<CtEntry | undefined>(this.a.cap).fill(undefined)
      this.views = vs
    }
    let e = vs[s]
    if (e === undefined) {
      e = new CtEntry(this.a, s)
      vs[s] = e
    }
    return e
  }

  tupleView(t: number): CtTuple {
    const e = this.entryView(t >> 1)
    return t & 1 ? e.reply : e.orig
  }

  // ------------------------------------------------------------------ objects

  /** The tuple (with its direction) a packet belongs to, or undefined. */
  lookup(proto: number, src: number, dst: number, sport: number, dport: number, now: number): CtTuple | undefined {
    const t = this.find(proto, src >>> 0, dst >>> 0, sport, dport, now)
    return t < 0 ? undefined : this.tupleView(t)
  }

  /** Looks up the packet in `v` (ICMP echo: id as port). */
  lookupPacket(v: PacketView, now: number): CtTuple | undefined {
    const t = this.findPacket(v, now)
    return t < 0 ? undefined : this.tupleView(t)
  }

  /** A new, unconfirmed entry for a first packet (not yet findable). */
  create(proto: number, src: number, dst: number, sport: number, dport: number, now: number): CtEntry {
    return this.entryView(this.open(proto, src, dst, sport, dport, now))
  }

  createFromPacket(v: PacketView, now: number): CtEntry {
    return this.entryView(this.openPacket(v, now))
  }

  /** DNAT binding: replies come from ip:port (port -1 keeps the port). */
  setDnat(e: CtEntry, ip: number, port = -1): void {
    dnat(e.a, e.slot, ip, port)
  }

  /**
   * SNAT/MASQUERADE binding: replies go to ip:port. Keeps the original source port when the
   * resulting reply tuple is free, otherwise picks another in [minPort, maxPort] (random with
   * --random-fully), as nf_nat's get_unique_tuple does.
   */
  setSnat(e: CtEntry, ip: number, o: SnatOptions & { port?: number } = {}, now = 0): boolean {
    return this.snat(e.a, e.slot, ip, o, now)
  }

  /** Makes the entry findable in both directions (the kernel's confirm at the last hook). */
  confirm(e: CtEntry): boolean {
    if (e.a !== this.a) return (e.status & IPS_CONFIRMED) !== 0
    return this.confirmAt(e.slot)
  }

  /** Records a packet of tuple `t`: direction bits, TCP state, timeout. */
  update(t: CtTuple, tcpFlags: number, len: number, now: number): void {
    updateTuple(t.entry.a, (t.entry.slot << 1) | t.dir, tcpFlags, len, now)
  }

  /** Sets the TCP state of a fresh entry from its first packet (SYN: SYN_SENT; else picked up mid-stream). */
  begin(e: CtEntry, tcpFlags: number, len: number, now: number): void {
    beginSlot(e.a, e.slot, tcpFlags, len, now)
  }

  /**
   * Rewrites the packet from the entry's NAT bindings. `which`: 'dst' changes the packet's
   * destination (DNAT on original packets at PREROUTING/OUTPUT, un-SNAT on replies), 'src' its
   * source (SNAT at POSTROUTING, un-DNAT on replies), 'both' does both.
   */
  applyNat(v: PacketView, t: CtTuple, which: NatWhich = 'both'): void {
    applyNat(t.entry.a, v, (t.entry.slot << 1) | t.dir, which)
  }

  /** ctstate bits for iptables (CT_* of netfilter/types: NEW 2, ESTABLISHED 8, SNAT 32, DNAT 64). */
  ctstate(t: CtTuple): number {
    return ctstateOf(t.entry.a, (t.entry.slot << 1) | t.dir)
  }

  /**
   * The entry an ICMP error relates to (its quoted header, inverted: the error travels back
   * towards the original sender). Undefined when none.
   */
  related(v: PacketView, now: number): CtTuple | undefined {
    const t = this.findRelated(v, now)
    return t < 0 ? undefined : this.tupleView(t)
  }

  remove(e: CtEntry): void {
    if (e.a === this.a && e.listed) this.removeSlot(e.slot)
  }

  /** Drops expired entries; returns how many. */
  gc(now: number): number {
    let n = 0
    const i = this.a.i32
    for (let s = this.first; s >= 0; ) {
      const next = i[s * I32_STRIDE + I_NEXT]!
      if (this.a.f64[s * F64_STRIDE + F_EXPIRES]! <= now) {
        this.removeSlot(s)
        n++
      }
      s = next
    }
    return n
  }

  /** Entries matching `f`, in creation order (expired ones excluded). */
  list(now: number, f: CtFilter = {}): CtEntry[] {
    const out: CtEntry[] = []
    for (const s of this.slots(now, f)) out.push(this.entryView(s))
    return out
  }

  /** conntrack -D: deletes matching entries; returns how many. */
  delete(now: number, f: CtFilter = {}): number {
    const victims = this.slots(now, f)
    for (const s of victims) this.removeSlot(s)
    return victims.length
  }

  flush(): void {
    const i = this.a.i32
    for (let s = this.first; s >= 0; ) {
      const next = i[s * I32_STRIDE + I_NEXT]!
      this.unview(s)
      this.free(s)
      s = next
    }
    this.buckets = new Int32Array(this.initialBuckets).fill(-1)
    this.mask = this.initialBuckets - 1
    this.tuples = 0
    this.first = -1
    this.last = -1
    this.size = 0
  }

  // ------------------------------------------------------------------ internals

  private slots(now: number, f: CtFilter): number[] {
    const out: number[] = []
    const a = this.a
    for (let s = this.first; s >= 0; s = a.i32[s * I32_STRIDE + I_NEXT]!)
      if (a.f64[s * F64_STRIDE + F_EXPIRES]! > now && matches(a, s, f)) out.push(s)
    return out
  }

  private snat(a: CtArrays, s: number, ip: number, o: SnatOptions & { port?: number }, now: number): boolean {
    const u = a.u32
    const b = s * U32_STRIDE
    u[b + 5] = ip
    a.i32[s * I32_STRIDE + I_STATUS] = a.i32[s * I32_STRIDE + I_STATUS]! | IPS_SRC_NAT
    const proto = a.i32[s * I32_STRIDE + I_PROTO]!
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== IPPROTO_ICMP) return true
    const osport = u[b + 2]!
    const lo = o.minPort ?? (osport < 1024 ? 1 : 1024)
    const hi = o.maxPort ?? 65535
    const want = o.port ?? osport
    const rsrc = u[b + 4]!
    const rsport = u[b + 6]!
    const ipU = ip >>> 0
    if (!o.random && want >= lo && want <= hi && this.find(proto, rsrc, ipU, rsport, want, now) < 0) {
      u[b + 7] = want
      return true
    }
    const span = hi - lo + 1
    let start = o.random ? Math.floor(o.random.next() * span) : (want - lo + 1) % span
    for (let k = 0; k < span; k++, start = (start + 1) % span) {
      if (this.find(proto, rsrc, ipU, rsport, lo + start, now) < 0) {
        u[b + 7] = lo + start
        return true
      }
    }
    return false
  }

  private alloc(): number {
    const s = this.freeHead
    if (s >= 0) {
      this.freeHead = this.a.i32[s * I32_STRIDE + I_NEXT]!
      return s
    }
    if (this.used === this.a.cap) {
      const cap = this.a.cap * 2
      this.a.grow(cap)
      const vs = this.views
      if (vs !== undefined) while (vs.length < cap) vs.push(undefined)
    }
    return this.used++
  }

  private free(s: number): void {
    const i = this.a.i32
    i[s * I32_STRIDE + I_SLOT] = SLOT_FREE
    i[s * I32_STRIDE + I_NEXT] = this.freeHead
    this.freeHead = s
  }

  /** Hands a view of slot `s` its own copy of the entry (the slot is about to be reused). */
  private unview(s: number): void {
    const vs = this.views
    if (vs === undefined) return
    const e = vs[s]
    if (e !== undefined) {
      e.detach()
      vs[s] = undefined
    }
  }

  private removeSlot(s: number): void {
    const i = this.a.i32
    const c = s * I32_STRIDE
    if (i[c + I_SLOT] !== SLOT_LISTED) return
    const prev = i[c + I_PREV]!
    const next = i[c + I_NEXT]!
    if (prev >= 0) i[prev * I32_STRIDE + I_NEXT] = next
    else this.first = next
    if (next >= 0) i[next * I32_STRIDE + I_PREV] = prev
    else this.last = prev
    this.size--
    this.unlink(s << 1)
    this.unlink((s << 1) | 1)
    this.unview(s)
    this.free(s)
  }

  private insert(t: number): void {
    if (this.tuples >= this.buckets.length) this.grow()
    const u = this.a.u32
    const i = this.a.i32
    const c = (t >> 1) * I32_STRIDE
    const b = t << 2
    const h = tupleHash(i[c + I_PROTO]!, u[b]!, u[b + 1]!, u[b + 2]!, u[b + 3]!)
    i[c + I_HASH + (t & 1)] = h
    const k = h & this.mask
    i[c + I_CHAIN + (t & 1)] = this.buckets[k]!
    this.buckets[k] = t
    this.tuples++
  }

  /** Doubles the buckets: each chain splits into buckets k and k + old size, keeping its order. */
  private grow(): void {
    const old = this.buckets
    const n0 = old.length
    const next = new Int32Array(n0 * 2).fill(-1)
    const i = this.a.i32
    for (let k = 0; k < n0; k++) {
      let lo = -1
      let hi = -1
      let t = old[k]!
      while (t >= 0) {
        const c = (t >> 1) * I32_STRIDE + (t & 1)
        const after = i[c + I_CHAIN]!
        i[c + I_CHAIN] = -1
        if (i[c + I_HASH]! & n0) {
          if (hi < 0) next[k + n0] = t
          else i[(hi >> 1) * I32_STRIDE + (hi & 1) + I_CHAIN] = t
          hi = t
        } else {
          if (lo < 0) next[k] = t
          else i[(lo >> 1) * I32_STRIDE + (lo & 1) + I_CHAIN] = t
          lo = t
        }
        t = after
      }
    }
    this.buckets = next
    this.mask = n0 * 2 - 1
  }

  private unlink(t: number): void {
    const i = this.a.i32
    const c = (t >> 1) * I32_STRIDE + (t & 1)
    const k = i[c + I_HASH]! & this.mask
    let n = this.buckets[k]!
    if (n === t) {
      this.buckets[k] = i[c + I_CHAIN]!
      this.tuples--
      return
    }
    while (n >= 0) {
      const nc = (n >> 1) * I32_STRIDE + (n & 1) + I_CHAIN
      const after = i[nc]!
      if (after === t) {
        i[nc] = i[c + I_CHAIN]!
        this.tuples--
        return
      }
      n = after
    }
  }
}

function dnat(a: CtArrays, s: number, ip: number, port: number): void {
  a.u32[s * U32_STRIDE + 4] = ip
  if (port >= 0) a.u32[s * U32_STRIDE + 6] = port
  a.i32[s * I32_STRIDE + I_STATUS] = a.i32[s * I32_STRIDE + I_STATUS]! | IPS_DST_NAT
}

function applyNat(a: CtArrays, v: PacketView, t: number, which: NatWhich): void {
  const s = t >> 1
  const st = a.i32[s * I32_STRIDE + I_STATUS]!
  if ((st & (IPS_SRC_NAT | IPS_DST_NAT)) === 0) return
  const u = a.u32
  const b = s * U32_STRIDE
  if ((t & 1) === ORIGINAL) {
    // Toward the reply tuple reversed: dst <- reply src:sport, src <- reply dst:dport.
    if (which !== 'src' && st & IPS_DST_NAT) rewriteDst(v, u[b + 4]!, u[b + 6]!)
    if (which !== 'dst' && st & IPS_SRC_NAT) rewriteSrc(v, u[b + 5]!, u[b + 7]!)
  } else {
    if (which !== 'src' && st & IPS_SRC_NAT) rewriteDst(v, u[b]!, u[b + 2]!)
    if (which !== 'dst' && st & IPS_DST_NAT) rewriteSrc(v, u[b + 1]!, u[b + 3]!)
  }
}

// ICMP echo: the id stands in for the requester's port, so a reply carries it as the dport
// (the reply tuple of an (id, 0) request is (0, id'), id' after SNAT).
function sportOf(v: PacketView): number {
  if (v.proto === IPPROTO_ICMP) return v.icmpType === 0 ? 0 : v.icmpId
  return v.sport
}

function dportOf(v: PacketView): number {
  if (v.proto === IPPROTO_ICMP) return v.icmpType === 0 ? v.icmpId : 0
  return v.dport
}

function matches(a: CtArrays, s: number, f: CtFilter): boolean {
  const u = a.u32
  const b = s * U32_STRIDE
  if (f.proto !== undefined && a.i32[s * I32_STRIDE + I_PROTO] !== f.proto) return false
  if (f.src !== undefined && u[b] !== f.src) return false
  if (f.dst !== undefined && u[b + 1] !== f.dst) return false
  if (f.replySrc !== undefined && u[b + 4] !== f.replySrc) return false
  if (f.replyDst !== undefined && u[b + 5] !== f.replyDst) return false
  if (f.sport !== undefined && u[b + 2] !== f.sport) return false
  if (f.dport !== undefined && u[b + 3] !== f.dport) return false
  if (f.mark !== undefined && a.f64[s * F64_STRIDE + F_MARK] !== f.mark) return false
  const ip = f.anyIp
  if (ip !== undefined && u[b] !== ip && u[b + 1] !== ip && u[b + 4] !== ip && u[b + 5] !== ip) return false
  return true
}
