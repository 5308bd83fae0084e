/** The packet a REJECT target sends back (ICMP error or TCP RST), built from the rejected packet. */
import {
  buildIcmpError,
  buildTcpResetFor,
  ICMP_DEST_UNREACH,
  IPPROTO_TCP,
  PacketView,
  parsePacket,
  TCP_RST,
} from '../packet/index.ts'
import type { RejectWith } from './types.ts'

const CODES: Record<Exclude<RejectWith, 'tcp-reset'>, number> = {
  'icmp-net-unreachable': 0,
  'icmp-host-unreachable': 1,
  'icmp-proto-unreachable': 2,
  'icmp-port-unreachable': 3,
  'icmp-net-prohibited': 9,
  'icmp-host-prohibited': 10,
  'icmp-admin-prohibited': 13,
}

/**
 * The response to `original` for REJECT --reject-with `w`, sent from `from` (the rejecting
 * host's address; defaults to the original destination as Linux does for locally-destined
 * packets). Undefined when the kernel would send nothing (unparseable packet, RST to a RST).
 */
export function rejectResponse(original: Uint8Array, w: RejectWith, from?: number): Uint8Array | undefined {
  const v = new PacketView()
  if (parsePacket(original, v) !== 'ok') return undefined
  if (w === 'tcp-reset') {
    if (v.proto !== IPPROTO_TCP || !v.hasL4 || v.tcpFlags & TCP_RST) return undefined
    return buildTcpResetFor(v)
  }
  return buildIcmpError({ src: from ?? v.dst, dst: v.src, type: ICMP_DEST_UNREACH, code: CODES[w], original })
}
