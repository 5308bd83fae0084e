/**
 * Felix's iptables rendering for one node (felix/rules: static.go, endpoints.go, dispatch.go,
 * policy.go), as a pure function of the current policy state. Output: chains per table (rule
 * bodies with their `cali:` hash comments) and the IP sets those rules use, with members.
 */
import { parseCidr, parseSelector, type Selector } from '@calilab/model'
import { comparePolicies } from '../calc/policy-sorter.ts'
import { effectiveLabels } from './convert.ts'
import { comment, MARK_ACCEPT, MARK_PASS, MARK_SCRATCH0, markIs, setMark } from './marks.ts'
import { chainNames as N, ruleHashes } from './names.ts'
import { type IpSetRef, type RuleRenderContext, renderRule } from './rules.ts'
import {
  DEFAULT_RENDER_CONFIG,
  type FailsafePort,
  type FelixPolicy,
  type FelixProfile,
  type PolicyEndpoint,
  type PolicyRenderConfig,
  type PolicyState,
} from './types.ts'

export type RenderedTableName = 'raw' | 'mangle' | 'filter'
export const RENDERED_TABLES: readonly RenderedTableName[] = ['raw', 'mangle', 'filter']
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

const ALL_CALI_MARKS = 0xf0000

interface Tier {
  tier: string
  policies: FelixPolicy[]
}

function tiersOf(sorted: readonly FelixPolicy[], pick: (p: FelixPolicy) => boolean): Tier[] {
  const out: Tier[] = []
  for (const p of sorted) {
    if (!pick(p)) continue
    const last = out[out.length - 1]
    if (last && last.tier === p.tier) last.policies.push(p)
    else out.push({ tier: p.tier, policies: [p] })
  }
  return out
}

/** Policies in Felix order: tier name, then order (unset last), then id. */
export function sortPolicies(policies: readonly FelixPolicy[]): FelixPolicy[] {
  const key = (p: FelixPolicy) => ({ tierOrder: undefined, tier: p.tier, order: p.order, name: p.id })
  return [...policies].sort((a, b) => comparePolicies(key(a), key(b)))
}

class Builder {
  readonly tables: Record<RenderedTableName, Map<string, string[]>> = {
    raw: new Map(),
    mangle: new Map(),
    filter: new Map(),
  }
  readonly sets = new Map<string, IpSetRef>()
  readonly cfg: PolicyRenderConfig
  constructor(cfg: PolicyRenderConfig) {
    this.cfg = cfg
  }

  chain(t: RenderedTableName, name: string, rules: string[]): void {
    this.tables[t].set(name, rules)
  }

  rules(rules: FelixPolicy['inbound'], untracked: boolean): string[] {
    const ctx: RuleRenderContext = { logPrefix: this.cfg.logPrefix, untracked, sets: this.sets }
    return rules.flatMap((r) => renderRule(r, ctx))
  }
}

interface EndpointChainOpts {
  tiers: Tier[]
  policyChain: (id: string) => string
  profiles?: readonly string[]
  profileChain?: (id: string) => string
  failsafe?: string
  fromWorkload?: boolean
  tracked: boolean
  /** Forward HEP chains: allow when no policy applies. */
  allowIfNoPolicies?: boolean
  /** preDNAT / untracked chains: no drop at the end of a tier, no profiles. */
  noDrop?: boolean
  adminDown?: boolean
}

function endpointRules(o: EndpointChainOpts): string[] {
  if (o.adminDown) return [`${comment('Endpoint admin disabled')} -j DROP`]
  const out: string[] = []
  if (o.tracked) {
    out.push('-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-m conntrack --ctstate INVALID -j DROP')
  }
  if (o.failsafe) out.push(`-j ${o.failsafe}`)
  out.push(setMark(0, MARK_ACCEPT))
  if (o.fromWorkload) {
    out.push(
      `${comment('Drop VXLAN encapped packets originating in workloads')} -p udp -m multiport --dports 4789 -j DROP`,
    )
    out.push(`${comment('Drop IPinIP encapped packets originating in workloads')} -p 4 -j DROP`)
  }
  for (const t of o.tiers) {
    out.push(`${comment('Start of policies')} ${setMark(0, MARK_PASS)}`)
    for (const p of t.policies) {
      out.push(`${markIs(0, MARK_PASS)} -j ${o.policyChain(p.id)}`)
      out.push(`${comment('Return if policy accepted')} ${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j RETURN`)
    }
    if (!o.noDrop) out.push(`${comment('Drop if no policies passed packet')} ${markIs(0, MARK_PASS)} -j DROP`)
  }
  if (o.allowIfNoPolicies && o.tiers.length === 0) {
    out.push(`${comment('Allow forwarded traffic by default')} ${setMark(MARK_ACCEPT, MARK_ACCEPT)}`)
    out.push(`${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j RETURN`)
  }
  if (o.profiles && o.profileChain) {
    for (const id of o.profiles) {
      out.push(`-j ${o.profileChain(id)}`)
      out.push(`${comment('Return if profile accepted')} ${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j RETURN`)
    }
    out.push(`${comment('Drop if no profiles matched')} -j DROP`)
  }
  return out
}

/** Felix's dispatch tree: a root chain keyed by the first character after the common prefix. */
function dispatchChains(
  b: Builder,
  table: RenderedTableName,
  root: string,
  ifaces: readonly string[],
  flag: '-i' | '-o',
  target: (iface: string) => string,
): void {
  const names = [...new Set(ifaces)].sort()
  const rootRules: string[] = []
  if (names.length > 0) {
    let common = names[0]!
    for (const n of names) while (!n.startsWith(common)) common = common.slice(0, -1)
    const minLen = Math.min(...names.map((n) => n.length))
    if (common.length >= minLen) common = common.slice(0, minLen - 1)
    const groups = new Map<string, string[]>()
    for (const n of names) {
      const p = n.slice(0, common.length + 1)
      groups.set(p, [...(groups.get(p) ?? []), n])
    }
    for (const [prefix, members] of [...groups].sort(([a], [c]) => (a < c ? -1 : 1))) {
      if (members.length === 1) {
        rootRules.push(`${flag} ${members[0]} -g ${target(members[0]!)}`)
        continue
      }
      const child = `${root}-${prefix.slice(common.length)}`
      rootRules.push(`${flag} ${prefix}+ -g ${child}`)
      b.chain(table, child, [
        ...members.map((m) => `${flag} ${m} -g ${target(m)}`),
        `${comment('Unknown interface')} -j DROP`,
      ])
    }
  }
  rootRules.push(`${comment('Unknown interface')} -j DROP`)
  b.chain(table, root, rootRules)
}

function failsafeRules(ports: readonly FailsafePort[], dir: 'in' | 'out', sport = false): string[] {
  return ports.map((p) => {
    const net = p.net ? ` ${dir === 'in' ? '-s' : '-d'} ${p.net}` : ''
    return `-p ${p.protocol}${net} -m multiport --${sport ? 'sports' : 'dports'} ${p.port} -j ACCEPT`
  })
}

function hepDispatch(
  b: Builder,
  table: RenderedTableName,
  root: string,
  heps: readonly PolicyEndpoint[],
  flag: '-i' | '-o',
  target: (iface: string) => string,
  skipWorkloads: string | undefined,
): void {
  const named = heps.filter((h) => h.iface !== '*' && h.iface !== '').map((h) => h.iface)
  const rules = [...new Set(named)].sort().map((i) => `${flag} ${i} -g ${target(i)}`)
  if (heps.some((h) => h.iface === '*')) {
    if (skipWorkloads) rules.push(`${comment(skipWorkloads)} ${flag} cali+ -j RETURN`)
    rules.push(`-g ${target('*')}`)
  }
  b.chain(table, root, rules)
}

/** Renders the dataplane state of node `node`. */
export function renderNode(
  state: PolicyState,
  node: string,
  cfg: PolicyRenderConfig = DEFAULT_RENDER_CONFIG,
): NodeRendering {
  const b = new Builder(cfg)
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
  const wp = cfg.interfacePrefix

  const filterPolicies = new Map<string, FelixPolicy>()
  const manglePolicies = new Map<string, FelixPolicy>()
  const rawPolicies = new Map<string, FelixPolicy>()
  const activeProfiles = new Set<string>()
  const note = (m: Map<string, FelixPolicy>, tiers: Tier[]) => {
    for (const t of tiers) for (const p of t.policies) m.set(p.id, p)
    return tiers
  }

  // Workload endpoints.
  // Workload chains see only normal (tracked, post-DNAT) policies: compile their selectors once and
  // evaluate each once per endpoint (both directions filter the same matches).
  const normalPolicies = sorted.filter((p) => !p.preDNAT && !p.doNotTrack)
  const normalSels = normalPolicies.map((p) => sel(p.selector))
  for (const ep of weps) {
    const labels = effectiveLabels(ep.labels, ep.profileIds, profiles)
    const matched: FelixPolicy[] = []
    for (let i = 0; i < normalPolicies.length; i++)
      if (normalSels[i]!.evaluate(labels)) matched.push(normalPolicies[i]!)
    const inT = note(
      filterPolicies,
      tiersOf(matched, (p) => p.ingress),
    )
    const outT = note(
      filterPolicies,
      tiersOf(matched, (p) => p.egress),
    )
    for (const id of ep.profileIds) activeProfiles.add(id)
    b.chain(
      'filter',
      N.toWorkload(ep.iface),
      endpointRules({
        tiers: inT,
        policyChain: N.policyIn,
        profiles: ep.profileIds,
        profileChain: N.profileIn,
        tracked: true,
        adminDown: ep.adminDown === true,
      }),
    )
    b.chain(
      'filter',
      N.fromWorkload(ep.iface),
      endpointRules({
        tiers: outT,
        policyChain: N.policyOut,
        profiles: ep.profileIds,
        profileChain: N.profileOut,
        tracked: true,
        fromWorkload: true,
        adminDown: ep.adminDown === true,
      }),
    )
  }

  // Host endpoints (one per interface; the first by id wins).
  const hepByIface = new Map<string, PolicyEndpoint>()
  for (const h of heps) if (h.iface !== '' && !hepByIface.has(h.iface)) hepByIface.set(h.iface, h)
  const preDnatHeps: PolicyEndpoint[] = []
  const untrackedHeps: PolicyEndpoint[] = []
  for (const [iface, ep] of hepByIface) {
    const labels = effectiveLabels(ep.labels, ep.profileIds, profiles)
    const m = (p: FelixPolicy) => sel(p.selector).evaluate(labels)
    const normal = (p: FelixPolicy) => !p.preDNAT && !p.doNotTrack && m(p)
    for (const id of ep.profileIds) activeProfiles.add(id)
    b.chain(
      'filter',
      N.fromHost(iface),
      endpointRules({
        tiers: note(
          filterPolicies,
          tiersOf(sorted, (p) => p.ingress && normal(p)),
        ),
        policyChain: N.policyIn,
        profiles: ep.profileIds,
        profileChain: N.profileIn,
        failsafe: 'cali-failsafe-in',
        tracked: true,
      }),
    )
    b.chain(
      'filter',
      N.toHost(iface),
      endpointRules({
        tiers: note(
          filterPolicies,
          tiersOf(sorted, (p) => p.egress && normal(p)),
        ),
        policyChain: N.policyOut,
        profiles: ep.profileIds,
        profileChain: N.profileOut,
        failsafe: 'cali-failsafe-out',
        tracked: true,
      }),
    )
    b.chain(
      'filter',
      N.fromHostForward(iface),
      endpointRules({
        tiers: note(
          filterPolicies,
          tiersOf(sorted, (p) => p.ingress && p.applyOnForward && normal(p)),
        ),
        policyChain: N.policyIn,
        tracked: true,
        allowIfNoPolicies: true,
      }),
    )
    b.chain(
      'filter',
      N.toHostForward(iface),
      endpointRules({
        tiers: note(
          filterPolicies,
          tiersOf(sorted, (p) => p.egress && p.applyOnForward && normal(p)),
        ),
        policyChain: N.policyOut,
        tracked: true,
        allowIfNoPolicies: true,
      }),
    )
    const pre = note(
      manglePolicies,
      tiersOf(sorted, (p) => p.preDNAT && p.ingress && m(p)),
    )
    if (pre.length > 0) {
      preDnatHeps.push(ep)
      b.chain(
        'mangle',
        N.fromHost(iface),
        endpointRules({ tiers: pre, policyChain: N.policyIn, tracked: false, noDrop: true }),
      )
    }
    const unIn = note(
      rawPolicies,
      tiersOf(sorted, (p) => p.doNotTrack && p.ingress && m(p)),
    )
    const unOut = note(
      rawPolicies,
      tiersOf(sorted, (p) => p.doNotTrack && p.egress && m(p)),
    )
    if (unIn.length > 0 || unOut.length > 0) {
      untrackedHeps.push(ep)
      b.chain(
        'raw',
        N.fromHost(iface),
        endpointRules({
          tiers: unIn,
          policyChain: N.policyIn,
          failsafe: 'cali-failsafe-in',
          tracked: false,
          noDrop: true,
        }),
      )
      b.chain(
        'raw',
        N.toHost(iface),
        endpointRules({
          tiers: unOut,
          policyChain: N.policyOut,
          failsafe: 'cali-failsafe-out',
          tracked: false,
          noDrop: true,
        }),
      )
    }
  }

  // Policy and profile chains.
  for (const [t, m, untracked] of [
    ['filter', filterPolicies, false],
    ['mangle', manglePolicies, false],
    ['raw', rawPolicies, true],
  ] as const) {
    for (const p of [...m.values()].sort((a, c) => (a.id < c.id ? -1 : 1))) {
      b.chain(t, N.policyIn(p.id), b.rules(p.inbound, untracked))
      b.chain(t, N.policyOut(p.id), b.rules(p.outbound, untracked))
    }
  }
  for (const id of [...activeProfiles].sort()) {
    // A missing profile renders empty: fail closed.
    const p: FelixProfile = profiles.get(id) ?? { id, labels: {}, inbound: [], outbound: [] }
    b.chain('filter', N.profileIn(id), b.rules(p.inbound, false))
    b.chain('filter', N.profileOut(id), b.rules(p.outbound, false))
  }

  // Dispatch.
  const ifaces = weps.map((e) => e.iface)
  dispatchChains(b, 'filter', 'cali-from-wl-dispatch', ifaces, '-i', N.fromWorkload)
  dispatchChains(b, 'filter', 'cali-to-wl-dispatch', ifaces, '-o', N.toWorkload)
  const hepList = [...hepByIface.values()]
  hepDispatch(b, 'filter', 'cali-from-host-endpoint', hepList, '-i', N.fromHost, undefined)
  hepDispatch(b, 'filter', 'cali-to-host-endpoint', hepList, '-o', N.toHost, undefined)
  hepDispatch(
    b,
    'filter',
    'cali-from-hep-forward',
    hepList,
    '-i',
    N.fromHostForward,
    'Skip forward policy for traffic from local workload',
  )
  hepDispatch(
    b,
    'filter',
    'cali-to-hep-forward',
    hepList,
    '-o',
    N.toHostForward,
    'Skip egress WHEP policy for traffic to local workload',
  )
  hepDispatch(
    b,
    'mangle',
    'cali-from-host-endpoint',
    preDnatHeps,
    '-i',
    N.fromHost,
    'Skip preDNAT policy for traffic from local workload',
  )
  hepDispatch(b, 'raw', 'cali-from-host-endpoint', untrackedHeps, '-i', N.fromHost, undefined)
  hepDispatch(b, 'raw', 'cali-to-host-endpoint', untrackedHeps, '-o', N.toHost, undefined)

  // Static chains.
  const acceptIf = (c: string) => `${comment(c)} ${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j ACCEPT`
  b.chain('filter', 'cali-INPUT', [
    `-i ${wp}+ -g cali-wl-to-host`,
    `${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j ACCEPT`,
    setMark(0, ALL_CALI_MARKS),
    '-j cali-from-host-endpoint',
    acceptIf('Host endpoint policy accepted packet.'),
  ])
  const eth = cfg.defaultEndpointToHostAction
  b.chain('filter', 'cali-wl-to-host', [
    '-j cali-from-wl-dispatch',
    `${comment('Configured DefaultEndpointToHostAction')} -j ${eth}`,
  ])
  b.chain('filter', 'cali-FORWARD', [
    setMark(0, 0xe0000),
    `${markIs(0, MARK_ACCEPT)} -j cali-from-hep-forward`,
    `-i ${wp}+ -j cali-from-wl-dispatch`,
    `-o ${wp}+ -j cali-to-wl-dispatch`,
    '-j cali-to-hep-forward',
    '-j cali-cidr-block',
  ])
  b.chain('filter', 'cali-cidr-block', [])
  b.chain('filter', 'cali-OUTPUT', [
    `${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j ACCEPT`,
    `-o ${wp}+ -j RETURN`,
    setMark(0, ALL_CALI_MARKS),
    '-m conntrack ! --ctstate DNAT -j cali-to-host-endpoint',
    acceptIf('Host endpoint policy accepted packet.'),
  ])
  b.chain('filter', 'cali-failsafe-in', failsafeRules(cfg.failsafeInbound, 'in'))
  b.chain('filter', 'cali-failsafe-out', failsafeRules(cfg.failsafeOutbound, 'out'))
  b.chain('filter', 'INPUT', ['-j cali-INPUT'])
  b.chain('filter', 'FORWARD', [
    '-j cali-FORWARD',
    acceptIf('Policy explicitly accepted packet.'),
    setMark(MARK_ACCEPT, MARK_ACCEPT),
  ])
  b.chain('filter', 'OUTPUT', ['-j cali-OUTPUT'])

  b.chain('mangle', 'cali-PREROUTING', [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    `${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j ACCEPT`,
    '-j cali-from-host-endpoint',
    acceptIf('Host endpoint policy accepted packet.'),
  ])
  b.chain('mangle', 'PREROUTING', ['-j cali-PREROUTING'])

  b.chain('raw', 'cali-PREROUTING', [
    setMark(0, ALL_CALI_MARKS),
    `-i ${wp}+ ${setMark(MARK_SCRATCH0, MARK_SCRATCH0)}`,
    `${markIs(0, MARK_SCRATCH0)} -j cali-from-host-endpoint`,
    `${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j ACCEPT`,
  ])
  b.chain('raw', 'cali-OUTPUT', [
    setMark(0, ALL_CALI_MARKS),
    '-j cali-to-host-endpoint',
    `${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j ACCEPT`,
  ])
  b.chain('raw', 'cali-failsafe-in', [
    ...failsafeRules(cfg.failsafeInbound, 'in'),
    ...failsafeRules(cfg.failsafeOutbound, 'in', true),
  ])
  b.chain('raw', 'cali-failsafe-out', [
    ...failsafeRules(cfg.failsafeOutbound, 'out'),
    ...failsafeRules(cfg.failsafeInbound, 'out', true),
  ])
  b.chain('raw', 'PREROUTING', ['-j cali-PREROUTING'])
  b.chain('raw', 'OUTPUT', ['-j cali-OUTPUT'])

  // Hash comments, sorted chains.
  const tables = {} as Record<RenderedTableName, RenderedTable>
  for (const t of RENDERED_TABLES) {
    const out = new Map<string, readonly string[]>()
    for (const name of [...b.tables[t].keys()].sort()) {
      const rules = b.tables[t].get(name)!
      const hashes = ruleHashes(name, rules)
      out.set(
        name,
        rules.map((r, i) => `-m comment --comment "cali:${hashes[i]}" ${r}`),
      )
    }
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
  const things = [
    ...state.endpoints.map((e) => ({
      labels: effectiveLabels(e.labels, e.profileIds, profiles),
      ips: e.ips.map((i) => `${i}/32`),
      ports: e.ports ?? [],
    })),
    ...state.networkSets.map((s) => ({
      labels: effectiveLabels(s.labels, s.profileIds, profiles),
      ips: s.nets,
      ports: [],
    })),
  ]
  const out = new Map<string, RenderedIpSet>()
  for (const name of [...refs.keys()].sort()) {
    const ref = refs.get(name)!
    const s = sel(ref.selector)
    const members = new Set<string>()
    for (const th of things) {
      if (!s.evaluate(th.labels)) continue
      if (ref.kind === 'selector') {
        for (const ip of th.ips) {
          const c = parseCidr(ip)
          members.add(c.prefix === 32 ? ip.slice(0, -3) : `${ip}`)
        }
      } else {
        for (const p of th.ports)
          if (p.name === ref.portName && p.protocol.toLowerCase() === ref.protocol)
            for (const ip of th.ips) if (ip.endsWith('/32')) members.add(`${ip.slice(0, -3)},${ref.protocol}:${p.port}`)
      }
    }
    out.set(name, {
      name,
      type: ref.kind === 'selector' ? 'hash:net' : 'hash:ip,port',
      members: [...members].sort(),
    })
  }
  return out
}

export { toIpsetRestore, toIptablesRestore } from './restore-text.ts'
