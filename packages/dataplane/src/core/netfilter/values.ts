/** Value parsers for iptables arguments: protocols, addresses, ports, marks, states, NAT ranges. */
import { prefixMask, tryParseIPv4 } from '@calilab/model'
import { NetfilterError } from './errors.ts'
import {
  ADDRTYPE_NAMES,
  type AddrSpec,
  CT_STATE_NAMES,
  type NatRange,
  type PortRange,
  type RejectWith,
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
export const REJECT_ALIASES: Record<string, RejectWith> = {
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

export function bad(msg: string): NetfilterError {
  return new NetfilterError('NF_BAD_ARGUMENT', msg)
}

export function parseAddr(s: string, neg: boolean): AddrSpec {
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

export function parsePort(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) > 65535) throw bad(`invalid port/service \`${s}' specified`)
  return Number(s)
}

/** `80`, `1000:2000`, `:2000`, `1000:` */
export function parsePortRange(s: string): PortRange {
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

export function parseMultiport(s: string): PortRange[] {
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

export function parseU32(s: string, what: string): number {
  const n = Number(s)
  if (s === '' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw bad(`Bad ${what} value \`${s}'`)
  return n >>> 0
}

/** `V` or `V/M` (mask defaults to 0xffffffff). */
export function parseMarkMask(s: string): { value: number; mask: number; hasMask: boolean } {
  const i = s.indexOf('/')
  if (i < 0) return { value: parseU32(s, 'mark'), mask: 0xffffffff, hasMask: false }
  return { value: parseU32(s.slice(0, i), 'mark'), mask: parseU32(s.slice(i + 1), 'mark'), hasMask: true }
}

export function parseStates(s: string): number {
  let bits = 0
  for (const name of s.split(',')) {
    const e = CT_STATE_NAMES.find(([, n]) => n === name.toUpperCase())
    if (!e) throw bad(`Bad ctstate "${name}"`)
    bits |= e[0]
  }
  return bits
}

export function parseAddrTypes(s: string): number {
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
