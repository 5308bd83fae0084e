/**
 * The incremental renderer against the full one: random sequences of changes (labels, policies
 * added/removed/reordered/retyped, endpoints added/removed/moved, host endpoints, network sets,
 * namespace and service-account profiles) are applied as deltas to one emulated kernel, and after
 * every step its iptables-save/ipset state must equal a full rendering loaded from scratch.
 * Seeded (logged); replay with `POLICY_SEED=<n>`.
 */
import { IpSetStore, ipsetRestore, iptablesRestore, Netfilter, saveIpSets, saveTables } from '@calilab/dataplane'
import fc from 'fast-check'
import t from 'tap'
import {
  DEFAULT_ALLOW_PROFILE,
  defaultAllowProfile,
  emptyRule,
  type FelixNetworkSet,
  type FelixPolicy,
  type FelixProfile,
  type FelixRule,
  IncrementalRenderer,
  loadRendering,
  namespaceProfile,
  type PolicyEndpoint,
  type PolicyState,
  renderNode,
  serviceAccountProfile,
  toIpsetRestore,
  toIpsetRestoreDelta,
  toIptablesRestore,
  toIptablesRestoreDelta,
} from '../src/core/policy/index.ts'

const NODE = 'node1'

/** Kernel state in a canonical order (chains and sets by name; rule order kept; set members sorted). */
function dump(nf: Netfilter): string {
  const groups = new Map<string, string[]>()
  let table = ''
  for (const line of saveTables(nf, { tables: ['raw', 'mangle', 'filter'] }).split('\n')) {
    if (line.startsWith('*')) table = line
    const m = /^(?::(\S+)|-A (\S+))/.exec(line)
    if (!m) continue
    const key = `${table} ${m[1] ?? m[2]}`
    groups.set(key, [...(groups.get(key) ?? []), line.replace(/\[\d+:\d+\]/g, '')])
  }
  const sets = new Map<string, string[]>()
  for (const line of saveIpSets(nf.sets).split('\n')) {
    if (line === '') continue
    const name = line.split(' ')[1] ?? ''
    sets.set(name, [...(sets.get(name) ?? []), line])
  }
  const sorted = (m: Map<string, string[]>) => [...m.keys()].sort().flatMap((k) => m.get(k)!)
  for (const [k, v] of sets) sets.set(k, [...v].sort())
  return [...sorted(groups), ...sorted(sets)].join('\n')
}

// ---- the world's vocabulary ---------------------------------------------------------------------

const SELECTORS = [
  "app == 'a'",
  'has(app)',
  'all()',
  "tier == 'x'",
  "app == 'b' && tier != 'y'",
  "pcns.team == 't1'",
  "projectcalico.org/namespace == 'n1'",
  "pcsa.role == 'r1'",
  '!has(tier)',
]
const rule = (action: FelixRule['action'], extra: Partial<FelixRule>): FelixRule => ({ ...emptyRule(action), ...extra })
const RULES: FelixRule[] = [
  rule('allow', { srcSelector: "app == 'a'" }),
  rule('allow', { protocol: 6, srcSelector: "tier == 'x'", dstPorts: [{ first: 80, last: 80 }] }),
  rule('deny', { protocol: 6, dstNamedPorts: ['http'], srcSelector: 'has(app)' }),
  rule('allow', { notSrcSelector: "pcns.team == 't2'" }),
  rule('next-tier', { srcNets: ['192.168.0.0/16', '172.16.0.0/12'] }),
  rule('log', {}),
  rule('allow', { protocol: 17, dstSelector: "app == 'c'", dstPorts: [{ first: 53, last: 53 }] }),
  rule('deny', { notDstNets: ['10.0.0.0/8', '192.168.0.0/16'] }),
  rule('allow', { protocol: 6, srcNamedPorts: ['db'], srcSelector: "pcsa.role == 'r1'" }),
]
const labelsArb = fc.record(
  {
    app: fc.constantFrom('a', 'b', 'c'),
    tier: fc.constantFrom('x', 'y'),
    role: fc.constantFrom('r1', 'r2'),
  },
  { requiredKeys: [] },
)

const policyArb = fc
  .record({
    n: fc.nat(5),
    ns: fc.option(fc.constantFrom('n1', 'n2'), { nil: undefined }),
    selector: fc.constantFrom(...SELECTORS),
    tier: fc.constantFrom('default', 'default', 'alpha'),
    order: fc.option(fc.constantFrom(1, 5, 5, 10), { nil: undefined }),
    ingress: fc.boolean(),
    egress: fc.boolean(),
    kind: fc.constantFrom('normal', 'normal', 'normal', 'preDNAT', 'doNotTrack'),
    applyOnForward: fc.boolean(),
    inbound: fc.subarray(RULES, { maxLength: 3 }),
    outbound: fc.subarray(RULES, { maxLength: 2 }),
  })
  .map(
    (p): FelixPolicy => ({
      id: p.ns ? `${p.ns}/default.p${p.n}` : `default.p${p.n}`,
      tier: p.tier,
      ...(p.order !== undefined ? { order: p.order } : {}),
      selector: p.ns ? `(${p.selector}) && projectcalico.org/namespace == '${p.ns}'` : p.selector,
      ingress: p.ingress,
      egress: p.egress,
      inbound: p.inbound,
      outbound: p.outbound,
      doNotTrack: p.kind === 'doNotTrack',
      preDNAT: p.kind === 'preDNAT',
      applyOnForward: p.applyOnForward || p.kind !== 'normal',
    }),
  )

const endpointArb = fc
  .record({
    n: fc.nat(9),
    host: fc.boolean(),
    hepIface: fc.constantFrom('eth0', 'eth1', '*', ''),
    local: fc.boolean(),
    addressed: fc.constantFrom(true, true, true, false),
    ns: fc.constantFrom('n1', 'n2'),
    sa: fc.constantFrom('default', 'sa1'),
    labels: labelsArb,
    ips: fc.subarray(['a', 'b'], { minLength: 1 }),
    port: fc.option(fc.constantFrom(80, 8080), { nil: undefined }),
    adminDown: fc.constantFrom(false, false, false, true),
  })
  .map((e): PolicyEndpoint => {
    const ips = e.ips.map((x) => (x === 'a' ? `10.0.${e.n}.1` : `10.1.${e.n}.1`))
    if (e.host && e.n % 3 === 0)
      return {
        kind: 'host',
        id: `hep${e.n}`,
        node: e.local ? NODE : 'node2',
        iface: e.hepIface,
        ips,
        labels: e.labels,
        profileIds: e.n % 2 === 0 ? [DEFAULT_ALLOW_PROFILE] : [],
        ...(e.port ? { ports: [{ name: 'http', protocol: 'TCP' as const, port: e.port }] } : {}),
      }
    return {
      kind: 'workload',
      id: `wep${e.n}`,
      node: e.local ? NODE : 'node2',
      iface: e.addressed ? `cali${e.n}${'0123456789'.slice(0, 10)}` : '',
      ips,
      labels: { ...e.labels, 'projectcalico.org/namespace': e.ns, 'projectcalico.org/serviceaccount': e.sa },
      profileIds: [`kns.${e.ns}`, `ksa.${e.ns}.${e.sa}`],
      ...(e.port ? { ports: [{ name: e.n % 2 ? 'http' : 'db', protocol: 'TCP' as const, port: e.port }] } : {}),
      ...(e.adminDown ? { adminDown: true } : {}),
    }
  })

const profileArb = fc.oneof(
  fc
    .record({ ns: fc.constantFrom('n1', 'n2'), team: fc.constantFrom('t1', 't2', undefined) })
    .map(({ ns, team }) => namespaceProfile(ns, team ? { team } : {})),
  fc
    .record({
      ns: fc.constantFrom('n1', 'n2'),
      sa: fc.constantFrom('default', 'sa1'),
      role: fc.constantFrom('r1', 'r2'),
    })
    .map(({ ns, sa, role }) => serviceAccountProfile(ns, sa, { role })),
  fc
    .record({ inbound: fc.subarray(RULES, { maxLength: 2 }) })
    .map(({ inbound }): FelixProfile => ({ id: 'kns.n2', labels: { 'pcns.team': 't2' }, inbound, outbound: [] })),
)

const netsetArb = fc
  .record({ n: fc.nat(2), labels: labelsArb, nets: fc.subarray(['192.168.1.0/24', '10.0.1.1/32', '10.5.0.0/16']) })
  .map((s): FelixNetworkSet => ({ id: `gns${s.n}`, labels: s.labels, nets: s.nets, profileIds: [] }))

type Op =
  | { k: 'policy'; v: FelixPolicy }
  | { k: 'delPolicy'; n: number }
  | { k: 'endpoint'; v: PolicyEndpoint }
  | { k: 'delEndpoint'; n: number }
  | { k: 'profile'; v: FelixProfile }
  | { k: 'delProfile'; n: number }
  | { k: 'netset'; v: FelixNetworkSet }
  | { k: 'delNetset'; n: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: policyArb.map((v) => ({ k: 'policy' as const, v })) },
  { weight: 2, arbitrary: fc.nat(20).map((n) => ({ k: 'delPolicy' as const, n })) },
  { weight: 5, arbitrary: endpointArb.map((v) => ({ k: 'endpoint' as const, v })) },
  { weight: 2, arbitrary: fc.nat(20).map((n) => ({ k: 'delEndpoint' as const, n })) },
  { weight: 2, arbitrary: profileArb.map((v) => ({ k: 'profile' as const, v })) },
  { weight: 1, arbitrary: fc.nat(20).map((n) => ({ k: 'delProfile' as const, n })) },
  { weight: 1, arbitrary: netsetArb.map((v) => ({ k: 'netset' as const, v })) },
  { weight: 1, arbitrary: fc.nat(5).map((n) => ({ k: 'delNetset' as const, n })) },
)

/** The renderer keys endpoints by the caller's key (the manager: the store key), not the id. */
const epKey = (id: string) => `/key/${id}`

/** The world as maps by id; applies an op to them and to the renderer. */
class World {
  policies = new Map<string, FelixPolicy>()
  profiles = new Map<string, FelixProfile>([[DEFAULT_ALLOW_PROFILE, defaultAllowProfile()]])
  endpoints = new Map<string, PolicyEndpoint>()
  netsets = new Map<string, FelixNetworkSet>()

  state(): PolicyState {
    return {
      policies: [...this.policies.values()],
      profiles: [...this.profiles.values()],
      endpoints: [...this.endpoints.values()],
      networkSets: [...this.netsets.values()],
    }
  }

  apply(op: Op, r: IncrementalRenderer | undefined): void {
    const pick = <T>(m: Map<string, T>, n: number) => [...m.keys()].sort()[n % Math.max(1, m.size)]
    switch (op.k) {
      case 'policy':
        this.policies.set(op.v.id, op.v)
        r?.setPolicy(op.v.id, op.v)
        return
      case 'delPolicy': {
        const id = pick(this.policies, op.n)
        if (id === undefined) return
        this.policies.delete(id)
        r?.setPolicy(id, undefined)
        return
      }
      case 'endpoint': {
        // One interface per local workload (as the CNI guarantees).
        const clash = [...this.endpoints.values()].some(
          (e) => e.id !== op.v.id && e.kind === 'workload' && e.iface !== '' && e.iface === op.v.iface,
        )
        if (clash) return
        this.endpoints.set(op.v.id, op.v)
        r?.setEndpoint(epKey(op.v.id), op.v)
        return
      }
      case 'delEndpoint': {
        const id = pick(this.endpoints, op.n)
        if (id === undefined) return
        this.endpoints.delete(id)
        r?.setEndpoint(epKey(id), undefined)
        return
      }
      case 'profile':
        this.profiles.set(op.v.id, op.v)
        r?.setProfile(op.v.id, op.v)
        return
      case 'delProfile': {
        const id = pick(this.profiles, op.n)
        if (id === undefined) return
        this.profiles.delete(id)
        r?.setProfile(id, undefined)
        return
      }
      case 'netset':
        this.netsets.set(op.v.id, op.v)
        r?.setNetworkSet(op.v.id, op.v)
        return
      case 'delNetset': {
        const id = pick(this.netsets, op.n)
        if (id === undefined) return
        this.netsets.delete(id)
        r?.setNetworkSet(id, undefined)
        return
      }
    }
  }
}

const text = (r: ReturnType<typeof renderNode>) => toIptablesRestore(r) + toIpsetRestore(r)

/** Runs `initial` then `steps` (batches of ops): after every flush, kernel == full rendering loaded fresh. */
function check(initial: Op[], steps: Op[][]): string | undefined {
  const w = new World()
  for (const op of initial) w.apply(op, undefined)
  const r = new IncrementalRenderer(NODE)
  const nf = new Netfilter(new IpSetStore())
  const state0 = w.state()
  const first = r.reset(
    state0,
    state0.endpoints.map((e) => epKey(e.id)),
  )
  ipsetRestore(nf.sets, toIpsetRestore(first))
  iptablesRestore(nf, toIptablesRestore(first), { noflush: true })
  for (const [i, batch] of steps.entries()) {
    for (const op of batch) w.apply(op, r)
    const { diff, prev } = r.flush()
    const ips = toIpsetRestoreDelta(diff)
    ipsetRestore(nf.sets, ips.before)
    iptablesRestore(nf, toIptablesRestoreDelta(prev, diff), { noflush: true })
    ipsetRestore(nf.sets, ips.after)
    const full = renderNode(w.state(), NODE)
    if (text(r.rendering()) !== text(full)) return `step ${i}: rendering differs (${JSON.stringify(batch)})`
    if (dump(nf) !== dump(loadRendering(full))) return `step ${i}: kernel differs (${JSON.stringify(batch)})`
  }
  return undefined
}

t.test('incremental deltas equal a full rendering after every step', async (t) => {
  const seed = Number(process.env.POLICY_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed} (replay: POLICY_SEED=${seed})`)
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 25 }),
      fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 25 }),
      (initial, steps) => {
        const err = check(initial, steps)
        if (err) throw new Error(err)
      },
    ),
    { seed, numRuns: 100 },
  )
  t.pass('every step matched')
})

t.test('a reset is a full rendering, whatever came before', async (t) => {
  const seed = Number(process.env.POLICY_SEED ?? Date.now() % 1_000_000) + 1
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 30 }), fc.array(opArb, { maxLength: 30 }), (a, b) => {
      const w = new World()
      const r = new IncrementalRenderer(NODE)
      for (const op of a) w.apply(op, r)
      r.flush()
      for (const op of b) w.apply(op, undefined)
      const s = w.state()
      const keys = s.endpoints.map((e) => epKey(e.id))
      return text(r.reset(s, keys)) === text(renderNode(s, NODE))
    }),
    { seed, numRuns: 100 },
  )
  t.pass()
})
