/** Checksum verification of a parsed packet. */
import { checksum, pseudoHeaderSum } from './checksum.ts'
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from './constants.ts'
import type { PacketView } from './view.ts'

export function ipChecksumOk(v: PacketView): boolean {
  return checksum(v.buf, v.off, v.ihl) === 0
}

/** L4 checksum check; true for protocols without one, non-first fragments and UDP checksum 0. */
export function l4ChecksumOk(v: PacketView): boolean {
  if (!v.hasL4) return true
  if (v.proto === IPPROTO_TCP)
    return checksum(v.buf, v.l4off, v.l4len, pseudoHeaderSum(v.src, v.dst, v.proto, v.l4len)) === 0
  if (v.proto === IPPROTO_UDP) {
    if (v.l4Csum === 0) return true
    return checksum(v.buf, v.l4off, v.l4len, pseudoHeaderSum(v.src, v.dst, v.proto, v.l4len)) === 0
  }
  if (v.proto === IPPROTO_ICMP) return checksum(v.buf, v.l4off, v.l4len) === 0
  return true
}

export function checksumsOk(v: PacketView): boolean {
  return ipChecksumOk(v) && l4ChecksumOk(v)
}
