/** IPv4 CIDR math over uint32 numbers: parse, format, contain, overlap, carve, iterate. */

import { formatIPv4, NetParseError, prefixMask, tryParseIPv4 } from './ipv4.ts'

export interface Cidr {
  /** The address as written (may have host bits set unless parsed strict). */
  ip: number
  prefix: number
  /** ip with host bits cleared. */
  network: number
  /** Number of addresses: 2^(32-prefix). */
  size: number
}

export interface ParseCidrOptions {
  /** Reject host bits set (`198.19.0.1/24`). */
  strict?: boolean
}

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; error: NetParseError }

export function makeCidr(ip: number, prefix: number): Cidr {
  const network = (ip & prefixMask(prefix)) >>> 0
  return { ip: ip >>> 0, prefix, network, size: 2 ** (32 - prefix) }
}

/** Parses `a.b.c.d/n`; never throws. Error messages are field-error details. */
export function tryParseCidr(s: string, opts: ParseCidrOptions = {}): CidrResult {
  const slash = s.indexOf('/')
  if (slash < 0) return fail('NET_BAD_CIDR', s, 'must be a CIDR (address/prefix length)')
  const ip = tryParseIPv4(s.slice(0, slash))
  if (ip === undefined) return fail('NET_BAD_CIDR', s, 'invalid IPv4 address in CIDR')
  const p = s.slice(slash + 1)
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return fail('NET_BAD_PREFIX', s, 'prefix length must be 0-32')
  const prefix = Number(p)
  if (prefix > 32) return fail('NET_BAD_PREFIX', s, 'prefix length must be 0-32')
  const cidr = makeCidr(ip, prefix)
  if (opts.strict === true && cidr.network !== cidr.ip) {
    return fail('NET_HOST_BITS', s, `host bits must be zero (network is ${formatCidr(cidr)})`)
  }
  return { ok: true, cidr }
}

function fail(code: 'NET_BAD_CIDR' | 'NET_BAD_PREFIX' | 'NET_HOST_BITS', s: string, msg: string): CidrResult {
  return { ok: false, error: new NetParseError(code, s, msg) }
}

/** Parses a CIDR; throws NetParseError. */
export function parseCidr(s: string, opts: ParseCidrOptions = {}): Cidr {
  const r = tryParseCidr(s, opts)
  if (!r.ok) throw r.error
  return r.cidr
}

export function isValidCidr(s: string, opts: ParseCidrOptions = {}): boolean {
  return tryParseCidr(s, opts).ok
}

/** `network/prefix` (host bits cleared). */
export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.network)}/${c.prefix}`
}

function toCidr(x: Cidr | string): Cidr {
  return typeof x === 'string' ? parseCidr(x) : x
}

/** Last address of the range. */
export function cidrLast(c: Cidr): number {
  return c.network + c.size - 1
}

/** True when `inner` (an address, a dotted quad or a CIDR) lies inside `outer`. */
export function cidrContains(outer: Cidr | string, inner: Cidr | string | number): boolean {
  const o = toCidr(outer)
  if (typeof inner === 'number') return (inner & prefixMask(o.prefix)) >>> 0 === o.network
  if (typeof inner === 'string' && inner.indexOf('/') < 0) {
    const ip = tryParseIPv4(inner)
    if (ip === undefined) throw new NetParseError('NET_BAD_IP', inner, `invalid IPv4 address: ${JSON.stringify(inner)}`)
    return (ip & prefixMask(o.prefix)) >>> 0 === o.network
  }
  const i = toCidr(inner)
  return i.prefix >= o.prefix && (i.network & prefixMask(o.prefix)) >>> 0 === o.network
}

/** True when the two ranges share at least one address. */
export function cidrOverlaps(a: Cidr | string, b: Cidr | string): boolean {
  const x = toCidr(a)
  const y = toCidr(b)
  const p = Math.min(x.prefix, y.prefix)
  const m = prefixMask(p)
  return (x.network & m) >>> 0 === (y.network & m) >>> 0
}

/** The blocks of prefix `blockPrefix` that tile `cidr`, in address order. */
export function* carveBlocks(cidr: Cidr | string, blockPrefix: number): Iterable<Cidr> {
  const c = toCidr(cidr)
  if (!Number.isInteger(blockPrefix) || blockPrefix < c.prefix || blockPrefix > 32) {
    throw new NetParseError('NET_BAD_PREFIX', String(blockPrefix), `block prefix must be ${c.prefix}-32`)
  }
  const step = 2 ** (32 - blockPrefix)
  const end = c.network + c.size
  for (let n = c.network; n < end; n += step) {
    yield { ip: n, prefix: blockPrefix, network: n, size: step }
  }
}

/** Every address in the range, in order (network and broadcast included). */
export function* ipsInCidr(cidr: Cidr | string): Iterable<number> {
  const c = toCidr(cidr)
  const end = c.network + c.size
  for (let n = c.network; n < end; n++) yield n
}
