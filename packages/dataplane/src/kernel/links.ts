/** Link and address records of one namespace (mutable internally, read-only through the API). */

import type { PacketFilter } from '../core/packet/index.ts'
import type { AddrInfo, AddrScope, LinkInfo, LinkKind, OperState, Tap } from './api.ts'
import type { TcProgram } from './tc.ts'
import type { WireguardDevice } from './wireguard.ts'

export interface TapEntry extends Tap {
  filter: PacketFilter | undefined
  direction: 'in' | 'out' | 'inout'
  onPacket: (pkt: Uint8Array, timeMs: number, dir: 'in' | 'out') => void
  n: number
}

export class Link implements LinkInfo {
  ifindex: number
  name: string
  kind: LinkKind
  up = false
  mtu: number
  mac: string
  peerIfindex?: number
  linkNetnsid?: number
  proxyArp = false
  vxlan?: { vni: number; local: number; port: number }
  /** wireguard: keys and peers (`wg set`); absent until configured. */
  wireguard?: WireguardDevice
  /** veth: the peer (namespace name + link name), resolved by the host at transmit. */
  peer: { ns: string; dev: string } | undefined = undefined
  taps: TapEntry[] = []
  /** tc programs (the eBPF dataplane); undefined: none attached. */
  tc: TcProgram | undefined = undefined
  /** The packet a program passed on, while it walks the stack again (its taps and the program skip it). */
  tcSkipIn: Uint8Array | undefined = undefined
  tcSkipOut: Uint8Array | undefined = undefined

  constructor(ifindex: number, name: string, kind: LinkKind, mtu: number, mac: string) {
    this.ifindex = ifindex
    this.name = name
    this.kind = kind
    this.mtu = mtu
    this.mac = mac
  }

  get operState(): OperState {
    if (this.kind === 'loopback' || this.kind === 'ipip' || this.kind === 'vxlan' || this.kind === 'wireguard')
      return this.up ? 'UNKNOWN' : 'DOWN'
    if (!this.up) return 'DOWN'
    return this.kind === 'veth' && this.peer === undefined ? 'LOWERLAYERDOWN' : 'UP'
  }
}

export class Addr implements AddrInfo {
  ifindex: number
  ip: number
  prefix: number
  scope: AddrScope
  label: string
  constructor(ifindex: number, ip: number, prefix: number, scope: AddrScope, label: string) {
    this.ifindex = ifindex
    this.ip = ip
    this.prefix = prefix
    this.scope = scope
    this.label = label
  }
}

export const DEFAULT_MTU: Record<LinkKind, number> = {
  loopback: 65536,
  ethernet: 1500,
  veth: 1500,
  ipip: 1480,
  vxlan: 1450,
  wireguard: 1440,
  dummy: 1500,
}
