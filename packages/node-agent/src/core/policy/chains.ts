/**
 * The pieces of Felix's iptables rendering (felix/rules: static.go, endpoints.go, dispatch.go,
 * policy.go) that both the full rendering (`renderNode`) and the incremental one
 * (`IncrementalRenderer`) are built from, so the two agree by construction. Pure.
 */
import { comparePolicies } from '../calc/policy-sorter.ts'
import { comment, MARK_ACCEPT, MARK_PASS, MARK_SCRATCH0, markIs, setMark } from './marks.ts'
import { chainNames as N, ruleHashes } from './names.ts'
import { type IpSetRef, type RuleRenderContext, renderRule } from './rules.ts'
import type { FailsafePort, FelixPolicy, FelixProfile, PolicyEndpoint, PolicyRenderConfig } from './types.ts'

export type RenderedTableName = 'raw' | 'mangle' | 'filter'
export const RENDERED_TABLES: readonly RenderedTableName[] = ['raw', 'mangle', 'filter']

/** Where rendered chains go (rule bodies without hash comments). */
export interface ChainSink {
  chain(t: RenderedTableName, name: string, rules: string[]): void
}

const ALL_CALI_MARKS = 0xf0000

export interface Tier {
  tier: string
  policies: FelixPolicy[]
}

export function tiersOf(sorted: readonly FelixPolicy[], pick: (p: FelixPolicy) => boolean): Tier[] {
  const out: Tier[] = []
  for (const p of sorted) {
    if (!pick(p)) continue
    const last = out[out.length - 1]
    if (last && last.tier === p.tier) last.policies.push(p)
    else out.push({ tier: p.tier, policies: [p] })
  }
  return out
}

const sortKey = (p: FelixPolicy) => ({ tierOrder: undefined, tier: p.tier, order: p.order, name: p.id })

/** Policies in Felix order: tier name, then order (unset last), then id. */
export function sortPolicies(policies: readonly FelixPolicy[]): FelixPolicy[] {
  return [...policies].sort((a, b) => comparePolicies(sortKey(a), sortKey(b)))
}

/** Normal policies apply in the filter table; preDNAT ones in mangle, doNotTrack ones in raw. */
export const isNormalPolicy = (p: FelixPolicy): boolean => !p.preDNAT && !p.doNotTrack

/** `-m comment --comment "cali:<hash>"` prepended to each rule (Felix's rule hashes). */
export function withHashes(name: string, rules: readonly string[]): string[] {
  const hashes = ruleHashes(name, rules)
  return rules.map((r, i) => `-m comment --comment "cali:${hashes[i]}" ${r}`)
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
  /** Memo of the jump rules (shared by the endpoints of one rendering). */
  jumps?: JumpRules
}

// Rule texts every endpoint chain repeats: one string each (built once, compared by identity).
const ADMIN_DOWN = `${comment('Endpoint admin disabled')} -j DROP`
const CT_ACCEPT = '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'
const CT_DROP = '-m conntrack --ctstate INVALID -j DROP'
const CLEAR_ACCEPT = setMark(0, MARK_ACCEPT)
const DROP_VXLAN = `${comment('Drop VXLAN encapped packets originating in workloads')} -p udp -m multiport --dports 4789 -j DROP`
const DROP_IPIP = `${comment('Drop IPinIP encapped packets originating in workloads')} -p 4 -j DROP`
const START_TIER = `${comment('Start of policies')} ${setMark(0, MARK_PASS)}`
const POLICY_JUMP = `${markIs(0, MARK_PASS)} -j `
const RETURN_POLICY = `${comment('Return if policy accepted')} ${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j RETURN`
const DROP_TIER = `${comment('Drop if no policies passed packet')} ${markIs(0, MARK_PASS)} -j DROP`
const ALLOW_FORWARD = `${comment('Allow forwarded traffic by default')} ${setMark(MARK_ACCEPT, MARK_ACCEPT)}`
const RETURN_ACCEPTED = `${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j RETURN`
const RETURN_PROFILE = `${comment('Return if profile accepted')} ${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j RETURN`
const DROP_PROFILES = `${comment('Drop if no profiles matched')} -j DROP`

/**
 * The rules that jump to a policy or profile chain, one string per chain: the chain name (a
 * SHA-256 when the id is long) is worked out once per rendering, not once per endpoint using it.
 */
export class JumpRules {
  private readonly policies = new Map<(id: string) => string, Map<string, string>>()
  private readonly profiles = new Map<(id: string) => string, Map<string, string>>()

  /** `-m mark --mark 0x0/0x20000 -j <chain(id)>` */
  policy(chain: (id: string) => string, id: string): string {
    return memo(this.policies, chain, id, POLICY_JUMP)
  }

  /** `-j <chain(id)>` */
  profile(chain: (id: string) => string, id: string): string {
    return memo(this.profiles, chain, id, '-j ')
  }
}

function memo(
  m: Map<(id: string) => string, Map<string, string>>,
  chain: (id: string) => string,
  id: string,
  prefix: string,
): string {
  let byId = m.get(chain)
  if (byId === undefined) m.set(chain, (byId = new Map()))
  let r = byId.get(id)
  if (r === undefined) byId.set(id, (r = prefix + chain(id)))
  return r
}

function endpointRules(o: EndpointChainOpts): string[] {
  if (o.adminDown) return [ADMIN_DOWN]
  const jumps = o.jumps ?? new JumpRules()
  const out: string[] = []
  if (o.tracked) out.push(CT_ACCEPT, CT_DROP)
  if (o.failsafe) out.push(`-j ${o.failsafe}`)
  out.push(CLEAR_ACCEPT)
  if (o.fromWorkload) out.push(DROP_VXLAN, DROP_IPIP)
  for (const t of o.tiers) {
    out.push(START_TIER)
    for (const p of t.policies) out.push(jumps.policy(o.policyChain, p.id), RETURN_POLICY)
    if (!o.noDrop) out.push(DROP_TIER)
  }
  if (o.allowIfNoPolicies && o.tiers.length === 0) out.push(ALLOW_FORWARD, RETURN_ACCEPTED)
  if (o.profiles && o.profileChain) {
    for (const id of o.profiles) out.push(jumps.profile(o.profileChain, id), RETURN_PROFILE)
    out.push(DROP_PROFILES)
  }
  return out
}

export interface WorkloadChains {
  /** `cali-tw-<iface>` and `cali-fw-<iface>` with their rules. */
  chains: [string, string[]][]
  /** Policies the chains jump to (their filter-table chains must exist). */
  policies: FelixPolicy[]
}

/**
 * A local workload's two chains, given the normal policies selecting it in Felix order. `jumps`:
 * one memo for every endpoint of a rendering.
 */
export function workloadChains(
  ep: PolicyEndpoint,
  matched: readonly FelixPolicy[],
  jumps: JumpRules = new JumpRules(),
): WorkloadChains {
  const inT = tiersOf(matched, (p) => p.ingress)
  const outT = tiersOf(matched, (p) => p.egress)
  const policies = new Set<FelixPolicy>()
  for (const t of [...inT, ...outT]) for (const p of t.policies) policies.add(p)
  const adminDown = ep.adminDown === true
  return {
    chains: [
      [
        N.toWorkload(ep.iface),
        endpointRules({
          tiers: inT,
          policyChain: N.policyIn,
          profiles: ep.profileIds,
          profileChain: N.profileIn,
          tracked: true,
          adminDown,
          jumps,
        }),
      ],
      [
        N.fromWorkload(ep.iface),
        endpointRules({
          tiers: outT,
          policyChain: N.policyOut,
          profiles: ep.profileIds,
          profileChain: N.profileOut,
          tracked: true,
          fromWorkload: true,
          adminDown,
          jumps,
        }),
      ],
    ],
    policies: [...policies],
  }
}

/** Felix's dispatch tree: a root chain keyed by the first character after the common prefix. */
function dispatchChains(
  b: ChainSink,
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
      let g = groups.get(p)
      if (!g) groups.set(p, (g = []))
      g.push(n)
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

/** The workload dispatch trees (`cali-from-wl-dispatch`, `cali-to-wl-dispatch` and their children). */
export function workloadDispatch(b: ChainSink, ifaces: readonly string[]): void {
  dispatchChains(b, 'filter', 'cali-from-wl-dispatch', ifaces, '-i', N.fromWorkload)
  dispatchChains(b, 'filter', 'cali-to-wl-dispatch', ifaces, '-o', N.toWorkload)
}

function failsafeRules(ports: readonly FailsafePort[], dir: 'in' | 'out', sport = false): string[] {
  return ports.map((p) => {
    const net = p.net ? ` ${dir === 'in' ? '-s' : '-d'} ${p.net}` : ''
    return `-p ${p.protocol}${net} -m multiport --${sport ? 'sports' : 'dports'} ${p.port} -j ACCEPT`
  })
}

function hepDispatch(
  b: ChainSink,
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

/** What the host-endpoint part of a rendering uses: policies per table, profiles. */
export interface HostEndpointUse {
  policies: Record<RenderedTableName, Map<string, FelixPolicy>>
  profiles: Set<string>
}

/**
 * Every host-endpoint chain of a node and the host-endpoint dispatch chains. `heps`: the node's
 * host endpoints sorted by id (one per interface; the first wins); `matched(ep)`: the policies
 * selecting an endpoint, in Felix order.
 */
export function hostEndpointChains(
  b: ChainSink,
  heps: readonly PolicyEndpoint[],
  matched: (ep: PolicyEndpoint) => readonly FelixPolicy[],
): HostEndpointUse {
  const use: HostEndpointUse = {
    policies: { raw: new Map(), mangle: new Map(), filter: new Map() },
    profiles: new Set(),
  }
  const note = (t: RenderedTableName, tiers: Tier[]) => {
    for (const x of tiers) for (const p of x.policies) use.policies[t].set(p.id, p)
    return tiers
  }
  const hepByIface = new Map<string, PolicyEndpoint>()
  for (const h of heps) if (h.iface !== '' && !hepByIface.has(h.iface)) hepByIface.set(h.iface, h)
  const preDnatHeps: PolicyEndpoint[] = []
  const untrackedHeps: PolicyEndpoint[] = []
  for (const [iface, ep] of hepByIface) {
    const sorted = matched(ep)
    const normal = (p: FelixPolicy) => isNormalPolicy(p)
    for (const id of ep.profileIds) use.profiles.add(id)
    const tracked = (
      name: string,
      pick: (p: FelixPolicy) => boolean,
      dir: 'in' | 'out',
      extra: Partial<EndpointChainOpts>,
    ) =>
      b.chain(
        'filter',
        name,
        endpointRules({
          tiers: note(
            'filter',
            tiersOf(sorted, (p) => normal(p) && pick(p)),
          ),
          policyChain: dir === 'in' ? N.policyIn : N.policyOut,
          tracked: true,
          ...extra,
        }),
      )
    tracked(N.fromHost(iface), (p) => p.ingress, 'in', {
      profiles: ep.profileIds,
      profileChain: N.profileIn,
      failsafe: 'cali-failsafe-in',
    })
    tracked(N.toHost(iface), (p) => p.egress, 'out', {
      profiles: ep.profileIds,
      profileChain: N.profileOut,
      failsafe: 'cali-failsafe-out',
    })
    tracked(N.fromHostForward(iface), (p) => p.ingress && p.applyOnForward, 'in', { allowIfNoPolicies: true })
    tracked(N.toHostForward(iface), (p) => p.egress && p.applyOnForward, 'out', { allowIfNoPolicies: true })
    const pre = note(
      'mangle',
      tiersOf(sorted, (p) => p.preDNAT && p.ingress),
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
      'raw',
      tiersOf(sorted, (p) => p.doNotTrack && p.ingress),
    )
    const unOut = note(
      'raw',
      tiersOf(sorted, (p) => p.doNotTrack && p.egress),
    )
    if (unIn.length > 0 || unOut.length > 0) {
      untrackedHeps.push(ep)
      const untracked = (name: string, tiers: Tier[], dir: 'in' | 'out') =>
        b.chain(
          'raw',
          name,
          endpointRules({
            tiers,
            policyChain: dir === 'in' ? N.policyIn : N.policyOut,
            failsafe: dir === 'in' ? 'cali-failsafe-in' : 'cali-failsafe-out',
            tracked: false,
            noDrop: true,
          }),
        )
      untracked(N.fromHost(iface), unIn, 'in')
      untracked(N.toHost(iface), unOut, 'out')
    }
  }

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
  return use
}

/** A policy's inbound and outbound chains; the IP sets their rules use are added to `sets`. */
export function policyChains(
  p: FelixPolicy,
  untracked: boolean,
  cfg: PolicyRenderConfig,
  sets: Map<string, IpSetRef>,
): [string, string[]][] {
  const ctx: RuleRenderContext = { logPrefix: cfg.logPrefix, untracked, sets }
  return [
    [N.policyIn(p.id), p.inbound.flatMap((r) => renderRule(r, ctx))],
    [N.policyOut(p.id), p.outbound.flatMap((r) => renderRule(r, ctx))],
  ]
}

/** A profile's chains; a profile that is named but missing renders empty (fail closed). */
export function profileChains(
  id: string,
  p: FelixProfile | undefined,
  cfg: PolicyRenderConfig,
  sets: Map<string, IpSetRef>,
): [string, string[]][] {
  const ctx: RuleRenderContext = { logPrefix: cfg.logPrefix, untracked: false, sets }
  return [
    [N.profileIn(id), (p?.inbound ?? []).flatMap((r) => renderRule(r, ctx))],
    [N.profileOut(id), (p?.outbound ?? []).flatMap((r) => renderRule(r, ctx))],
  ]
}

/** Chains that depend on the configuration only: hooks, failsafes, the top-level cali- chains. */
export function staticChains(b: ChainSink, cfg: PolicyRenderConfig): void {
  const wp = cfg.interfacePrefix
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
}
