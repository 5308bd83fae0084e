import { createHost, type PacketTraceStep } from '@calilab/dataplane'
import { FakeClock, seededRng, silentLogger } from '@calilab/kit'
import { type KubeObject, parseIPv4 } from '@calilab/model'
import t from 'tap'
import { vethName } from '../src/core/cni/names.ts'
import { chainNames } from '../src/core/policy/index.ts'
import { felixHttpRoutes } from '../src/felix/http-routes.ts'
import { startPolicyManager } from '../src/felix/policy-manager.ts'
import { type ChainOwner, formatTrace, type RuleLookup, traceArrival, tracePacket } from '../src/felix/trace.ts'
import type { SyncerUpdate } from '../src/io/syncer/types.ts'
import { dbPolicy, NODE, yaobank } from './helpers/policy-fixture.ts'

function started(policies: SyncerUpdate[] = []) {
  const f = yaobank()
  const pm = startPolicyManager({ nodeName: NODE, netns: f.host.root, log: silentLogger() })
  pm.onUpdates([...f.base, ...policies])
  pm.onInSync()
  f.clock.advance(1)
  return { ...f, pm }
}

const KNP = 'yaobank/knp.default.database-policy'
const noRules: RuleLookup = () => undefined
const formatTraceVerbose = (r: { spec: Parameters<typeof formatTrace>[0]; steps: PacketTraceStep[] }) =>
  formatTrace(r.spec, r.steps, noRules, new Map(), { verbose: true }).text

t.test('trace: denied by the default deny of database-policy', async (t) => {
  const { host, pm } = started([dbPolicy()])
  t.teardown(() => pm.close())
  const r = tracePacket(host, { src: '198.19.21.1', dst: '198.19.21.3', proto: 'tcp', dport: 2379 }, pm.names())
  t.equal(r.verdict, 'denied')
  t.equal(r.reason, `denied by policy ${KNP}: no rule allowed it (default deny)`)
  const db = vethName('yaobank', 'database')
  t.match(r.text, /^packet TCP 198\.19\.21\.1:\d+ -> 198\.19\.21\.3:2379 \[SYN\]/)
  t.match(r.text, '[yaobank/customer] sent on eth0')
  t.match(r.text, `[root] received on ${vethName('yaobank', 'customer')}`)
  t.match(r.text, '[root] filter FORWARD')
  t.match(r.text, `${chainNames.toWorkload(db)}  (to workload node1-k8s-database-eth0)`)
  t.match(
    r.text,
    new RegExp(
      `-j ${chainNames.policyIn(KNP)} .*  # policy ${KNP} \\(ingress\\)\n +\\(no rule in ${chainNames.policyIn(KNP)} matched\\)`,
    ),
    'hashed name mapped to the policy; its chain matched nothing',
  )
  t.notMatch(r.text, 'raw OUTPUT', 'empty hooks left out')
  t.match(formatTraceVerbose(r), 'raw OUTPUT', 'unless verbose')
  t.match(
    r.text,
    new RegExp(
      `-A ${chainNames.toWorkload(db)} -m comment --comment "cali:[\\w-]+" -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP   \\[1 pkts, \\d+ bytes\\]`,
    ),
    'the deciding rule as iptables -S prints it, with counters',
  )
  t.match(r.text, /=> DROP/)
  t.match(r.text, `verdict: DENIED: denied by policy ${KNP}`)
  // Counters move with each trace.
  const r2 = tracePacket(host, { src: '198.19.21.1', dst: '198.19.21.3', proto: 'tcp', dport: 2379 }, pm.names())
  t.match(r2.text, /Drop if no policies passed packet.* \[2 pkts/)
})

t.test('trace: allowed by profile, then by policy', async (t) => {
  const { host, pm, clock } = started()
  t.teardown(() => pm.close())
  let r = tracePacket(host, { src: '198.19.21.1', dst: '198.19.21.3', proto: 'tcp', dport: 2379 }, pm.names())
  t.equal(r.verdict, 'allowed')
  t.equal(r.reason, 'allowed by profile kns.yaobank')
  t.match(r.text, '[yaobank/database] delivered locally to port 2379')
  r = tracePacket(host, { src: '198.19.21.1', dst: '198.19.21.3', proto: 'tcp', dport: 9 }, pm.names())
  t.match(r.reason, /allowed by profile kns\.yaobank \(no socket listens/)
  pm.onUpdates([dbPolicy()])
  clock.advance(50)
  r = tracePacket(host, { src: '198.19.21.2', dst: '198.19.21.3', proto: 'tcp', dport: 2379 }, pm.names())
  t.equal(r.verdict, 'allowed')
  t.equal(r.reason, `allowed by profile kns.yaobank and policy ${KNP}`, 'egress by profile, ingress by policy')
})

t.test('trace: explicit Deny, unroutable, and received from the underlay', async (t) => {
  const gnp: SyncerUpdate = {
    key: '/projectcalico.org/globalnetworkpolicies/_/deny-dns',
    value: {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'deny-dns' },
      spec: {
        selector: "app == 'customer'",
        types: ['Egress'],
        egress: [{ action: 'Deny', protocol: 'UDP', destination: { ports: [53] } }, { action: 'Allow' }],
      },
    } as KubeObject,
  }
  const { host, pm } = started([gnp])
  t.teardown(() => pm.close())
  let r = tracePacket(host, { src: '198.19.21.1', dst: '198.19.21.3', proto: 'udp', dport: 53 }, pm.names())
  t.equal(r.reason, 'denied by policy default.deny-dns: a Deny rule matched')
  r = tracePacket(host, { src: '198.19.21.1', dst: '198.19.21.3', proto: 'udp', dport: 54 }, pm.names())
  t.equal(
    r.reason,
    'allowed by policy default.deny-dns and profile kns.yaobank (no socket listens on that port: the destination answers with ICMP port unreachable)',
  )
  r = tracePacket(host, { src: '198.19.0.9', dst: '198.19.21.3', proto: 'icmp', iif: 'eth0' }, pm.names())
  t.equal(r.verdict, 'allowed', 'from outside to a pod: ingress by profile')
  t.match(r.text, '[root] received on eth0')
  r = tracePacket(host, { src: '198.19.21.2', dst: '203.0.113.9', proto: 'tcp', dport: 80 }, pm.names())
  t.equal(r.verdict, 'dropped')
  t.match(r.reason, /no route/)
})

t.test('formatTrace: pure formatting from steps and lookups', async (t) => {
  const names = new Map<string, ChainOwner>([
    ['cali-tw-x', { kind: 'workload', id: 'n-k8s-db-eth0', direction: 'ingress' }],
    ['cali-pi-_abc', { kind: 'policy', id: 'ns/knp.default.p', direction: 'ingress' }],
  ])
  const rules: RuleLookup = (_ns, _t, chain, n) => ({
    text:
      chain === 'cali-tw-x' && n === 3
        ? '-A cali-tw-x -m comment --comment "Drop if no policies passed packet" -j DROP'
        : `-A ${chain} rule${n}`,
    pkts: 7,
    bytes: 420,
  })
  const steps: PacketTraceStep[] = [
    { kind: 'rx', ns: 'root', dev: 'caliA', summary: 'TCP 10.0.0.1:1 > 10.0.0.2:80 S' },
    {
      kind: 'rule',
      ns: 'root',
      step: { table: 'filter', chain: 'FORWARD', rule: 1, target: 'cali-tw-x', kind: 'rule' },
    },
    {
      kind: 'rule',
      ns: 'root',
      step: { table: 'filter', chain: 'cali-tw-x', rule: 2, target: 'cali-pi-_abc', kind: 'rule' },
    },
    { kind: 'rule', ns: 'root', step: { table: 'filter', chain: 'cali-tw-x', rule: 3, target: 'DROP', kind: 'rule' } },
    { kind: 'hook', ns: 'root', hook: 'FORWARD', table: 'filter', verdict: 'DROP' },
    { kind: 'drop', ns: 'root', reason: 'NF_DROP', detail: 'FORWARD' },
  ]
  const r = formatTrace({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', dport: 80, sport: 1 }, steps, rules, names)
  t.equal(r.verdict, 'denied')
  t.equal(r.reason, 'denied by policy ns/knp.default.p: no rule allowed it (default deny)')
  t.equal(
    r.text,
    [
      'packet TCP 10.0.0.1:1 -> 10.0.0.2:80 [SYN]',
      '[root] received on caliA: TCP 10.0.0.1:1 > 10.0.0.2:80 S',
      '[root] filter FORWARD',
      '    FORWARD',
      '      -A FORWARD rule1   [7 pkts, 420 bytes]',
      '    cali-tw-x  (to workload n-k8s-db-eth0)',
      '      -A cali-tw-x rule2   [7 pkts, 420 bytes]  # policy ns/knp.default.p (ingress)',
      '        (no rule in cali-pi-_abc matched)',
      '      -A cali-tw-x -m comment --comment "Drop if no policies passed packet" -j DROP   [7 pkts, 420 bytes]',
      '  => DROP',
      '[root] DROPPED: NF_DROP (FORWARD)',
      'verdict: DENIED: denied by policy ns/knp.default.p: no rule allowed it (default deny)',
      '',
    ].join('\n'),
  )
})

t.test('http routes: /felix/trace and /felix/probe', async (t) => {
  const { host, pm, clock } = started([dbPolicy()])
  t.teardown(() => pm.close())
  const routes = felixHttpRoutes({ host, policy: pm })
  const tr = (await routes['/felix/trace']!(
    new URLSearchParams({ src: 'yaobank/customer', dst: 'yaobank/database', proto: 'tcp', dport: '2379' }),
  )) as { verdict: string; reason: string; node: string }
  t.equal(tr.node, NODE)
  t.equal(tr.verdict, 'denied')
  t.match(tr.reason, KNP)
  t.throws(() => routes['/felix/trace']!(new URLSearchParams({ src: 'x' })), { code: 'FELIX_BAD_QUERY' })
  t.throws(() => routes['/felix/trace']!(new URLSearchParams({ src: 'yaobank/nope', dst: '1.2.3.4' })), {
    code: 'FELIX_NOT_LOCAL',
  })
  const q = new URLSearchParams()
  q.append('from', 'yaobank/customer')
  q.append('from', 'yaobank/summary')
  q.append('to', 'database=198.19.21.3')
  q.append('port', '2379/tcp')
  q.append('port', '2380')
  const p = routes['/felix/probe']!(q) as Promise<{ cells: { from: string; port: number; result: string }[] }>
  clock.advance(1100)
  const { cells } = await p
  const cell = (from: string, port: number) => cells.find((c) => c.from === from && c.port === port)?.result
  t.equal(cells.length, 4)
  t.equal(cell('yaobank/customer', 2379), 'blocked')
  t.equal(cell('yaobank/summary', 2379), 'connected')
  t.equal(cell('yaobank/summary', 2380), 'blocked')
})

t.test('trace across nodes: held at the source underlay, walked on through the destination', async (t) => {
  const { host, pm } = started([dbPolicy()])
  t.teardown(() => pm.close())
  // node2: a bare kernel with two pods and a route to node1's pods over the underlay.
  const node2 = createHost({
    name: 'node2',
    nodeIp: parseIPv4('198.19.0.3'),
    clock: new FakeClock(),
    rng: seededRng(2),
  })
  const sent: number[] = []
  node2.setUnderlay({ send: (nh) => sent.push(nh) })
  node2.root.routes.add({ dst: parseIPv4('198.19.21.0'), prefix: 24, via: parseIPv4('198.19.0.2'), dev: 'eth0' })
  for (const [name, addr] of [
    ['remote', '198.19.22.9'],
    ['stranger', '198.19.22.10'],
  ] as const) {
    const pns = node2.createPodNetns(`yaobank/${name}`)
    node2.addVethPair(node2.root, vethName('yaobank', name), pns, 'eth0')
    pns.addAddr('eth0', parseIPv4(addr), 32)
    pns.routes.add({ dst: parseIPv4('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
    pns.routes.add({ dst: 0, prefix: 0, via: parseIPv4('169.254.1.1'), dev: 'eth0' })
  }
  const spec = { src: '198.19.22.9', dst: '198.19.21.3', proto: 'tcp' as const, dport: 2379 }
  const out = tracePacket(node2, spec, new Map(), { hold: true })
  t.equal(out.verdict, 'allowed')
  t.equal(out.underlay?.nextHop, '198.19.0.2', 'held for node1')
  t.same(sent, [], 'nothing crossed the underlay')
  t.equal(node2.underlay?.send.name, 'send', "the node's own underlay is back in place")
  // The held bytes arrive at node1: database-policy admits app=summary (the remote pod's label).
  const there = traceArrival(host, out.spec, out.underlay!.packet, pm.names())
  t.equal(there.verdict, 'allowed')
  t.equal(there.reason, `allowed by policy ${KNP}`)
  t.match(there.text, '[root] received on eth0')
  t.match(there.text, '[yaobank/database] delivered locally to port 2379')
  // A source database-policy does not name: denied at the destination's ingress.
  const out2 = tracePacket(node2, { ...spec, src: '198.19.22.10' }, new Map(), { hold: true })
  const there2 = traceArrival(host, out2.spec, out2.underlay!.packet, pm.names())
  t.equal(there2.verdict, 'denied')
  t.equal(there2.reason, `denied by policy ${KNP}: no rule allowed it (default deny)`)
  // Without hold the packet is sent for real.
  tracePacket(node2, spec, new Map())
  t.equal(sent.length, 1)
  // The route: hold=1 returns the bytes as base64; packet=... continues the walk.
  const routes = felixHttpRoutes({ host, policy: pm })
  const r = (await routes['/felix/trace']!(
    new URLSearchParams({
      src: out2.spec.src,
      dst: out2.spec.dst,
      proto: 'tcp',
      dport: '2379',
      sport: String(out2.spec.sport),
      packet: Buffer.from(out2.underlay!.packet).toString('base64'),
    }),
  )) as { verdict: string }
  t.equal(r.verdict, 'denied')
  t.throws(
    () => routes['/felix/trace']!(new URLSearchParams({ src: '198.19.22.9', dst: '198.19.21.3', packet: 'AAAA' })),
    {
      code: 'FELIX_BAD_QUERY',
    },
  )
})
