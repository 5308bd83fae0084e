import { IpSetStore, ipsetRestore, iptablesRestore, Netfilter, saveIpSets, saveTables } from '@calilab/dataplane'
import fc from 'fast-check'
import t from 'tap'
import {
  diffRenderings,
  type FelixPolicy,
  globalNetworkPolicyToFelix,
  isEmptyDiff,
  loadRendering,
  type NodeRendering,
  namespaceProfile,
  type PolicyEndpoint,
  type PolicyState,
  renderNode,
  serviceAccountProfile,
  toIpsetRestoreDelta,
  toIptablesRestoreDelta,
  touchedChains,
} from '../src/core/policy/index.ts'

const pol = (name: string, selector: string, peer: string): FelixPolicy =>
  globalNetworkPolicyToFelix({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec: { selector, ingress: [{ action: 'Allow', source: { selector: peer } }] },
  } as never)

const POLICIES = [
  pol('p1', "app == 'db'", "app == 'web'"),
  pol('p2', "app == 'web'", 'has(app)'),
  pol('p3', 'all()', "role == 'x'"),
]
const ep = (i: number, app: string | undefined, node = 'node1'): PolicyEndpoint => ({
  kind: 'workload',
  id: `ep${i}`,
  node,
  iface: `cali${i}abcdefghij`.slice(0, 15),
  ips: [`10.0.0.${i + 1}`],
  labels: { ...(app ? { app } : {}), 'projectcalico.org/namespace': 'a' },
  profileIds: ['kns.a', 'ksa.a.default'],
})

const stateArb = fc.record({
  pols: fc.subarray(POLICIES),
  eps: fc.array(
    fc.tuple(fc.nat(6), fc.option(fc.constantFrom('db', 'web', 'other'), { nil: undefined }), fc.boolean()),
    { maxLength: 6 },
  ),
})
type S = typeof stateArb extends fc.Arbitrary<infer X> ? X : never
const toState = (s: S): PolicyState => {
  const seen = new Set<number>()
  const endpoints = s.eps
    .filter(([i]) => !seen.has(i) && seen.add(i))
    .map(([i, app, remote]) => ep(i, app, remote ? 'node2' : 'node1'))
  return {
    policies: s.pols,
    profiles: [namespaceProfile('a'), serviceAccountProfile('a', 'default')],
    endpoints,
    networkSets: [],
  }
}
const EMPTY: PolicyState = { policies: [], profiles: [], endpoints: [], networkSets: [] }

/** Applies each step as a delta to one kernel; returns its final dump. */
function applySequence(states: PolicyState[]): string {
  const nf = new Netfilter(new IpSetStore())
  let prev: NodeRendering | undefined
  for (const s of states) {
    const next = renderNode(s, 'node1')
    const d = diffRenderings(prev, next)
    const ips = toIpsetRestoreDelta(d)
    ipsetRestore(nf.sets, ips.before)
    iptablesRestore(nf, toIptablesRestoreDelta(prev, d), { noflush: true })
    ipsetRestore(nf.sets, ips.after)
    prev = next
  }
  return dump(nf)
}
/** Kernel state in a canonical order (chains and sets by name; rule order kept). */
function dump(nf: Netfilter): string {
  const groups = new Map<string, string[]>()
  let table = ''
  for (const line of saveTables(nf).split('\n')) {
    if (line.startsWith('*')) table = line
    const m = /^(?::(\S+)|-A (\S+))/.exec(line)
    if (!m) continue
    const key = `${table} ${m[1] ?? m[2]}`
    groups.set(key, [...(groups.get(key) ?? []), line.replace(/\[\d+:\d+\]/g, '')])
  }
  const sets = new Map<string, string[]>()
  for (const line of saveIpSets(nf.sets).split('\n')) {
    const name = line.split(' ')[1] ?? ''
    sets.set(name, [...(sets.get(name) ?? []), line])
  }
  const sorted = (m: Map<string, string[]>) => [...m.keys()].sort().flatMap((k) => m.get(k)!)
  // A set is a set: members compare in sorted order (the create line sorts before the adds).
  for (const [k, v] of sets) sets.set(k, [...v].sort())
  return [...sorted(groups), ...sorted(sets)].join('\n')
}

t.test('deltas along any sequence (and its variations) reach the full rendering', async (t) => {
  const seed = Number(process.env.POLICY_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed}`)
  fc.assert(
    fc.property(fc.array(stateArb, { minLength: 1, maxLength: 5 }), (seq) => {
      const states = seq.map(toState)
      const final = states[states.length - 1]!
      const want = dump(loadRendering(renderNode(final, 'node1')))
      const variations = [
        states,
        [...states].reverse().concat([final]),
        [final],
        states.flatMap((s) => [s, EMPTY]).concat([final]),
      ]
      return variations.every((v) => applySequence(v) === want)
    }),
    { seed, numRuns: 60 },
  )
})

t.test('a label change touches only what it must', async (t) => {
  const base: PolicyState = toState({
    pols: POLICIES,
    eps: [
      [0, 'db', false],
      [1, 'web', false],
      [2, 'web', true],
    ],
  })
  const r0 = renderNode(base, 'node1')
  t.ok(isEmptyDiff(diffRenderings(r0, renderNode(base, 'node1'))), 'same state, empty diff')
  // Remote endpoint relabelled: only IP set members move.
  const remote = {
    ...base,
    endpoints: base.endpoints.map((e) => (e.id === 'ep2' ? { ...e, labels: { ...e.labels, app: 'other' } } : e)),
  }
  const d1 = diffRenderings(r0, renderNode(remote, 'node1'))
  t.same(touchedChains(d1), [], 'no chain changes')
  t.ok(d1.ipsets.dels.size > 0, 'an IP set loses the remote endpoint')
  // Local endpoint relabelled db → web: its own chains change, other endpoints' chains do not.
  const local = {
    ...base,
    endpoints: base.endpoints.map((e) => (e.id === 'ep0' ? { ...e, labels: { ...e.labels, app: 'web' } } : e)),
  }
  const touched = touchedChains(diffRenderings(r0, renderNode(local, 'node1')))
  t.ok(touched.includes(`filter/cali-tw-${ep(0, 'x').iface}`))
  t.notOk(
    touched.some((c) => c.includes(ep(1, 'x').iface)),
    `ep1 untouched: ${touched.join(' ')}`,
  )
})
