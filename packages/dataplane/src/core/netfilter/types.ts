/**
 * The iptables model: rule specs as parsed from iptables syntax (kept for printing) and the
 * packet metadata rules are evaluated against.
 */

export type TableName = 'raw' | 'mangle' | 'nat' | 'filter'
export const TABLE_NAMES: readonly TableName[] = ['raw', 'mangle', 'nat', 'filter']
export type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING'

/** Built-in chains per table, in the order iptables lists them. */
export const BUILTIN_CHAINS: Record<TableName, readonly Hook[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
}

export type Policy = 'ACCEPT' | 'DROP'

/** Connection-tracking state bits, for `-m conntrack --ctstate` and NfPacket.ctstate. */
export const CT_INVALID = 1
export const CT_NEW = 2
export const CT_RELATED = 4
export const CT_ESTABLISHED = 8
export const CT_UNTRACKED = 16
export const CT_SNAT = 32
export const CT_DNAT = 64
/** Print order of `iptables -L` (INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT). */
export const CT_STATE_NAMES: readonly [number, string][] = [
  [CT_INVALID, 'INVALID'],
  [CT_NEW, 'NEW'],
  [CT_RELATED, 'RELATED'],
  [CT_ESTABLISHED, 'ESTABLISHED'],
  [CT_UNTRACKED, 'UNTRACKED'],
  [CT_SNAT, 'SNAT'],
  [CT_DNAT, 'DNAT'],
]

/** What a rule sees of a packet. `mark` is mutated by MARK targets. */
export interface NfPacket {
  src: number
  dst: number
  proto: number
  /** Ports for TCP/UDP (0 otherwise). */
  sport: number
  dport: number
  /** -1 when not ICMP. */
  icmpType: number
  icmpCode: number
  tcpFlags: number
  /** Bytes counted by rule counters (the IP total length). */
  len: number
  /** Input / output interface names; '' when none (e.g. no input in OUTPUT). */
  iif: string
  oif: string
  mark: number
  /** CT_* bits. */
  ctstate: number
}

export function emptyPacket(): NfPacket {
  return {
    src: 0,
    dst: 0,
    proto: 0,
    sport: 0,
    dport: 0,
    icmpType: -1,
    icmpCode: -1,
    tcpFlags: 0,
    len: 0,
    iif: '',
    oif: '',
    mark: 0,
    ctstate: CT_NEW,
  }
}

export interface AddrSpec {
  /** Network address (host bits cleared) and prefix. */
  ip: number
  prefix: number
  neg: boolean
}

export interface IfaceSpec {
  name: string
  neg: boolean
}

export interface ProtoSpec {
  num: number
  neg: boolean
}

export interface PortRange {
  min: number
  max: number
}

export type MatchSpec =
  | {
      m: 'tcp'
      sport?: PortRange & { neg: boolean }
      dport?: PortRange & { neg: boolean }
      flags?: { mask: number; cmp: number; neg: boolean }
    }
  | { m: 'udp'; sport?: PortRange & { neg: boolean }; dport?: PortRange & { neg: boolean } }
  | { m: 'icmp'; type: number; codeMin: number; codeMax: number; neg: boolean }
  | { m: 'multiport'; dir: 'sports' | 'dports' | 'ports'; ranges: PortRange[]; neg: boolean }
  | { m: 'set'; name: string; dirs: ('src' | 'dst')[]; neg: boolean }
  | { m: 'mark'; value: number; mask: number; neg: boolean }
  | { m: 'conntrack'; states: number; neg: boolean /** written as `-m state --state` */; legacyState?: boolean }
  | { m: 'statistic' /** Kernel fixed point: round(p * 2^31). */; probability: number; neg: boolean }
  | {
      m: 'addrtype'
      src?: { types: number; neg: boolean }
      dst?: { types: number; neg: boolean }
      limitIn: boolean
      limitOut: boolean
    }
  | { m: 'comment'; comment: string }
  /** Bridge-port tests. The emulation has no bridges, so each test is false. */
  | { m: 'physdev'; flags: { name: 'in' | 'out' | 'bridged'; neg: boolean }[] }

export type RejectWith =
  | 'icmp-net-unreachable'
  | 'icmp-host-unreachable'
  | 'icmp-proto-unreachable'
  | 'icmp-port-unreachable'
  | 'icmp-net-prohibited'
  | 'icmp-host-prohibited'
  | 'tcp-reset'
  | 'icmp-admin-prohibited'

export interface NatRange {
  /** Address range (0/0 when only ports are given). */
  minIp: number
  maxIp: number
  /** Port range; -1 when none. */
  minPort: number
  maxPort: number
}

export type TargetSpec =
  | { t: 'ACCEPT' }
  | { t: 'DROP' }
  | { t: 'RETURN' }
  | { t: 'REJECT'; with: RejectWith }
  | { t: 'JUMP'; chain: string; goto: boolean }
  | { t: 'MARK'; value: number; mask: number }
  | { t: 'DNAT'; range: NatRange; random: boolean; persistent: boolean }
  | { t: 'SNAT'; range: NatRange; random: boolean; randomFully: boolean; persistent: boolean }
  | { t: 'MASQUERADE'; minPort: number; maxPort: number; random: boolean; randomFully: boolean }
  | { t: 'LOG'; prefix: string; level: number }
  | { t: 'CT'; notrack: true; alias: boolean }

export interface RuleSpec {
  src?: AddrSpec
  dst?: AddrSpec
  iif?: IfaceSpec
  oif?: IfaceSpec
  proto?: ProtoSpec
  matches: MatchSpec[]
  target?: TargetSpec
}

/** Address-type bits, indexed as the kernel's RTN_* (print order). */
export const ADDRTYPE_NAMES = [
  'UNSPEC',
  'UNICAST',
  'LOCAL',
  'BROADCAST',
  'ANYCAST',
  'MULTICAST',
  'BLACKHOLE',
  'UNREACHABLE',
  'PROHIBIT',
  'THROW',
  'NAT',
  'XRESOLVE',
] as const
export const ADDRTYPE_LOCAL = 1 << 2
