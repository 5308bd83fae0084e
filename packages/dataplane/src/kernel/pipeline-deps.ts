/** The packet-layer pieces the pipeline uses, gathered in one import. */

export { tupleHash as tupleHashFlow } from '../core/conntrack/index.ts'
export {
  buildIcmpError,
  buildTimeExceeded,
  decapIpip,
  decrementTtl,
  encapIpip,
  encapVxlan,
  ICMP_DEST_UNREACH,
  ICMP_HOST_UNREACH,
  ICMP_NET_UNREACH,
  IPPROTO_IPIP,
  IPPROTO_UDP,
  isIcmpError,
  PacketView,
  parseMac,
  parsePacket,
  parseVxlan,
  rewriteDst,
  rewriteSrc,
} from '../core/packet/index.ts'
