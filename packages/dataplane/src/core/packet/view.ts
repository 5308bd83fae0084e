/**
 * Zero-copy parsing into a reusable view. `parsePacket` fills numeric fields from an IPv4 packet
 * in place; callers keep one `PacketView` per worker and reuse it for every packet.
 */
import { rd16, rd32 } from './bytes.ts'
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  IP_FLAG_MF,
  IP_FRAG_OFFSET_MASK,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from './constants.ts'

/** Why a buffer is not a parseable IPv4 packet (returned, never thrown). */
export type ParseStatus = 'ok' | 'TRUNCATED' | 'BAD_VERSION' | 'BAD_IHL' | 'BAD_TOTAL_LENGTH' | 'L4_TRUNCATED'

export class PacketView {
  buf: Uint8Array = new Uint8Array(0)
  /** Offset of the IPv4 header in `buf`. */
  off = 0
  ihl = 20
  tos = 0
  totalLen = 0
  id = 0
  /** Flags and fragment offset word (DF 0x4000, MF 0x2000, offset 0x1fff in 8-byte units). */
  fragWord = 0
  ttl = 0
  proto = 0
  ipCsum = 0
  src = 0
  dst = 0
  /** Offset of the L4 header in `buf`; L4 fields are valid only when `hasL4`. */
  l4off = 0
  l4len = 0
  hasL4 = false
  sport = 0
  dport = 0
  seq = 0
  ack = 0
  tcpFlags = 0
  tcpHeaderLen = 0
  window = 0
  l4Csum = 0
  icmpType = -1
  icmpCode = -1
  /** ICMP echo identifier and sequence (0 for other ICMP types). */
  icmpId = 0
  icmpSeq = 0
  payloadOff = 0
  payloadLen = 0
}

/** Parses the IPv4 packet at buf[off..]; the view's fields are valid when the result is 'ok'. */
export function parsePacket(buf: Uint8Array, view: PacketView, off = 0): ParseStatus {
  const avail = buf.length - off
  if (avail < 20) return 'TRUNCATED'
  const vihl = buf[off]!
  if (vihl >> 4 !== 4) return 'BAD_VERSION'
  const ihl = (vihl & 0x0f) << 2
  if (ihl < 20) return 'BAD_IHL'
  const totalLen = rd16(buf, off + 2)
  if (totalLen < ihl || totalLen > avail) return 'BAD_TOTAL_LENGTH'
  view.buf = buf
  view.off = off
  view.ihl = ihl
  view.tos = buf[off + 1]!
  view.totalLen = totalLen
  view.id = rd16(buf, off + 4)
  const fw = rd16(buf, off + 6)
  view.fragWord = fw
  view.ttl = buf[off + 8]!
  const proto = buf[off + 9]!
  view.proto = proto
  view.ipCsum = rd16(buf, off + 10)
  view.src = rd32(buf, off + 12)
  view.dst = rd32(buf, off + 16)
  const l4 = off + ihl
  const l4len = totalLen - ihl
  view.l4off = l4
  view.l4len = l4len
  view.sport = 0
  view.dport = 0
  view.seq = 0
  view.ack = 0
  view.tcpFlags = 0
  view.tcpHeaderLen = 0
  view.window = 0
  view.l4Csum = 0
  view.icmpType = -1
  view.icmpCode = -1
  view.icmpId = 0
  view.icmpSeq = 0
  view.payloadOff = l4
  view.payloadLen = l4len
  // Non-first fragments carry no L4 header.
  if ((fw & IP_FRAG_OFFSET_MASK) !== 0) {
    view.hasL4 = false
    return 'ok'
  }
  view.hasL4 = true
  if (proto === IPPROTO_TCP) {
    if (l4len < 20) return fail(view)
    const doff = (buf[l4 + 12]! >> 4) << 2
    if (doff < 20 || doff > l4len) return fail(view)
    view.sport = rd16(buf, l4)
    view.dport = rd16(buf, l4 + 2)
    view.seq = rd32(buf, l4 + 4)
    view.ack = rd32(buf, l4 + 8)
    view.tcpHeaderLen = doff
    view.tcpFlags = buf[l4 + 13]!
    view.window = rd16(buf, l4 + 14)
    view.l4Csum = rd16(buf, l4 + 16)
    view.payloadOff = l4 + doff
    view.payloadLen = l4len - doff
  } else if (proto === IPPROTO_UDP) {
    if (l4len < 8) return fail(view)
    view.sport = rd16(buf, l4)
    view.dport = rd16(buf, l4 + 2)
    view.l4Csum = rd16(buf, l4 + 6)
    view.payloadOff = l4 + 8
    view.payloadLen = l4len - 8
  } else if (proto === IPPROTO_ICMP) {
    if (l4len < 8) return fail(view)
    const type = buf[l4]!
    view.icmpType = type
    view.icmpCode = buf[l4 + 1]!
    view.l4Csum = rd16(buf, l4 + 2)
    if (type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY) {
      view.icmpId = rd16(buf, l4 + 4)
      view.icmpSeq = rd16(buf, l4 + 6)
    }
    view.payloadOff = l4 + 8
    view.payloadLen = l4len - 8
  } else {
    view.hasL4 = false
  }
  return 'ok'
}

function fail(view: PacketView): ParseStatus {
  view.hasL4 = false
  return 'L4_TRUNCATED'
}

/** True when the packet is a fragment other than the first one, or has more fragments. */
export function isFragment(view: PacketView): boolean {
  return (view.fragWord & (IP_FLAG_MF | IP_FRAG_OFFSET_MASK)) !== 0
}

/** True for ICMP errors that quote another packet (destination unreachable, time exceeded). */
export function isIcmpError(view: PacketView): boolean {
  return view.proto === IPPROTO_ICMP && (view.icmpType === ICMP_DEST_UNREACH || view.icmpType === ICMP_TIME_EXCEEDED)
}
