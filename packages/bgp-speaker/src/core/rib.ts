/**
 * RIBs (RFC 4271 §3.2, §9; RFC 4456 route reflection). Pure: no I/O, no time. Adj-RIB-In per
 * peer, Loc-RIB with best-path selection and an ECMP set, Adj-RIB-Out per established peer.
 *
 * Shaped for full-table ingest (100k prefixes in ~100 UPDATEs of ~1,000 prefixes that share one
 * attribute set): every map is keyed by `prefixKey` (a number, a V8 small integer for prefixes up
 * to /24), and a path (attribute set + source peer) is one shared object: the Adj-RIB-In maps a
 * prefix to its path, the Loc-RIB maps a prefix with one candidate straight to that path (no
 * object per prefix at all) and only a prefix with several candidates gets an entry of its own.
 * Best-path selection runs only for prefixes whose candidate set changed; Loc-RIB changes are
 * kept as (key, value) arrays and turned into `RouteChange` objects only when someone asks.
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
import type { KeyedUpdate } from './codec/update-keys.ts'

import {
  DEFAULT_LOCAL_PREF,
  type PeerInfo,
  type PeerOut,
  type RibConfig,
  type RibResult,
  type Route,
  type RouteChange,
} from './rib-types.ts'

export {
  DEFAULT_LOCAL_PREF,
  type PeerInfo,
  type PeerOut,
  type RibConfig,
  type RibResult,
  type Route,
  type RouteChange,
} from './rib-types.ts'

/** A shared path; `solo` is its one-element ECMP set, shared too. */
class Path implements Route {
  readonly attrs: PathAttributes
  readonly peer: PeerInfo | undefined
  readonly solo: Path[]
  /** Candidate order: local first, then by peer address. */
  readonly order: number
  constructor(attrs: PathAttributes, peer: PeerInfo | undefined) {
    this.attrs = attrs
    this.peer = peer
    this.solo = [this]
    this.order = peer ? peer.address + 1 : 0
  }
}

/** A prefix with two or more candidates. */
class Entry {
  /** Ordered by `Path.order`: selection is insertion-order independent. */
  candidates: Path[]
  best: Path | undefined
  paths: Path[]
  constructor(candidates: Path[], best: Path) {
    this.candidates = candidates
    this.best = best
    this.paths = best.solo
  }
}

/** What an entry selected at the time of a change (entries change later; a change must not). */
class Snap {
  readonly best: Path | undefined
  readonly paths: Path[]
  constructor(e: Entry) {
    this.best = e.best
    this.paths = e.paths
  }
}

type LocValue = Path | Entry
/** A change: the new single path, an entry's selection, or undefined (the prefix is gone). */
type Changed = Path | Snap | undefined

interface PeerState {
  info: PeerInfo
  /** Size of its Adj-RIB-In (the paths themselves are the Loc-RIB's candidates). */
  count: number
  /** Adj-RIB-Out: prefix key -> exported attributes. */
  out: Map<number, PathAttributes>
  /** Received attribute set -> its path after import policy (null: refused). */
  paths: WeakMap<PathAttributes, Path | null>
  lastIn: PathAttributes | undefined
  lastPath: Path | null
}

class Result implements RibResult {
  readonly out: PeerOut[]
  readonly filtered: number
  readonly keys: readonly number[]
  /** Key i's change; empty when every key has the same change, `uniform`. */
  readonly vals: readonly Changed[]
  /** The change of every key (new prefixes of one UPDATE all get its path). */
  readonly uniform: Path | undefined
  private list: RouteChange[] | undefined
  constructor(keys: readonly number[], vals: readonly Changed[], out: PeerOut[], filtered: number, uniform?: Path) {
    this.keys = keys
    this.vals = vals
    this.out = out
    this.filtered = filtered
    this.uniform = uniform
  }
  get changed(): number {
    return this.keys.length
  }
  get changes(): RouteChange[] {
    if (this.list) return this.list
    const list: RouteChange[] = new Array(this.keys.length)
    const u = this.uniform
    for (let i = 0; i < this.keys.length; i++) {
      const prefix = prefixFromKey(this.keys[i] as number)
      const v = u ?? this.vals[i]
      if (v === undefined) list[i] = { prefix, paths: [] }
      else if (v instanceof Path) list[i] = { prefix, best: v, paths: v.solo }
      else list[i] = v.best ? { prefix, best: v.best, paths: v.paths } : { prefix, paths: [] }
    }
    this.list = list
    return list
  }
}

const EMPTY = new Result([], [], [], 0)

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
  /**
   * Loc-RIB, holding every candidate (so it is the Adj-RIBs-In too: a peer's path for a prefix is
   * the candidate from that peer): a prefix with one candidate maps to its (shared) path, with
   * more to an Entry. One map operation or two per announced prefix.
   */
  private readonly loc = new Map<number, LocValue>()
  private readonly peers = new Map<string, PeerState>()
  /** Exported attribute sets per source attribute object and peer, so equal exports share identity. */
  private exportCache = new WeakMap<PathAttributes, Map<string, PathAttributes | null>>()
  /** Changes of the operation in progress. */
  private ck: number[] = []
  private cv: Changed[] = []

  constructor(cfg: RibConfig) {
    this.cfg = cfg
  }

  // --- Adj-RIB-In / Loc-RIB -------------------------------------------------------------------

  /**
   * Applies an UPDATE from an established peer (RFC 7606 treat-as-withdraw included): the
   * decoded form (`UpdateMessage`) or the receive path's keyed form (`KeyedUpdate`).
   */
  applyUpdate(peerId: string, u: UpdateMessage | KeyedUpdate): RibResult {
    const st = this.peers.get(peerId)
    if (!st) return EMPTY
    const keyed = 'keyed' in u
    const wk = keyed ? u.withdrawnKeys : u.withdrawn.map(prefixKey)
    const nk = keyed ? u.nlriKeys : u.nlri.map(prefixKey)
    const from = st.info
    let n = 0
    for (let i = 0; i < wk.length; i++) n -= this.withdrawKey(from, wk[i] as number)
    let filtered = 0
    const path = u.treatAsWithdraw || !u.attrs ? undefined : this.pathFor(st, u.attrs)
    if (path) {
      // Full-table ingest: prefixes nobody announced yet, in one tight loop.
      let i = this.insertNew(path, nk)
      n += i
      if (i === nk.length && this.ck.length === 0) {
        st.count += n
        return i === 0
          ? EMPTY
          : new Result(nk, [], this.exportKeys(nk, [...this.peers.keys()], undefined, path), 0, path)
      }
      for (let j = 0; j < i; j++) this.push(nk[j] as number, path)
      for (; i < nk.length; i++) n += this.announce(path, nk[i] as number)
    } else {
      if (!u.treatAsWithdraw && u.attrs) filtered = nk.length
      for (let i = 0; i < nk.length; i++) n -= this.withdrawKey(from, nk[i] as number)
    }
    st.count += n
    return this.finish(filtered)
  }

  /**
   * Makes `path` the only candidate of keys[0], keys[1], ... while they have none; returns how many
   * (the first key with a candidate, or a repeated one, ends it). The caller records the changes.
   */
  private insertNew(path: Path, keys: readonly number[]): number {
    const loc = this.loc
    let i = 0
    for (; i < keys.length; i++) {
      const k = keys[i] as number
      if (loc.has(k)) break
      loc.set(k, path)
    }
    return i
  }

  /** The shared path for a received attribute set (import policy applied once per set). */
  private pathFor(st: PeerState, a: PathAttributes): Path | undefined {
    if (st.lastIn === a) return st.lastPath ?? undefined
    let p = st.paths.get(a)
    if (p === undefined) {
      const imported = this.importAttrs(st.info, a)
      p = imported ? new Path(imported, st.info) : null
      st.paths.set(a, p)
    }
    st.lastIn = a
    st.lastPath = p
    return p ?? undefined
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

  private push(k: number, v: Changed): void {
    this.ck.push(k)
    this.cv.push(v)
  }

  private finish(filtered: number): Result {
    const keys = this.ck
    const vals = this.cv
    if (keys.length === 0) return filtered === 0 ? EMPTY : new Result(keys, vals, [], filtered)
    this.ck = []
    this.cv = []
    return new Result(keys, vals, this.exportKeys(keys, [...this.peers.keys()], vals), filtered)
  }

  /** `path` becomes its source's candidate for `k`; returns 1 when the source had none before. */
  private announce(path: Path, k: number): number {
    const cur = this.loc.get(k)
    if (cur === undefined) {
      // The common case: the first candidate.
      this.loc.set(k, path)
      this.push(k, path)
      return 1
    }
    const from = path.peer
    if (cur instanceof Path) {
      if (cur === path) return 0
      if (cur.peer === from) {
        this.loc.set(k, path)
        this.push(k, path)
        return 0
      }
      // A second source: the prefix gets an entry.
      const e = new Entry(cur.order <= path.order ? [cur, path] : [path, cur], cur)
      this.loc.set(k, e)
      if (this.select(e)) this.push(k, new Snap(e))
      return 1
    }
    const c = cur.candidates
    let i = 0
    while (i < c.length && (c[i] as Path).peer !== from) i++
    let added = 0
    if (i < c.length) {
      if (c[i] === path) return 0
      c[i] = path
    } else {
      let at = c.length
      while (at > 0 && (c[at - 1] as Path).order > path.order) at--
      c.splice(at, 0, path)
      added = 1
    }
    if (this.select(cur)) this.push(k, new Snap(cur))
    return added
  }

  /** Removes the candidate of `from` (undefined: local) for `k`; returns 1 when there was one. */
  private withdrawKey(from: PeerInfo | undefined, k: number): number {
    const cur = this.loc.get(k)
    if (cur === undefined) return 0
    if (cur instanceof Path) {
      if (cur.peer !== from) return 0
      this.loc.delete(k)
      this.push(k, undefined)
      return 1
    }
    const c = cur.candidates
    let i = 0
    while (i < c.length && (c[i] as Path).peer !== from) i++
    if (i === c.length) return 0
    c.splice(i, 1)
    if (c.length === 1) {
      const only = c[0] as Path
      this.loc.set(k, only)
      if (cur.best !== only || cur.paths.length !== 1) this.push(k, only)
      return 1
    }
    if (this.select(cur)) this.push(k, new Snap(cur))
    return 1
  }

  /** Best path and ECMP set of an entry; true when they changed. */
  private select(e: Entry): boolean {
    const c = e.candidates
    let best = c[0] as Path
    for (let i = 1; i < c.length; i++) if (compareRoutes(this.cfg, c[i] as Path, best) < 0) best = c[i] as Path
    let paths = best.solo
    if (this.cfg.multipath !== false) {
      for (const r of c) {
        if (r === best || compareEqualCost(this.cfg, r, best) !== 0) continue
        if (paths.some((x) => x.attrs.nextHop === r.attrs.nextHop)) continue
        if (paths === best.solo) paths = [best, r]
        else paths.push(r)
      }
    }
    const same =
      best === e.best &&
      paths.length === e.paths.length &&
      (paths === e.paths || paths.every((r, i) => r === e.paths[i]))
    e.best = best
    if (!same) e.paths = paths
    return !same
  }

  /** Originates prefixes from this speaker (exported to every peer); a batch shares one attribute set. */
  originate(prefix: Prefix | readonly Prefix[], attrs: Partial<PathAttributes> = {}): RibResult {
    const path = new Path({ origin: 0, asPath: [], ...attrs }, undefined)
    for (const p of Array.isArray(prefix) ? prefix : [prefix as Prefix]) this.announce(path, prefixKey(p))
    return this.finish(0)
  }

  withdrawLocal(prefix: Prefix): RibResult {
    this.withdrawKey(undefined, prefixKey(prefix))
    return this.finish(0)
  }

  // --- peers --------------------------------------------------------------------------------

  /** A session reached Established: start its Adj-RIB-Out; the result holds the full table for it. */
  peerUp(peer: PeerInfo): RibResult {
    this.exportCache = new WeakMap()
    // Up again without going down first: its old routes go now.
    const gone = this.peers.has(peer.id) ? this.peerDown(peer.id) : undefined
    this.peers.set(peer.id, {
      info: peer,
      count: 0,
      out: new Map(),
      paths: new WeakMap(),
      lastIn: undefined,
      lastPath: null,
    })
    const table = this.exportKeys([...this.loc.keys()], [peer.id])
    if (!gone) return new Result([], [], table, 0)
    return new Result(gone.keys, gone.vals, [...gone.out, ...table], 0, gone.uniform)
  }

  /** A session left Established: its routes leave the Loc-RIB. */
  peerDown(peerId: string): Result {
    const st = this.peers.get(peerId)
    if (!st) return EMPTY
    this.peers.delete(peerId)
    // Its paths are Loc-RIB candidates: one pass over the table (deleting while iterating a Map
    // is safe; an entry that collapses to one path is overwritten in place).
    if (st.count > 0) for (const k of this.loc.keys()) this.withdrawKey(st.info, k)
    return this.finish(0)
  }

  /** Route refresh: everything currently advertised to the peer, again. */
  refresh(peerId: string): PeerOut[] {
    const st = this.peers.get(peerId)
    if (!st) return []
    st.out.clear()
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

  /**
   * What each of `peerIds` must hear about `keys`; `vals[i]`, when given, is key i's change, and
   * `uniform`, when given, every key's.
   */
  private exportKeys(
    keys: readonly number[],
    peerIds: readonly string[],
    vals?: readonly Changed[],
    uniform?: Path,
  ): PeerOut[] {
    const res: PeerOut[] = []
    for (const id of peerIds) {
      const st = this.peers.get(id)
      if (!st) continue
      const out = st.out
      const peer = st.info
      // Nothing to send and nothing to take back (split horizon, iBGP without reflection).
      if (uniform && out.size === 0 && this.exportAttrs(uniform, peer) === null) continue
      const withdraw: Prefix[] = []
      const groups = new Map<PathAttributes, Prefix[]>()
      // Runs of keys share the source path (one UPDATE's NLRI): remember the last.
      let lastPath: Route | undefined
      let lastWant: PathAttributes | null = null
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as number
        const v = uniform ?? (vals ? vals[i] : this.loc.get(k))
        const b = v === undefined ? undefined : v instanceof Path ? v : v.best
        let want: PathAttributes | null = null
        if (b) {
          if (b !== lastPath) {
            lastPath = b
            lastWant = this.exportAttrs(b, peer)
          }
          want = lastWant
        }
        if (want === null && out.size === 0) continue
        const have = out.get(k)
        if (want === null) {
          if (have !== undefined) {
            out.delete(k)
            withdraw.push(prefixFromKey(k))
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
        g.push(prefixFromKey(k))
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
    const v = this.loc.get(prefixKey(prefix))
    return v instanceof Path ? v : v?.best
  }

  paths(prefix: Prefix): Route[] {
    const v = this.loc.get(prefixKey(prefix))
    return v === undefined ? [] : v instanceof Path ? v.solo : v.paths
  }

  *routes(): Iterable<RouteChange> {
    for (const [k, v] of this.loc) {
      if (v instanceof Path) yield { prefix: prefixFromKey(k), best: v, paths: v.solo }
      else if (v.best) yield { prefix: prefixFromKey(k), best: v.best, paths: v.paths }
    }
  }

  adjInCount(peerId: string): number {
    return this.peers.get(peerId)?.count ?? 0
  }

  adjOutCount(peerId: string): number {
    return this.peers.get(peerId)?.out.size ?? 0
  }

  /** Every candidate for a prefix (BIRD `show route all` lists them). */
  candidates(prefix: Prefix): readonly Route[] {
    const v = this.loc.get(prefixKey(prefix))
    return v === undefined ? [] : v instanceof Path ? v.solo : v.candidates
  }
}
