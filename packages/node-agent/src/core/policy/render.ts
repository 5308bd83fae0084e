/**
 * Felix's iptables rendering for one node (felix/rules: static.go, endpoints.go, dispatch.go,
 * policy.go), as a pure function of the current policy state. Output: chains per table (rule
 * bodies with their `cali:` hash comments) and the IP sets those rules use, with members.
 *
 * This is the full rendering (startup, resync, and the reference the incremental one,
 * `IncrementalRenderer` in incremental.ts, is tested against); both are built from chains.ts.
 */
import { type Labels, parseSelector, type Selector } from '@calilab/model'
import {
  type ChainSink,
  hostEndpointChains,
  isNormalPolicy,
  JumpRules,
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
import { effectiveLabels } from './convert.ts'
import { endpointSource, ipSetType, memberContribution, networkSetSource, type SetMemberSource } from './members.ts'
import type { IpSetRef } from './rules.ts'
import {
  DEFAULT_RENDER_CONFIG,
  type FelixPolicy,
  type FelixProfile,
  type PolicyRenderConfig,
  type PolicyState,
} from './types.ts'

export { RENDERED_TABLES, type RenderedTableName, sortPolicies } from './chains.ts'
/** chain name → rule bodies (what follows `-A <chain> `), in order. */
export type RenderedTable = ReadonlyMap<string, readonly string[]>

export interface RenderedIpSet {
  name: string
  type: 'hash:net' | 'hash:ip,port'
  /** Sorted members in `ipset add` syntax. */
  members: readonly string[]
}

export interface NodeRendering {
  tables: Readonly<Record<RenderedTableName, RenderedTable>>
  ipsets: ReadonlyMap<string, RenderedIpSet>
}

export const KERNEL_CHAINS: Readonly<Record<RenderedTableName, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
}
/** Hook rules Felix appends (the rest are inserted at the top): the FORWARD tail. */
export const APPENDED_HOOK_RULES = 2

class Builder implements ChainSink {
  readonly tables: Record<RenderedTableName, Map<string, string[]>> = {
    raw: new Map(),
    mangle: new Map(),
    filter: new Map(),
  }
  readonly sets = new Map<string, IpSetRef>()

  chain(t: RenderedTableName, name: string, rules: string[]): void {
    this.tables[t].set(name, rules)
  }
}

/** Renders the dataplane state of node `node`. */
export function renderNode(
  state: PolicyState,
  node: string,
  cfg: PolicyRenderConfig = DEFAULT_RENDER_CONFIG,
): NodeRendering {
  const b = new Builder()
  const profiles = new Map(state.profiles.map((p) => [p.id, p]))
  const selCache = new Map<string, Selector>()
  const sel = (s: string): Selector => {
    let x = selCache.get(s)
    if (!x) selCache.set(s, (x = parseSelector(s)))
    return x
  }
  const sorted = sortPolicies(state.policies)
  const local = state.endpoints.filter((e) => e.node === node).sort((a, c) => (a.id < c.id ? -1 : 1))
  const weps = local.filter((e) => e.kind === 'workload' && e.iface !== '')
  const heps = local.filter((e) => e.kind === 'host')

  const used: Record<RenderedTableName, Map<string, FelixPolicy>> = {
    raw: new Map(),
    mangle: new Map(),
    filter: new Map(),
  }
  const activeProfiles = new Set<string>()

  // Workload endpoints.
  // Workload chains see only normal (tracked, post-DNAT) policies: compile their selectors once and
  // evaluate each once per endpoint (both directions filter the same matches).
  // Endpoints with the same labels and parents (replicas) match the same policies: evaluated once.
  const normalPolicies = sorted.filter(isNormalPolicy)
  const normalSels = normalPolicies.map((p) => sel(p.selector))
  const matchedByLabels = new Map<string, FelixPolicy[]>()
  const jumps = new JumpRules()
  for (const ep of weps) {
    const key = labelKey(ep.labels, ep.profileIds)
    let matched = matchedByLabels.get(key)
    if (matched === undefined) {
      const labels = effectiveLabels(ep.labels, ep.profileIds, profiles)
      matched = []
      for (let i = 0; i < normalPolicies.length; i++)
        if (normalSels[i]!.evaluate(labels)) matched.push(normalPolicies[i]!)
      matchedByLabels.set(key, matched)
    }
    const w = workloadChains(ep, matched, jumps)
    for (const [name, rules] of w.chains) b.chain('filter', name, rules)
    for (const p of w.policies) used.filter.set(p.id, p)
    for (const id of ep.profileIds) activeProfiles.add(id)
  }

  // Host endpoints (one per interface; the first by id wins) and their dispatch chains.
  const hepUse = hostEndpointChains(b, heps, (ep) => {
    const labels = effectiveLabels(ep.labels, ep.profileIds, profiles)
    return sorted.filter((p) => sel(p.selector).evaluate(labels))
  })
  for (const t of RENDERED_TABLES) for (const [id, p] of hepUse.policies[t]) used[t].set(id, p)
  for (const id of hepUse.profiles) activeProfiles.add(id)

  // Policy and profile chains.
  for (const t of RENDERED_TABLES) {
    for (const p of [...used[t].values()].sort((a, c) => (a.id < c.id ? -1 : 1)))
      for (const [name, rules] of policyChains(p, t === 'raw', cfg, b.sets)) b.chain(t, name, rules)
  }
  for (const id of [...activeProfiles].sort())
    for (const [name, rules] of profileChains(id, profiles.get(id), cfg, b.sets)) b.chain('filter', name, rules)

  workloadDispatch(
    b,
    weps.map((e) => e.iface),
  )
  staticChains(b, cfg)

  // Hash comments, sorted chains.
  const tables = {} as Record<RenderedTableName, RenderedTable>
  for (const t of RENDERED_TABLES) {
    const out = new Map<string, readonly string[]>()
    for (const name of [...b.tables[t].keys()].sort()) out.set(name, withHashes(name, b.tables[t].get(name)!))
    tables[t] = out
  }
  return { tables, ipsets: ipSetMembers(state, b.sets, profiles, sel) }
}

function ipSetMembers(
  state: PolicyState,
  refs: ReadonlyMap<string, IpSetRef>,
  profiles: ReadonlyMap<string, FelixProfile>,
  sel: (s: string) => Selector,
): Map<string, RenderedIpSet> {
  // Things with the same labels and parents are matched (or not) together: one evaluation a group.
  const groups = new Map<string, { labels: Labels; srcs: SetMemberSource[] }>()
  const add = (labels: Labels, profileIds: readonly string[], src: SetMemberSource) => {
    const key = labelKey(labels, profileIds)
    const g = groups.get(key)
    if (g) g.srcs.push(src)
    else groups.set(key, { labels: effectiveLabels(labels, profileIds, profiles), srcs: [src] })
  }
  for (const e of state.endpoints) add(e.labels, e.profileIds, endpointSource(e))
  for (const s of state.networkSets) add(s.labels, s.profileIds, networkSetSource(s))
  const out = new Map<string, RenderedIpSet>()
  for (const name of [...refs.keys()].sort()) {
    const ref = refs.get(name)!
    const s = sel(ref.selector)
    const members = new Set<string>()
    for (const g of groups.values()) {
      if (!s.evaluate(g.labels)) continue
      for (const src of g.srcs) for (const m of memberContribution(ref, src)) members.add(m)
    }
    out.set(name, { name, type: ipSetType(ref), members: [...members].sort() })
  }
  return out
}

/**
 * A text naming what an endpoint's effective labels are made of: its own labels and its parent
 * profiles (the same text means the same effective labels within one rendering). Own labels in
 * their own key order: equal maps built in another order only miss the memo.
 */
export function labelKey(labels: Labels, profileIds: readonly string[]): string {
  return JSON.stringify(profileIds) + JSON.stringify(labels)
}

export { toIpsetRestore, toIptablesRestore } from './restore-text.ts'
