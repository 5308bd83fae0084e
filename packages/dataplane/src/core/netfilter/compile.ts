/**
 * Compiles a RuleSpec into one closure over (packet, context). Each match becomes a small
 * predicate built once; evaluating a rule does no parsing and no string work (interface names
 * are compared as strings, which V8 interns).
 */
import { prefixMask } from '@calilab/model'
import { NetfilterError } from './errors.ts'
import type { IpSet, IpSetStore } from './ipset.ts'
import { ADDRTYPE_LOCAL, type IfaceSpec, type MatchSpec, type NfPacket, type RuleSpec } from './types.ts'

/** What rules consult besides the packet. */
export interface EvalContext {
  /** Uniform [0, 1); `-m statistic --mode random`. */
  rng: { next(): number }
  /** The node's own addresses (`-m addrtype --dst-type LOCAL`). */
  isLocal(ip: number): boolean
  /**
   * Optional full address-type bitmask (1 << RTN_*) for `ip`, seen from `iface` when
   * --limit-iface-in/out applies. Defaults to LOCAL / MULTICAST / BROADCAST / UNICAST from isLocal.
   */
  addrType?(ip: number, iface: string | undefined): number
  /** When present, traversal appends one step per matched rule and applied policy. */
  trace?: TraceStep[]
}

export interface TraceStep {
  table: string
  chain: string
  /** 1-based rule number; 0 for the chain policy. */
  rule: number
  /** Target taken ('' for a rule without one), or the policy. */
  target: string
  kind: 'rule' | 'return' | 'policy'
}

export type Predicate = (p: NfPacket, c: EvalContext) => boolean

export const TRUE: Predicate = () => true

function defaultAddrType(c: EvalContext, ip: number, iface: string | undefined): number {
  if (c.addrType) return c.addrType(ip, iface)
  if (c.isLocal(ip)) return ADDRTYPE_LOCAL
  if (ip === 0xffffffff) return 1 << 3
  if (ip >>> 28 === 0xe) return 1 << 5
  return 1 << 1
}

function ifaceTest(s: IfaceSpec, pick: (p: NfPacket) => string): Predicate {
  const name = s.name
  const neg = s.neg
  if (name.endsWith('+')) {
    const prefix = name.slice(0, -1)
    if (prefix === '') return neg ? () => false : TRUE
    return (p) => pick(p).startsWith(prefix) !== neg
  }
  return (p) => (pick(p) === name) !== neg
}

function portTest(r: { min: number; max: number; neg: boolean }, src: boolean): Predicate {
  const { min, max, neg } = r
  if (src) return (p) => (p.sport >= min && p.sport <= max) !== neg
  return (p) => (p.dport >= min && p.dport <= max) !== neg
}

export interface CompileEnv {
  sets: IpSetStore
  /** Holds hits not yet added to rule counters (the walk cache); rules flush it before a counter is read or set. */
  counters?: CounterSink
}

export interface CounterSink {
  /** Non-zero while some hits are held back. */
  pending: number
  flush(): void
}

/** Compiles a rule's matches. Throws NF_BAD_ARGUMENT for references that do not resolve (ipsets). */
export function compileMatch(spec: RuleSpec, env: CompileEnv): Predicate {
  const preds: Predicate[] = []
  if (spec.proto && spec.proto.num !== 0) {
    const num = spec.proto.num
    preds.push(spec.proto.neg ? (p) => p.proto !== num : (p) => p.proto === num)
  }
  if (spec.src && !(spec.src.prefix === 0 && !spec.src.neg)) {
    const mask = prefixMask(spec.src.prefix)
    const net = spec.src.ip
    const neg = spec.src.neg
    preds.push((p) => ((p.src & mask) >>> 0 === net) !== neg)
  }
  if (spec.dst && !(spec.dst.prefix === 0 && !spec.dst.neg)) {
    const mask = prefixMask(spec.dst.prefix)
    const net = spec.dst.ip
    const neg = spec.dst.neg
    preds.push((p) => ((p.dst & mask) >>> 0 === net) !== neg)
  }
  if (spec.iif && !(spec.iif.name === '+' && !spec.iif.neg)) preds.push(ifaceTest(spec.iif, (p) => p.iif))
  if (spec.oif && !(spec.oif.name === '+' && !spec.oif.neg)) preds.push(ifaceTest(spec.oif, (p) => p.oif))
  for (const m of spec.matches) {
    const pr = compileOne(m, env)
    if (pr !== TRUE) preds.push(pr)
  }
  return all(preds)
}

/** A predicate that holds when all of `preds` do (in order). */
export function all(preds: Predicate[]): Predicate {
  if (preds.length === 0) return TRUE
  if (preds.length === 1) return preds[0]!
  if (preds.length === 2) {
    const [a, b] = preds as [Predicate, Predicate]
    return (p, c) => a(p, c) && b(p, c)
  }
  if (preds.length === 3) {
    const [a, b, d] = preds as [Predicate, Predicate, Predicate]
    return (p, c) => a(p, c) && b(p, c) && d(p, c)
  }
  const arr = preds.slice()
  const n = arr.length
  return (p, c) => {
    for (let i = 0; i < n; i++) if (!arr[i]!(p, c)) return false
    return true
  }
}

/** One match as a predicate (TRUE when it always holds). */
export function compileOne(m: MatchSpec, env: CompileEnv): Predicate {
  switch (m.m) {
    case 'tcp':
    case 'udp': {
      const preds: Predicate[] = []
      if (m.sport && !(m.sport.min === 0 && m.sport.max === 65535 && !m.sport.neg)) preds.push(portTest(m.sport, true))
      if (m.dport && !(m.dport.min === 0 && m.dport.max === 65535 && !m.dport.neg)) preds.push(portTest(m.dport, false))
      if (m.m === 'tcp' && m.flags) {
        const { mask, cmp, neg } = m.flags
        preds.push((p) => ((p.tcpFlags & mask) === cmp) !== neg)
      }
      return all(preds)
    }
    case 'icmp': {
      const { type, codeMin, codeMax, neg } = m
      if (type === 0xff) return neg ? () => false : TRUE
      return (p) => (p.icmpType === type && p.icmpCode >= codeMin && p.icmpCode <= codeMax) !== neg
    }
    case 'multiport': {
      const mins = Int32Array.from(m.ranges, (r) => r.min)
      const maxs = Int32Array.from(m.ranges, (r) => r.max)
      const n = mins.length
      const neg = m.neg
      const inAny = (port: number) => {
        for (let i = 0; i < n; i++) if (port >= mins[i]! && port <= maxs[i]!) return true
        return false
      }
      if (m.dir === 'dports') return (p) => inAny(p.dport) !== neg
      if (m.dir === 'sports') return (p) => inAny(p.sport) !== neg
      return (p) => (inAny(p.sport) || inAny(p.dport)) !== neg
    }
    case 'set': {
      const set = env.sets.get(m.name)
      if (!set) throw new NetfilterError('NF_BAD_ARGUMENT', `Set ${m.name} doesn't exist.`, { set: m.name })
      return setTest(set, m.dirs, m.neg, env.sets)
    }
    case 'mark': {
      const { value, mask, neg } = m
      return (p) => ((p.mark & mask) >>> 0 === value) !== neg
    }
    case 'conntrack': {
      const { states, neg } = m
      return (p) => ((p.ctstate & states) !== 0) !== neg
    }
    case 'statistic': {
      const { probability, neg } = m
      // The kernel compares a random 31-bit value with round(p * 2^31).
      return (_p, c) => Math.floor(c.rng.next() * 0x80000000) < probability !== neg
    }
    case 'addrtype': {
      const preds: Predicate[] = []
      const limitIn = m.limitIn
      const limitOut = m.limitOut
      const ifaceOf = (p: NfPacket) => (limitIn ? p.iif : limitOut ? p.oif : undefined)
      if (m.src) {
        const { types, neg } = m.src
        preds.push((p, c) => ((defaultAddrType(c, p.src, ifaceOf(p)) & types) !== 0) !== neg)
      }
      if (m.dst) {
        const { types, neg } = m.dst
        if (types === ADDRTYPE_LOCAL && !limitIn && !limitOut) preds.push((p, c) => c.isLocal(p.dst) !== neg)
        else preds.push((p, c) => ((defaultAddrType(c, p.dst, ifaceOf(p)) & types) !== 0) !== neg)
      }
      return all(preds)
    }
    case 'comment':
      return TRUE
    case 'physdev': {
      // No bridge ports here: every --physdev-is-* test is false, so only negated ones hold.
      const holds = m.flags.every((f) => f.neg)
      return () => holds
    }
  }
}

function setTest(set: IpSet, dirs: readonly ('src' | 'dst')[], neg: boolean, store: IpSetStore): Predicate {
  const ipSrc = dirs[0] === 'src'
  if (set.type === 'hash:ip' || set.type === 'hash:net') {
    return ipSrc ? (p) => set.hasIp(p.src) !== neg : (p) => set.hasIp(p.dst) !== neg
  }
  if (set.type === 'hash:ip,port') {
    const portSrc = (dirs[1] ?? dirs[0]) === 'src'
    return (p) => set.hasIpPort(ipSrc ? p.src : p.dst, p.proto, portSrc ? p.sport : p.dport) !== neg
  }
  return (p) =>
    store.matches(set, ipSrc ? p.src : p.dst, p.proto, (dirs[1] ?? dirs[0]) === 'src' ? p.sport : p.dport) !== neg
}

/** Names of the ipsets a rule references. */
export function setsOf(spec: RuleSpec): string[] {
  const out: string[] = []
  for (const m of spec.matches) if (m.m === 'set') out.push(m.name)
  return out
}
