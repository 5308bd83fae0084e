/**
 * In-place NAT rewrites with incremental checksum updates (RFC 1624). The IPv4 header checksum
 * covers the addresses; TCP and UDP checksums cover them through the pseudo-header and the ports
 * directly. A zero UDP checksum means "none" and stays zero. For ICMP echo the identifier plays
 * the port's role (as conntrack uses it); ICMP's checksum has no pseudo-header.
 */
import { rd16, wr16, wr32 } from './bytes.ts'
import { csumReplace16, csumReplace32 } from './checksum.ts'
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from './constants.ts'
import type { PacketView } from './view.ts'

function l4CsumOffset(v: PacketView): number {
  if (!v.hasL4) return -1
  if (v.proto === IPPROTO_TCP) return v.l4off + 16
  if (v.proto === IPPROTO_UDP) return rd16(v.buf, v.l4off + 6) === 0 ? -1 : v.l4off + 6
  return -1
}

function setAddr(v: PacketView, at: number, old: number, ip: number): void {
  const b = v.buf
  const o = v.off
  wr32(b, o + at, ip)
  const ipc = csumReplace32(rd16(b, o + 10), old, ip)
  wr16(b, o + 10, ipc)
  v.ipCsum = ipc
  const co = l4CsumOffset(v)
  if (co >= 0) {
    let c = csumReplace32(rd16(b, co), old, ip)
    if (v.proto === IPPROTO_UDP && c === 0) c = 0xffff
    wr16(b, co, c)
    v.l4Csum = c
  }
}

function setPort(v: PacketView, at: number, old: number, port: number): void {
  const b = v.buf
  if (v.proto === IPPROTO_ICMP) {
    if (v.icmpType !== ICMP_ECHO_REQUEST && v.icmpType !== ICMP_ECHO_REPLY) return
    wr16(b, v.l4off + 4, port)
    const c = csumReplace16(rd16(b, v.l4off + 2), old, port)
    wr16(b, v.l4off + 2, c)
    v.l4Csum = c
    v.icmpId = port
    return
  }
  wr16(b, v.l4off + at, port)
  const co = l4CsumOffset(v)
  if (co >= 0) {
    let c = csumReplace16(rd16(b, co), old, port)
    if (v.proto === IPPROTO_UDP && c === 0) c = 0xffff
    wr16(b, co, c)
    v.l4Csum = c
  }
}

/** Rewrites the source address (and port when `port >= 0` and the packet has ports). */
export function rewriteSrc(v: PacketView, ip: number, port = -1): void {
  if (ip !== v.src) {
    setAddr(v, 12, v.src, ip)
    v.src = ip
  }
  if (port >= 0 && v.hasL4) {
    if (v.proto === IPPROTO_ICMP) {
      if (port !== v.icmpId) setPort(v, 0, v.icmpId, port)
    } else if ((v.proto === IPPROTO_TCP || v.proto === IPPROTO_UDP) && port !== v.sport) {
      setPort(v, 0, v.sport, port)
      v.sport = port
    }
  }
}

/** Rewrites the destination address (and port when `port >= 0` and the packet has ports). */
export function rewriteDst(v: PacketView, ip: number, port = -1): void {
  if (ip !== v.dst) {
    setAddr(v, 16, v.dst, ip)
    v.dst = ip
  }
  if (port >= 0 && v.hasL4) {
    if (v.proto === IPPROTO_ICMP) {
      if (port !== v.icmpId) setPort(v, 0, v.icmpId, port)
    } else if ((v.proto === IPPROTO_TCP || v.proto === IPPROTO_UDP) && port !== v.dport) {
      setPort(v, 2, v.dport, port)
      v.dport = port
    }
  }
}

/** Decrements the TTL in place with an incremental header-checksum update; returns the new TTL. */
export function decrementTtl(v: PacketView): number {
  const b = v.buf
  const o = v.off
  const oldWord = rd16(b, o + 8)
  const ttl = (b[o + 8]! - 1) & 0xff
  b[o + 8] = ttl
  const c = csumReplace16(rd16(b, o + 10), oldWord, rd16(b, o + 8))
  wr16(b, o + 10, c)
  v.ipCsum = c
  v.ttl = ttl
  return ttl
}
