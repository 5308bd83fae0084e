/**
 * iptables argument parsing: rule specifications (`-p tcp -m tcp --dport 80 -j ACCEPT`, with `!`
 * negation, implicit protocol matches and target options) and whole commands (`-t nat -A CHAIN
 * ...`, `-L -v -n`, `-N`, `-P` ...). Errors are NetfilterErrors carrying iptables' wording.
 */
import { prefixMask, tryParseIPv4 } from '@calilab/model'
import { NetfilterError } from './errors.ts'
import {
  ADDRTYPE_NAMES,
  type AddrSpec,
  CT_STATE_NAMES,
  type MatchSpec,
  type NatRange,
  type Policy,
  type PortRange,
  type RejectWith,
  type RuleSpec,
  TABLE_NAMES,
  type TableName,
  type TargetSpec,
} from './types.ts'

/** Protocol names iptables knows without /etc/protocols (printed by name), plus common aliases. */
export const PROTO_NAMES: readonly [string, number][] = [
  ['tcp', 6],
  ['sctp', 132],
  ['udp', 17],
  ['udplite', 136],
  ['icmp', 1],
  ['esp', 50],
  ['ah', 51],
  ['all', 0],
]
const PROTO_ALIASES: Record<string, number> = { ipencap: 4, ipip: 4, gre: 47, vrrp: 112, igmp: 2 }

export const REJECT_WITH: readonly RejectWith[] = [
  'icmp-net-unreachable',
  'icmp-host-unreachable',
  'icmp-proto-unreachable',
  'icmp-port-unreachable',
  'icmp-net-prohibited',
  'icmp-host-prohibited',
  'tcp-reset',
  'icmp-admin-prohibited',
]
const REJECT_ALIASES: Record<string, RejectWith> = {
  'net-unreach': 'icmp-net-unreachable',
  'host-unreach': 'icmp-host-unreachable',
  'proto-unreach': 'icmp-proto-unreachable',
  'port-unreach': 'icmp-port-unreachable',
  'net-prohib': 'icmp-net-prohibited',
  'host-prohib': 'icmp-host-prohibited',
  'tcp-rst': 'tcp-reset',
  'admin-prohib': 'icmp-admin-prohibited',
}

/** ICMP type names iptables accepts for --icmp-type (type, codeMin, codeMax). */
export const ICMP_TYPES: Record<string, [number, number, number]> = {
  any: [0xff, 0, 0xff],
  'echo-reply': [0, 0, 0xff],
  pong: [0, 0, 0xff],
  'destination-unreachable': [3, 0, 0xff],
  'network-unreachable': [3, 0, 0],
  'host-unreachable': [3, 1, 1],
  'protocol-unreachable': [3, 2, 2],
  'port-unreachable': [3, 3, 3],
  'fragmentation-needed': [3, 4, 4],
  'source-quench': [4, 0, 0xff],
  redirect: [5, 0, 0xff],
  'echo-request': [8, 0, 0xff],
  ping: [8, 0, 0xff],
  'router-advertisement': [9, 0, 0xff],
  'router-solicitation': [10, 0, 0xff],
  'time-exceeded': [11, 0, 0xff],
  ttl: [11, 0, 0xff],
  'ttl-zero-during-transit': [11, 0, 0],
  'ttl-zero-during-reassembly': [11, 1, 1],
  'parameter-problem': [12, 0, 0xff],
  'timestamp-request': [13, 0, 0xff],
  'timestamp-reply': [14, 0, 0xff],
}

export function protoNumber(s: string): number | undefined {
  const lower = s.toLowerCase()
  for (const [n, v] of PROTO_NAMES) if (n === lower) return v
  if (lower in PROTO_ALIASES) return PROTO_ALIASES[lower]
  if (/^\d+$/.test(s)) {
    const n = Number(s)
    return n <= 255 ? n : undefined
  }
  return undefined
}

export function protoName(n: number): string | undefined {
  for (const [name, v] of PROTO_NAMES) if (v === n) return name
  return undefined
}

function bad(msg: string): NetfilterError {
  return new NetfilterError('NF_BAD_ARGUMENT', msg)
}

function parseAddr(s: string, neg: boolean): AddrSpec {
  const slash = s.indexOf('/')
  const a = slash < 0 ? s : s.slice(0, slash)
  const m = slash < 0 ? undefined : s.slice(slash + 1)
  const ip = tryParseIPv4(a)
  if (ip === undefined) throw bad(`host/network \`${a}' not found`)
  let prefix = 32
  if (m !== undefined) {
    if (/^\d+$/.test(m)) prefix = Number(m)
    else {
      const mask = tryParseIPv4(m)
      if (mask === undefined) throw bad(`invalid mask \`${m}' specified`)
      prefix = 32 - Math.log2((~mask >>> 0) + 1 || 2 ** 32)
      if (!Number.isInteger(prefix) || prefixMask(prefix) !== mask) throw bad(`invalid mask \`${m}' specified`)
    }
    if (prefix > 32) throw bad(`invalid mask \`${m}' specified`)
  }
  return { ip: (ip & prefixMask(prefix)) >>> 0, prefix, neg }
}

function parsePort(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) > 65535) throw bad(`invalid port/service \`${s}' specified`)
  return Number(s)
}

/** `80`, `1000:2000`, `:2000`, `1000:` */
function parsePortRange(s: string): PortRange {
  const i = s.indexOf(':')
  if (i < 0) {
    const p = parsePort(s)
    return { min: p, max: p }
  }
  const min = i === 0 ? 0 : parsePort(s.slice(0, i))
  const max = i === s.length - 1 ? 65535 : parsePort(s.slice(i + 1))
  if (min > max) throw bad(`invalid portrange \`${s}' specified`)
  return { min, max }
}

function parseMultiport(s: string): PortRange[] {
  const out: PortRange[] = []
  let count = 0
  for (const part of s.split(',')) {
    const r = parsePortRange(part)
    out.push(r)
    count += r.min === r.max ? 1 : 2
  }
  if (count > 15) throw bad('too many ports specified')
  return out
}

function parseU32(s: string, what: string): number {
  const n = Number(s)
  if (s === '' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw bad(`Bad ${what} value \`${s}'`)
  return n >>> 0
}

/** `V` or `V/M` (mask defaults to 0xffffffff). */
function parseMarkMask(s: string): { value: number; mask: number; hasMask: boolean } {
  const i = s.indexOf('/')
  if (i < 0) return { value: parseU32(s, 'mark'), mask: 0xffffffff, hasMask: false }
  return { value: parseU32(s.slice(0, i), 'mark'), mask: parseU32(s.slice(i + 1), 'mark'), hasMask: true }
}

function parseStates(s: string): number {
  let bits = 0
  for (const name of s.split(',')) {
    const e = CT_STATE_NAMES.find(([, n]) => n === name.toUpperCase())
    if (!e) throw bad(`Bad ctstate "${name}"`)
    bits |= e[0]
  }
  return bits
}

function parseAddrTypes(s: string): number {
  let bits = 0
  for (const name of s.split(',')) {
    const i = (ADDRTYPE_NAMES as readonly string[]).indexOf(name.toUpperCase())
    if (i < 0) throw bad(`addrtype: invalid address type specified: ${name}`)
    bits |= 1 << i
  }
  return bits
}

/** `ip[-ip][:port[-port]]` or `:port[-port]` */
export function parseNatRange(s: string, allowPortOnly = true): NatRange {
  const m = /^([\d.]*)(?:-([\d.]+))?(?::(\d+)(?:-(\d+))?)?$/.exec(s)
  if (!m || (m[1] === '' && m[3] === undefined) || (!allowPortOnly && m[1] === '')) throw bad(`Bad IP address "${s}"`)
  let minIp = 0
  let maxIp = 0
  if (m[1] !== '') {
    const a = tryParseIPv4(m[1]!)
    const b = m[2] === undefined ? a : tryParseIPv4(m[2])
    if (a === undefined || b === undefined) throw bad(`Bad IP address "${s}"`)
    minIp = a
    maxIp = b
  }
  const minPort = m[3] === undefined ? -1 : parsePort(m[3])
  const maxPort = m[4] === undefined ? minPort : parsePort(m[4])
  return { minIp, maxIp, minPort, maxPort }
}

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
const LOG_LEVELS = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug']

interface Draft {
  spec: RuleSpec
  /** Which match each option went to (by position in spec.matches). */
  target?: string
  targetOpts: Map<string, string[]>
}

/**
 * Parses the rule-specification part of an iptables command line (everything but the command
 * and chain). Returns the spec; throws NetfilterError on anything iptables would refuse.
 */
export function parseRuleSpec(args: readonly string[]): RuleSpec {
  const d: Draft = { spec: { matches: [] }, targetOpts: new Map() }
  let i = 0
  let neg = false
  const take = (opt: string): string => {
    const v = args[++i]
    if (v === undefined) throw bad(`option "${opt}" requires an argument`)
    return v
  }
  const findMatch = (opt: string): MatchSpec | undefined => {
    for (let k = d.spec.matches.length - 1; k >= 0; k--) {
      const m = d.spec.matches[k]!
      const key = m.m === 'conntrack' && m.legacyState ? 'state' : m.m
      if (MATCH_OPTIONS[key].includes(opt)) return m
    }
    return undefined
  }
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
        d.spec.src = parseAddr(take(a), n)
        continue
      case '-d':
      case '--destination':
      case '--dst':
        d.spec.dst = parseAddr(take(a), n)
        continue
      case '-p':
      case '--protocol': {
        const v = take(a)
        const num = protoNumber(v)
        if (num === undefined) throw bad(`unknown protocol "${v}" specified`)
        if (num === 0 && n) throw bad('rule would never match protocol')
        d.spec.proto = { num, neg: n }
        continue
      }
      case '-i':
      case '--in-interface':
        d.spec.iif = { name: take(a), neg: n }
        continue
      case '-o':
      case '--out-interface':
        d.spec.oif = { name: take(a), neg: n }
        continue
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        if (d.target !== undefined) throw bad('multiple -j flags not allowed')
        const name = take(a)
        d.target = name
        if (a === '-g' || a === '--goto') {
          if (BUILTIN_TARGETS.has(name)) throw bad(`goto '${name}' is not a chain`)
          d.spec.target = { t: 'JUMP', chain: name, goto: true }
        }
        continue
      }
      case '-m':
      case '--match': {
        const name = take(a)
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
      if (!isFlagOption(a)) vals.push(take(a))
      d.targetOpts.set(a, vals)
      continue
    }
    let m = findMatch(a)
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
  if (d.target !== undefined && d.spec.target === undefined) d.spec.target = buildTarget(d.target, d.targetOpts, d.spec)
  return d.spec
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
  }
  throw new NetfilterError('NF_BAD_ARGUMENT', `Couldn't load match \`${name}':No such file or directory`)
}

function applyMatchOption(m: MatchSpec, opt: string, args: readonly string[], i: number, neg: boolean): number {
  const take = (): string => {
    const v = args[++i]
    if (v === undefined) throw bad(`option "${opt}" requires an argument`)
    return v
  }
  switch (m.m) {
    case 'tcp':
    case 'udp':
      if (opt === '--sport' || opt === '--source-port') m.sport = { ...parsePortRange(take()), neg }
      else if (opt === '--dport' || opt === '--destination-port') m.dport = { ...parsePortRange(take()), neg }
      else if (m.m === 'tcp' && opt === '--syn') m.flags = { mask: 0x17, cmp: 0x02, neg }
      else if (m.m === 'tcp' && opt === '--tcp-flags') {
        const mask = parseTcpFlags(take())
        m.flags = { mask, cmp: parseTcpFlags(take()), neg }
      }
      break
    case 'icmp': {
      const v = take()
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
      m.ranges = parseMultiport(take())
      m.neg = neg
      break
    case 'set': {
      m.name = take()
      const dirs = take().split(',')
      if (dirs.length > 6 || dirs.some((x) => x !== 'src' && x !== 'dst'))
        throw bad(`You must specify (the comma separated list of) 'src' or 'dst'.`)
      m.dirs = dirs as ('src' | 'dst')[]
      m.neg = neg
      break
    }
    case 'mark': {
      const mm = parseMarkMask(take())
      m.value = mm.value
      m.mask = mm.mask
      m.neg = neg
      break
    }
    case 'conntrack':
      m.states = parseStates(take())
      m.neg = neg
      break
    case 'statistic':
      if (opt === '--mode') {
        const v = take()
        if (v !== 'random') throw bad(`Bad mode "${v}" (only random is emulated)`)
      } else {
        const v = take()
        const p = Number(v)
        if (v === '' || !Number.isFinite(p) || p < 0 || p > 1) throw bad(`invalid --probability ${v}`)
        m.probability = Math.round(p * 0x80000000)
        m.neg = neg
      }
      break
    case 'addrtype':
      if (opt === '--src-type') m.src = { types: parseAddrTypes(take()), neg }
      else if (opt === '--dst-type') m.dst = { types: parseAddrTypes(take()), neg }
      else if (opt === '--limit-iface-in') m.limitIn = true
      else m.limitOut = true
      break
    case 'comment':
      m.comment = take()
      if (m.comment.length > 255) throw bad('COMMENT must be shorter than 256 characters')
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

function validateMatch(m: MatchSpec, spec: RuleSpec): void {
  const needProto = (name: string, num: number) => {
    if (!spec.proto || spec.proto.num !== num || spec.proto.neg)
      throw bad(`${name} match: can only be used with -p ${name}`)
  }
  if (m.m === 'tcp') needProto('tcp', 6)
  if (m.m === 'udp') needProto('udp', 17)
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

function buildTarget(name: string, opts: Map<string, string[]>, spec: RuleSpec): TargetSpec {
  const one = (o: string) => opts.get(o)?.[0]
  switch (name) {
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
      return { t: name }
    case 'REJECT': {
      const w = one('--reject-with') ?? 'icmp-port-unreachable'
      const rw = (REJECT_WITH as readonly string[]).includes(w) ? (w as RejectWith) : REJECT_ALIASES[w]
      if (!rw) throw bad(`unknown reject type "${w}"`)
      if (rw === 'tcp-reset' && (!spec.proto || spec.proto.num !== 6 || spec.proto.neg))
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
      const to = one('--to-destination')
      if (to === undefined) throw bad('DNAT: option "--to-destination" must be specified')
      const range = parseNatRange(to)
      if (range.minPort >= 0 && !portProto(spec)) throw bad('Need TCP, UDP, SCTP or DCCP with port specification')
      return { t: 'DNAT', range, random: opts.has('--random'), persistent: opts.has('--persistent') }
    }
    case 'SNAT': {
      const to = one('--to-source')
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
      const ports = one('--to-ports')
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
      const lv = one('--log-level') ?? '4'
      const level = /^\d$/.test(lv)
        ? Number(lv)
        : LOG_LEVELS.indexOf(lv.replace(/^warn$/, 'warning').replace(/^panic$/, 'emerg'))
      if (level < 0 || level > 7) throw bad(`log-level \`${lv}' unknown`)
      const prefix = one('--log-prefix') ?? ''
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

export type IptablesOp =
  | 'append'
  | 'insert'
  | 'delete'
  | 'replace'
  | 'check'
  | 'list'
  | 'list-rules'
  | 'flush'
  | 'zero'
  | 'new-chain'
  | 'delete-chain'
  | 'policy'
  | 'rename-chain'

export interface IptablesCommand {
  table: TableName
  op: IptablesOp
  chain?: string
  /** 1-based rule number for -I/-R/-D/-L/-S when given. */
  index?: number
  rule?: RuleSpec
  policy?: Policy
  newName?: string
  verbose: boolean
  numeric: boolean
  exact: boolean
  lineNumbers: boolean
  /** -Z together with -L. */
  zero: boolean
}

const COMMANDS: Record<string, IptablesOp> = {
  '-A': 'append',
  '--append': 'append',
  '-I': 'insert',
  '--insert': 'insert',
  '-D': 'delete',
  '--delete': 'delete',
  '-R': 'replace',
  '--replace': 'replace',
  '-C': 'check',
  '--check': 'check',
  '-L': 'list',
  '--list': 'list',
  '-S': 'list-rules',
  '--list-rules': 'list-rules',
  '-F': 'flush',
  '--flush': 'flush',
  '-Z': 'zero',
  '--zero': 'zero',
  '-N': 'new-chain',
  '--new-chain': 'new-chain',
  '-X': 'delete-chain',
  '--delete-chain': 'delete-chain',
  '-P': 'policy',
  '--policy': 'policy',
  '-E': 'rename-chain',
  '--rename-chain': 'rename-chain',
}

/** Parses an `iptables` command line (without the program name). */
export function parseIptablesArgs(argv: readonly string[]): IptablesCommand {
  const cmd: IptablesCommand = {
    table: 'filter',
    op: 'list',
    verbose: false,
    numeric: false,
    exact: false,
    lineNumbers: false,
    zero: false,
  }
  let op: IptablesOp | undefined
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!
    // Combined short flags such as -nvL or -vnL.
    if (/^-[a-zA-Z]{2,}$/.test(a) && !a.startsWith('--')) {
      const letters = a.slice(1).split('')
      const expanded = letters.map((c) => `-${c}`)
      argv = [...argv.slice(0, i), ...expanded, ...argv.slice(i + 1)]
      a = argv[i]!
    }
    const next = () => argv[i + 1]
    const positional = () => {
      const v = next()
      if (v !== undefined && !v.startsWith('-')) {
        i++
        return v
      }
      return undefined
    }
    if (a in COMMANDS) {
      const o = COMMANDS[a]!
      if (o === 'zero' && op === 'list') {
        cmd.zero = true
        const c = positional()
        if (c !== undefined) cmd.chain = c
        continue
      }
      if (o === 'list' && op === 'zero') {
        op = 'list'
        cmd.zero = true
        const c = positional()
        if (c !== undefined) cmd.chain = c
        continue
      }
      if (op !== undefined) throw bad('Cannot use more than one command option')
      op = o
      const c = positional()
      if (c !== undefined) cmd.chain = c
      else if (!['list', 'list-rules', 'flush', 'zero', 'delete-chain'].includes(o))
        throw bad(`option "${a}" requires an argument`)
      if (o === 'insert' || o === 'replace' || o === 'delete' || o === 'list' || o === 'list-rules') {
        const n = next()
        if (n !== undefined && /^\d+$/.test(n)) {
          cmd.index = Number(n)
          i++
        }
      }
      if (o === 'policy') {
        const p = positional()
        if (p !== 'ACCEPT' && p !== 'DROP') throw bad(`Bad policy name. Run \`dmesg' for more information.`)
        cmd.policy = p
      }
      if (o === 'rename-chain') {
        const n = positional()
        if (n === undefined) throw bad('-E requires old-chain-name and new-chain-name')
        cmd.newName = n
      }
      continue
    }
    switch (a) {
      case '-t':
      case '--table': {
        const t = next()
        if (!t || !(TABLE_NAMES as readonly string[]).includes(t))
          throw new NetfilterError(
            'NF_BAD_TABLE',
            `can't initialize iptables table \`${t ?? ''}': Table does not exist (do you need to insmod?)`,
            {},
            3,
          )
        cmd.table = t as TableName
        i++
        continue
      }
      case '-v':
      case '--verbose':
        cmd.verbose = true
        continue
      case '-n':
      case '--numeric':
        cmd.numeric = true
        continue
      case '-x':
      case '--exact':
        cmd.exact = true
        continue
      case '--line-numbers':
        cmd.lineNumbers = true
        continue
      case '-w':
      case '--wait':
        if (next() !== undefined && /^\d+(\.\d+)?$/.test(next()!)) i++
        continue
      case '-W':
      case '--wait-interval':
        i++
        continue
    }
    rest.push(a)
  }
  if (op === undefined) throw bad('no command specified')
  cmd.op = op
  if (['append', 'insert', 'delete', 'replace', 'check'].includes(op)) {
    if (op === 'delete' && cmd.index !== undefined) {
      if (rest.length) throw bad(`Bad argument \`${rest[0]}'`)
    } else cmd.rule = parseRuleSpec(rest)
  } else if (rest.length) throw bad(`Bad argument \`${rest[0]}'`)
  return cmd
}
