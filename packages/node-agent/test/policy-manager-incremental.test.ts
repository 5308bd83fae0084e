/**
 * The policy manager end to end, incrementally: random sequences of syncer updates (pod labels,
 * pods added/removed/moved between nodes, namespaces and service accounts relabelled, Kubernetes
 * and Calico policies added/removed/reordered, global policies with namespace and service-account
 * selectors, host endpoints, global network sets) go through the state builder and the
 * incremental renderer into a node's emulated kernel; after every apply the kernel's
 * iptables-save/ipset state must equal a full rendering of the builder's state loaded from
 * scratch, without a full render or a failure. Seeded (logged); replay with `POLICY_SEED=<n>`.
 */
import { createHost, type Netfilter, saveIpSets, saveTables } from '@calilab/dataplane'
import { FakeClock, seededRng, silentLogger } from '@calilab/kit'
import { type KubeObject, parseIPv4 } from '@calilab/model'
import fc from 'fast-check'
import t from 'tap'
import { vethName } from '../src/core/cni/names.ts'
import { chainNames, loadRendering, renderNode } from '../src/core/policy/index.ts'
import { startPolicyManager } from '../src/felix/policy-manager.ts'
import type { SyncerUpdate } from '../src/io/syncer/types.ts'
import { podObj } from './helpers/policy-fixture.ts'

const NODE = 'node1'
const obj = (v: unknown) => v as KubeObject

/** Felix's part of a kernel in a canonical order (chains and sets by name; rule order kept). */
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
  const sets = saveIpSets(nf.sets)
    .split('\n')
    .filter((l) => l.includes(' cali4'))
    .sort()
  return [...[...groups.keys()].sort().flatMap((k) => groups.get(k)!), ...sets].join('\n')
}

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs)
const NSS = ['n1', 'n2'] as const
const SAS = ['default', 'sa1'] as const

const nsArb = fc.record({ ns: pick(NSS), team: fc.option(pick(['t1', 't2']), { nil: undefined }) }).map(
  ({ ns, team }): SyncerUpdate => ({
    key: `/core/namespaces/_/${ns}`,
    value: obj({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: team ? { team } : {} } }),
  }),
)
const saArb = fc.record({ ns: pick(NSS), sa: pick(SAS), role: pick(['r1', 'r2']) }).map(
  ({ ns, sa, role }): SyncerUpdate => ({
    key: `/core/serviceaccounts/${ns}/${sa}`,
    value: obj({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns, labels: { role } } }),
  }),
)
const podArb = fc
  .record({
    n: fc.nat(7),
    ns: pick(NSS),
    sa: pick(SAS),
    app: pick(['a', 'b', 'c']),
    tier: fc.option(pick(['x', 'y']), { nil: undefined }),
    local: fc.boolean(),
  })
  .map(({ n, ns, sa, app, tier, local }): SyncerUpdate => {
    const u = podObj(ns, `pod${n}`, `10.0.0.${n + 1}`, { app, ...(tier ? { tier } : {}) }, local ? NODE : 'node2')
    const v = u.value as unknown as { spec: { serviceAccountName: string } }
    v.spec.serviceAccountName = sa
    return u
  })
const knpArb = fc
  .record({
    n: fc.nat(2),
    ns: pick(NSS),
    app: pick(['a', 'b']),
    peer: pick(['x', 'y']),
    team: pick(['t1', 't2']),
    egress: fc.boolean(),
  })
  .map(
    ({ n, ns, app, peer, team, egress }): SyncerUpdate => ({
      key: `/networking.k8s.io/networkpolicies/${ns}/knp${n}`,
      value: obj({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `knp${n}`, namespace: ns },
        spec: {
          podSelector: { matchLabels: { app } },
          policyTypes: egress ? ['Ingress', 'Egress'] : ['Ingress'],
          ingress: [
            { from: [{ podSelector: { matchLabels: { tier: peer } } }], ports: [{ protocol: 'TCP', port: 80 }] },
            { from: [{ namespaceSelector: { matchLabels: { team } } }] },
          ],
          ...(egress ? { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] } }] }] } : {}),
        },
      }),
    }),
  )
const calicoRule = fc.oneof(
  pick(['a', 'b', 'c']).map((app) => ({ action: 'Allow', source: { selector: `app == '${app}'` } })),
  pick(['t1', 't2']).map((team) => ({ action: 'Allow', source: { namespaceSelector: `team == '${team}'` } })),
  pick(SAS).map((sa) => ({ action: 'Allow', protocol: 'TCP', source: { serviceAccounts: { names: [sa] } } })),
  fc.constant({ action: 'Deny', protocol: 'TCP', destination: { ports: [22, '8000:8100'] } }),
  fc.constant({ action: 'Pass', source: { nets: ['192.168.0.0/16', '172.16.0.0/12'] } }),
  fc.constant({ action: 'Allow', source: { selector: "role == 'net'" } }),
)
const cnpArb = fc
  .record({
    n: fc.nat(2),
    ns: pick(NSS),
    order: fc.option(pick([1, 5, 10, 100]), { nil: undefined }),
    selector: pick(["app == 'a'", 'has(tier)', 'all()', "app != 'c'"]),
    ingress: fc.array(calicoRule, { maxLength: 3 }),
  })
  .map(
    ({ n, ns, order, selector, ingress }): SyncerUpdate => ({
      key: `/projectcalico.org/networkpolicies/${ns}/cnp${n}`,
      value: obj({
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: `cnp${n}`, namespace: ns },
        spec: { ...(order !== undefined ? { order } : {}), selector, types: ['Ingress'], ingress },
      }),
    }),
  )
const gnpArb = fc
  .record({
    n: fc.nat(2),
    order: fc.option(pick([1, 5, 10]), { nil: undefined }),
    selector: pick(["tier == 'x'", 'all()', 'has(app)', 'has(host)']),
    nsSel: fc.option(pick(["team == 't1'", 'all()']), { nil: undefined }),
    saSel: fc.option(pick(["role == 'r1'"]), { nil: undefined }),
    ingress: fc.array(calicoRule, { maxLength: 2 }),
    egress: fc.array(calicoRule, { maxLength: 2 }),
    kind: pick(['normal', 'normal', 'preDNAT', 'doNotTrack']),
  })
  .map(({ n, order, selector, nsSel, saSel, ingress, egress, kind }): SyncerUpdate => {
    const special = kind !== 'normal'
    return {
      key: `/projectcalico.org/globalnetworkpolicies/_/gnp${n}`,
      value: obj({
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: `gnp${n}` },
        spec: {
          ...(order !== undefined ? { order } : {}),
          selector,
          ...(nsSel && !special ? { namespaceSelector: nsSel } : {}),
          ...(saSel && !special ? { serviceAccountSelector: saSel } : {}),
          ingress,
          ...(kind === 'preDNAT' ? { types: ['Ingress'] } : { egress }),
          ...(kind === 'preDNAT' ? { preDNAT: true, applyOnForward: true } : {}),
          ...(kind === 'doNotTrack' ? { doNotTrack: true, applyOnForward: true } : {}),
        },
      }),
    }
  })
const hepArb = fc
  .record({ n: fc.nat(1), iface: pick(['eth0', '*']), host: pick(['h1', 'h2']), local: fc.boolean() })
  .map(
    ({ n, iface, host, local }): SyncerUpdate => ({
      key: `/projectcalico.org/hostendpoints/_/hep${n}`,
      value: obj({
        apiVersion: 'projectcalico.org/v3',
        kind: 'HostEndpoint',
        metadata: { name: `hep${n}`, labels: { host } },
        spec: {
          node: local ? NODE : 'node2',
          interfaceName: iface,
          expectedIPs: [`198.19.0.${10 + n}`],
          ...(n === 0 ? { profiles: ['projectcalico-default-allow'] } : {}),
        },
      }),
    }),
  )
const gnsArb = fc.record({ n: fc.nat(1), nets: fc.subarray(['192.168.5.0/24', '10.0.0.1/32']) }).map(
  ({ n, nets }): SyncerUpdate => ({
    key: `/projectcalico.org/globalnetworksets/_/gns${n}`,
    value: obj({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkSet',
      metadata: { name: `gns${n}`, labels: { role: 'net' } },
      spec: { nets },
    }),
  }),
)
const upsertArb = fc.oneof(
  { weight: 2, arbitrary: nsArb },
  { weight: 2, arbitrary: saArb },
  { weight: 6, arbitrary: podArb },
  { weight: 3, arbitrary: knpArb },
  { weight: 3, arbitrary: cnpArb },
  { weight: 3, arbitrary: gnpArb },
  { weight: 1, arbitrary: hepArb },
  { weight: 1, arbitrary: gnsArb },
)
/** An upsert, or the removal of the same key. */
const opArb = fc.tuple(upsertArb, fc.nat(4)).map(([u, d]): SyncerUpdate => (d === 0 ? { key: u.key, value: null } : u))

t.test('incremental applies leave the kernel as a full rendering would, step after step', async (t) => {
  const seed = Number(process.env.POLICY_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed} (replay: POLICY_SEED=${seed})`)
  let steps = 0
  fc.assert(
    fc.property(
      fc.array(upsertArb, { maxLength: 20 }),
      fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 20 }),
      (initial, batches) => {
        const clock = new FakeClock()
        const host = createHost({ name: NODE, nodeIp: parseIPv4('198.19.0.2'), clock, rng: seededRng(1) })
        const pm = startPolicyManager({ nodeName: NODE, netns: host.root, log: silentLogger(), clock, verify: true })
        try {
          pm.onUpdates(initial)
          pm.onInSync()
          clock.advance(1)
          for (const [i, batch] of batches.entries()) {
            pm.onUpdates(batch)
            pm.apply()
            steps++
            const want = dump(loadRendering(renderNode(pm.builder.state(), NODE)))
            if (dump(host.root.nf) !== want) throw new Error(`step ${i}: kernel differs after ${JSON.stringify(batch)}`)
            const st = pm.status()
            if (st.fullRenders !== 1 || st.failures !== 0 || st.mismatches !== 0)
              throw new Error(`step ${i}: ${JSON.stringify(st)}`)
          }
        } finally {
          pm.close()
        }
      },
    ),
    { seed, numRuns: 60 },
  )
  t.ok(steps > 0, `${steps} incremental applies checked`)
})

t.test('a label change re-renders only the endpoint it moves and the policies it starts using', async (t) => {
  const clock = new FakeClock()
  const host = createHost({ name: NODE, nodeIp: parseIPv4('198.19.0.2'), clock, rng: seededRng(1) })
  const pm = startPolicyManager({ nodeName: NODE, netns: host.root, log: silentLogger(), clock, verify: true })
  t.teardown(() => pm.close())
  const base: SyncerUpdate[] = []
  for (const ns of NSS) base.push(nsArbValue(ns))
  // Pods 0-3, 8-11, ... are local (every app on both nodes).
  for (let i = 0; i < 40; i++)
    base.push(podObj('n1', `pod${i}`, `10.0.1.${i + 1}`, { app: `app${i % 4}` }, i % 8 < 4 ? NODE : 'node2'))
  for (let i = 0; i < 4; i++)
    base.push({
      key: `/projectcalico.org/networkpolicies/n1/only-app${i}`,
      value: obj({
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: `only-app${i}`, namespace: 'n1' },
        spec: {
          selector: `app == 'app${i}'`,
          ingress: [{ action: 'Allow', source: { selector: `app == 'app${(i + 1) % 4}'` } }],
        },
      }),
    })
  pm.onUpdates(base)
  pm.onInSync()
  clock.advance(1)
  // A local pod (pod1, app1) moves to app2: its ingress chain changes (the policies are ingress
  // only, so its egress chain does not); every policy stays in use elsewhere on the node.
  pm.onUpdates([podObj('n1', 'pod1', '10.0.1.2', { app: 'app2' }, NODE)])
  const r = pm.apply()!
  t.equal(r.full, false, 'incremental')
  t.same(r.touched, [`filter/${chainNames.toWorkload(vethName('n1', 'pod1'))}`], "only the pod's ingress chain")
  t.equal(r.ipsetsChanged, 2, 'it left one selector set and joined another')
  // A remote pod relabelled: IP-set members only.
  pm.onUpdates([podObj('n1', 'pod4', '10.0.1.5', { app: 'app3' }, 'node2')])
  const r2 = pm.apply()!
  t.same(r2.touched, [], 'no chain')
  t.ok(r2.ipsetsChanged > 0, 'set members moved')
  // A policy's rules change: only its chains.
  pm.onUpdates([
    {
      key: '/projectcalico.org/networkpolicies/n1/only-app0',
      value: obj({
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: 'only-app0', namespace: 'n1' },
        spec: {
          selector: "app == 'app0'",
          ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22] } }],
        },
      }),
    },
  ])
  const r3 = pm.apply()!
  t.same(r3.touched, [`filter/${chainNames.policyIn('n1/default.only-app0')}`], 'only its inbound chain')
  t.equal(pm.status().mismatches, 0, 'every incremental rendering matched a full one')
})

function nsArbValue(ns: string): SyncerUpdate {
  return {
    key: `/core/namespaces/_/${ns}`,
    value: obj({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }),
  }
}
