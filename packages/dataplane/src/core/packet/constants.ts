/** Protocol numbers, header sizes and flag bits used by the packet layer. */
export const IPPROTO_ICMP = 1
export const IPPROTO_IPIP = 4
export const IPPROTO_TCP = 6
export const IPPROTO_UDP = 17

export const IPV4_HEADER_LEN = 20
export const TCP_HEADER_LEN = 20
export const UDP_HEADER_LEN = 8
export const ICMP_HEADER_LEN = 8
export const ETH_HEADER_LEN = 14
export const VXLAN_HEADER_LEN = 8
export const ETHERTYPE_IPV4 = 0x0800

/** Calico's VXLAN defaults. */
export const VXLAN_PORT = 4789
export const CALICO_VXLAN_VNI = 4096
export const VXLAN_FLAG_VNI = 0x08
/** Outer IPv4 + UDP + VXLAN + inner Ethernet. */
export const VXLAN_OVERHEAD = IPV4_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN + ETH_HEADER_LEN

export const TCP_FIN = 0x01
export const TCP_SYN = 0x02
export const TCP_RST = 0x04
export const TCP_PSH = 0x08
export const TCP_ACK = 0x10
export const TCP_URG = 0x20
export const TCP_ECE = 0x40
export const TCP_CWR = 0x80

export const IP_FLAG_DF = 0x4000
export const IP_FLAG_MF = 0x2000
export const IP_FRAG_OFFSET_MASK = 0x1fff

export const ICMP_ECHO_REPLY = 0
export const ICMP_DEST_UNREACH = 3
export const ICMP_ECHO_REQUEST = 8
export const ICMP_TIME_EXCEEDED = 11

/** Destination-unreachable codes. */
export const ICMP_NET_UNREACH = 0
export const ICMP_HOST_UNREACH = 1
export const ICMP_PROT_UNREACH = 2
export const ICMP_PORT_UNREACH = 3
export const ICMP_FRAG_NEEDED = 4
export const ICMP_NET_ANO = 9
export const ICMP_HOST_ANO = 10
export const ICMP_PKT_FILTERED = 13

export const DEFAULT_TTL = 64
