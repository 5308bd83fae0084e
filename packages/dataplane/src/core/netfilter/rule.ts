/**
 * One compiled rule: its spec (kept for printing), its matches as inline numeric fields tested
 * without a call (`test`), its target as a small integer kind, and its counters.
 */
import { prefixMask } from '@calilab/model'
import {
  all,
  type CompileEnv,
  type CounterSink,
  compileMatch,
  compileOne,
  type EvalContext,
  type Predicate,
  TRUE,
} from './compile.ts'
import { saveRuleSpec } from './print.ts'
import type { MatchSpec, NfPacket, RuleSpec, TargetSpec } from './types.ts'

// Constants used on the hot path are defined in the module that uses them: under tsx (CommonJS
// output) every read of an imported binding is a property getter call.

// Target kinds, for a switch on small integers in the hot loop.
export const K_NONE = 0
export const K_ACCEPT = 1
export const K_DROP = 2
export const K_RETURN = 3
export const K_REJECT = 4
export const K_JUMP = 5
export const K_GOTO = 6
export const K_MARK = 7
export const K_NAT = 8
export const K_LOG = 9
export const K_NOTRACK = 10

function kindOf(t: TargetSpec | undefined): number {
  if (!t) return K_NONE
  switch (t.t) {
    case 'ACCEPT':
      return K_ACCEPT
    case 'DROP':
      return K_DROP
    case 'RETURN':
      return K_RETURN
    case 'REJECT':
      return K_REJECT
    case 'JUMP':
      return t.goto ? K_GOTO : K_JUMP
    case 'MARK':
      return K_MARK
    case 'DNAT':
    case 'SNAT':
    case 'MASQUERADE':
      return K_NAT
    case 'LOG':
      return K_LOG
    case 'CT':
      return K_NOTRACK
  }
}

/** The chain a jump resolves to (Chain in netfilter.ts; only its rules are walked here). */
export interface JumpTarget {
  name: string
  rules: Rule[]
}

// Inline tests of a compiled rule (RuleFields.flags): the common matches become plain numeric
// fields tested in Rule.test without a call; everything else is one closure (`rest`).
export const F_PROTO = 1
export const F_SRC = 2
export const F_DST = 4
export const F_IIF = 8
export const F_OIF = 16
export const F_MARK = 32
export const F_CT = 64
export const F_DPORT = 128
export const F_REST = 256
/** The rule consults something besides the packet and the tables (statistic's rng, addrtype's addresses). */
export const F_VOLATILE = 512

// Packet fields a rule reads (RuleFields.reads), for the walk cache's key.
export const R_SRC = 1
export const R_DST = 2
export const R_PROTO = 4
export const R_SPORT = 8
export const R_DPORT = 16
export const R_ICMP = 32
export const R_TCPFLAGS = 64
export const R_IIF = 128
export const R_OIF = 256
export const R_MARK = 512
export const R_CTSTATE = 1024

/** A rule's matches as inline fields plus one closure for the rest (see Rule.test). */
export interface RuleFields {
  flags: number
  reads: number
  proto: number
  protoNeg: boolean
  srcMask: number
  srcNet: number
  srcNeg: boolean
  dstMask: number
  dstNet: number
  dstNeg: boolean
  /** Interface name, without the trailing '+' when `iifPrefix`. */
  iif: string
  iifPrefix: boolean
  iifNeg: boolean
  oif: string
  oifPrefix: boolean
  oifNeg: boolean
  mmMask: number
  mmValue: number
  mmNeg: boolean
  ctStates: number
  ctNeg: boolean
  dportMin: number
  dportMax: number
  dportNeg: boolean
  rest: Predicate | undefined
}

function readsOf(m: MatchSpec, env: CompileEnv): number {
  switch (m.m) {
    case 'tcp':
      return (m.sport ? R_SPORT : 0) | (m.dport ? R_DPORT : 0) | (m.flags ? R_TCPFLAGS : 0)
    case 'udp':
      return (m.sport ? R_SPORT : 0) | (m.dport ? R_DPORT : 0)
    case 'icmp':
      return R_ICMP
    case 'multiport':
      return m.dir === 'dports' ? R_DPORT : m.dir === 'sports' ? R_SPORT : R_SPORT | R_DPORT
    case 'set': {
      const t = env.sets.get(m.name)?.type
      const ip = m.dirs[0] === 'src' ? R_SRC : R_DST
      if (t === 'hash:ip' || t === 'hash:net') return ip
      const port = (m.dirs[1] ?? m.dirs[0]) === 'src' ? R_SPORT : R_DPORT
      if (t === 'hash:ip,port') return ip | R_PROTO | port
      return R_SRC | R_DST | R_PROTO | R_SPORT | R_DPORT
    }
    case 'mark':
      return R_MARK
    case 'conntrack':
      return R_CTSTATE
    case 'addrtype':
      return R_SRC | R_DST | R_IIF | R_OIF
    default:
      return 0
  }
}

/**
 * Compiles a rule into `f` (fields at their blank values). Same semantics as compileMatch: a rule matches when every
 * test holds. Tests are pure, so their order does not matter, except for `-m statistic` (it draws
 * from the rng only when reached): a rule with one keeps every match in its written order in `rest`.
 */
export function compileRuleFields(spec: RuleSpec, env: CompileEnv, f: RuleFields = blankFields()): RuleFields {
  if (spec.proto && spec.proto.num !== 0) {
    f.flags |= F_PROTO
    f.reads |= R_PROTO
    f.proto = spec.proto.num
    f.protoNeg = spec.proto.neg
  }
  if (spec.src && !(spec.src.prefix === 0 && !spec.src.neg)) {
    f.flags |= F_SRC
    f.reads |= R_SRC
    f.srcMask = prefixMask(spec.src.prefix)
    f.srcNet = spec.src.ip
    f.srcNeg = spec.src.neg
  }
  if (spec.dst && !(spec.dst.prefix === 0 && !spec.dst.neg)) {
    f.flags |= F_DST
    f.reads |= R_DST
    f.dstMask = prefixMask(spec.dst.prefix)
    f.dstNet = spec.dst.ip
    f.dstNeg = spec.dst.neg
  }
  if (spec.iif && !(spec.iif.name === '+' && !spec.iif.neg)) {
    f.flags |= F_IIF
    f.reads |= R_IIF
    f.iifPrefix = spec.iif.name.endsWith('+')
    f.iif = f.iifPrefix ? spec.iif.name.slice(0, -1) : spec.iif.name
    f.iifNeg = spec.iif.neg
  }
  if (spec.oif && !(spec.oif.name === '+' && !spec.oif.neg)) {
    f.flags |= F_OIF
    f.reads |= R_OIF
    f.oifPrefix = spec.oif.name.endsWith('+')
    f.oif = f.oifPrefix ? spec.oif.name.slice(0, -1) : spec.oif.name
    f.oifNeg = spec.oif.neg
  }
  const ordered = spec.matches.some((m) => m.m === 'statistic')
  const rest: Predicate[] = []
  for (const m of spec.matches) {
    f.reads |= readsOf(m, env)
    if (m.m === 'statistic' || m.m === 'addrtype') f.flags |= F_VOLATILE
    if (!ordered) {
      if (m.m === 'mark' && !(f.flags & F_MARK)) {
        f.flags |= F_MARK
        f.mmMask = m.mask
        f.mmValue = m.value
        f.mmNeg = m.neg
        continue
      }
      if (m.m === 'conntrack' && !(f.flags & F_CT)) {
        f.flags |= F_CT
        f.ctStates = m.states
        f.ctNeg = m.neg
        continue
      }
      const dp = singleDport(m)
      if (dp && !(f.flags & F_DPORT)) {
        f.flags |= F_DPORT
        f.dportMin = dp.min
        f.dportMax = dp.max
        f.dportNeg = dp.neg
        continue
      }
    }
    const pr = compileOne(m, env)
    if (pr !== TRUE) rest.push(pr)
  }
  if (ordered) {
    // Keep the written order: proto, addresses and interfaces, then the matches.
    const all0 = compileMatch(spec, env)
    f.flags = F_REST | (f.flags & F_VOLATILE)
    f.rest = all0
  } else if (rest.length) {
    f.flags |= F_REST
    f.rest = all(rest)
  }
  return f
}

function blankFields(): RuleFields {
  return {
    flags: 0,
    reads: 0,
    proto: 0,
    protoNeg: false,
    srcMask: 0,
    srcNet: 0,
    srcNeg: false,
    dstMask: 0,
    dstNet: 0,
    dstNeg: false,
    iif: '',
    iifPrefix: false,
    iifNeg: false,
    oif: '',
    oifPrefix: false,
    oifNeg: false,
    mmMask: 0,
    mmValue: 0,
    mmNeg: false,
    ctStates: 0,
    ctNeg: false,
    dportMin: 0,
    dportMax: 0,
    dportNeg: false,
    rest: undefined,
  }
}

/** A match that is only a destination-port range test (tcp/udp --dport, multiport --dports N[:M]). */
function singleDport(m: MatchSpec): { min: number; max: number; neg: boolean } | undefined {
  if ((m.m === 'tcp' || m.m === 'udp') && m.dport && !m.sport && !(m.m === 'tcp' && m.flags)) {
    if (m.dport.min === 0 && m.dport.max === 65535 && !m.dport.neg) return undefined
    return m.dport
  }
  if (m.m === 'multiport' && m.dir === 'dports' && m.ranges.length === 1) {
    const r = m.ranges[0]!
    return { min: r.min, max: r.max, neg: m.neg }
  }
  return undefined
}

export class Rule {
  readonly spec: RuleSpec
  readonly kind: number
  /** Resolved jump/goto target (set when the rule is linked into a table). */
  jump: JumpTarget | undefined
  /** MARK target: new mark = (mark & ~markMask) ^ markValue. */
  readonly markValue: number
  readonly markMask: number
  /** The counters as the walk moves them; read them through `pkts`/`bytes`, which add held-back hits first. */
  npkts = 0
  nbytes = 0
  private readonly sink: CounterSink | undefined
  // The compiled matches (RuleFields, written once by compileRuleFields).
  /** F_* bits: which inline tests apply. */
  flags = 0
  /** R_* bits: packet fields the matches read. */
  reads = 0
  proto = 0
  protoNeg = false
  srcMask = 0
  srcNet = 0
  srcNeg = false
  dstMask = 0
  dstNet = 0
  dstNeg = false
  iif = ''
  iifPrefix = false
  iifNeg = false
  oif = ''
  oifPrefix = false
  oifNeg = false
  mmMask = 0
  mmValue = 0
  mmNeg = false
  ctStates = 0
  ctNeg = false
  dportMin = 0
  dportMax = 0
  dportNeg = false
  rest: Predicate | undefined = undefined
  private keyText: string | undefined = undefined

  constructor(spec: RuleSpec, env: CompileEnv) {
    this.spec = spec
    this.kind = kindOf(spec.target)
    this.markValue = spec.target?.t === 'MARK' ? spec.target.value : 0
    this.markMask = spec.target?.t === 'MARK' ? spec.target.mask : 0
    this.jump = undefined
    this.sink = env.counters
    compileRuleFields(spec, env, this)
  }

  /** Adds the walk cache's held-back hits first, so every reader sees what full walks would have left. */
  private settle(): void {
    const s = this.sink
    if (s !== undefined && s.pending !== 0) s.flush()
  }

  get pkts(): number {
    this.settle()
    return this.npkts
  }

  set pkts(v: number) {
    this.settle()
    this.npkts = v
  }

  get bytes(): number {
    this.settle()
    return this.nbytes
  }

  set bytes(v: number) {
    this.settle()
    this.nbytes = v
  }

  /** iptables-save text without `-A CHAIN` (rule identity for -D/-C and counter carry-over); built on first use. */
  get key(): string {
    if (this.keyText === undefined) this.keyText = saveRuleSpec(this.spec)
    return this.keyText
  }

  /** Whether every match of the rule holds for `p`. */
  test(p: NfPacket, c: EvalContext): boolean {
    const f = this.flags
    if (f & F_PROTO && (p.proto === this.proto) === this.protoNeg) return false
    if (f & F_MARK && ((p.mark & this.mmMask) >>> 0 === this.mmValue) === this.mmNeg) return false
    if (f & F_CT && ((p.ctstate & this.ctStates) !== 0) === this.ctNeg) return false
    if (f & F_DPORT && (p.dport >= this.dportMin && p.dport <= this.dportMax) === this.dportNeg) return false
    if (f & F_SRC && ((p.src & this.srcMask) >>> 0 === this.srcNet) === this.srcNeg) return false
    if (f & F_DST && ((p.dst & this.dstMask) >>> 0 === this.dstNet) === this.dstNeg) return false
    if (f & F_IIF && (this.iifPrefix ? p.iif.startsWith(this.iif) : p.iif === this.iif) === this.iifNeg) return false
    if (f & F_OIF && (this.oifPrefix ? p.oif.startsWith(this.oif) : p.oif === this.oif) === this.oifNeg) return false
    if (f & F_REST && !this.rest!(p, c)) return false
    return true
  }

  /** The rule's matches as a predicate (same as `test`). */
  match(p: NfPacket, c: EvalContext): boolean {
    return this.test(p, c)
  }
}
