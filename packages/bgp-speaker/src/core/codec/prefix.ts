/** IPv4 NLRI prefixes (RFC 4271 §4.3): length byte + minimal address bytes. */

export interface Prefix {
  /** Network address as uint32, host bits clear. */
  addr: number
  len: number
}

/** Keys at or above this are the long form; below it the short form. */
const LONG_KEYS = 2 ** 29

/**
 * Map key for a prefix: unique for (addr, len), a plain number (fast Map keys). Prefixes up to /24
 * with the last octet clear (nearly all routes) get a small integer, `(addr >>> 8) * 32 + len`
 * (< 2^29), which V8 keeps unboxed (a Smi) and hashes much faster than a heap number; anything
 * else gets `2^29 + addr * 64 + len`. Both forms are one-to-one and never overlap.
 */
export function prefixKey(p: Prefix): number {
  return p.len <= 24 && (p.addr & 0xff) === 0 ? (p.addr >>> 8) * 32 + p.len : LONG_KEYS + p.addr * 64 + p.len
}

export function prefixFromKey(k: number): Prefix {
  if (k < LONG_KEYS) return { addr: (k >>> 5) * 256, len: k & 31 }
  const v = k - LONG_KEYS
  return { addr: Math.floor(v / 64), len: v % 64 }
}

export function formatPrefix(p: Prefix): string {
  return `${p.addr >>> 24}.${(p.addr >>> 16) & 255}.${(p.addr >>> 8) & 255}.${p.addr & 255}/${p.len}`
}

export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
}

export function writePrefixes(out: number[], ps: readonly Prefix[]): void {
  for (const p of ps) {
    out.push(p.len)
    const n = (p.len + 7) >> 3
    for (let i = 0; i < n; i++) out.push((p.addr >>> (24 - 8 * i)) & 0xff)
  }
}

export function encodedPrefixLength(p: Prefix): number {
  return 1 + ((p.len + 7) >> 3)
}

/**
 * Reads prefixes filling `b` exactly; undefined when a length exceeds 32 or runs past the end.
 * Host bits beyond the prefix length are cleared (RFC 4271 allows them to be anything).
 */
export function readPrefixes(b: Uint8Array): Prefix[] | undefined {
  const out: Prefix[] = []
  let at = 0
  while (at < b.length) {
    const len = b[at++] ?? 0
    if (len > 32) return undefined
    const n = (len + 7) >> 3
    if (at + n > b.length) return undefined
    let addr = 0
    for (let i = 0; i < 4; i++) addr = (addr << 8) | (i < n ? (b[at + i] ?? 0) : 0)
    out.push({ addr: (addr & maskOf(len)) >>> 0, len })
    at += n
  }
  return out
}
