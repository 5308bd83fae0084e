/**
 * Incremental rendering of one node's policy dataplane (Felix's calculation graph feeding its
 * iptables/ipset managers, calico.md §3.1): the same output as `renderNode`, kept up to date by
 * changes instead of recomputed from the whole state.
 *
 * Two label indexes (calc/label-index.ts) say what a change touches: one matches policy
 * selectors against this node's endpoints (so a label, profile or selector change dirties only the
 * endpoints whose matches change, and an order/tier/type change only the endpoints a policy
 * selects), the other (ipset-tracker.ts) matches the selectors of the IP sets in use against every
 * endpoint and network set of the cluster (member adds/removes, reference-counted per member).
 * `flush()` then
 * re-renders only
 *   - `cali-tw-`/`cali-fw-` of workloads whose policy list, profiles or interface changed,
 *   - the host-endpoint chains when a local host endpoint or its matches changed (few; all of them),
 *   - `cali-pi-`/`cali-po-` of policies whose rules changed or that became used/unused on this node,
 *   - `cali-pri-`/`cali-pro-` of profiles likewise,
 *   - the workload dispatch chains when workloads come, go or change interface,
 * and returns what changed as a `RenderingDiff` (only chains whose text differs, IP-set creates,
 * member adds/dels, removals). Pure.
 *
 * Endpoints are keyed by the caller (the datastore key: workload endpoint names repeat across
 * namespaces); policies, profiles and network sets by id. Limits: two policies, profiles or network
 * sets with the same id, or two local workloads with the same interface, are not supported (Felix's
 * ids and the CNI's interface names are unique).
 */
import { parseSelector } from '@calilab/model'
import { LabelIndex } from '../calc/label-index.ts'
import {
  type ChainSink,
  hostEndpointChains,
  isNormalPolicy,
  policyChains,
  profileChains,
  RENDERED_TABLES,
  type RenderedTableName,
  sortPolicies,
  staticChains,
  withHashes,
  workloadChains,
  workloadDispatch,
} from './chains.ts'
import type { RenderingDiff, TableDiff } from './diff.ts'
import { IpSetTracker } from './ipset-tracker.ts'
import { endpointSource, networkSetSource } from './members.ts'
import { chainNames as N } from './names.ts'
import type { NodeRendering, RenderedIpSet } from './render.ts'
import type { IpSetRef } from './rules.ts'
import {
  DEFAULT_RENDER_CONFIG,
  type FelixNetworkSet,
  type FelixPolicy,
  type FelixProfile,
  type PolicyEndpoint,
  type PolicyRenderConfig,
  type PolicyState,
} from './types.ts'

export interface RenderDelta {
  diff: RenderingDiff
  /** The previous contents of the chains the diff touches (what `toIptablesRestoreDelta` needs). */
  prev: NodeRendering
}

/** Work done by the last flush (tests check a label change re-renders only what it must). */
export interface FlushStats {
  workloads: number
  hostSections: number
  policyChains: number
  profileChains: number
  dispatch: number
  setsCreated: number
  setsRemoved: number
}

type PerTable<T> = Record<RenderedTableName, T>
const perTable = <T>(f: () => T): PerTable<T> => ({ raw: f(), mangle: f(), filter: f() })

interface WorkloadUse {
  chains: string[]
  policies: Set<string>
  profiles: Set<string>
}

interface HostUse {
  chains: PerTable<Set<string>>
  policies: PerTable<Set<string>>
  profiles: Set<string>
}

const key = (t: RenderedTableName, id: string) => `${t}\0${id}`
const splitKey = (k: string) => {
  const i = k.indexOf('\0')
  return [k.slice(0, i) as RenderedTableName, k.slice(i + 1)] as const
}
const sameRules = (a: readonly string[] | undefined, b: readonly string[] | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]))

function metaChanged(a: FelixPolicy, b: FelixPolicy): boolean {
  return (
    a.tier !== b.tier ||
    a.order !== b.order ||
    a.ingress !== b.ingress ||
    a.egress !== b.egress ||
    a.preDNAT !== b.preDNAT ||
    a.doNotTrack !== b.doNotTrack ||
    a.applyOnForward !== b.applyOnForward
  )
}

class Collect implements ChainSink {
  readonly tables = perTable(() => new Map<string, string[]>())
  chain(t: RenderedTableName, name: string, rules: string[]): void {
    this.tables[t].set(name, rules)
  }
}

export class IncrementalRenderer {
  readonly node: string
  readonly cfg: PolicyRenderConfig
  lastFlush: FlushStats = emptyStats()

  private policies = new Map<string, FelixPolicy>()
  private profiles = new Map<string, FelixProfile>()
  private endpoints = new Map<string, PolicyEndpoint>()
  private networkSets = new Map<string, FelixNetworkSet>()
  /** Policy selectors × this node's endpoints (rendered workloads and every host endpoint). */
  private polIdx!: LabelIndex
  private localHeps = new Set<string>()
  private workloads = new Map<string, WorkloadUse>()
  private hosts: HostUse = emptyHostUse()
  private dispatch = new Set<string>()
  private dirtyWorkloads = new Set<string>()
  private hostsDirty = false
  private dispatchDirty = false
  /** Endpoints (per table) whose chains jump to a policy's chains. */
  private polRefs = perTable(() => new Map<string, number>())
  private polSets = new Map<string, string[]>()
  private dirtyPolicies = new Set<string>()
  private profRefs = new Map<string, number>()
  private profSets = new Map<string, string[]>()
  private dirtyProfiles = new Set<string>()
  /** Rendered chains using an IP set. */
  private setRefs = new Map<string, { ref: IpSetRef; n: number }>()
  private dirtySetRefs = new Set<string>()
  private sets!: IpSetTracker
  /** Chain bodies (without hash comments), and as rendered (with them). */
  private bodies = perTable(() => new Map<string, string[]>())
  private chains = perTable(() => new Map<string, string[]>())
  /** Chains changed since the last flush → their contents then (undefined: absent). */
  private touched = perTable(() => new Map<string, string[] | undefined>())
  private stats: FlushStats = emptyStats()

  constructor(node: string, cfg: PolicyRenderConfig = DEFAULT_RENDER_CONFIG) {
    this.node = node
    this.cfg = cfg
    this.clear()
  }

  /**
   * Full rendering from scratch (startup, resync): forgets everything, then renders `state`.
   * `endpointKeys[i]` is the key later changes use for `state.endpoints[i]` (default: its id).
   */
  reset(state: PolicyState, endpointKeys?: readonly string[]): NodeRendering {
    this.clear()
    const b: ChainSink = { chain: (t, name, rules) => this.put(t, name, rules) }
    staticChains(b, this.cfg)
    for (const p of state.profiles) this.setProfile(p.id, p)
    for (const [i, e] of state.endpoints.entries()) this.setEndpoint(endpointKeys?.[i] ?? e.id, e)
    for (const s of state.networkSets) this.setNetworkSet(s.id, s)
    for (const p of state.policies) this.setPolicy(p.id, p)
    this.hostsDirty = true
    this.dispatchDirty = true
    this.flush()
    return this.rendering()
  }

  // ---- changes (cheap: indexes and dirty marks; flush() renders) ------------------------------

  setPolicy(id: string, p: FelixPolicy | undefined): void {
    const old = this.policies.get(id)
    if (old === p) return
    if (!p) {
      this.policies.delete(id)
      this.polIdx.deleteSelector(id)
    } else {
      this.policies.set(id, p)
      if (old && metaChanged(old, p)) for (const eid of this.polIdx.endpointsMatching(id)) this.markLocal(eid)
      if (!old || old.selector !== p.selector) this.polIdx.updateSelector(id, parseSelector(p.selector))
    }
    for (const t of RENDERED_TABLES) if (this.polRefs[t].has(id)) this.dirtyPolicies.add(key(t, id))
  }

  setProfile(id: string, p: FelixProfile | undefined): void {
    const old = this.profiles.get(id)
    if (old === p) return
    if (p) {
      this.profiles.set(id, p)
      this.polIdx.updateParent(id, p.labels)
      this.sets.updateParent(id, p.labels)
    } else {
      this.profiles.delete(id)
      this.polIdx.deleteParent(id)
      this.sets.deleteParent(id)
    }
    if (this.profRefs.has(id)) this.dirtyProfiles.add(id)
  }

  setEndpoint(id: string, e: PolicyEndpoint | undefined): void {
    const old = this.endpoints.get(id)
    if (old === e) return
    if (e) this.endpoints.set(id, e)
    else this.endpoints.delete(id)
    const wasLocal = old !== undefined && this.isLocal(old)
    const nowLocal = e !== undefined && this.isLocal(e)
    if (nowLocal) {
      if (e.kind === 'host') this.localHeps.add(id)
      else this.localHeps.delete(id)
      this.polIdx.updateEndpoint(id, e.labels, e.profileIds)
    } else if (wasLocal) {
      this.polIdx.deleteEndpoint(id)
      this.localHeps.delete(id)
    }
    if ((wasLocal && old.kind === 'host') || (nowLocal && e.kind === 'host')) this.hostsDirty = true
    const wasWl = wasLocal && old.kind === 'workload'
    const isWl = nowLocal && e.kind === 'workload'
    if (wasWl || isWl) {
      this.dirtyWorkloads.add(id)
      if (!(wasWl && isWl && old.iface === e.iface)) this.dispatchDirty = true
    }
    // IP-set members: every endpoint (`e:<key>`) and network set (`n:<id>`) of the cluster.
    this.sets.setSource(`e:${id}`, e && { labels: e.labels, parents: e.profileIds, src: endpointSource(e) })
  }

  setNetworkSet(id: string, s: FelixNetworkSet | undefined): void {
    const old = this.networkSets.get(id)
    if (old === s) return
    if (s) this.networkSets.set(id, s)
    else this.networkSets.delete(id)
    this.sets.setSource(`n:${id}`, s && { labels: s.labels, parents: s.profileIds, src: networkSetSource(s) })
  }

  // ---- flush --------------------------------------------------------------------------------

  /** Renders what the changes since the last flush touched; returns the difference. */
  flush(): RenderDelta {
    this.stats = emptyStats()
    // Chains of workloads that went away or changed interface go first (another may take the name).
    for (const id of this.dirtyWorkloads) this.dropWorkloadChains(id)
    for (const id of this.dirtyWorkloads) this.renderWorkload(id)
    this.dirtyWorkloads.clear()
    if (this.hostsDirty) this.renderHosts()
    this.hostsDirty = false
    if (this.dispatchDirty) this.renderDispatch()
    this.dispatchDirty = false
    for (const k of this.dirtyPolicies) this.renderPolicy(k)
    this.dirtyPolicies.clear()
    for (const id of this.dirtyProfiles) this.renderProfile(id)
    this.dirtyProfiles.clear()
    for (const name of this.dirtySetRefs) this.syncSet(name)
    this.dirtySetRefs.clear()
    this.lastFlush = this.stats
    return this.takeDelta()
  }

  /** The current rendering (chains and sets sorted by name, as `renderNode` returns them). */
  rendering(): NodeRendering {
    const tables = perTable(() => new Map<string, readonly string[]>())
    for (const t of RENDERED_TABLES)
      for (const name of [...this.chains[t].keys()].sort()) tables[t].set(name, this.chains[t].get(name)!)
    const ipsets = new Map<string, RenderedIpSet>()
    for (const name of this.sets.names().sort()) ipsets.set(name, this.sets.rendered(name)!)
    return { tables, ipsets }
  }

  /** Chains (all tables) and IP sets rendered now. */
  size(): { chains: number; ipsets: number } {
    let chains = 0
    for (const t of RENDERED_TABLES) chains += this.chains[t].size
    return { chains, ipsets: this.sets.size }
  }

  // ---- rendering parts ----------------------------------------------------------------------

  private isLocalWorkload(e: PolicyEndpoint | undefined): e is PolicyEndpoint {
    return e !== undefined && e.kind === 'workload' && this.isLocal(e)
  }

  private dropWorkloadChains(id: string): void {
    const e = this.endpoints.get(id)
    const use = this.workloads.get(id)
    if (!use) return
    const keep = this.isLocalWorkload(e) ? [N.toWorkload(e.iface), N.fromWorkload(e.iface)] : []
    for (const n of use.chains) if (!keep.includes(n)) this.put('filter', n, undefined)
    use.chains = use.chains.filter((n) => keep.includes(n))
  }

  private renderWorkload(id: string): void {
    const e = this.endpoints.get(id)
    const use = this.workloads.get(id)
    if (!this.isLocalWorkload(e)) {
      if (!use) return
      for (const p of use.policies) this.decPolicy('filter', p)
      for (const p of use.profiles) this.decProfile(p)
      this.workloads.delete(id)
      return
    }
    this.stats.workloads++
    const w = workloadChains(e, this.matched(id).filter(isNormalPolicy))
    const chains = w.chains.map(([n]) => n)
    for (const [n, rules] of w.chains) this.put('filter', n, rules)
    const policies = new Set(w.policies.map((p) => p.id))
    const profiles = new Set(e.profileIds)
    for (const p of policies) if (!use?.policies.has(p)) this.incPolicy('filter', p)
    for (const p of profiles) if (!use?.profiles.has(p)) this.incProfile(p)
    if (use) {
      for (const p of use.policies) if (!policies.has(p)) this.decPolicy('filter', p)
      for (const p of use.profiles) if (!profiles.has(p)) this.decProfile(p)
    }
    this.workloads.set(id, { chains, policies, profiles })
  }

  private renderHosts(): void {
    this.stats.hostSections++
    const keyOf = new Map<PolicyEndpoint, string>()
    for (const k of this.localHeps) keyOf.set(this.endpoints.get(k)!, k)
    const heps = [...keyOf.keys()].sort((a, c) => (a.id < c.id ? -1 : a.id > c.id ? 1 : 0))
    const c = new Collect()
    const use = hostEndpointChains(c, heps, (ep) => this.matched(keyOf.get(ep)!))
    const prev = this.hosts
    const next = emptyHostUse()
    for (const t of RENDERED_TABLES) {
      for (const n of prev.chains[t]) if (!c.tables[t].has(n)) this.put(t, n, undefined)
      for (const [n, rules] of c.tables[t]) {
        this.put(t, n, rules)
        next.chains[t].add(n)
      }
      for (const p of use.policies[t].keys()) {
        next.policies[t].add(p)
        if (!prev.policies[t].has(p)) this.incPolicy(t, p)
      }
      for (const p of prev.policies[t]) if (!next.policies[t].has(p)) this.decPolicy(t, p)
    }
    for (const p of use.profiles) {
      next.profiles.add(p)
      if (!prev.profiles.has(p)) this.incProfile(p)
    }
    for (const p of prev.profiles) if (!next.profiles.has(p)) this.decProfile(p)
    this.hosts = next
  }

  private renderDispatch(): void {
    this.stats.dispatch++
    const c = new Collect()
    const ifaces: string[] = []
    for (const id of this.workloads.keys()) ifaces.push(this.endpoints.get(id)!.iface)
    workloadDispatch(c, ifaces)
    for (const n of this.dispatch) if (!c.tables.filter.has(n)) this.put('filter', n, undefined)
    for (const [n, rules] of c.tables.filter) this.put('filter', n, rules)
    this.dispatch = new Set(c.tables.filter.keys())
  }

  private renderPolicy(k: string): void {
    const [t, id] = splitKey(k)
    const p = this.policies.get(id)
    const prevSets = this.polSets.get(k) ?? []
    if (p && this.polRefs[t].has(id)) {
      this.stats.policyChains++
      const sets = new Map<string, IpSetRef>()
      for (const [n, rules] of policyChains(p, t === 'raw', this.cfg, sets)) this.put(t, n, rules)
      this.polSets.set(k, this.swapSets(prevSets, sets))
    } else {
      this.put(t, N.policyIn(id), undefined)
      this.put(t, N.policyOut(id), undefined)
      this.swapSets(prevSets, new Map())
      this.polSets.delete(k)
    }
  }

  private renderProfile(id: string): void {
    const prevSets = this.profSets.get(id) ?? []
    if (this.profRefs.has(id)) {
      this.stats.profileChains++
      const sets = new Map<string, IpSetRef>()
      for (const [n, rules] of profileChains(id, this.profiles.get(id), this.cfg, sets)) this.put('filter', n, rules)
      this.profSets.set(id, this.swapSets(prevSets, sets))
    } else {
      this.put('filter', N.profileIn(id), undefined)
      this.put('filter', N.profileOut(id), undefined)
      this.swapSets(prevSets, new Map())
      this.profSets.delete(id)
    }
  }

  /** Moves one rendered chain pair's IP-set references from `prev` to `next`; returns next's names. */
  private swapSets(prev: readonly string[], next: ReadonlyMap<string, IpSetRef>): string[] {
    for (const [name, ref] of next) {
      if (prev.includes(name)) continue
      const r = this.setRefs.get(name)
      if (r) r.n++
      else this.setRefs.set(name, { ref, n: 1 })
      this.dirtySetRefs.add(name)
    }
    for (const name of prev) {
      if (next.has(name)) continue
      const r = this.setRefs.get(name)!
      if (--r.n === 0) this.setRefs.delete(name)
      this.dirtySetRefs.add(name)
    }
    return [...next.keys()]
  }

  /** Creates a set that became used (its members from the index), removes one no longer used. */
  private syncSet(name: string): void {
    const r = this.setRefs.get(name)
    const exists = this.sets.has(name)
    if (r && !exists) {
      this.stats.setsCreated++
      this.sets.activate(name, r.ref)
    } else if (!r && exists) {
      this.stats.setsRemoved++
      this.sets.deactivate(name)
    }
  }

  // ---- reference counts -----------------------------------------------------------------------

  private incPolicy(t: RenderedTableName, id: string): void {
    const n = this.polRefs[t].get(id) ?? 0
    this.polRefs[t].set(id, n + 1)
    if (n === 0) this.dirtyPolicies.add(key(t, id))
  }

  private decPolicy(t: RenderedTableName, id: string): void {
    const n = this.polRefs[t].get(id) ?? 0
    if (n <= 1) {
      this.polRefs[t].delete(id)
      this.dirtyPolicies.add(key(t, id))
    } else this.polRefs[t].set(id, n - 1)
  }

  private incProfile(id: string): void {
    const n = this.profRefs.get(id) ?? 0
    this.profRefs.set(id, n + 1)
    if (n === 0) this.dirtyProfiles.add(id)
  }

  private decProfile(id: string): void {
    const n = this.profRefs.get(id) ?? 0
    if (n <= 1) {
      this.profRefs.delete(id)
      this.dirtyProfiles.add(id)
    } else this.profRefs.set(id, n - 1)
  }

  // ---- helpers ------------------------------------------------------------------------------

  private isLocal(e: PolicyEndpoint): boolean {
    return e.node === this.node && (e.kind === 'host' || e.iface !== '')
  }

  private markLocal(eid: string): void {
    if (this.localHeps.has(eid)) this.hostsDirty = true
    else this.dirtyWorkloads.add(eid)
  }

  /** Policies selecting a local endpoint, in Felix order. */
  private matched(eid: string): FelixPolicy[] {
    const out: FelixPolicy[] = []
    for (const pid of this.polIdx.selectorsMatching(eid)) out.push(this.policies.get(pid)!)
    return sortPolicies(out)
  }

  /** Sets a chain's body (undefined removes it), remembering its contents at the last flush. */
  private put(t: RenderedTableName, name: string, rules: string[] | undefined): void {
    const cur = this.bodies[t].get(name)
    if (sameRules(cur, rules)) return
    if (!this.touched[t].has(name)) this.touched[t].set(name, this.chains[t].get(name))
    if (rules === undefined) {
      this.bodies[t].delete(name)
      this.chains[t].delete(name)
    } else {
      this.bodies[t].set(name, rules)
      this.chains[t].set(name, withHashes(name, rules))
    }
  }

  private takeDelta(): RenderDelta {
    const tables = {} as Record<RenderedTableName, TableDiff>
    const prevTables = perTable(() => new Map<string, readonly string[]>())
    for (const t of RENDERED_TABLES) {
      const upserts = new Map<string, readonly string[]>()
      const removes: string[] = []
      for (const [name, before] of this.touched[t]) {
        const now = this.chains[t].get(name)
        if (before !== undefined) prevTables[t].set(name, before)
        if (now === undefined) {
          if (before !== undefined) removes.push(name)
        } else if (!sameRules(before, now)) upserts.set(name, now)
      }
      tables[t] = { upserts, removes }
      this.touched[t].clear()
    }
    const ipsets = this.sets.takeDiff()
    return { diff: { tables, ipsets }, prev: { tables: prevTables, ipsets: new Map() } }
  }

  private clear(): void {
    this.policies = new Map()
    this.profiles = new Map()
    this.endpoints = new Map()
    this.networkSets = new Map()
    this.polIdx = new LabelIndex({
      onMatchStarted: (_pid, eid) => this.markLocal(eid),
      onMatchStopped: (_pid, eid) => this.markLocal(eid),
    })
    this.sets = new IpSetTracker()
    this.localHeps = new Set()
    this.workloads = new Map()
    this.hosts = emptyHostUse()
    this.dispatch = new Set()
    this.dirtyWorkloads = new Set()
    this.hostsDirty = false
    this.dispatchDirty = false
    this.polRefs = perTable(() => new Map())
    this.polSets = new Map()
    this.dirtyPolicies = new Set()
    this.profRefs = new Map()
    this.profSets = new Map()
    this.dirtyProfiles = new Set()
    this.setRefs = new Map()
    this.dirtySetRefs = new Set()
    this.bodies = perTable(() => new Map())
    this.chains = perTable(() => new Map())
    this.touched = perTable(() => new Map())
  }
}

function emptyStats(): FlushStats {
  return {
    workloads: 0,
    hostSections: 0,
    policyChains: 0,
    profileChains: 0,
    dispatch: 0,
    setsCreated: 0,
    setsRemoved: 0,
  }
}

function emptyHostUse(): HostUse {
  return {
    chains: perTable(() => new Set()),
    policies: perTable(() => new Set()),
    profiles: new Set(),
  }
}
