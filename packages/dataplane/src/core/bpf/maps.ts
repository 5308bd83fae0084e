/**
 * The eBPF dataplane's maps as Calico v3.21 lays them out (felix/bpf/nat, conntrack, routes), kept
 * as plain in-memory tables: `cali_v4_nat_fe` (frontends), `cali_v4_nat_be` (backends by
 * frontend id and ordinal), `cali_v4_routes` (here /32 entries only) and `cali_v4_ct`
 * (conntrack: NAT_FWD / NAT_REV pairs). Pure: time comes in as arguments.
 */

/** `cali_v4_nat_fe` flags (HEAD names): the service has externalTrafficPolicy Local. */
export const NAT_FLG_EXTERNAL_LOCAL = 0x1
/** Frontend address matching any local IP for a NodePort (`255.255.255.255:NodePort`). */
export const NAT_WILDCARD = 0xffffffff

/** `cali_v4_routes` flags. */
export const RT_IN_POOL = 0x01
export const RT_NAT_OUT = 0x02
export const RT_WORKLOAD = 0x04
export const RT_LOCAL = 0x08
export const RT_HOST = 0x10

/** `cali_v4_ct` entry flags. */
export const CT_FLAG_NAT_OUT = 0x01
export const CT_FLAG_DSR_FWD = 0x02
export const CT_FLAG_NP_FWD = 0x04
export const CT_FLAG_SKIP_FIB = 0x08
export const CT_FLAG_EXT_LOCAL = 0x40

/** The VNI Calico's NodePort forwarding tunnel uses (even in clusters without VXLAN pools). */
export const BPF_NODEPORT_VNI = 0xca11c0

export interface NatFrontend {
  id: number
  /** Backends at ordinals [0, count). */
  count: number
  /** How many of them are on this node. */
  localCount: number
  affinityTimeout: number
  flags: number
}

export interface NatBackend {
  addr: number
  port: number
}

export interface RouteValue {
  flags: number
  /** The node the address lives on (its node IP); 0 for this node. */
  nextHop: number
}

export type BpfCtType = 'NORMAL' | 'NAT_FWD' | 'NAT_REV'

export interface BpfCtEntry {
  type: BpfCtType
  created: number
  lastSeen: number
  flags: number
  proto: number
  /** The connection's opener and where it was going (the frontend for NAT entries). */
  clientIp: number
  clientPort: number
  origIp: number
  origPort: number
  /** The backend the frontend was translated to. */
  backendIp: number
  backendPort: number
  /** NAT_REV: the node that tunnelled the connection here (0: none). NAT_FWD + NP_FWD: the backend's node. */
  tunIp: number
  /** NAT_FWD: the key of its NAT_REV twin. */
  revKey: string
  /** FIN or RST seen: the entry ages out quickly and a new SYN replaces it. */
  closing: boolean
}

export function feKey(addr: number, port: number, proto: number): string {
  return `${addr >>> 0}:${port}:${proto}`
}

export function beKey(id: number, ordinal: number): string {
  return `${id}:${ordinal}`
}

/** Conntrack key: the two ends in a fixed order, so both directions find the same entry. */
export function ctKey(proto: number, a: number, pa: number, b: number, pb: number): string {
  a >>>= 0
  b >>>= 0
  if (a < b || (a === b && pa <= pb)) return `${proto} ${a}:${pa} ${b}:${pb}`
  return `${proto} ${b}:${pb} ${a}:${pa}`
}

/** Conntrack lifetimes (ms), Felix's defaults. */
export const BPF_CT_TIMEOUTS = {
  tcpSynSent: 20_000,
  tcpEstablished: 3_600_000,
  tcpClosing: 40_000,
  udp: 60_000,
  generic: 600_000,
} as const

export class BpfMaps {
  readonly natFe = new Map<string, NatFrontend>()
  readonly natBe = new Map<string, NatBackend>()
  readonly routes = new Map<number, RouteValue>()
  readonly ct = new Map<string, BpfCtEntry>()

  /** Replaces the NAT maps with a new desired state (Felix's map syncer, in one go). */
  setNat(fe: ReadonlyMap<string, NatFrontend>, be: ReadonlyMap<string, NatBackend>): void {
    for (const k of this.natFe.keys()) if (!fe.has(k)) this.natFe.delete(k)
    for (const [k, v] of fe) this.natFe.set(k, v)
    for (const k of this.natBe.keys()) if (!be.has(k)) this.natBe.delete(k)
    for (const [k, v] of be) this.natBe.set(k, v)
  }

  setRoutes(routes: ReadonlyMap<number, RouteValue>): void {
    for (const k of this.routes.keys()) if (!routes.has(k)) this.routes.delete(k)
    for (const [k, v] of routes) this.routes.set(k, v)
  }

  /** The frontend for (addr, port, proto); the NodePort wildcard when `anyLocal` and none is exact. */
  lookupFrontend(addr: number, port: number, proto: number, anyLocal: boolean): NatFrontend | undefined {
    const fe = this.natFe.get(feKey(addr, port, proto))
    if (fe !== undefined || !anyLocal) return fe
    return this.natFe.get(feKey(NAT_WILDCARD, port, proto))
  }

  backend(id: number, ordinal: number): NatBackend | undefined {
    return this.natBe.get(beKey(id, ordinal))
  }

  isLocalWorkload(ip: number): boolean {
    const r = this.routes.get(ip >>> 0)
    return r !== undefined && (r.flags & RT_LOCAL) !== 0
  }

  /** Drops conntrack entries idle past their lifetime; returns how many went. */
  gc(now: number): number {
    let n = 0
    for (const [k, e] of this.ct) {
      const idle = now - e.lastSeen
      const ttl = e.closing
        ? BPF_CT_TIMEOUTS.tcpClosing
        : e.proto === 6
          ? BPF_CT_TIMEOUTS.tcpEstablished
          : e.proto === 17
            ? BPF_CT_TIMEOUTS.udp
            : BPF_CT_TIMEOUTS.generic
      if (idle > ttl) {
        this.ct.delete(k)
        n++
      }
    }
    return n
  }

  clear(): void {
    this.natFe.clear()
    this.natBe.clear()
    this.routes.clear()
    this.ct.clear()
  }
}
