/**
 * Encapsulations Calico uses between nodes: IPIP (IPv4-in-IPv4, protocol 4) and VXLAN (RFC 7348:
 * outer IPv4 + UDP 4789 + 8-byte VXLAN header with the I flag and a 24-bit VNI + inner Ethernet).
 */

import { allocPacket } from './alloc.ts'
import { type IpFields, writeIPv4Header } from './build.ts'
import { rd16, rd32, wr16, wr32 } from './bytes.ts'
import { checksum, pseudoHeaderSum } from './checksum.ts'
import {
  CALICO_VXLAN_VNI,
  ETH_HEADER_LEN,
  ETHERTYPE_IPV4,
  IPPROTO_IPIP,
  IPPROTO_UDP,
  IPV4_HEADER_LEN,
  UDP_HEADER_LEN,
  VXLAN_FLAG_VNI,
  VXLAN_HEADER_LEN,
  VXLAN_PORT,
} from './constants.ts'

/** Wraps `inner` (a whole IPv4 packet) in an outer IPv4 header with protocol 4. */
export function encapIpip(outer: IpFields, inner: Uint8Array): Uint8Array {
  const total = IPV4_HEADER_LEN + inner.length
  const b = allocPacket(total)
  // The outer TTL defaults to the inner one as Linux's ipip does with `ttl inherit`.
  writeIPv4Header(
    b,
    0,
    { ...outer, ttl: outer.ttl ?? inner[8] ?? 64, tos: outer.tos ?? inner[1] ?? 0 },
    IPPROTO_IPIP,
    total,
  )
  b.set(inner, IPV4_HEADER_LEN)
  return b
}

/** The inner packet of an IPIP packet (a subarray, no copy); undefined when not IPIP. */
export function decapIpip(b: Uint8Array, off = 0): Uint8Array | undefined {
  if (b.length - off < IPV4_HEADER_LEN || b[off + 9] !== IPPROTO_IPIP) return undefined
  const ihl = (b[off]! & 0x0f) << 2
  const total = rd16(b, off + 2)
  if (total > b.length - off || total < ihl + IPV4_HEADER_LEN) return undefined
  return b.subarray(off + ihl, off + total)
}

/** Writes a 14-byte Ethernet header. */
export function writeEthernetHeader(
  b: Uint8Array,
  o: number,
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  etherType: number,
): void {
  b.set(dstMac.subarray(0, 6), o)
  b.set(srcMac.subarray(0, 6), o + 6)
  wr16(b, o + 12, etherType)
}

/** An Ethernet frame carrying `payload`. */
export function buildEthernet(
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  payload: Uint8Array,
  etherType = ETHERTYPE_IPV4,
): Uint8Array {
  const b = new Uint8Array(ETH_HEADER_LEN + payload.length)
  writeEthernetHeader(b, 0, dstMac, srcMac, etherType)
  b.set(payload, ETH_HEADER_LEN)
  return b
}

export interface VxlanFields extends IpFields {
  /** Outer UDP source port (Linux hashes the inner flow into 32768-61000 or the configured range). */
  sport: number
  dport?: number
  vni?: number
  /** MACs of the inner Ethernet frame (the vxlan.calico devices' addresses). */
  innerSrcMac: Uint8Array
  innerDstMac: Uint8Array
  /** Compute the outer UDP checksum (Linux VXLAN leaves it zero by default). */
  udpChecksum?: boolean
}

/** Wraps `inner` (an IPv4 packet) in Ethernet + VXLAN + UDP + IPv4. */
export function encapVxlan(f: VxlanFields, inner: Uint8Array): Uint8Array {
  const udpLen = UDP_HEADER_LEN + VXLAN_HEADER_LEN + ETH_HEADER_LEN + inner.length
  const total = IPV4_HEADER_LEN + udpLen
  const b = allocPacket(total)
  writeIPv4Header(b, 0, { ...f, df: f.df ?? false }, IPPROTO_UDP, total)
  const u = IPV4_HEADER_LEN
  wr16(b, u, f.sport)
  wr16(b, u + 2, f.dport ?? VXLAN_PORT)
  wr16(b, u + 4, udpLen)
  const v = u + UDP_HEADER_LEN
  b[v] = VXLAN_FLAG_VNI
  wr32(b, v + 4, ((f.vni ?? CALICO_VXLAN_VNI) & 0xffffff) << 8)
  const e = v + VXLAN_HEADER_LEN
  writeEthernetHeader(b, e, f.innerDstMac, f.innerSrcMac, ETHERTYPE_IPV4)
  b.set(inner, e + ETH_HEADER_LEN)
  if (f.udpChecksum) {
    const c = checksum(b, u, udpLen, pseudoHeaderSum(f.src, f.dst, IPPROTO_UDP, udpLen))
    wr16(b, u + 6, c === 0 ? 0xffff : c)
  }
  return b
}

export interface VxlanParsed {
  vni: number
  /** Offset of the inner Ethernet frame and of the inner IPv4 packet in the buffer. */
  ethOff: number
  innerOff: number
  innerLen: number
  etherType: number
}

/** Parses the VXLAN header of a UDP packet at b[off]; undefined when not VXLAN with the I flag. */
export function parseVxlan(b: Uint8Array, off = 0, port = VXLAN_PORT): VxlanParsed | undefined {
  if (b.length - off < IPV4_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN + ETH_HEADER_LEN) return undefined
  if (b[off + 9] !== IPPROTO_UDP) return undefined
  const ihl = (b[off]! & 0x0f) << 2
  const total = rd16(b, off + 2)
  const u = off + ihl
  if (rd16(b, u + 2) !== port) return undefined
  const v = u + UDP_HEADER_LEN
  if ((b[v]! & VXLAN_FLAG_VNI) === 0) return undefined
  const e = v + VXLAN_HEADER_LEN
  return {
    vni: rd32(b, v + 4) >>> 8,
    ethOff: e,
    innerOff: e + ETH_HEADER_LEN,
    innerLen: off + total - (e + ETH_HEADER_LEN),
    etherType: rd16(b, e + 12),
  }
}
