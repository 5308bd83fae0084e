/**
 * Internet checksum (RFC 1071) and its incremental update (RFC 1624). All values are plain
 * numbers; nothing allocates.
 */

/** Adds the 16-bit big-endian words of buf[off, off+len) to `acc` (unfolded 32-bit-ish sum). */
export function sum16(buf: Uint8Array, off: number, len: number, acc = 0): number {
  const end = off + (len & ~1)
  let i = off
  for (; i < end; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!
  if (len & 1) acc += buf[end]! << 8
  return acc
}

/** Folds a sum to 16 bits (not complemented). */
export function fold16(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000)
  return acc
}

/** The checksum field value for buf[off, off+len) with `acc` already holding any pseudo-header. */
export function checksum(buf: Uint8Array, off: number, len: number, acc = 0): number {
  return ~fold16(sum16(buf, off, len, acc)) & 0xffff
}

/** Sum of the TCP/UDP pseudo-header (src, dst, zero, protocol, L4 length). */
export function pseudoHeaderSum(src: number, dst: number, proto: number, l4len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + l4len
}

/** RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word changing from `old` to `nw`. */
export function csumReplace16(csum: number, old: number, nw: number): number {
  let s = (~csum & 0xffff) + (~old & 0xffff) + (nw & 0xffff)
  s = (s & 0xffff) + (s >>> 16)
  s = (s & 0xffff) + (s >>> 16)
  return ~s & 0xffff
}

/** Same for a 32-bit value (an IPv4 address) changing from `old` to `nw`. */
export function csumReplace32(csum: number, old: number, nw: number): number {
  let s = (~csum & 0xffff) + (~(old >>> 16) & 0xffff) + (~old & 0xffff) + (nw >>> 16) + (nw & 0xffff)
  s = (s & 0xffff) + (s >>> 16)
  s = (s & 0xffff) + (s >>> 16)
  return ~s & 0xffff
}
