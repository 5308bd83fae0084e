/**
 * IPv4 addresses as unsigned 32-bit numbers. Parsing is strict dotted-quad (no leading zeros,
 * no shorthand), the form Go's net.ParseIP accepts and Kubernetes/Calico print.
 */

export type NetErrorCode = 'NET_BAD_IP' | 'NET_BAD_CIDR' | 'NET_BAD_PREFIX' | 'NET_HOST_BITS'

/** A typed parse failure; `message` is what a field error's detail says. */
export class NetParseError extends Error {
  readonly code: NetErrorCode
  readonly input: string
  constructor(code: NetErrorCode, input: string, message: string) {
    super(message)
    this.name = 'NetParseError'
    this.code = code
    this.input = input
  }
}

const CHAR_0 = 48
const CHAR_9 = 57
const CHAR_DOT = 46

/** Parses a dotted quad; undefined when it is not one. */
export function tryParseIPv4(s: string): number | undefined {
  const len = s.length
  if (len < 7 || len > 15) return undefined
  let result = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c >= CHAR_0 && c <= CHAR_9) {
      if (digits > 0 && octet === 0) return undefined // leading zero
      octet = octet * 10 + (c - CHAR_0)
      digits++
      if (octet > 255 || digits > 3) return undefined
    } else if (c === CHAR_DOT) {
      if (digits === 0 || dots === 3) return undefined
      result = result * 256 + octet
      octet = 0
      digits = 0
      dots++
    } else {
      return undefined
    }
  }
  if (digits === 0 || dots !== 3) return undefined
  return result * 256 + octet
}

/** Parses a dotted quad to a uint32; throws NetParseError (code NET_BAD_IP) otherwise. */
export function parseIPv4(s: string): number {
  const n = tryParseIPv4(s)
  if (n === undefined) throw new NetParseError('NET_BAD_IP', s, `invalid IPv4 address: ${JSON.stringify(s)}`)
  return n
}

export function isValidIPv4(s: string): boolean {
  return tryParseIPv4(s) !== undefined
}

/** Formats a uint32 as a dotted quad. */
export function formatIPv4(n: number): string {
  const u = n >>> 0
  return `${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`
}

/** Numeric order of two addresses (negative, zero, positive). */
export function ipCompare(a: number, b: number): number {
  return (a >>> 0) - (b >>> 0)
}

/** Netmask for a prefix length 0..32 as a uint32. */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}
