/**
 * Routing tables of one namespace: per-table, per-prefix-length maps (longest-prefix match probes
 * only the lengths present), lowest metric wins, ECMP nexthop chosen by flow hash. Also the
 * netlink-like RouteApi with change events, and `ip route` line formatting.
 */
import { formatIPv4, prefixMask } from '@calilab/model'
import type { PacketView } from '../core/packet/index.ts'
import type {
  PolicyRule,
  Route,
  RouteApi,
  RouteEvent,
  RouteFilter,
  RouteLookup,
  RouteNexthop,
  RouteProto,
  RouteResult,
  RouteScope,
  RouteSpec,
  RouteTable,
} from './api.ts'
import { flowHash } from './pipeline-util.ts'

class Table {
  /** byLen[len]: network -> routes sorted by metric. */
  readonly byLen: (Map<number, Route[]> | undefined)[] = new Array(33)
  /** Prefix lengths present, longest first. */
  lens: number[] = []
  count = 0

  get(dst: number, prefix: number): Route[] | undefined {
    return this.byLen[prefix]?.get(dst)
  }

  put(r: Route): void {
    let m = this.byLen[r.prefix]
    if (!m) {
      m = new Map()
      this.byLen[r.prefix] = m
      this.lens = [...this.lens, r.prefix].sort((a, b) => b - a)
    }
    const list = m.get(r.dst)
    if (list) {
      list.push(r)
      list.sort((a, b) => a.metric - b.metric)
    } else m.set(r.dst, [r])
    this.count++
  }

  remove(r: Route): void {
    const m = this.byLen[r.prefix]
    const list = m?.get(r.dst)
    if (!m || !list) return
    const i = list.indexOf(r)
    if (i < 0) return
    list.splice(i, 1)
    this.count--
    if (list.length === 0) {
      m.delete(r.dst)
      if (m.size === 0) {
        this.byLen[r.prefix] = undefined
        this.lens = this.lens.filter((l) => l !== r.prefix)
      }
    }
  }

  match(dst: number): Route | undefined {
    const lens = this.lens
    for (let i = 0; i < lens.length; i++) {
      const len = lens[i]!
      const key = len === 0 ? 0 : (dst & prefixMask(len)) >>> 0
      const list = this.byLen[len]!.get(key)
      if (list !== undefined) return list[0]
    }
    return undefined
  }

  *all(): Iterable<Route> {
    for (const len of this.lens) for (const list of this.byLen[len]!.values()) yield* list
  }
}

/** The nexthop of `r` that a flow with `hash` takes (weighted, as ECMP spreads flows). */
function answer(r: Route, hash: number): RouteLookup {
  const hops = r.nexthops
  if (hops.length === 0) return { route: r, dev: '' }
  let h = hops[0]!
  if (hops.length > 1) {
    let total = 0
    for (const n of hops) total += n.weight
    let pick = (hash >>> 0) % total
    for (const n of hops) {
      if (pick < n.weight) {
        h = n
        break
      }
      pick -= n.weight
    }
  }
  return h.via === undefined ? { route: r, dev: h.dev } : { route: r, dev: h.dev, via: h.via }
}

/** Slots of RouteTables' lookup cache (a power of two). */
const ROUTE_CACHE = 256

function tableKey(t: RouteTable | undefined): number {
  if (t === undefined || t === 'main') return 254
  if (t === 'local') return 255
  return t
}

function tableName(k: number): RouteTable {
  return k === 254 ? 'main' : k === 255 ? 'local' : k
}

function err(code: 'EEXIST' | 'ESRCH' | 'ENODEV' | 'ENETUNREACH' | 'EINVAL', message: string): RouteResult {
  return { ok: false, code, message }
}

const ERR_TEXT = {
  EEXIST: 'RTNETLINK answers: File exists',
  ESRCH: 'RTNETLINK answers: No such process',
  ENODEV: 'Cannot find device',
  ENETUNREACH: 'RTNETLINK answers: Network is unreachable',
  EINVAL: 'RTNETLINK answers: Invalid argument',
}

export interface RouteEnv {
  /** Whether a device exists in this namespace. */
  hasDev(name: string): boolean
}

/** The namespace's routing tables (main 254, local 255, others by number). */
export class RouteTables implements RouteApi {
  private readonly tables = new Map<number, Table>()
  private readonly subs = new Set<(e: RouteEvent) => void>()
  /** Bumped on every change (the forwarder's snapshot version). */
  version = 0
  /** lookupFor's cache: destination (-1: empty) and answer per slot, valid for `cacheVersion`. */
  private readonly cacheDst = new Float64Array(ROUTE_CACHE).fill(-1)
  private readonly cacheAns: (RouteLookup | undefined)[] = new Array(ROUTE_CACHE).fill(undefined)
  private cacheVersion = -1
  private readonly env: RouteEnv
  /** `ip rule`s beyond the defaults, by priority, and their tables (looked up between local and main). */
  private ruleList: PolicyRule[] = []
  private ruleTables: number[] = []

  constructor(env: RouteEnv) {
    this.env = env
  }

  private table(k: number): Table {
    let t = this.tables.get(k)
    if (!t) {
      t = new Table()
      this.tables.set(k, t)
    }
    return t
  }

  normalize(s: RouteSpec): Route | RouteResult {
    if (!Number.isInteger(s.prefix) || s.prefix < 0 || s.prefix > 32) return err('EINVAL', ERR_TEXT.EINVAL)
    const dst = s.prefix === 0 ? 0 : (s.dst & prefixMask(s.prefix)) >>> 0
    const type = s.type ?? 'unicast'
    const nexthops: RouteNexthop[] = []
    if (type === 'unicast' || type === 'local' || type === 'broadcast') {
      const hops = s.nexthops ?? (s.dev !== undefined || s.via !== undefined ? [{ ...s }] : [])
      for (const h of hops) {
        if (h.dev === undefined) return err('ENODEV', ERR_TEXT.ENODEV)
        if (!this.env.hasDev(h.dev)) return err('ENODEV', `${ERR_TEXT.ENODEV} "${h.dev}"`)
        const nh: { via?: number; dev: string; weight: number; onlink: boolean } = {
          dev: h.dev,
          weight: 'weight' in h && typeof h.weight === 'number' ? h.weight : 1,
          onlink: h.onlink ?? false,
        }
        if (h.via !== undefined) nh.via = h.via
        nexthops.push(nh)
      }
      if (nexthops.length === 0) return err('EINVAL', ERR_TEXT.EINVAL)
    }
    const hasGw = nexthops.some((n) => n.via !== undefined)
    const scope: RouteScope = s.scope ?? (type === 'local' ? 'host' : type === 'unicast' && !hasGw ? 'link' : 'global')
    const r: { -readonly [K in keyof Route]: Route[K] } = {
      dst,
      prefix: s.prefix,
      table: tableName(tableKey(s.table)),
      type,
      proto: s.proto ?? 'boot',
      scope,
      metric: s.metric ?? 0,
      nexthops,
    }
    if (s.src !== undefined) r.src = s.src
    return r
  }

  add(s: RouteSpec): RouteResult {
    return this.put(s, false)
  }

  replace(s: RouteSpec): RouteResult {
    return this.put(s, true)
  }

  private put(s: RouteSpec, replace: boolean): RouteResult {
    const r = this.normalize(s)
    if ('ok' in r) return r
    const t = this.table(tableKey(r.table))
    const same = t.get(r.dst, r.prefix)?.find((x) => x.metric === r.metric)
    if (same) {
      if (!replace) return err('EEXIST', ERR_TEXT.EEXIST)
      t.remove(same)
      this.emit({ type: 'del', route: same })
    }
    t.put(r)
    this.version++
    this.emit({ type: 'add', route: r })
    return { ok: true }
  }

  del(s: Pick<RouteSpec, 'dst' | 'prefix'> & Partial<RouteSpec>): RouteResult {
    const t = this.tables.get(tableKey(s.table))
    const dst = s.prefix === 0 ? 0 : (s.dst & prefixMask(s.prefix)) >>> 0
    const r = t
      ?.get(dst, s.prefix)
      ?.find(
        (x) =>
          (s.metric === undefined || x.metric === s.metric) &&
          (s.proto === undefined || x.proto === s.proto) &&
          (s.type === undefined || x.type === s.type) &&
          (s.dev === undefined || x.nexthops.some((n) => n.dev === s.dev)),
      )
    if (!t || !r) return err('ESRCH', ERR_TEXT.ESRCH)
    t.remove(r)
    this.version++
    this.emit({ type: 'del', route: r })
    return { ok: true }
  }

  /** Removes every route using `dev` (link deleted or down). */
  flushDev(dev: string): void {
    for (const t of this.tables.values())
      for (const r of [...t.all()])
        if (r.nexthops.some((n) => n.dev === dev)) {
          t.remove(r)
          this.version++
          this.emit({ type: 'del', route: r })
        }
  }

  list(f: RouteFilter = {}): Route[] {
    const out: Route[] = []
    const which = f.table === 'all' ? [...this.tables.keys()] : [tableKey(f.table)]
    for (const k of which.sort((a, b) => a - b)) {
      const t = this.tables.get(k)
      if (!t) continue
      for (const r of t.all()) {
        if (f.proto !== undefined && r.proto !== f.proto) continue
        if (f.dev !== undefined && !r.nexthops.some((n) => n.dev === f.dev)) continue
        if (f.dst && (r.dst !== f.dst.ip || r.prefix !== f.dst.prefix)) continue
        out.push(r)
      }
    }
    // iproute2 dumps in the kernel's FIB trie order: by address, then shorter prefix first.
    return out.sort((a, b) => a.dst - b.dst || a.prefix - b.prefix || a.metric - b.metric)
  }

  /**
   * `lookup` for a packet's destination: the flow hash (ECMP's choice) computed only when the
   * route has several nexthops. Single-nexthop answers are remembered in a small direct-mapped
   * cache that any change empties (`version`); the answer is shared: read it, never change it.
   */
  lookupFor(dst: number, v: PacketView): RouteLookup | undefined {
    if (this.cacheVersion !== this.version) {
      this.cacheDst.fill(-1)
      this.cacheVersion = this.version
    }
    const k = (dst ^ (dst >>> 8) ^ (dst >>> 16)) & (ROUTE_CACHE - 1)
    if (this.cacheDst[k] === dst) return this.cacheAns[k]
    const r = this.tables.get(255)?.match(dst) ?? this.ruleMatch(dst) ?? this.tables.get(254)?.match(dst)
    if (!r) return undefined
    if (r.nexthops.length > 1) return answer(r, flowHash(v))
    const ans = answer(r, 0)
    this.cacheDst[k] = dst
    this.cacheAns[k] = ans
    return ans
  }

  lookup(dst: number, hash = 0): RouteLookup | undefined {
    const r = this.tables.get(255)?.match(dst) ?? this.ruleMatch(dst) ?? this.tables.get(254)?.match(dst)
    return r && answer(r, hash)
  }

  private ruleMatch(dst: number): Route | undefined {
    const ts = this.ruleTables
    for (let i = 0; i < ts.length; i++) {
      const r = this.tables.get(ts[i]!)?.match(dst)
      if (r !== undefined) return r
    }
    return undefined
  }

  addRule(r: PolicyRule): RouteResult {
    if (this.ruleList.some((x) => x.priority === r.priority && x.table === r.table))
      return err('EEXIST', ERR_TEXT.EEXIST)
    this.ruleList = [...this.ruleList, { ...r }].sort((a, b) => a.priority - b.priority)
    this.ruleTables = this.ruleList.map((x) => x.table)
    this.version++
    return { ok: true }
  }

  delRule(r: Pick<PolicyRule, 'priority' | 'table'>): RouteResult {
    const keep = this.ruleList.filter((x) => x.priority !== r.priority || x.table !== r.table)
    if (keep.length === this.ruleList.length) return err('ESRCH', ERR_TEXT.ESRCH)
    this.ruleList = keep
    this.ruleTables = keep.map((x) => x.table)
    this.version++
    return { ok: true }
  }

  rules(): PolicyRule[] {
    return this.ruleList.map((r) => ({ ...r }))
  }

  subscribe(fn: (e: RouteEvent) => void): () => void {
    this.subs.add(fn)
    return () => this.subs.delete(fn)
  }

  private emit(e: RouteEvent): void {
    for (const fn of this.subs) fn(e)
  }
}

const PROTO_NAMES: Record<number, string> = { 2: 'kernel', 3: 'boot', 4: 'static', 12: 'bird' }

function protoText(p: RouteProto): string {
  return typeof p === 'number' ? (PROTO_NAMES[p] ?? String(p)) : p
}

/** One route as `ip route` prints it (iproute2 print_route: fields with trailing spaces). */
export function formatRoute(r: Route, o: { showTable?: boolean } = {}): string {
  let s = ''
  if (r.type !== 'unicast') s += `${r.type} `
  s +=
    r.prefix === 0 && r.dst === 0
      ? 'default '
      : r.prefix === 32
        ? `${formatIPv4(r.dst)} `
        : `${formatIPv4(r.dst)}/${r.prefix} `
  const single = r.nexthops.length === 1 ? r.nexthops[0] : undefined
  if (single?.via !== undefined) s += `via ${formatIPv4(single.via)} `
  if (single) s += `dev ${single.dev} `
  if (o.showTable && r.table !== 'main') s += `table ${r.table} `
  if (r.proto !== 'boot' && r.proto !== 3) s += `proto ${protoText(r.proto)} `
  if (r.scope !== 'global') s += `scope ${r.scope} `
  if (r.src !== undefined) s += `src ${formatIPv4(r.src)} `
  if (r.metric !== 0) s += `metric ${r.metric} `
  if (single?.onlink) s += 'onlink '
  if (r.nexthops.length > 1)
    for (const n of r.nexthops) {
      s += '\n\tnexthop '
      if (n.via !== undefined) s += `via ${formatIPv4(n.via)} `
      s += `dev ${n.dev} weight ${n.weight} `
      if (n.onlink) s += 'onlink '
    }
  return s
}
