/** What the views need to know about one BGP protocol (a peer), built from `speaker.status()`. */
import type { PeerStatus } from '../io/speaker.ts'

export interface ViewPeer {
  /** BIRD protocol name (`Mesh_198_19_0_3`, `Global_198_19_15_254`, `Node1`). */
  name: string
  protoState: 'up' | 'start' | 'down'
  /** FSM state name (Idle, Connect, Active, OpenSent, OpenConfirm, Established). */
  state: string
  since: number
  lastError?: string
  passive?: boolean
  /** Emulated neighbor address (not the loopback endpoint). */
  address?: string
  asNumber?: number
  localAs?: number
  peerRouterId?: string
  sourceAddress?: string
  description?: string
  holdTime?: number
  keepaliveTime?: number
  importFilter?: string
  exportFilter?: string
  routes?: { imported: number; exported: number; preferred: number }
}

/** BIRD's `bgp_state_dsc`: "Passive" for a passive peer waiting, "Down" when stopped. */
export function bgpStateText(p: ViewPeer): string {
  if (p.protoState === 'down') return 'Down'
  if (p.passive === true && (p.state === 'Active' || p.state === 'Idle')) return 'Passive'
  return p.state
}

/** The Info column: the state padded to 14 then the last error (BIRD `%-14s%s`). */
export function bgpInfo(p: ViewPeer): string {
  if (p.state === 'Established') return 'Established'
  const err = p.lastError ?? ''
  if (p.protoState === 'down') return err
  return err === '' ? bgpStateText(p) : `${bgpStateText(p).padEnd(14)}${err}`
}

export interface ViewPeerExtra {
  /** Emulated address of a peer, from its real endpoint. */
  addressOf?: (endpoint: string) => string | undefined
  passive?: (name: string) => boolean
  localAs?: number
  sourceAddress?: string
  description?: (name: string) => string | undefined
  importFilter?: string
  exportFilter?: string
  preferred?: (name: string) => number
}

export function viewPeersFromStatus(st: readonly PeerStatus[], x: ViewPeerExtra = {}): ViewPeer[] {
  return st.map((s) => {
    const v: ViewPeer = {
      name: s.name,
      protoState: s.protoState,
      state: s.state,
      since: s.since,
      address: x.addressOf?.(s.address) ?? s.address,
      asNumber: s.asNumber,
      holdTime: s.holdTime,
      keepaliveTime: s.keepaliveTime,
      routes: { imported: s.routesImported, exported: s.routesExported, preferred: x.preferred?.(s.name) ?? 0 },
    }
    if (s.lastError !== undefined) v.lastError = s.lastError
    if (s.peerRouterId !== undefined) v.peerRouterId = s.peerRouterId
    if (x.passive?.(s.name) === true) v.passive = true
    if (x.localAs !== undefined) v.localAs = x.localAs
    if (x.sourceAddress !== undefined) v.sourceAddress = x.sourceAddress
    const d = x.description?.(s.name)
    if (d !== undefined) v.description = d
    if (x.importFilter !== undefined) v.importFilter = x.importFilter
    if (x.exportFilter !== undefined) v.exportFilter = x.exportFilter
    return v
  })
}
