import type { CalicoNetworkPolicy, GlobalNetworkPolicy, K8sNetworkPolicy, Rule } from '@calilab/model'
import fc from 'fast-check'
import t from 'tap'
import {
  globalNetworkPolicyToFelix,
  k8sNetworkPolicyToCalico,
  loadRendering,
  namespaceProfile,
  networkPolicyToFelix,
  networkSetToFelix,
  nfPacket,
  type PolicyEndpoint,
  type PolicyState,
  ReferenceEvaluator,
  type RefPacket,
  referenceForwardVerdict,
  renderNode,
  serviceAccountProfile,
  walk,
} from '../src/core/policy/index.ts'

const NS = ['a', 'b']
const KEYS = ['app', 'tier']
const VALS = ['x', 'y']
const SAS = ['s1', 's2']

const labelsArb = fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALS), { maxKeys: 2 })
const selArb = fc.oneof(
  fc.constant(''),
  fc.constant('all()'),
  fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...VALS)).map(([k, v]) => `${k} == '${v}'`),
  fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...VALS)).map(([k, v]) => `${k} != '${v}'`),
  fc.constantFrom(...KEYS).map((k) => `has(${k})`),
  fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...VALS)).map(([k, v]) => `!has(${k}) || ${k} in {'${v}'}`),
)
const nsSelArb = fc.oneof(
  fc.constant('all()'),
  fc.constant('global()'),
  fc.constantFrom(...NS).map((n) => `projectcalico.org/name == '${n}'`),
  fc.constantFrom(...VALS).map((v) => `env == '${v}'`),
)
const netArb = fc.constantFrom('10.0.0.0/24', '10.0.0.0/30', '10.0.0.4/32', '10.0.1.0/24', '0.0.0.0/0', '10.0.0.8/29')
const portArb = fc.oneof(fc.constantFrom(80, 443, 53), fc.constant('80:90'), fc.constant('web'))

const entityArb = fc.record(
  {
    nets: fc.array(netArb, { maxLength: 3 }),
    notNets: fc.array(netArb, { maxLength: 3 }),
    selector: selArb,
    notSelector: selArb.filter((s) => s !== ''),
    namespaceSelector: nsSelArb,
    ports: fc.array(portArb, { minLength: 1, maxLength: 3 }),
    notPorts: fc.array(fc.constantFrom(81, 443, '85:86'), { minLength: 1, maxLength: 2 }),
    serviceAccounts: fc.record({ names: fc.array(fc.constantFrom(...SAS), { minLength: 1, maxLength: 2 }) }),
  },
  { requiredKeys: [] },
)

const ruleArb: fc.Arbitrary<Rule> = fc
  .record({
    action: fc.constantFrom('Allow', 'Allow', 'Deny', 'Log', 'Pass'),
    protocol: fc.option(fc.constantFrom('TCP', 'UDP', 'ICMP'), { nil: undefined }),
    notProtocol: fc.option(fc.constantFrom('UDP'), { nil: undefined }),
    source: fc.option(entityArb, { nil: undefined }),
    destination: fc.option(entityArb, { nil: undefined }),
    icmpType: fc.option(fc.constantFrom(0, 8), { nil: undefined }),
  })
  .map((r) => {
    const out: Rule = { action: r.action as Rule['action'] }
    const proto = r.protocol
    if (proto) out.protocol = proto
    if (r.notProtocol && proto === undefined) out.notProtocol = r.notProtocol
    const fix = (e: NonNullable<Rule['source']>) => {
      const c = { ...e }
      if (proto !== 'TCP' && proto !== 'UDP') {
        delete c.ports
        delete c.notPorts
      }
      return c
    }
    if (r.source) out.source = fix(r.source)
    if (r.destination) out.destination = fix(r.destination)
    if (proto === 'ICMP' && r.icmpType !== undefined) out.icmp = { type: r.icmpType }
    return out
  })

const calicoPolicyArb = fc.record({
  global: fc.boolean(),
  ns: fc.constantFrom(...NS),
  order: fc.option(fc.constantFrom(10, 100, 1000), { nil: undefined }),
  selector: selArb,
  namespaceSelector: fc.option(
    nsSelArb.filter((s) => s !== 'global()'),
    { nil: undefined },
  ),
  saSelector: fc.option(fc.constantFrom("role == 'admin'", "role != 'admin'"), { nil: undefined }),
  types: fc.subarray(['Ingress', 'Egress'] as const),
  ingress: fc.array(ruleArb, { maxLength: 3 }),
  egress: fc.array(ruleArb, { maxLength: 3 }),
})

const k8sLabelSel = fc.record({ matchLabels: labelsArb }, { requiredKeys: [] })
const k8sPeer = fc.oneof(
  fc.record({ podSelector: k8sLabelSel }),
  fc.record({
    namespaceSelector: fc.record({ matchLabels: fc.dictionary(fc.constant('env'), fc.constantFrom(...VALS)) }),
  }),
  fc.record({ podSelector: k8sLabelSel, namespaceSelector: fc.constant({}) }),
  fc.record({ ipBlock: fc.constantFrom({ cidr: '10.0.0.0/24', except: ['10.0.0.4/30'] }, { cidr: '10.0.0.0/16' }) }),
)
const k8sPorts = fc.array(
  fc.oneof(
    fc.record({
      protocol: fc.constantFrom('TCP', 'UDP') as fc.Arbitrary<'TCP' | 'UDP'>,
      port: fc.constantFrom(80, 53, 'web'),
    }),
    fc.record({ port: fc.constant(80), endPort: fc.constant(85) }),
    fc.record({ protocol: fc.constant('UDP' as const) }),
  ),
  { maxLength: 2 },
)
const k8sPolicyArb = fc.record({
  ns: fc.constantFrom(...NS),
  podSelector: k8sLabelSel,
  policyTypes: fc.option(fc.subarray(['Ingress', 'Egress'] as const, { minLength: 1 }), { nil: undefined }),
  ingress: fc.option(
    fc.array(fc.record({ from: fc.array(k8sPeer, { maxLength: 2 }), ports: k8sPorts }, { requiredKeys: [] }), {
      maxLength: 2,
    }),
    { nil: undefined },
  ),
  egress: fc.option(
    fc.array(fc.record({ to: fc.array(k8sPeer, { maxLength: 2 }), ports: k8sPorts }, { requiredKeys: [] }), {
      maxLength: 2,
    }),
    { nil: undefined },
  ),
})

const podArb = fc.record({
  ns: fc.constantFrom(...NS),
  sa: fc.constantFrom(...SAS),
  labels: labelsArb,
  remote: fc.boolean(),
  web: fc.constantFrom(80, 8080),
})

const worldArb = fc.record({
  pods: fc.array(podArb, { minLength: 2, maxLength: 5 }),
  nsEnv: fc.tuple(fc.constantFrom(...VALS), fc.constantFrom(...VALS)),
  saRole: fc.tuple(fc.constantFrom('admin', 'user'), fc.constantFrom('admin', 'user')),
  calico: fc.array(calicoPolicyArb, { maxLength: 3 }),
  k8s: fc.array(k8sPolicyArb, { maxLength: 2 }),
  netset: fc.boolean(),
  packets: fc.array(
    fc.record({
      from: fc.nat(9),
      to: fc.nat(9),
      external: fc.constantFrom(undefined, '10.0.1.7', '10.0.0.9', '192.168.1.1'),
      protocol: fc.constantFrom(6, 17, 1),
      dstPort: fc.constantFrom(80, 85, 443, 53, 8080, 22),
      icmpType: fc.constantFrom(0, 8),
    }),
    { minLength: 1, maxLength: 8 },
  ),
})

type World = typeof worldArb extends fc.Arbitrary<infer W> ? W : never

function buildState(w: World): { state: PolicyState; eps: PolicyEndpoint[] } {
  const eps: PolicyEndpoint[] = w.pods.map((p, i) => ({
    kind: 'workload',
    id: `pod${i}`,
    node: p.remote ? 'node2' : 'node1',
    iface: `cali${String(i).padStart(11, '0')}`,
    ips: [`10.0.0.${i + 1}`],
    labels: {
      ...p.labels,
      'projectcalico.org/namespace': p.ns,
      'projectcalico.org/orchestrator': 'k8s',
      'projectcalico.org/serviceaccount': p.sa,
    },
    profileIds: [`kns.${p.ns}`, `ksa.${p.ns}.${p.sa}`],
    ports: [{ name: 'web', protocol: 'TCP', port: p.web }],
  }))
  const policies = [
    ...w.calico.map((c, i) => {
      const spec: Record<string, unknown> = {
        selector: c.selector,
        types: c.types,
        ingress: c.ingress,
        egress: c.egress,
      }
      if (c.order !== undefined) spec.order = c.order
      if (c.saSelector) spec.serviceAccountSelector = c.saSelector
      if (c.global) {
        if (c.namespaceSelector) spec.namespaceSelector = c.namespaceSelector
        return globalNetworkPolicyToFelix({
          apiVersion: 'projectcalico.org/v3',
          kind: 'GlobalNetworkPolicy',
          metadata: { name: `g${i}` },
          spec,
        } as GlobalNetworkPolicy)
      }
      return networkPolicyToFelix({
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: `p${i}`, namespace: c.ns },
        spec,
      } as CalicoNetworkPolicy)
    }),
    ...w.k8s.map((k, i) => {
      const spec: Record<string, unknown> = { podSelector: k.podSelector }
      if (k.policyTypes) spec.policyTypes = k.policyTypes
      if (k.ingress) spec.ingress = k.ingress
      if (k.egress) spec.egress = k.egress
      return networkPolicyToFelix(
        k8sNetworkPolicyToCalico({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: `k${i}`, namespace: k.ns },
          spec,
        } as unknown as K8sNetworkPolicy),
      )
    }),
  ]
  const state: PolicyState = {
    policies,
    profiles: [
      namespaceProfile('a', { env: w.nsEnv[0] }),
      namespaceProfile('b', { env: w.nsEnv[1] }),
      ...NS.flatMap((n) => SAS.map((s, i) => serviceAccountProfile(n, s, { role: w.saRole[i]! }))),
    ],
    endpoints: eps,
    networkSets: w.netset
      ? [
          networkSetToFelix({
            apiVersion: 'projectcalico.org/v3',
            kind: 'NetworkSet',
            metadata: { name: 'ext', namespace: 'a', labels: { app: 'x' } },
            spec: { nets: ['10.0.1.0/24'] },
          } as never),
        ]
      : [],
  }
  return { state, eps }
}

t.test('rendered iptables path == reference evaluator', async (t) => {
  const seed = Number(process.env.POLICY_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed} (replay with POLICY_SEED=${seed})`)
  let checked = 0
  fc.assert(
    fc.property(worldArb, (w) => {
      const { state, eps } = buildState(w)
      const nf = loadRendering(renderNode(state, 'node1'))
      const ev = new ReferenceEvaluator(state)
      for (const p of w.packets) {
        const from = eps[p.from % eps.length]!
        const to = eps[p.to % eps.length]!
        const src = p.external && p.from % 3 === 0 ? undefined : from
        const dst = p.external && p.from % 3 !== 0 ? undefined : to
        if (src?.node !== 'node1' && dst?.node !== 'node1') continue
        const pkt: RefPacket = {
          src: src?.ips[0] ?? p.external!,
          dst: dst?.ips[0] ?? p.external!,
          protocol: p.protocol,
          srcPort: p.protocol === 1 ? 0 : 40000,
          dstPort: p.protocol === 1 ? 0 : p.dstPort,
        }
        if (p.protocol === 1) {
          pkt.icmpType = p.icmpType
          pkt.icmpCode = 0
        }
        const localFrom = src?.node === 'node1' ? src : undefined
        const localTo = dst?.node === 'node1' ? dst : undefined
        const want = referenceForwardVerdict(state, pkt, localFrom, localTo, ev) === 'allow' ? 'ACCEPT' : 'DROP'
        const got = walk(nf, 'filter', 'FORWARD', nfPacket(pkt, localFrom?.iface ?? 'eth0', localTo?.iface ?? 'eth0'))
        if (got.verdict !== want) {
          t.comment(
            JSON.stringify({
              pkt,
              localFrom: localFrom?.id,
              localTo: localTo?.id,
              trace: got.trace.map((s) => `${s.chain}#${s.rule}->${s.target}`),
            }),
          )
          return false
        }
        checked++
      }
      return true
    }),
    { seed, numRuns: Number(process.env.POLICY_RUNS ?? 300) },
  )
  t.ok(checked > 100, `${checked} packets compared`)
})
