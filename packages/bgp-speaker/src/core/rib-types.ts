/** The RIB's public shapes (see rib.ts). */
import type { PathAttributes } from './codec/attrs/types.ts'
import type { Prefix } from './codec/prefix.ts'

export const DEFAULT_LOCAL_PREF = 100

export interface RibConfig {
  localAs: number
  routerId: number
  /** Set when this speaker is a route reflector (Calico `routeReflectorClusterID`). */
  clusterId?: number
  /** Keep an ECMP set of equal paths (default true, as Calico's `merge paths on`). */
  multipath?: boolean
}

export interface PeerInfo {
  /** Stable key of the peer (its address as text, or name). */
  id: string
  address: number
  asn: number
  /** The peer's BGP identifier, from its OPEN. */
  routerId: number
  /** Our address on this session: the next hop we advertise as "self". */
  localAddress: number
  /** This peer is a route-reflector client of ours. */
  rrClient?: boolean
}

/**
 * A path: an attribute set and where it came from. Paths the RIB hands out are shared by every
 * prefix with the same source and attributes (read-only); `prefix` is only on routes built
 * elsewhere (tests, views).
 */
export interface Route {
  prefix?: Prefix
  attrs: PathAttributes
  /** undefined: originated by this speaker. */
  peer?: PeerInfo | undefined
}

export interface RouteChange {
  prefix: Prefix
  /** The selected route; undefined when the prefix is gone. */
  best?: Route
  /** ECMP set, best first (just `[best]` without multipath). Shared: do not modify. */
  paths: Route[]
}

export interface PeerOut {
  peerId: string
  withdraw: Prefix[]
  /** Announcements grouped by attribute set (one group packs into few UPDATEs). */
  announce: { attrs: PathAttributes; prefixes: Prefix[] }[]
}

export interface RibResult {
  /** Loc-RIB changes (built on first access). */
  readonly changes: RouteChange[]
  /** How many Loc-RIB changes there are (without building them). */
  readonly changed: number
  readonly out: PeerOut[]
  /** Routes refused on import (AS loop, own ORIGINATOR_ID, own cluster id). */
  readonly filtered: number
}
