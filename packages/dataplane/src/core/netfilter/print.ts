/**
 * Text the real tools print: `iptables -L [-v] [-n] [-x] [--line-numbers]`, `iptables -S`,
 * `iptables-save`. Ported from the print/save functions of iptables' libxt_*.c and xshared.c so
 * spacing and wording match (including iptables' trailing spaces on the column header).
 */
import { formatIPv4 } from '@calilab/model'
import { protoName } from './parse.ts'
import {
  ADDRTYPE_NAMES,
  type AddrSpec,
  CT_STATE_NAMES,
  type MatchSpec,
  type NatRange,
  type RuleSpec,
  type TargetSpec,
} from './types.ts'

/** The parts of a rule printing needs. */
export interface PrintableRule {
  spec: RuleSpec
  pkts: number
  bytes: number
}

export interface PrintableChain {
  name: string
  builtin: boolean
  policy: string
  pkts: number
  bytes: number
  rules: readonly PrintableRule[]
}

export interface ListOptions {
  verbose?: boolean
  numeric?: boolean
  /** -x: exact counters instead of K/M/G. */
  exact?: boolean
  lineNumbers?: boolean
}

/** xtables_print_num with FMT_KILOMEGAGIGA unless exact; `notable` drops the padding. */
export function formatCount(n: number, exact: boolean, notable = false): string {
  if (exact) return notable ? `${n} ` : `${String(n).padStart(8)} `
  if (n <= 99999) return notable ? `${n} ` : `${String(n).padStart(5)} `
  for (const suffix of ['K', 'M', 'G']) {
    n = Math.floor((n + 500) / 1000)
    if (n <= 9999) return notable ? `${n}${suffix} ` : `${String(n).padStart(4)}${suffix} `
  }
  n = Math.floor((n + 500) / 1000)
  return notable ? `${n}T ` : `${String(n).padStart(4)}T `
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`
}

function markMask(value: number, mask: number): string {
  return mask >>> 0 === 0xffffffff ? ` ${hex(value)}` : ` ${hex(value)}/${hex(mask)}`
}

function states(bits: number): string {
  let s = ''
  let sep = ' '
  for (const [b, n] of CT_STATE_NAMES)
    if (bits & b) {
      s += sep + n
      sep = ','
    }
  return s
}

function addrTypes(bits: number): string {
  const out: string[] = []
  ADDRTYPE_NAMES.forEach((n, i) => {
    if (bits & (1 << i)) out.push(n)
  })
  return out.join(',')
}

/** `statistic` prints the kernel's fixed-point value with %.11f. */
export function formatProbability(fixed: number): string {
  return (fixed / 0x80000000).toFixed(11)
}

function ports(name: string, r: { min: number; max: number; neg: boolean } | undefined): string {
  if (!r || (r.min === 0 && r.max === 65535 && !r.neg)) return ''
  const inv = r.neg ? '!' : ''
  return r.min === r.max ? ` ${name}:${inv}${r.min}` : ` ${name}s:${inv}${r.min}:${r.max}`
}

function rangeList(ranges: readonly { min: number; max: number }[]): string {
  return ranges.map((r) => (r.min === r.max ? `${r.min}` : `${r.min}:${r.max}`)).join(',')
}

function tcpFlagNames(bits: number): string {
  const names: [number, string][] = [
    [1, 'FIN'],
    [2, 'SYN'],
    [4, 'RST'],
    [8, 'PSH'],
    [16, 'ACK'],
    [32, 'URG'],
  ]
  if (bits === 0x3f) return 'FIN,SYN,RST,PSH,ACK,URG'
  const out = names.filter(([b]) => bits & b).map(([, n]) => n)
  return out.length ? out.join(',') : 'NONE'
}

const pad2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0')

/** The ` tcp dpt:80`-style text of one match in `iptables -L`. */
export function printMatch(m: MatchSpec, numeric: boolean): string {
  switch (m.m) {
    case 'tcp':
    case 'udp': {
      let s = ` ${m.m}${ports('spt', m.sport)}${ports('dpt', m.dport)}`
      if (m.m === 'tcp' && m.flags && (m.flags.mask || m.flags.neg)) {
        s += ` flags:${m.flags.neg ? '!' : ''}`
        s += numeric
          ? `0x${pad2(m.flags.mask)}/0x${pad2(m.flags.cmp)}`
          : `${tcpFlagNames(m.flags.mask)}/${tcpFlagNames(m.flags.cmp)}`
      }
      return s
    }
    case 'icmp': {
      let s = ' icmp'
      if (m.neg) s += ' !'
      s += `type ${m.type}`
      if (m.codeMin === m.codeMax) s += ` code ${m.codeMin}`
      else if (m.codeMin !== 0 || m.codeMax !== 0xff) s += ` codes ${m.codeMin}-${m.codeMax}`
      return s
    }
    case 'multiport':
      return ` multiport ${m.dir} ${m.neg ? ' !' : ''}${rangeList(m.ranges)}`
    case 'set':
      return `${m.neg ? ' !' : ''} match-set ${m.name} ${m.dirs.join(',')}`
    case 'mark':
      return ` mark match${m.neg ? ' !' : ''}${markMask(m.value, m.mask)}`
    case 'conntrack':
      return m.legacyState ? ` state${states(m.states)}` : `${m.neg ? ' !' : ''} ctstate${states(m.states)}`
    case 'statistic':
      return ` statistic mode random${m.neg ? ' !' : ''} probability ${formatProbability(m.probability)}`
    case 'addrtype': {
      let s = ' ADDRTYPE match'
      if (m.src) s += ` src-type ${m.src.neg ? '!' : ''}${addrTypes(m.src.types)}`
      if (m.dst) s += ` dst-type ${m.dst.neg ? '!' : ''}${addrTypes(m.dst.types)}`
      if (m.limitIn) s += ' limit-in'
      if (m.limitOut) s += ' limit-out'
      return s
    }
    case 'comment':
      return ` /* ${m.comment} */`
    case 'physdev':
      return ` PHYSDEV match${physdevFlags(m.flags)}`
  }
}

/** xtables_save_string: bare when only [A-Za-z0-9_-], else double-quoted with \" \\ \' escaped. */
export function saveString(v: string): string {
  if (v.length > 0 && /^[A-Za-z0-9_-]+$/.test(v)) return ` ${v}`
  return ` "${v.replace(/["\\']/g, (c) => `\\${c}`)}"`
}

/** The ` --dport 80`-style text of one match in `iptables-save` (after ` -m NAME`). */
export function saveMatch(m: MatchSpec): string {
  switch (m.m) {
    case 'tcp':
    case 'udp': {
      let s = ''
      for (const [opt, r] of [
        ['--sport', m.sport],
        ['--dport', m.dport],
      ] as const) {
        if (!r || (r.min === 0 && r.max === 65535 && !r.neg)) continue
        s += `${r.neg ? ' !' : ''} ${opt} ${r.min === r.max ? r.min : `${r.min}:${r.max}`}`
      }
      if (m.m === 'tcp' && m.flags && (m.flags.mask || m.flags.neg))
        s += `${m.flags.neg ? ' !' : ''} --tcp-flags ${tcpFlagNames(m.flags.mask)} ${tcpFlagNames(m.flags.cmp)}`
      return s
    }
    case 'icmp': {
      let s = m.neg ? ' !' : ''
      if (m.type === 0xff && m.codeMin === 0 && m.codeMax === 0xff) return `${s} --icmp-type any`
      s += ` --icmp-type ${m.type}`
      if (m.codeMin !== 0 || m.codeMax !== 0xff) s += `/${m.codeMin}`
      return s
    }
    case 'multiport':
      return `${m.neg ? ' !' : ''} --${m.dir} ${rangeList(m.ranges)}`
    case 'set':
      return `${m.neg ? ' !' : ''} --match-set ${m.name} ${m.dirs.join(',')}`
    case 'mark':
      return `${m.neg ? ' !' : ''} --mark${markMask(m.value, m.mask)}`
    case 'conntrack':
      return m.legacyState ? ` --state${states(m.states)}` : `${m.neg ? ' !' : ''} --ctstate${states(m.states)}`
    case 'statistic':
      return ` --mode random${m.neg ? ' !' : ''} --probability ${formatProbability(m.probability)}`
    case 'addrtype': {
      let s = ''
      if (m.src) s += `${m.src.neg ? ' !' : ''} --src-type ${addrTypes(m.src.types)}`
      if (m.dst) s += `${m.dst.neg ? ' !' : ''} --dst-type ${addrTypes(m.dst.types)}`
      if (m.limitIn) s += ' --limit-iface-in'
      if (m.limitOut) s += ' --limit-iface-out'
      return s
    }
    case 'comment':
      return ` --comment${saveString(m.comment)}`
    case 'physdev':
      return physdevFlags(m.flags)
  }
}

function physdevFlags(flags: readonly { name: string; neg: boolean }[]): string {
  return flags.map((f) => `${f.neg ? ' !' : ''} --physdev-is-${f.name}`).join('')
}

function matchName(m: MatchSpec): string {
  return m.m === 'conntrack' && m.legacyState ? 'state' : m.m
}

function natRange(r: NatRange): string {
  let s = ''
  if (r.minIp !== 0 || r.maxIp !== 0) {
    s += formatIPv4(r.minIp)
    if (r.maxIp !== r.minIp) s += `-${formatIPv4(r.maxIp)}`
  }
  if (r.minPort >= 0) {
    s += `:${r.minPort}`
    if (r.maxPort !== r.minPort) s += `-${r.maxPort}`
  }
  return s
}

/** Name in the target column of `iptables -L`. */
export function targetName(t: TargetSpec | undefined): string {
  if (!t) return ''
  if (t.t === 'JUMP') return t.chain
  return t.t
}

/** Target text after the matches in `iptables -L`. */
export function printTarget(t: TargetSpec | undefined): string {
  if (!t) return ''
  switch (t.t) {
    case 'MARK': {
      const { value, mask } = t
      if (value === 0) return ` MARK and ${hex(~mask >>> 0)}`
      if (value === mask) return ` MARK or ${hex(value)}`
      if (mask === 0) return ` MARK xor ${hex(value)}`
      if (mask >>> 0 === 0xffffffff) return ` MARK set ${hex(value)}`
      return ` MARK xset ${hex(value)}/${hex(mask)}`
    }
    case 'DNAT':
    case 'SNAT': {
      let s = ` to:${natRange(t.range)}`
      if (t.random) s += ' random'
      if (t.t === 'SNAT' && t.randomFully) s += ' random-fully'
      if (t.persistent) s += ' persistent'
      return s
    }
    case 'MASQUERADE': {
      let s = t.minPort >= 0 ? ` masq ports: ${t.minPort}${t.maxPort !== t.minPort ? `-${t.maxPort}` : ''}` : ''
      if (t.random) s += ' random'
      if (t.randomFully) s += ' random-fully'
      return s
    }
    case 'REJECT':
      return ` reject-with ${t.with}`
    case 'LOG':
      return ` LOG flags 0 level ${t.level}${t.prefix ? ` prefix "${t.prefix}"` : ''}`
    case 'CT':
      return t.alias ? ' NOTRACK' : ' CT notrack'
    default:
      return ''
  }
}

/** Target part of an `iptables-save` line (` -j X ...` or ` -g CHAIN`). */
export function saveTarget(t: TargetSpec | undefined): string {
  if (!t) return ''
  switch (t.t) {
    case 'JUMP':
      return ` -${t.goto ? 'g' : 'j'} ${t.chain}`
    case 'MARK':
      return ` -j MARK --set-xmark ${hex(t.value)}/${hex(t.mask)}`
    case 'DNAT':
      return ` -j DNAT --to-destination ${natRange(t.range)}${t.random ? ' --random' : ''}${t.persistent ? ' --persistent' : ''}`
    case 'SNAT':
      return ` -j SNAT --to-source ${natRange(t.range)}${t.random ? ' --random' : ''}${t.randomFully ? ' --random-fully' : ''}${t.persistent ? ' --persistent' : ''}`
    case 'MASQUERADE': {
      let s = ' -j MASQUERADE'
      if (t.minPort >= 0) s += ` --to-ports ${t.minPort}${t.maxPort !== t.minPort ? `-${t.maxPort}` : ''}`
      if (t.random) s += ' --random'
      if (t.randomFully) s += ' --random-fully'
      return s
    }
    case 'REJECT':
      return ` -j REJECT --reject-with ${t.with}`
    case 'LOG':
      return ` -j LOG${t.prefix ? ` --log-prefix${saveString(t.prefix)}` : ''}${t.level !== 4 ? ` --log-level ${t.level}` : ''}`
    case 'CT':
      return t.alias ? ' -j NOTRACK' : ' -j CT --notrack'
    default:
      return ` -j ${t.t}`
  }
}

function saveAddr(letter: string, a: AddrSpec | undefined): string {
  if (!a || (a.prefix === 0 && !a.neg && a.ip === 0)) return ''
  return `${a.neg ? ' !' : ''} -${letter} ${formatIPv4(a.ip)}/${a.prefix}`
}

/** The rule as `iptables-save` writes it, without `-A CHAIN`. Also the rule's identity for -D/-C. */
export function saveRuleSpec(spec: RuleSpec): string {
  let s = saveAddr('s', spec.src) + saveAddr('d', spec.dst)
  for (const [l, f] of [
    ['i', spec.iif],
    ['o', spec.oif],
  ] as const) {
    if (f && f.name !== '' && (f.name !== '+' || f.neg)) s += `${f.neg ? ' !' : ''} -${l} ${f.name}`
  }
  if (spec.proto && spec.proto.num !== 0)
    s += `${spec.proto.neg ? ' !' : ''} -p ${protoName(spec.proto.num) ?? spec.proto.num}`
  for (const m of spec.matches) s += ` -m ${matchName(m)}${saveMatch(m)}`
  return s + saveTarget(spec.target)
}

export function saveRule(chain: string, r: PrintableRule, counters = false): string {
  return `${counters ? `[${r.pkts}:${r.bytes}] ` : ''}-A ${chain}${saveRuleSpec(r.spec)}`
}

function addrText(a: AddrSpec | undefined, numeric: boolean): string {
  if (!a || a.prefix === 0) return numeric ? '0.0.0.0/0' : 'anywhere'
  return a.prefix === 32 ? formatIPv4(a.ip) : `${formatIPv4(a.ip)}/${a.prefix}`
}

/** One rule line of `iptables -L` (no newline). */
export function listRule(r: PrintableRule, num: number, o: ListOptions): string {
  const numeric = o.numeric ?? false
  const spec = r.spec
  let s = ''
  if (o.lineNumbers) s += `${String(num).padEnd(4)} `
  if (o.verbose) s += formatCount(r.pkts, o.exact ?? false) + formatCount(r.bytes, o.exact ?? false)
  s += `${targetName(spec.target).padEnd(9)} `
  s += spec.proto?.neg ? '!' : ' '
  const pnum = spec.proto?.num ?? 0
  s += `${(protoName(pnum) ?? String(pnum)).padEnd(4)} `
  s += '-- '
  if (o.verbose) {
    const any = numeric ? '*' : 'any'
    const iif = spec.iif && spec.iif.name !== '' ? `${spec.iif.neg ? '!' : ''}${spec.iif.name}` : any
    const oif = spec.oif && spec.oif.name !== '' ? `${spec.oif.neg ? '!' : ''}${spec.oif.name}` : any
    s += ` ${iif.padEnd(6)} ${oif.padEnd(6)} `
  }
  s += spec.src?.neg ? '!' : ' '
  s += `${addrText(spec.src, numeric).padEnd(19)} `
  s += spec.dst?.neg ? '!' : ' '
  s += `${addrText(spec.dst, numeric).padEnd(19)} `
  if (spec.target?.t === 'JUMP' && spec.target.goto) s += '[goto] '
  for (const m of spec.matches) s += printMatch(m, numeric)
  s += printTarget(spec.target)
  return s
}

/** The `Chain X (...)` line and the column header. */
export function listHeader(c: PrintableChain, references: number, o: ListOptions): string {
  let s = `Chain ${c.name}`
  if (c.builtin) {
    s += ` (policy ${c.policy}`
    if (o.verbose)
      s += ` ${formatCount(c.pkts, o.exact ?? false, true)}packets, ${formatCount(c.bytes, o.exact ?? false, true)}bytes`
    s += ')\n'
  } else s += ` (${references} references)\n`
  if (o.lineNumbers) s += 'num  '
  if (o.verbose) s += o.exact ? `${'pkts'.padStart(8)} ${'bytes'.padStart(10)} ` : ' pkts bytes '
  s += `${'target'.padEnd(9)} `
  s += ' prot opt'
  if (o.verbose) s += ` ${'in'.padEnd(6)} ${'out'.padEnd(6)} `
  s += ` ${'source'.padEnd(19)} `
  s += ` ${'destination'.padEnd(19)} `
  return `${s}\n`
}

/** A whole chain block of `iptables -L` (header, column line, rules), ending in a newline. */
export function listChain(c: PrintableChain, references: number, o: ListOptions, ruleNum?: number): string {
  let s = ruleNum === undefined ? listHeader(c, references, o) : ''
  c.rules.forEach((r, i) => {
    if (ruleNum === undefined || ruleNum === i + 1) s += `${listRule(r, i + 1, o)}\n`
  })
  return s
}
