/**
 * Connection tracking: entries keyed by 5-tuple numbers (no strings), each holding an original
 * and a reply tuple; both are indexed, so a packet's lookup tells its direction. NAT is set once
 * on the first packet (DNAT changes the reply's source, SNAT/MASQUERADE the reply's
 * destination) and every later packet is rewritten from the entry. Time is the caller's `now`
 * (ms); expired entries vanish on lookup and on gc.
 */
import { formatIPv4 } from '@calilab/model'
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../packet/constants.ts'
import { rewriteDst, rewriteSrc } from '../packet/nat.ts'
import type { PacketView } from '../packet/view.ts'

export type TcpState =
  | 'NONE'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'ESTABLISHED'
  | 'FIN_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSE'

/** Linux default timeouts, seconds. */
export const CT_TIMEOUTS = {
  tcp: {
    NONE: 432000,
    SYN_SENT: 120,
    SYN_RECV: 60,
    ESTABLISHED: 432000,
    FIN_WAIT: 120,
    CLOSE_WAIT: 60,
    LAST_ACK: 30,
    TIME_WAIT: 120,
    CLOSE: 10,
  },
  udp: 30,
  udpStream: 120,
  icmp: 30,
  generic: 600,
} as const

export const ORIGINAL = 0
export const REPLY = 1

export const IPS_SEEN_REPLY = 1 << 1
export const IPS_ASSURED = 1 << 2
export const IPS_CONFIRMED = 1 << 3
export const IPS_SRC_NAT = 1 << 4
export const IPS_DST_NAT = 1 << 5

/** One direction's tuple; also the hash-chain node. For ICMP `sport` is the echo id, `dport` 0. */
export class CtTuple {
  src: number
  dst: number
  sport: number
  dport: number
  readonly proto: number
  readonly dir: number
  readonly entry: CtEntry
  next: CtTuple | undefined = undefined
  hash = 0
  constructor(entry: CtEntry, dir: number, proto: number, src: number, dst: number, sport: number, dport: number) {
    this.entry = entry
    this.dir = dir
    this.proto = proto
    this.src = src
    this.dst = dst
    this.sport = sport
    this.dport = dport
  }
}

export class CtEntry {
  readonly id: number
  readonly orig: CtTuple
  readonly reply: CtTuple
  status = 0
  tcpState: TcpState = 'NONE'
  /** Direction that sent the first FIN (for the close sequence). */
  finDir = -1
  expires = 0
  mark = 0
  packets = 0
  bytes = 0
  /** Neighbours in the table's list of confirmed entries (confirm order); `listed` while in it. */
  prevEntry: CtEntry | undefined = undefined
  nextEntry: CtEntry | undefined = undefined
  listed = false
  constructor(id: number, proto: number, src: number, dst: number, sport: number, dport: number) {
    this.id = id
    this.orig = new CtTuple(this, ORIGINAL, proto, src, dst, sport, dport)
    this.reply = new CtTuple(this, REPLY, proto, dst, src, dport, sport)
  }
  get proto(): number {
    return this.orig.proto
  }
}

export function tupleHash(proto: number, src: number, dst: number, sport: number, dport: number): number {
  let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ dst ^ (h >>> 13), 0xc2b2ae35)
  h = Math.imul(h ^ ((sport << 16) | dport) ^ (h >>> 16), 0x27d4eb2f)
  return (h ^ proto ^ (h >>> 15)) >>> 0
}

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

export class Conntrack {
  /**
   * The hash table: chains of tuples per bucket (hash & mask), an array grown by doubling when the
   * tuples outnumber the buckets (a Map keyed by the uint32 hash boxed every key above 2^30).
   */
  private buckets: (CtTuple | undefined)[]
  private mask: number
  private readonly initialBuckets: number
  private tuples = 0
  /** Confirmed entries in confirm order: an intrusive doubly linked list (no hashing, O(1) removal). */
  private first: CtEntry | undefined = undefined
  private last: CtEntry | undefined = undefined
  private size = 0
  private nextId = 1
  /** nf_conntrack_max */
  max: number

  /** `buckets`: initial hash table size (a power of two; the kernel's nf_conntrack_buckets). */
  constructor(max = 262144, buckets = 1024) {
    this.max = max
    let n = 16
    while (n < buckets) n *= 2
    this.initialBuckets = n
    this.buckets = new Array(n).fill(undefined)
    this.mask = n - 1
  }

  get count(): number {
    return this.size
  }

  /** The tuple (with its direction) a packet belongs to, or undefined. */
  lookup(proto: number, src: number, dst: number, sport: number, dport: number, now: number): CtTuple | undefined {
    let n = this.buckets[tupleHash(proto, src, dst, sport, dport) & this.mask]
    while (n !== undefined) {
      if (n.src === src && n.dst === dst && n.sport === sport && n.dport === dport && n.proto === proto) {
        if (n.entry.expires <= now) {
          this.remove(n.entry)
          return undefined
        }
        return n
      }
      n = n.next
    }
    return undefined
  }

  /** Looks up the packet in `v` (ICMP echo: id as port). */
  lookupPacket(v: PacketView, now: number): CtTuple | undefined {
    return this.lookup(v.proto, v.src, v.dst, sportOf(v), dportOf(v), now)
  }

  /** A new, unconfirmed entry for a first packet (not yet findable). */
  create(proto: number, src: number, dst: number, sport: number, dport: number, now: number): CtEntry {
    const e = new CtEntry(this.nextId++, proto, src, dst, sport, dport)
    e.expires = now + timeoutFor(e) * 1000
    return e
  }

  createFromPacket(v: PacketView, now: number): CtEntry {
    return this.create(v.proto, v.src, v.dst, sportOf(v), dportOf(v), now)
  }

  /** DNAT binding: replies come from ip:port (port -1 keeps the port). */
  setDnat(e: CtEntry, ip: number, port = -1): void {
    e.reply.src = ip
    if (port >= 0) e.reply.sport = port
    e.status |= IPS_DST_NAT
  }

  /**
   * SNAT/MASQUERADE binding: replies go to ip:port. Keeps the original source port when the
   * resulting reply tuple is free, otherwise picks another in [minPort, maxPort] (random with
   * --random-fully), as nf_nat's get_unique_tuple does.
   */
  setSnat(e: CtEntry, ip: number, o: SnatOptions & { port?: number } = {}, now = 0): boolean {
    const r = e.reply
    r.dst = ip
    e.status |= IPS_SRC_NAT
    if (e.proto !== IPPROTO_TCP && e.proto !== IPPROTO_UDP && e.proto !== IPPROTO_ICMP) return true
    const lo = o.minPort ?? (e.orig.sport < 1024 ? 1 : 1024)
    const hi = o.maxPort ?? 65535
    const want = o.port ?? e.orig.sport
    const free = (p: number) => this.lookup(e.proto, r.src, ip, r.sport, p, now) === undefined
    if (!o.random && want >= lo && want <= hi && free(want)) {
      r.dport = want
      return true
    }
    const span = hi - lo + 1
    let start = o.random ? Math.floor(o.random.next() * span) : (want - lo + 1) % span
    for (let i = 0; i < span; i++, start = (start + 1) % span) {
      if (free(lo + start)) {
        r.dport = lo + start
        return true
      }
    }
    return false
  }

  /** Makes the entry findable in both directions (the kernel's confirm at the last hook). */
  confirm(e: CtEntry): boolean {
    if (e.status & IPS_CONFIRMED) return true
    if (this.size >= this.max) return false
    this.insert(e.orig)
    this.insert(e.reply)
    e.status |= IPS_CONFIRMED
    e.listed = true
    e.prevEntry = this.last
    e.nextEntry = undefined
    if (this.last) this.last.nextEntry = e
    else this.first = e
    this.last = e
    this.size++
    return true
  }

  /** Records a packet of tuple `t`: direction bits, TCP state, timeout. */
  update(t: CtTuple, tcpFlags: number, len: number, now: number): void {
    const e = t.entry
    e.packets++
    e.bytes += len
    if (t.dir === REPLY) e.status |= IPS_SEEN_REPLY
    if (e.proto === IPPROTO_TCP) tcpStep(e, t.dir, tcpFlags)
    else if (e.status & IPS_SEEN_REPLY && (t.dir === ORIGINAL || e.packets > 2)) e.status |= IPS_ASSURED
    e.expires = now + timeoutFor(e) * 1000
  }

  /** Sets the TCP state of a fresh entry from its first packet (SYN: SYN_SENT; else picked up mid-stream). */
  begin(e: CtEntry, tcpFlags: number, len: number, now: number): void {
    if (e.proto === IPPROTO_TCP) e.tcpState = tcpFlags & TCP_SYN && !(tcpFlags & TCP_ACK) ? 'SYN_SENT' : 'ESTABLISHED'
    e.packets = 1
    e.bytes = len
    e.expires = now + timeoutFor(e) * 1000
  }

  /**
   * Rewrites the packet from the entry's NAT bindings. `which`: 'dst' changes the packet's
   * destination (DNAT on original packets at PREROUTING/OUTPUT, un-SNAT on replies), 'src' its
   * source (SNAT at POSTROUTING, un-DNAT on replies), 'both' does both.
   */
  applyNat(v: PacketView, t: CtTuple, which: 'src' | 'dst' | 'both' = 'both'): void {
    const e = t.entry
    if ((e.status & (IPS_SRC_NAT | IPS_DST_NAT)) === 0) return
    const o = e.orig
    const r = e.reply
    if (t.dir === ORIGINAL) {
      if (which !== 'src' && e.status & IPS_DST_NAT) rewriteDst(v, r.src, r.sport)
      if (which !== 'dst' && e.status & IPS_SRC_NAT) rewriteSrc(v, r.dst, r.dport)
    } else {
      if (which !== 'src' && e.status & IPS_SRC_NAT) rewriteDst(v, o.src, o.sport)
      if (which !== 'dst' && e.status & IPS_DST_NAT) rewriteSrc(v, o.dst, o.dport)
    }
  }

  /** ctstate bits for iptables (CT_* of netfilter/types: NEW 2, ESTABLISHED 8, SNAT 32, DNAT 64). */
  ctstate(t: CtTuple): number {
    const e = t.entry
    let s = t.dir === ORIGINAL && !(e.status & IPS_SEEN_REPLY) ? 2 : 8
    if (e.status & IPS_SRC_NAT) s |= 32
    if (e.status & IPS_DST_NAT) s |= 64
    return s
  }

  /**
   * The entry an ICMP error relates to (its quoted header, inverted: the error travels back
   * towards the original sender). Undefined when none.
   */
  related(v: PacketView, now: number): CtTuple | undefined {
    if (v.proto !== IPPROTO_ICMP || (v.icmpType !== 3 && v.icmpType !== 11) || v.l4len < 8 + 20 + 8) return undefined
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
    return this.lookup(proto, src, dst, sp, dp, now)
  }

  remove(e: CtEntry): void {
    if (!e.listed) return
    e.listed = false
    if (e.prevEntry) e.prevEntry.nextEntry = e.nextEntry
    else this.first = e.nextEntry
    if (e.nextEntry) e.nextEntry.prevEntry = e.prevEntry
    else this.last = e.prevEntry
    e.prevEntry = undefined
    // nextEntry is kept so a walk that removes the entry it stands on can go on.
    this.size--
    this.unlink(e.orig)
    this.unlink(e.reply)
  }

  /** Drops expired entries; returns how many. */
  gc(now: number): number {
    let n = 0
    for (let e = this.first; e !== undefined; ) {
      const next = e.nextEntry
      if (e.expires <= now) {
        this.remove(e)
        n++
      }
      e = next
    }
    return n
  }

  /** Entries matching `f`, in creation order (expired ones excluded). */
  list(now: number, f: CtFilter = {}): CtEntry[] {
    const out: CtEntry[] = []
    for (let e = this.first; e !== undefined; e = e.nextEntry) if (e.expires > now && matches(e, f)) out.push(e)
    return out
  }

  /** conntrack -D: deletes matching entries; returns how many. */
  delete(now: number, f: CtFilter = {}): number {
    const victims = this.list(now, f)
    for (const e of victims) this.remove(e)
    return victims.length
  }

  flush(): void {
    this.buckets = new Array(this.initialBuckets).fill(undefined)
    this.mask = this.initialBuckets - 1
    this.tuples = 0
    for (let e = this.first; e !== undefined; ) {
      const next = e.nextEntry
      e.listed = false
      e.prevEntry = undefined
      e.nextEntry = undefined
      e = next
    }
    this.first = undefined
    this.last = undefined
    this.size = 0
  }

  private insert(t: CtTuple): void {
    if (this.tuples >= this.buckets.length) this.grow()
    t.hash = tupleHash(t.proto, t.src, t.dst, t.sport, t.dport)
    const b = t.hash & this.mask
    t.next = this.buckets[b]
    this.buckets[b] = t
    this.tuples++
  }

  /** Doubles the buckets: each chain splits into buckets i and i + old size, keeping its order. */
  private grow(): void {
    const old = this.buckets
    const n0 = old.length
    const next: (CtTuple | undefined)[] = old.concat(old)
    for (let i = 0; i < n0; i++) {
      let lo: CtTuple | undefined
      let hi: CtTuple | undefined
      next[i] = undefined
      next[i + n0] = undefined
      let n = old[i]
      while (n !== undefined) {
        const after = n.next
        n.next = undefined
        if (n.hash & n0) {
          if (hi === undefined) next[i + n0] = n
          else hi.next = n
          hi = n
        } else {
          if (lo === undefined) next[i] = n
          else lo.next = n
          lo = n
        }
        n = after
      }
    }
    this.buckets = next
    this.mask = n0 * 2 - 1
  }

  private unlink(t: CtTuple): void {
    const b = t.hash & this.mask
    let n = this.buckets[b]
    if (n === t) {
      this.buckets[b] = t.next
      this.tuples--
      return
    }
    while (n && n.next !== t) n = n.next
    if (n) {
      n.next = t.next
      this.tuples--
    }
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

function matches(e: CtEntry, f: CtFilter): boolean {
  const o = e.orig
  const r = e.reply
  if (f.proto !== undefined && e.proto !== f.proto) return false
  if (f.src !== undefined && o.src !== f.src) return false
  if (f.dst !== undefined && o.dst !== f.dst) return false
  if (f.replySrc !== undefined && r.src !== f.replySrc) return false
  if (f.replyDst !== undefined && r.dst !== f.replyDst) return false
  if (f.sport !== undefined && o.sport !== f.sport) return false
  if (f.dport !== undefined && o.dport !== f.dport) return false
  if (f.mark !== undefined && e.mark !== f.mark) return false
  if (f.anyIp !== undefined && o.src !== f.anyIp && o.dst !== f.anyIp && r.src !== f.anyIp && r.dst !== f.anyIp)
    return false
  return true
}

function timeoutFor(e: CtEntry): number {
  if (e.proto === IPPROTO_TCP) return CT_TIMEOUTS.tcp[e.tcpState]
  if (e.proto === IPPROTO_UDP) return e.status & IPS_ASSURED ? CT_TIMEOUTS.udpStream : CT_TIMEOUTS.udp
  if (e.proto === IPPROTO_ICMP) return CT_TIMEOUTS.icmp
  return CT_TIMEOUTS.generic
}

function tcpStep(e: CtEntry, dir: number, f: number): void {
  if (f & TCP_RST) {
    e.tcpState = 'CLOSE'
    return
  }
  switch (e.tcpState) {
    case 'NONE':
    case 'SYN_SENT':
      if (dir === REPLY && f & TCP_SYN && f & TCP_ACK) e.tcpState = 'SYN_RECV'
      else if (dir === REPLY && f & TCP_ACK) e.tcpState = 'ESTABLISHED'
      break
    case 'SYN_RECV':
      if (dir === ORIGINAL && f & TCP_ACK) {
        e.tcpState = 'ESTABLISHED'
        e.status |= IPS_ASSURED
      }
      break
    case 'ESTABLISHED':
      if (e.status & IPS_SEEN_REPLY) e.status |= IPS_ASSURED
      if (f & TCP_FIN) {
        e.tcpState = 'FIN_WAIT'
        e.finDir = dir
      }
      break
    case 'FIN_WAIT':
      if (dir !== e.finDir && f & TCP_FIN) e.tcpState = 'LAST_ACK'
      else if (dir !== e.finDir && f & TCP_ACK) e.tcpState = 'CLOSE_WAIT'
      break
    case 'CLOSE_WAIT':
      if (dir !== e.finDir && f & TCP_FIN) e.tcpState = 'LAST_ACK'
      break
    case 'LAST_ACK':
      if (dir === e.finDir && f & TCP_ACK) e.tcpState = 'TIME_WAIT'
      break
    default:
      break
  }
}

const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp' }

function tupleText(t: CtTuple, reply: boolean): string {
  const base = `src=${formatIPv4(t.src)} dst=${formatIPv4(t.dst)} `
  if (t.proto === IPPROTO_ICMP) return `${base}type=${reply ? 0 : 8} code=0 id=${t.sport} `
  if (t.proto === IPPROTO_TCP || t.proto === IPPROTO_UDP) return `${base}sport=${t.sport} dport=${t.dport} `
  return base
}

/** One `conntrack -L` line. */
export function formatCtEntry(e: CtEntry, now: number): string {
  const proto = PROTO_NAMES[e.proto] ?? 'unknown'
  // The kernel reports whole seconds left, truncated after at least one jiffy has passed:
  // a fresh ESTABLISHED entry reads 431999, a fresh UDP one 29.
  const secs = Math.max(0, Math.ceil((e.expires - now) / 1000) - 1)
  let s = `${proto.padEnd(8)} ${e.proto} ${secs} `
  if (e.proto === IPPROTO_TCP) s += `${e.tcpState} `
  s += tupleText(e.orig, false)
  if (!(e.status & IPS_SEEN_REPLY)) s += '[UNREPLIED] '
  s += tupleText(e.reply, true)
  if (e.status & IPS_ASSURED) s += '[ASSURED] '
  return `${s}mark=${e.mark} use=1`
}

/** `conntrack -L` stdout; the count line goes to stderr (see `conntrackSummary`). */
export function formatConntrack(ct: Conntrack, now: number, f: CtFilter = {}): string {
  return ct
    .list(now, f)
    .map((e) => `${formatCtEntry(e, now)}\n`)
    .join('')
}

/** The line conntrack-tools prints on stderr after a listing or delete. */
export function conntrackSummary(n: number, op: 'shown' | 'deleted' = 'shown', version = '1.4.6'): string {
  return `conntrack v${version} (conntrack-tools): ${n} flow entries have been ${op}.\n`
}
