/**
 * RIBs (RFC 4271 §3.2, §9; RFC 4456 route reflection). Pure: no I/O, no time. Adj-RIB-In per
 * peer, Loc-RIB with best-path selection and an ECMP set, Adj-RIB-Out per established peer.
 * Every map is keyed by `prefixKey` (a number), so 100k prefixes cost a few Map operations each.
 *
 * Best path, in order: locally originated; highest LOCAL_PREF (default 100); shortest AS_PATH;
 * lowest ORIGIN; lowest MED (same neighbour AS only); eBGP over iBGP; lowest router id
 * (ORIGINATOR_ID when present); shortest CLUSTER_LIST; lowest peer address. Paths equal down to
 * eBGP/iBGP form the ECMP set (BIRD `merge paths`).
 */
import { asPathContains, asPathLength, firstAs, prependAs } from './codec/attrs/as-path.ts'
import type { PathAttributes } from './codec/attrs/types.ts'
import { type Prefix, prefixFromKey, prefixKey } from './codec/prefix.ts'
import type { UpdateMessage } from './codec/update.ts'

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

export interface Route {
  prefix: Prefix
  attrs: PathAttributes
  /** undefined: originated by this speaker. */
  peer?: PeerInfo
}

export interface RouteChange {
  prefix: Prefix
  /** The selected route; undefined when the prefix is gone. */
  best?: Route
  /** ECMP set, best first (just `[best]` without multipath). */
  paths: Route[]
}

export interface PeerOut {
  peerId: string
  withdraw: Prefix[]
  /** Announcements grouped by attribute set (one group packs into few UPDATEs). */
  announce: { attrs: PathAttributes; prefixes: Prefix[] }[]
}

export interface RibResult {
  changes: RouteChange[]
  out: PeerOut[]
  /** Routes refused on import (AS loop, own ORIGINATOR_ID, own cluster id). */
  filtered: number
}

interface Entry {
  prefix: Prefix
  /** Candidates ordered by peer address (local first): selection is insertion-order independent. */
  candidates: Route[]
  best?: Route
  paths: Route[]
}

/** The (never mutated) ECMP set of an entry that has not been selected yet. */
const NO_PATHS: Route[] = []

function indexOfPeer(c: readonly Route[], peer: PeerInfo | undefined): number {
  for (let i = 0; i < c.length; i++) if ((c[i] as Route).peer === peer) return i
  return -1
}

const isIbgp = (cfg: RibConfig, p: PeerInfo | undefined) => p !== undefined && p.asn === cfg.localAs
const lp = (r: Route) => r.attrs.localPref ?? DEFAULT_LOCAL_PREF

/** Compares through the ECMP-relevant steps; < 0 when a is better. */
function compareEqualCost(cfg: RibConfig, a: Route, b: Route): number {
  if ((a.peer === undefined) !== (b.peer === undefined)) return a.peer === undefined ? -1 : 1
  if (lp(a) !== lp(b)) return lp(b) - lp(a)
  const la = asPathLength(a.attrs.asPath)
  const lb = asPathLength(b.attrs.asPath)
  if (la !== lb) return la - lb
  if (a.attrs.origin !== b.attrs.origin) return a.attrs.origin - b.attrs.origin
  const na = firstAs(a.attrs.asPath)
  if (na !== undefined && na === firstAs(b.attrs.asPath)) {
    const ma = a.attrs.med ?? 0
    const mb = b.attrs.med ?? 0
    if (ma !== mb) return ma - mb
  }
  const ia = isIbgp(cfg, a.peer)
  const ib = isIbgp(cfg, b.peer)
  if (ia !== ib) return ia ? 1 : -1
  return 0
}

export function compareRoutes(cfg: RibConfig, a: Route, b: Route): number {
  const c = compareEqualCost(cfg, a, b)
  if (c !== 0) return c
  const ra = (a.attrs.originatorId ?? a.peer?.routerId ?? cfg.routerId) >>> 0
  const rb = (b.attrs.originatorId ?? b.peer?.routerId ?? cfg.routerId) >>> 0
  if (ra !== rb) return ra - rb
  const ca = a.attrs.clusterList?.length ?? 0
  const cb = b.attrs.clusterList?.length ?? 0
  if (ca !== cb) return ca - cb
  return (a.peer?.address ?? 0) - (b.peer?.address ?? 0)
}

export class Rib {
  readonly cfg: RibConfig
  private readonly loc = new Map<number, Entry>()
  private readonly adjIn = new Map<string, Map<number, Route>>()
  private readonly adjOut = new Map<string, Map<number, PathAttributes>>()
  private readonly peers = new Map<string, PeerInfo>()
  /** Exported attribute sets per source attribute object and peer, so equal exports share identity. */
  private exportCache = new WeakMap<PathAttributes, Map<string, PathAttributes | null>>()

  constructor(cfg: RibConfig) {
    this.cfg = cfg
  }

  // --- Adj-RIB-In / Loc-RIB -------------------------------------------------------------------

  /** Applies an UPDATE from an established peer (RFC 7606 treat-as-withdraw included). */
  applyUpdate(peerId: string, u: UpdateMessage): RibResult {
    const peer = this.peers.get(peerId)
    if (!peer) return { changes: [], out: [], filtered: 0 }
    let adj = this.adjIn.get(peerId)
    if (!adj) {
      adj = new Map()
      this.adjIn.set(peerId, adj)
    }
    // A key may appear twice (withdrawn and announced, or repeated): reselect handles the second
    // visit as "unchanged", so a plain array gives the same result as a set, for less.
    const touched: number[] = []
    for (const p of u.withdrawn) this.removeCandidate(adj, peer, p, touched)
    let filtered = 0
    if (u.treatAsWithdraw || !u.attrs) {
      for (const p of u.nlri) this.removeCandidate(adj, peer, p, touched)
    } else {
      const attrs = this.importAttrs(peer, u.attrs)
      if (!attrs) {
        for (const p of u.nlri) {
          filtered++
          this.removeCandidate(adj, peer, p, touched)
        }
      } else {
        for (const p of u.nlri) {
          const r: Route = { prefix: p, attrs, peer }
          const k = prefixKey(p)
          adj.set(k, r)
          this.putCandidate(k, r)
          touched.push(k)
        }
      }
    }
    const res = this.reselect(touched)
    return { changes: res.changes, out: res.out, filtered }
  }

  /** Import policy: loop checks (RFC 4271 §9.1.2, RFC 4456 §8); LOCAL_PREF from eBGP is ignored. */
  private importAttrs(peer: PeerInfo, a: PathAttributes): PathAttributes | undefined {
    const ibgp = isIbgp(this.cfg, peer)
    if (!ibgp && asPathContains(a.asPath, this.cfg.localAs)) return undefined
    if (a.originatorId !== undefined && a.originatorId === this.cfg.routerId) return undefined
    if (this.cfg.clusterId !== undefined && a.clusterList?.includes(this.cfg.clusterId)) return undefined
    if (!ibgp && a.localPref !== undefined) {
      const { localPref: _drop, ...rest } = a
      return rest
    }
    return a
  }

  private removeCandidate(adj: Map<number, Route>, peer: PeerInfo, p: Prefix, touched: number[]): void {
    const k = prefixKey(p)
    if (!adj.delete(k)) return
    const e = this.loc.get(k)
    if (!e) return
    const i = indexOfPeer(e.candidates, peer)
    if (i >= 0) e.candidates.splice(i, 1)
    touched.push(k)
  }

  private putCandidate(k: number, r: Route): void {
    const e = this.loc.get(k)
    if (!e) {
      this.loc.set(k, { prefix: r.prefix, candidates: [r], paths: NO_PATHS })
      return
    }
    const c = e.candidates
    const i = indexOfPeer(c, r.peer)
    if (i >= 0) {
      c[i] = r
      return
    }
    const addr = r.peer ? r.peer.address + 1 : 0
    let at = c.length
    while (at > 0 && (c[at - 1]?.peer ? (c[at - 1]?.peer?.address ?? 0) + 1 : 0) > addr) at--
    c.splice(at, 0, r)
  }

  /** Re-runs selection for touched prefixes; returns Loc-RIB changes and what each peer must hear. */
  private reselect(touched: Iterable<number>): { changes: RouteChange[]; out: PeerOut[] } {
    const changes: RouteChange[] = []
    const changedKeys: number[] = []
    /** The entry of each changed key as the export will find it (undefined: deleted). */
    const changedEntries: (Entry | undefined)[] = []
    for (const k of touched) {
      const e = this.loc.get(k)
      if (!e) continue
      const c = e.candidates
      if (c.length === 1) {
        // One candidate (the common case): it is the best and the whole ECMP set.
        const only = c[0] as Route
        if (only === e.best && e.paths.length === 1 && e.paths[0] === only) continue
        e.best = only
        e.paths = [only]
        changes.push({ prefix: e.prefix, best: only, paths: e.paths })
        changedKeys.push(k)
        changedEntries.push(e)
        continue
      }
      let best: Route | undefined
      for (const r of c) if (!best || compareRoutes(this.cfg, r, best) < 0) best = r
      let paths: Route[] = []
      if (best) {
        paths = [best]
        if (this.cfg.multipath !== false) {
          const b = best
          for (const r of e.candidates) {
            if (
              r !== b &&
              compareEqualCost(this.cfg, r, b) === 0 &&
              !paths.some((x) => x.attrs.nextHop === r.attrs.nextHop)
            )
              paths.push(r)
          }
        }
      }
      const same = best === e.best && paths.length === e.paths.length && paths.every((r, i) => r === e.paths[i])
      if (same) continue
      if (best) {
        e.best = best
        e.paths = paths
        changes.push({ prefix: e.prefix, best, paths })
        changedEntries.push(e)
      } else {
        this.loc.delete(k)
        changes.push({ prefix: e.prefix, paths: [] })
        changedEntries.push(undefined)
      }
      changedKeys.push(k)
    }
    return { changes, out: this.exportKeys(changedKeys, [...this.adjOut.keys()], changedEntries) }
  }

  /** Originates prefixes from this speaker (exported to every peer); a batch shares one attribute set. */
  originate(prefix: Prefix | readonly Prefix[], attrs: Partial<PathAttributes> = {}): RibResult {
    const a: PathAttributes = { origin: 0, asPath: [], ...attrs }
    const keys: number[] = []
    for (const p of Array.isArray(prefix) ? prefix : [prefix as Prefix]) {
      const k = prefixKey(p)
      this.putCandidate(k, { prefix: p, attrs: a })
      keys.push(k)
    }
    return { ...this.reselect(keys), filtered: 0 }
  }

  withdrawLocal(prefix: Prefix): RibResult {
    const k = prefixKey(prefix)
    const e = this.loc.get(k)
    if (!e) return { changes: [], out: [], filtered: 0 }
    const i = e.candidates.findIndex((r) => r.peer === undefined)
    if (i < 0) return { changes: [], out: [], filtered: 0 }
    e.candidates.splice(i, 1)
    return { ...this.reselect([k]), filtered: 0 }
  }

  // --- peers --------------------------------------------------------------------------------

  /** A session reached Established: start its Adj-RIB-Out; the result holds the full table for it. */
  peerUp(peer: PeerInfo): RibResult {
    this.exportCache = new WeakMap()
    this.peers.set(peer.id, peer)
    this.adjIn.set(peer.id, new Map())
    this.adjOut.set(peer.id, new Map())
    return { changes: [], out: this.exportKeys([...this.loc.keys()], [peer.id]), filtered: 0 }
  }

  /** A session left Established: its routes leave the Loc-RIB. */
  peerDown(peerId: string): RibResult {
    const peer = this.peers.get(peerId)
    const adj = this.adjIn.get(peerId)
    this.adjOut.delete(peerId)
    this.adjIn.delete(peerId)
    this.peers.delete(peerId)
    if (!peer || !adj) return { changes: [], out: [], filtered: 0 }
    const touched: number[] = []
    for (const k of adj.keys()) {
      const e = this.loc.get(k)
      if (!e) continue
      const i = e.candidates.findIndex((r) => r.peer === peer)
      if (i >= 0) e.candidates.splice(i, 1)
      touched.push(k)
    }
    return { ...this.reselect(touched), filtered: 0 }
  }

  /** Route refresh: everything currently advertised to the peer, again. */
  refresh(peerId: string): PeerOut[] {
    const out = this.adjOut.get(peerId)
    if (!out) return []
    out.clear()
    return this.exportKeys([...this.loc.keys()], [peerId])
  }

  // --- Adj-RIB-Out --------------------------------------------------------------------------

  /** Export policy: split horizon, route reflection, eBGP transforms. null = not exported. */
  exportAttrs(r: Route, to: PeerInfo): PathAttributes | null {
    let perPeer = this.exportCache.get(r.attrs)
    if (!perPeer) {
      perPeer = new Map()
      this.exportCache.set(r.attrs, perPeer)
    }
    const cacheKey = r.peer ? `${to.id}\u0000${r.peer.id}` : to.id
    const hit = perPeer.get(cacheKey)
    if (hit !== undefined) return hit
    const v = this.computeExport(r, to)
    perPeer.set(cacheKey, v)
    return v
  }

  private computeExport(r: Route, to: PeerInfo): PathAttributes | null {
    const from = r.peer
    if (from && from.id === to.id) return null
    const toIbgp = isIbgp(this.cfg, to)
    const a = r.attrs
    if (!toIbgp) {
      // eBGP: prepend our AS, next hop self, drop LOCAL_PREF, RR attributes and a foreign MED.
      const { localPref: _lp, originatorId: _o, clusterList: _c, med, ...rest } = a
      const out: PathAttributes = { ...rest, asPath: prependAs(a.asPath, this.cfg.localAs), nextHop: to.localAddress }
      if (med !== undefined && from === undefined) out.med = med
      return out
    }
    const withLp = (x: PathAttributes): PathAttributes =>
      x.localPref === undefined ? { ...x, localPref: DEFAULT_LOCAL_PREF } : x
    if (!from) return withLp({ ...a, nextHop: a.nextHop ?? to.localAddress })
    if (!isIbgp(this.cfg, from)) return withLp(a.nextHop === undefined ? { ...a, nextHop: to.localAddress } : a)
    // iBGP -> iBGP: only a route reflector passes it on (RFC 4456 §6).
    const cluster = this.cfg.clusterId
    if (cluster === undefined) return null
    if (!from.rrClient && !to.rrClient) return null
    return withLp({
      ...a,
      originatorId: a.originatorId ?? from.routerId,
      clusterList: [cluster, ...(a.clusterList ?? [])],
    })
  }

  /** `entries[i]`, when given, is what `loc.get(keys[i])` returns (saves the lookup). */
  private exportKeys(
    keys: readonly number[],
    peerIds: readonly string[],
    entries?: readonly (Entry | undefined)[],
  ): PeerOut[] {
    const res: PeerOut[] = []
    for (const id of peerIds) {
      const peer = this.peers.get(id)
      const out = this.adjOut.get(id)
      if (!peer || !out) continue
      const withdraw: Prefix[] = []
      const groups = new Map<PathAttributes, Prefix[]>()
      // Runs of keys share the source attributes and peer (one UPDATE's NLRI): remember the last.
      let lastAttrs: PathAttributes | undefined
      let lastFrom: PeerInfo | undefined
      let lastWant: PathAttributes | null = null
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as number
        const e = entries ? entries[i] : this.loc.get(k)
        const b = e?.best
        let want: PathAttributes | null = null
        if (b) {
          if (b.attrs !== lastAttrs || b.peer !== lastFrom) {
            lastAttrs = b.attrs
            lastFrom = b.peer
            lastWant = this.exportAttrs(b, peer)
          }
          want = lastWant
        }
        if (want === null && out.size === 0) continue
        const have = out.get(k)
        if (want === null) {
          if (have !== undefined) {
            out.delete(k)
            withdraw.push(e?.prefix ?? prefixFromKey(k))
          }
          continue
        }
        if (have === want) continue
        out.set(k, want)
        let g = groups.get(want)
        if (!g) {
          g = []
          groups.set(want, g)
        }
        g.push((e as Entry).prefix)
      }
      if (withdraw.length > 0 || groups.size > 0) {
        res.push({ peerId: id, withdraw, announce: [...groups].map(([attrs, prefixes]) => ({ attrs, prefixes })) })
      }
    }
    return res
  }

  // --- views --------------------------------------------------------------------------------

  get size(): number {
    return this.loc.size
  }

  best(prefix: Prefix): Route | undefined {
    return this.loc.get(prefixKey(prefix))?.best
  }

  paths(prefix: Prefix): Route[] {
    return this.loc.get(prefixKey(prefix))?.paths ?? []
  }

  *routes(): Iterable<RouteChange> {
    for (const e of this.loc.values()) if (e.best) yield { prefix: e.prefix, best: e.best, paths: e.paths }
  }

  adjInCount(peerId: string): number {
    return this.adjIn.get(peerId)?.size ?? 0
  }

  adjOutCount(peerId: string): number {
    return this.adjOut.get(peerId)?.size ?? 0
  }

  /** Every candidate for a prefix (BIRD `show route all` lists them). */
  candidates(prefix: Prefix): readonly Route[] {
    return this.loc.get(prefixKey(prefix))?.candidates ?? []
  }
}
