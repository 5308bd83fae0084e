/**
 * The walk cache: remembers the outcome of a traversal so the next packet that every rule of the
 * table would see the same way skips the walk. Exact, like Open vSwitch's megaflow cache:
 *
 * - the key is the start chain plus the packet fields that some rule reachable from it reads (rules that
 *   never read the source port do not key on it, so fresh connections from one
 *   client to one server:port share an entry);
 * - a walk that reached a rule consulting anything else (`-m statistic`'s rng, `-m addrtype`'s
 *   addresses) is not stored, and tracing walks bypass the cache;
 * - any change to the tables (Netfilter.gen) or to any IP set (IpSetStore.version) empties it;
 * - a hit replays everything the walk did: every matched rule's packet and byte counters, the
 *   built-in chain policy's counters, the MARK changes (composed into one and/xor pair), LOG
 *   entries, and returns the same verdict, deciding rule and NAT target.
 */
import type { CounterSink } from './compile.ts'
import type { LogEntry, Verdict, VerdictKind } from './netfilter.ts'
import * as RF from './rule.ts'
import type { NfPacket, RejectWith, TargetSpec } from './types.ts'

/** What a built-in chain's policy counter needs (Chain in netfilter.ts). */
export interface PolicyCounter {
  pkts: number
  bytes: number
}

export class WalkEntry {
  start: object | undefined = undefined
  src = 0
  dst = 0
  proto = 0
  sport = 0
  dport = 0
  icmpType = 0
  icmpCode = 0
  tcpFlags = 0
  iif = ''
  oif = ''
  mark = 0
  ctstate = 0
  // The outcome.
  verdict: VerdictKind = 'ACCEPT'
  rejectWith: RejectWith | undefined = undefined
  nat: TargetSpec | undefined = undefined
  notrack = false
  logs: LogEntry[] | undefined = undefined
  rule: RF.Rule | undefined = undefined
  markAnd = 0xffffffff
  markXor = 0
  matched: RF.Rule[] = []
  policy: PolicyCounter | undefined = undefined
  /** Hits replayed but not yet added to the matched rules' counters. */
  pendPkts = 0
  pendBytes = 0
}

const SIZE = 4096
// Local copies (tsx's CommonJS output reads imported bindings through getters).
const R_SRC = RF.R_SRC
const R_DST = RF.R_DST
const R_PROTO = RF.R_PROTO
const R_SPORT = RF.R_SPORT
const R_DPORT = RF.R_DPORT
const R_ICMP = RF.R_ICMP
const R_TCPFLAGS = RF.R_TCPFLAGS
const R_IIF = RF.R_IIF
const R_OIF = RF.R_OIF
const R_MARK = RF.R_MARK
const R_CTSTATE = RF.R_CTSTATE

/** One per Netfilter; `reads` is the union of R_* bits of the rules of each table. */
export class WalkCache implements CounterSink {
  /** Allocated on the first store: most namespaces (a pod's) never walk a chain long enough to cache. */
  private slots: (WalkEntry | undefined)[] | undefined = undefined
  /**
   * Rule counters are lazy: a hit only counts on its entry (2 additions instead of one per matched
   * rule); `flush` adds the held-back hits to the rules. Rule.pkts/bytes call it before any read or
   * write, so every observer sees the counters a full walk would have left.
   */
  pending = 0
  private dirty: WalkEntry[] = []
  /** Packet fields in the key (R_* bits) for the walk being looked up / recorded. */
  reads = 0
  hits = 0
  misses = 0

  clear(): void {
    this.flush()
    this.slots?.fill(undefined)
  }

  flush(): void {
    const d = this.dirty
    for (let k = 0; k < d.length; k++) flushEntry(d[k]!)
    this.dirty = []
    this.pending = 0
  }

  private slot(start: number, p: NfPacket, reads: number): number {
    let h = start
    if (reads & R_SRC) h = Math.imul(h ^ p.src, 0x9e3779b1)
    if (reads & R_DST) h = Math.imul(h ^ p.dst, 0x85ebca6b)
    if (reads & R_PROTO) h = Math.imul(h ^ p.proto, 0xc2b2ae35)
    if (reads & R_SPORT) h = Math.imul(h ^ p.sport, 0x27d4eb2f)
    if (reads & R_DPORT) h = Math.imul(h ^ p.dport, 0x165667b1)
    if (reads & R_MARK) h = Math.imul(h ^ p.mark, 0x9e3779b1)
    if (reads & R_CTSTATE) h = Math.imul(h ^ p.ctstate, 0x85ebca6b)
    if (reads & R_IIF) h = Math.imul(h ^ strHash(p.iif), 0xc2b2ae35)
    if (reads & R_OIF) h = Math.imul(h ^ strHash(p.oif), 0x27d4eb2f)
    h ^= h >>> 15
    return h & (SIZE - 1)
  }

  /** The stored walk for this start chain and packet, or undefined. */
  lookup(start: object, startId: number, p: NfPacket, reads: number): WalkEntry | undefined {
    const slots = this.slots
    if (slots === undefined) return undefined
    const e = slots[this.slot(startId, p, reads)]
    if (e === undefined || e.start !== start) return undefined
    if (reads & R_SRC && e.src !== p.src) return undefined
    if (reads & R_DST && e.dst !== p.dst) return undefined
    if (reads & R_PROTO && e.proto !== p.proto) return undefined
    if (reads & R_SPORT && e.sport !== p.sport) return undefined
    if (reads & R_DPORT && e.dport !== p.dport) return undefined
    if (reads & R_ICMP && (e.icmpType !== p.icmpType || e.icmpCode !== p.icmpCode)) return undefined
    if (reads & R_TCPFLAGS && e.tcpFlags !== p.tcpFlags) return undefined
    if (reads & R_MARK && e.mark !== p.mark) return undefined
    if (reads & R_CTSTATE && e.ctstate !== p.ctstate) return undefined
    if (reads & R_IIF && e.iif !== p.iif) return undefined
    if (reads & R_OIF && e.oif !== p.oif) return undefined
    return e
  }

  /** Stores a finished walk: `p` as it entered (mark before the walk: `markIn`), `out` its verdict. */
  store(
    start: object,
    startId: number,
    p: NfPacket,
    markIn: number,
    reads: number,
    out: Verdict,
    markAnd: number,
    markXor: number,
    matched: readonly RF.Rule[],
    policy: PolicyCounter | undefined,
  ): void {
    const mark = p.mark
    p.mark = markIn
    const i = this.slot(startId, p, reads)
    p.mark = mark
    const slots = (this.slots ??= new Array<WalkEntry | undefined>(SIZE).fill(undefined))
    const old = slots[i]
    if (old !== undefined && old.pendPkts !== 0) flushEntry(old)
    const e = new WalkEntry()
    slots[i] = e
    e.start = start
    e.src = p.src
    e.dst = p.dst
    e.proto = p.proto
    e.sport = p.sport
    e.dport = p.dport
    e.icmpType = p.icmpType
    e.icmpCode = p.icmpCode
    e.tcpFlags = p.tcpFlags
    e.iif = p.iif
    e.oif = p.oif
    e.mark = markIn
    e.ctstate = p.ctstate
    e.verdict = out.verdict
    e.rejectWith = out.rejectWith
    e.nat = out.nat
    e.notrack = out.notrack
    e.logs = out.logs?.map((l) => ({ ...l }))
    e.rule = out.rule
    e.markAnd = markAnd
    e.markXor = markXor
    e.matched = matched.slice()
    e.policy = policy
  }

  /** Replays a stored walk on packet `p` (counters, mark) and fills `out` as the walk did. */
  replay(e: WalkEntry, p: NfPacket, out: Verdict): Verdict {
    const len = p.len
    if (e.pendPkts === 0) {
      this.dirty.push(e)
      if (this.dirty.length > SIZE * 2) this.flush()
    }
    e.pendPkts++
    e.pendBytes += len
    this.pending++
    if (e.policy) {
      e.policy.pkts++
      e.policy.bytes += len
    }
    p.mark = ((p.mark & e.markAnd) ^ e.markXor) >>> 0
    out.verdict = e.verdict
    out.rejectWith = e.rejectWith
    out.nat = e.nat
    out.notrack = e.notrack
    out.logs = e.logs?.map((l) => ({ ...l }))
    out.rule = e.rule
    return out
  }
}

function flushEntry(e: WalkEntry): void {
  const n = e.pendPkts
  if (n === 0) return
  const b = e.pendBytes
  const m = e.matched
  for (let k = 0; k < m.length; k++) {
    const r = m[k]!
    r.npkts += n
    r.nbytes += b
  }
  e.pendPkts = 0
  e.pendBytes = 0
}

function strHash(s: string): number {
  const n = s.length
  if (n === 0) return 0
  return (n * 0x01000193) ^ (s.charCodeAt(n - 1) << 8) ^ (s.charCodeAt(n >> 1) << 16) ^ s.charCodeAt(0)
}

/** Union of the R_* bits of every rule reachable from `start` through jumps and gotos. */
export function reachableReads(start: RF.JumpTarget): number {
  let reads = 0
  const seen = new Set<RF.JumpTarget>([start])
  const todo: RF.JumpTarget[] = [start]
  while (todo.length > 0) {
    const c = todo.pop()!
    for (const r of c.rules) {
      reads |= r.reads
      const j = r.jump
      if (j !== undefined && !seen.has(j)) {
        seen.add(j)
        todo.push(j)
      }
    }
  }
  return reads
}
