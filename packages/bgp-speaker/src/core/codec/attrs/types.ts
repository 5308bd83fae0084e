/** Path attribute type codes, flags and the decoded attribute set (RFC 4271 §5, RFC 1997, RFC 4456, RFC 6793). */

export const ATTR = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
} as const

export const FLAG = { OPTIONAL: 0x80, TRANSITIVE: 0x40, PARTIAL: 0x20, EXTENDED_LENGTH: 0x10 } as const

export const ORIGIN = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const

export const SEG = { AS_SET: 1, AS_SEQUENCE: 2, AS_CONFED_SEQUENCE: 3, AS_CONFED_SET: 4 } as const

export interface AsPathSegment {
  type: number
  asns: number[]
}

/** An attribute this speaker does not interpret but passes on (optional transitive). */
export interface RawAttribute {
  flags: number
  type: number
  value: Uint8Array
}

export interface PathAttributes {
  origin: number
  asPath: AsPathSegment[]
  nextHop?: number
  med?: number
  localPref?: number
  atomicAggregate?: boolean
  aggregator?: { asn: number; addr: number }
  communities?: number[]
  originatorId?: number
  clusterList?: number[]
  unknown?: RawAttribute[]
}

/** Codec context negotiated per session. */
export interface CodecContext {
  /** Both sides sent the 4-byte AS capability: AS_PATH and AGGREGATOR carry 4-byte ASes. */
  as4: boolean
}
