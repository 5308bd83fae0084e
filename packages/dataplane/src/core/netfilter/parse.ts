/**
 * iptables rule specifications (`-p tcp -m tcp --dport 80 -j ACCEPT`, with `!` negation, implicit
 * protocol matches and target options). Errors are NetfilterErrors carrying iptables' wording.
 */
import { NetfilterError } from './errors.ts'
import type { MatchSpec, PortRange, RejectWith, RuleSpec, TargetSpec } from './types.ts'
import {
  bad,
  ICMP_TYPES,
  parseAddr,
  parseAddrTypes,
  parseMarkMask,
  parseMultiport,
  parseNatRange,
  parsePort,
  parsePortRange,
  parseStates,
  protoName,
  protoNumber,
  REJECT_ALIASES,
  REJECT_WITH,
} from './values.ts'

export { type IptablesCommand, type IptablesOp, parseIptablesArgs } from './command-parse.ts'
export { ICMP_TYPES, PROTO_NAMES, parseNatRange, protoName, protoNumber, REJECT_WITH } from './values.ts'

/** Option names each match module accepts. */
const MATCH_OPTIONS: Record<MatchSpec['m'] | 'state', readonly string[]> = {
  tcp: ['--sport', '--source-port', '--dport', '--destination-port', '--tcp-flags', '--syn'],
  udp: ['--sport', '--source-port', '--dport', '--destination-port'],
  icmp: ['--icmp-type'],
  multiport: ['--dports', '--destination-ports', '--sports', '--source-ports', '--ports'],
  set: ['--match-set', '--set'],
  mark: ['--mark'],
  conntrack: ['--ctstate'],
  state: ['--state'],
  statistic: ['--mode', '--probability'],
  addrtype: ['--src-type', '--dst-type', '--limit-iface-in', '--limit-iface-out'],
  comment: ['--comment'],
  physdev: ['--physdev-is-in', '--physdev-is-out', '--physdev-is-bridged'],
}

const TARGET_OPTIONS: Record<string, readonly string[]> = {
  REJECT: ['--reject-with'],
  MARK: ['--set-xmark', '--set-mark', '--or-mark', '--and-mark', '--xor-mark'],
  DNAT: ['--to-destination', '--random', '--persistent'],
  SNAT: ['--to-source', '--random', '--random-fully', '--persistent'],
  MASQUERADE: ['--to-ports', '--random', '--random-fully'],
  LOG: ['--log-prefix', '--log-level', '--log-tcp-sequence', '--log-tcp-options', '--log-ip-options', '--log-uid'],
  CT: ['--notrack'],
}
const BUILTIN_TARGETS = new Set([
  'ACCEPT',
  'DROP',
  'RETURN',
  'REJECT',
  'MARK',
  'DNAT',
  'SNAT',
  'MASQUERADE',
  'LOG',
  'CT',
  'NOTRACK',
])
const NO_OPTS: ReadonlyMap<string, string[]> = new Map()
const LOG_LEVELS = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug']

interface Draft {
  spec: RuleSpec
  /** Which match each option went to (by position in spec.matches). */
  target?: string
  /** Created on the first target option (most rules have none). */
  targetOpts: Map<string, string[]> | undefined
}

/**
 * Parses the rule-specification part of an iptables command line (everything but the command
 * and chain). Returns the spec; throws NetfilterError on anything iptables would refuse.
 */
export function parseRuleSpec(args: readonly string[]): RuleSpec {
  const d: Draft = { spec: { matches: [] }, targetOpts: undefined }
  let i = 0
  let neg = false
  // No closures in here (tsx's keep-names wraps each in a defineProperty call per call): this
  // runs for every rule of an iptables-restore.
  for (; i < args.length; i++) {
    const a = args[i]!
    if (a === '!') {
      if (neg) throw bad("multiple `!' flags not allowed")
      neg = true
      continue
    }
    const n = neg
    neg = false
    switch (a) {
      case '-s':
      case '--source':
      case '--src':
        d.spec.src = parseAddr(take(args, ++i, a), n)
        continue
      case '-d':
      case '--destination':
      case '--dst':
        d.spec.dst = parseAddr(take(args, ++i, a), n)
        continue
      case '-p':
      case '--protocol': {
        const v = take(args, ++i, a)
        const num = protoNumber(v)
        if (num === undefined) throw bad(`unknown protocol "${v}" specified`)
        if (num === 0 && n) throw bad('rule would never match protocol')
        d.spec.proto = { num, neg: n }
        continue
      }
      case '-i':
      case '--in-interface':
        d.spec.iif = { name: take(args, ++i, a), neg: n }
        continue
      case '-o':
      case '--out-interface':
        d.spec.oif = { name: take(args, ++i, a), neg: n }
        continue
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        if (d.target !== undefined) throw bad('multiple -j flags not allowed')
        const name = take(args, ++i, a)
        d.target = name
        if (a === '-g' || a === '--goto') {
          if (BUILTIN_TARGETS.has(name)) throw bad(`goto '${name}' is not a chain`)
          d.spec.target = { t: 'JUMP', chain: name, goto: true }
        }
        continue
      }
      case '-m':
      case '--match': {
        const name = take(args, ++i, a)
        d.spec.matches.push(newMatch(name))
        continue
      }
      case '-c':
      case '--set-counters':
        i += 2
        continue
    }
    if (!a.startsWith('--')) throw new NetfilterError('NF_BAD_ARGUMENT', `Bad argument \`${a}'`)
    // Target options first, then the most recent match that knows the option, then an implicit
    // protocol match (`-p tcp --dport 80` loads `-m tcp`).
    const tname = d.target === 'NOTRACK' ? 'CT' : d.target
    if (tname !== undefined && TARGET_OPTIONS[tname]?.includes(a)) {
      const vals: string[] = []
      if (!isFlagOption(a)) vals.push(take(args, ++i, a))
      ;(d.targetOpts ??= new Map()).set(a, vals)
      continue
    }
    let m = findMatch(d.spec.matches, a)
    if (!m && d.spec.proto && !d.spec.proto.neg) {
      const pn = protoName(d.spec.proto.num)
      if (pn === 'tcp' || pn === 'udp' || pn === 'icmp') {
        const mm = newMatch(pn)
        if (MATCH_OPTIONS[pn].includes(a)) {
          d.spec.matches.push(mm)
          m = mm
        }
      }
    }
    if (!m) throw new NetfilterError('NF_UNKNOWN_OPTION', `unknown option "${a}"`)
    i = applyMatchOption(m, a, args, i, n)
  }
  if (neg) throw bad("trailing `!'")
  for (const m of d.spec.matches) validateMatch(m, d.spec)
  if (d.target !== undefined && d.spec.target === undefined)
    d.spec.target = buildTarget(d.target, d.targetOpts ?? NO_OPTS, d.spec)
  return d.spec
}

function withNeg(r: PortRange, neg: boolean): PortRange & { neg: boolean } {
  return { min: r.min, max: r.max, neg }
}

/** args[i], the value of option `opt`. */
function take(args: readonly string[], i: number, opt: string): string {
  const v = args[i]
  if (v === undefined) throw bad(`option "${opt}" requires an argument`)
  return v
}

/** The most recent match that knows option `opt`. */
function findMatch(matches: readonly MatchSpec[], opt: string): MatchSpec | undefined {
  for (let k = matches.length - 1; k >= 0; k--) {
    const m = matches[k]!
    const key = m.m === 'conntrack' && m.legacyState ? 'state' : m.m
    if (MATCH_OPTIONS[key].includes(opt)) return m
  }
  return undefined
}

function isFlagOption(o: string): boolean {
  return [
    '--random',
    '--random-fully',
    '--persistent',
    '--notrack',
    '--log-tcp-sequence',
    '--log-tcp-options',
    '--log-ip-options',
    '--log-uid',
  ].includes(o)
}

function newMatch(name: string): MatchSpec {
  switch (name) {
    case 'tcp':
      return { m: 'tcp' }
    case 'udp':
      return { m: 'udp' }
    case 'icmp':
      return { m: 'icmp', type: -2, codeMin: 0, codeMax: 0xff, neg: false }
    case 'multiport':
      return { m: 'multiport', dir: 'dports', ranges: [], neg: false }
    case 'set':
      return { m: 'set', name: '', dirs: [], neg: false }
    case 'mark':
      return { m: 'mark', value: 0, mask: 0xffffffff, neg: false }
    case 'conntrack':
      return { m: 'conntrack', states: 0, neg: false }
    case 'state':
      return { m: 'conntrack', states: 0, neg: false, legacyState: true }
    case 'statistic':
      return { m: 'statistic', probability: -1, neg: false }
    case 'addrtype':
      return { m: 'addrtype', limitIn: false, limitOut: false }
    case 'comment':
      return { m: 'comment', comment: '' }
    case 'physdev':
      return { m: 'physdev', flags: [] }
  }
  throw new NetfilterError('NF_BAD_ARGUMENT', `Couldn't load match \`${name}':No such file or directory`)
}

function applyMatchOption(m: MatchSpec, opt: string, args: readonly string[], i: number, neg: boolean): number {
  switch (m.m) {
    case 'tcp':
    case 'udp':
      if (opt === '--sport' || opt === '--source-port') m.sport = withNeg(parsePortRange(take(args, ++i, opt)), neg)
      else if (opt === '--dport' || opt === '--destination-port')
        m.dport = withNeg(parsePortRange(take(args, ++i, opt)), neg)
      else if (m.m === 'tcp' && opt === '--syn') m.flags = { mask: 0x17, cmp: 0x02, neg }
      else if (m.m === 'tcp' && opt === '--tcp-flags') {
        const mask = parseTcpFlags(take(args, ++i, opt))
        m.flags = { mask, cmp: parseTcpFlags(take(args, ++i, opt)), neg }
      }
      break
    case 'icmp': {
      const v = take(args, ++i, opt)
      const named = ICMP_TYPES[v]
      if (named) [m.type, m.codeMin, m.codeMax] = named
      else {
        const mm = /^(\d+)(?:\/(\d+))?$/.exec(v)
        if (!mm || Number(mm[1]) > 255) throw bad(`Invalid ICMP type \`${v}'`)
        m.type = Number(mm[1])
        if (mm[2] !== undefined) m.codeMin = m.codeMax = Number(mm[2])
      }
      m.neg = neg
      break
    }
    case 'multiport':
      m.dir = opt === '--sports' || opt === '--source-ports' ? 'sports' : opt === '--ports' ? 'ports' : 'dports'
      m.ranges = parseMultiport(take(args, ++i, opt))
      m.neg = neg
      break
    case 'set': {
      m.name = take(args, ++i, opt)
      const dirs = take(args, ++i, opt).split(',')
      if (dirs.length > 6 || dirs.some((x) => x !== 'src' && x !== 'dst'))
        throw bad(`You must specify (the comma separated list of) 'src' or 'dst'.`)
      m.dirs = dirs as ('src' | 'dst')[]
      m.neg = neg
      break
    }
    case 'mark': {
      const mm = parseMarkMask(take(args, ++i, opt))
      m.value = mm.value
      m.mask = mm.mask
      m.neg = neg
      break
    }
    case 'conntrack':
      m.states = parseStates(take(args, ++i, opt))
      m.neg = neg
      break
    case 'statistic':
      if (opt === '--mode') {
        const v = take(args, ++i, opt)
        if (v !== 'random') throw bad(`Bad mode "${v}" (only random is emulated)`)
      } else {
        const v = take(args, ++i, opt)
        const p = Number(v)
        if (v === '' || !Number.isFinite(p) || p < 0 || p > 1) throw bad(`invalid --probability ${v}`)
        m.probability = Math.round(p * 0x80000000)
        m.neg = neg
      }
      break
    case 'addrtype':
      if (opt === '--src-type') m.src = { types: parseAddrTypes(take(args, ++i, opt)), neg }
      else if (opt === '--dst-type') m.dst = { types: parseAddrTypes(take(args, ++i, opt)), neg }
      else if (opt === '--limit-iface-in') m.limitIn = true
      else m.limitOut = true
      break
    case 'comment':
      m.comment = take(args, ++i, opt)
      if (m.comment.length > 255) throw bad('COMMENT must be shorter than 256 characters')
      break
    case 'physdev':
      m.flags.push({ name: opt.slice('--physdev-is-'.length) as 'in' | 'out' | 'bridged', neg })
      break
  }
  return i
}

const TCP_FLAG_BITS: Record<string, number> = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ALL: 0x3f, NONE: 0 }

function parseTcpFlags(s: string): number {
  let bits = 0
  for (const f of s.split(',')) {
    const b = TCP_FLAG_BITS[f.toUpperCase()]
    if (b === undefined) throw bad(`Unknown TCP flag \`${f}'`)
    bits |= b
  }
  return bits
}

function needProto(spec: RuleSpec, name: string, num: number): void {
  if (!spec.proto || spec.proto.num !== num || spec.proto.neg)
    throw bad(`${name} match: can only be used with -p ${name}`)
}

function validateMatch(m: MatchSpec, spec: RuleSpec): void {
  if (m.m === 'tcp') needProto(spec, 'tcp', 6)
  if (m.m === 'udp') needProto(spec, 'udp', 17)
  if (m.m === 'icmp' && m.type === -2) throw bad("icmp match: You must specify `--icmp-type'")
  if (m.m === 'multiport') {
    if (m.ranges.length === 0) throw bad("multiport needs `--dports', `--sports' or `--ports'")
    if (!spec.proto || ![6, 17, 132, 136].includes(spec.proto.num) || spec.proto.neg)
      throw bad('multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP')
  }
  if (m.m === 'set' && m.name === '') throw bad("You must specify `--match-set' with proper arguments")
  if (m.m === 'statistic' && m.probability < 0)
    throw bad('statistic: --probability must be specified with --mode random')
  if (m.m === 'addrtype' && !m.src && !m.dst) throw bad('addrtype: you must specify --src-type or --dst-type')
  if (m.m === 'conntrack' && m.states === 0) throw bad('conntrack: At least one option is required')
}

function buildTarget(name: string, opts: ReadonlyMap<string, string[]>, spec: RuleSpec): TargetSpec {
  switch (name) {
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
      return { t: name }
    case 'REJECT': {
      const w = opts.get('--reject-with')?.[0] ?? 'icmp-port-unreachable'
      const rw = (REJECT_WITH as readonly string[]).includes(w) ? (w as RejectWith) : REJECT_ALIASES[w]
      if (!rw) throw bad(`unknown reject type "${w}"`)
      if (rw === 'tcp-reset' && (spec.proto?.num !== 6 || spec.proto.neg))
        throw bad('REJECT: TCP_RESET invalid for non-tcp')
      return { t: 'REJECT', with: rw }
    }
    case 'MARK': {
      if (opts.size !== 1) throw bad('MARK target: Parameter --set/and/or/xor-mark is required')
      const [o, vals] = [...opts][0]!
      const mm = parseMarkMask(vals[0]!)
      if (o === '--set-xmark') return { t: 'MARK', value: mm.value, mask: mm.mask }
      if (o === '--set-mark') return { t: 'MARK', value: mm.value, mask: (mm.mask | mm.value) >>> 0 }
      if (mm.hasMask) throw bad(`MARK: ${o} takes no mask`)
      if (o === '--and-mark') return { t: 'MARK', value: 0, mask: ~mm.value >>> 0 }
      if (o === '--or-mark') return { t: 'MARK', value: mm.value, mask: mm.value }
      return { t: 'MARK', value: mm.value, mask: 0 }
    }
    case 'DNAT': {
      const to = opts.get('--to-destination')?.[0]
      if (to === undefined) throw bad('DNAT: option "--to-destination" must be specified')
      const range = parseNatRange(to)
      if (range.minPort >= 0 && !portProto(spec)) throw bad('Need TCP, UDP, SCTP or DCCP with port specification')
      return { t: 'DNAT', range, random: opts.has('--random'), persistent: opts.has('--persistent') }
    }
    case 'SNAT': {
      const to = opts.get('--to-source')?.[0]
      if (to === undefined) throw bad('SNAT: option "--to-source" must be specified')
      const range = parseNatRange(to)
      if (range.minPort >= 0 && !portProto(spec)) throw bad('Need TCP, UDP, SCTP or DCCP with port specification')
      return {
        t: 'SNAT',
        range,
        random: opts.has('--random'),
        randomFully: opts.has('--random-fully'),
        persistent: opts.has('--persistent'),
      }
    }
    case 'MASQUERADE': {
      const ports = opts.get('--to-ports')?.[0]
      let minPort = -1
      let maxPort = -1
      if (ports !== undefined) {
        const m = /^(\d+)(?:-(\d+))?$/.exec(ports)
        if (!m) throw bad(`Invalid port range "${ports}"`)
        minPort = parsePort(m[1]!)
        maxPort = m[2] === undefined ? minPort : parsePort(m[2])
        if (!portProto(spec)) throw bad('Need TCP, UDP, SCTP or DCCP with port specification')
      }
      return {
        t: 'MASQUERADE',
        minPort,
        maxPort,
        random: opts.has('--random'),
        randomFully: opts.has('--random-fully'),
      }
    }
    case 'LOG': {
      const lv = opts.get('--log-level')?.[0] ?? '4'
      const level = /^\d$/.test(lv)
        ? Number(lv)
        : LOG_LEVELS.indexOf(lv.replace(/^warn$/, 'warning').replace(/^panic$/, 'emerg'))
      if (level < 0 || level > 7) throw bad(`log-level \`${lv}' unknown`)
      const prefix = opts.get('--log-prefix')?.[0] ?? ''
      if (prefix.length > 29) throw bad('Maximum prefix length 29 for --log-prefix')
      return { t: 'LOG', prefix, level }
    }
    case 'CT':
      if (!opts.has('--notrack')) throw bad('CT: only --notrack is emulated')
      return { t: 'CT', notrack: true, alias: false }
    case 'NOTRACK':
      return { t: 'CT', notrack: true, alias: true }
  }
  if (name.startsWith('-') || name === '') throw bad(`Invalid target name \`${name}'`)
  return { t: 'JUMP', chain: name, goto: false }
}

function portProto(spec: RuleSpec): boolean {
  return !!spec.proto && !spec.proto.neg && [6, 17, 132, 33].includes(spec.proto.num)
}
