/**
 * Packet builders: each returns a fresh Uint8Array holding one complete IPv4 packet with valid
 * header, TCP/UDP (pseudo-header) and ICMP checksums.
 */
import { allocPacket } from './alloc.ts'
import { wr16, wr32 } from './bytes.ts'
import { checksum, pseudoHeaderSum } from './checksum.ts'
import {
  DEFAULT_TTL,
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_TIME_EXCEEDED,
  IP_FLAG_DF,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_HEADER_LEN,
  TCP_ACK,
  TCP_FIN,
  TCP_HEADER_LEN,
  TCP_RST,
  TCP_SYN,
  UDP_HEADER_LEN,
} from './constants.ts'
import type { PacketView } from './view.ts'

export interface IpFields {
  src: number
  dst: number
  ttl?: number
  id?: number
  tos?: number
  /** Don't Fragment (default true, as Linux sets for TCP and most UDP). */
  df?: boolean
}

const EMPTY = new Uint8Array(0)

/** Writes a 20-byte IPv4 header at b[o] and its checksum. */
export function writeIPv4Header(b: Uint8Array, o: number, f: IpFields, proto: number, totalLen: number): void {
  b[o] = 0x45
  b[o + 1] = f.tos ?? 0
  wr16(b, o + 2, totalLen)
  wr16(b, o + 4, f.id ?? 0)
  wr16(b, o + 6, f.df === false ? 0 : IP_FLAG_DF)
  b[o + 8] = f.ttl ?? DEFAULT_TTL
  b[o + 9] = proto
  wr16(b, o + 10, 0)
  wr32(b, o + 12, f.src)
  wr32(b, o + 16, f.dst)
  wr16(b, o + 10, checksum(b, o, IPV4_HEADER_LEN))
}

/** Recomputes the IPv4 header checksum of the packet at b[o]. */
export function fixIPv4Checksum(b: Uint8Array, o = 0): void {
  const ihl = (b[o]! & 0x0f) << 2
  wr16(b, o + 10, 0)
  wr16(b, o + 10, checksum(b, o, ihl))
}

/** Recomputes the TCP or UDP checksum of the packet at b[o] (pseudo-header included). */
export function fixL4Checksum(b: Uint8Array, o = 0): void {
  const ihl = (b[o]! & 0x0f) << 2
  const total = (b[o + 2]! << 8) | b[o + 3]!
  const proto = b[o + 9]!
  const l4 = o + ihl
  const l4len = total - ihl
  const src = ((b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!) >>> 0
  const dst = ((b[o + 16]! << 24) | (b[o + 17]! << 16) | (b[o + 18]! << 8) | b[o + 19]!) >>> 0
  if (proto === IPPROTO_TCP) {
    wr16(b, l4 + 16, 0)
    wr16(b, l4 + 16, checksum(b, l4, l4len, pseudoHeaderSum(src, dst, proto, l4len)))
  } else if (proto === IPPROTO_UDP) {
    wr16(b, l4 + 6, 0)
    const c = checksum(b, l4, l4len, pseudoHeaderSum(src, dst, proto, l4len))
    wr16(b, l4 + 6, c === 0 ? 0xffff : c)
  } else if (proto === IPPROTO_ICMP) {
    wr16(b, l4 + 2, 0)
    wr16(b, l4 + 2, checksum(b, l4, l4len))
  }
}

export interface TcpFields extends IpFields {
  sport: number
  dport: number
  seq?: number
  ack?: number
  /** TCP_SYN | TCP_ACK ... */
  flags: number
  window?: number
  urgent?: number
  /** Raw option bytes (padded to a multiple of 4 by the builder). */
  options?: Uint8Array
  payload?: Uint8Array
}

export function buildTcp(f: TcpFields): Uint8Array {
  const opts = f.options ?? EMPTY
  const optLen = (opts.length + 3) & ~3
  const payload = f.payload ?? EMPTY
  const thl = TCP_HEADER_LEN + optLen
  const total = IPV4_HEADER_LEN + thl + payload.length
  const b = allocPacket(total)
  writeIPv4Header(b, 0, f, IPPROTO_TCP, total)
  const t = IPV4_HEADER_LEN
  wr16(b, t, f.sport)
  wr16(b, t + 2, f.dport)
  wr32(b, t + 4, f.seq ?? 0)
  wr32(b, t + 8, f.ack ?? 0)
  b[t + 12] = (thl >> 2) << 4
  b[t + 13] = f.flags & 0xff
  wr16(b, t + 14, f.window ?? 64240)
  wr16(b, t + 18, f.urgent ?? 0)
  b.set(opts, t + TCP_HEADER_LEN)
  b.set(payload, t + thl)
  wr16(b, t + 16, checksum(b, t, total - t, pseudoHeaderSum(f.src, f.dst, IPPROTO_TCP, total - t)))
  return b
}

export interface UdpFields extends IpFields {
  sport: number
  dport: number
  payload?: Uint8Array
  /** Leave the UDP checksum zero (allowed over IPv4; what Linux VXLAN sends by default). */
  noChecksum?: boolean
}

export function buildUdp(f: UdpFields): Uint8Array {
  const payload = f.payload ?? EMPTY
  const ulen = UDP_HEADER_LEN + payload.length
  const total = IPV4_HEADER_LEN + ulen
  const b = allocPacket(total)
  writeIPv4Header(b, 0, f, IPPROTO_UDP, total)
  const u = IPV4_HEADER_LEN
  wr16(b, u, f.sport)
  wr16(b, u + 2, f.dport)
  wr16(b, u + 4, ulen)
  b.set(payload, u + UDP_HEADER_LEN)
  if (!f.noChecksum) {
    const c = checksum(b, u, ulen, pseudoHeaderSum(f.src, f.dst, IPPROTO_UDP, ulen))
    wr16(b, u + 6, c === 0 ? 0xffff : c)
  }
  return b
}

export interface IcmpEchoFields extends IpFields {
  /** 'request' (type 8) or 'reply' (type 0). */
  kind: 'request' | 'reply'
  icmpId: number
  icmpSeq: number
  payload?: Uint8Array
}

export function buildIcmpEcho(f: IcmpEchoFields): Uint8Array {
  const payload = f.payload ?? EMPTY
  const ilen = ICMP_HEADER_LEN + payload.length
  const total = IPV4_HEADER_LEN + ilen
  const b = allocPacket(total)
  writeIPv4Header(b, 0, f, IPPROTO_ICMP, total)
  const i = IPV4_HEADER_LEN
  b[i] = f.kind === 'request' ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY
  b[i + 1] = 0
  wr16(b, i + 4, f.icmpId)
  wr16(b, i + 6, f.icmpSeq)
  b.set(payload, i + ICMP_HEADER_LEN)
  wr16(b, i + 2, checksum(b, i, ilen))
  return b
}

export interface IcmpErrorFields extends IpFields {
  /** ICMP_DEST_UNREACH (3) or ICMP_TIME_EXCEEDED (11). */
  type: number
  code: number
  /** The offending packet: its IP header and first 8 bytes of payload are quoted (RFC 792). */
  original: Uint8Array
  /** Next-hop MTU for fragmentation-needed (type 3 code 4). */
  mtu?: number
}

export function buildIcmpError(f: IcmpErrorFields): Uint8Array {
  const o = f.original
  const ihl = o.length > 0 ? (o[0]! & 0x0f) << 2 : 0
  const quoteLen = Math.min(o.length, ihl + 8)
  const ilen = ICMP_HEADER_LEN + quoteLen
  const total = IPV4_HEADER_LEN + ilen
  const b = allocPacket(total)
  // ICMP errors are sent without DF by Linux.
  writeIPv4Header(b, 0, { ...f, df: f.df ?? false }, IPPROTO_ICMP, total)
  const i = IPV4_HEADER_LEN
  b[i] = f.type
  b[i + 1] = f.code
  if (f.type === ICMP_DEST_UNREACH && f.mtu !== undefined) wr16(b, i + 6, f.mtu)
  b.set(o.subarray(0, quoteLen), i + ICMP_HEADER_LEN)
  wr16(b, i + 2, checksum(b, i, ilen))
  return b
}

/** An ICMP time-exceeded-in-transit for `original`, sent from `src`. */
export function buildTimeExceeded(src: number, original: Uint8Array): Uint8Array {
  const origSrc = ((original[12]! << 24) | (original[13]! << 16) | (original[14]! << 8) | original[15]!) >>> 0
  return buildIcmpError({ src, dst: origSrc, type: ICMP_TIME_EXCEEDED, code: 0, original })
}

/**
 * The RST that answers the TCP segment in `v` (RFC 793 reset generation): to an ACK, seq = its
 * ack; otherwise ACK of everything the segment occupied (payload, SYN, FIN). Never send one in
 * answer to a RST.
 */
export function buildTcpResetFor(v: PacketView): Uint8Array {
  const hasAck = (v.tcpFlags & TCP_ACK) !== 0
  const synFin = (v.tcpFlags & TCP_SYN ? 1 : 0) + (v.tcpFlags & TCP_FIN ? 1 : 0)
  return buildTcp({
    src: v.dst,
    dst: v.src,
    sport: v.dport,
    dport: v.sport,
    seq: hasAck ? v.ack : 0,
    ack: hasAck ? 0 : (v.seq + v.payloadLen + synFin) >>> 0,
    flags: hasAck ? TCP_RST : TCP_RST | TCP_ACK,
    window: 0,
  })
}
