import { readFileSync } from 'node:fs'
import type { GlobalNetworkPolicy, K8sNetworkPolicy } from '@calilab/model'
import { LAB_DIR } from '@calilab/testkit'
import t from 'tap'
import { parse as parseYaml } from 'yaml'
import {
  defaultAllowProfile,
  globalNetworkPolicyToFelix,
  k8sNetworkPolicyToCalico,
  loadRendering,
  namespaceProfile,
  networkPolicyToFelix,
  nfPacket,
  type PolicyEndpoint,
  type PolicyState,
  type RefPacket,
  renderNode,
  serviceAccountProfile,
  walk,
} from '../src/core/policy/index.ts'

const LAB = LAB_DIR
const docs = (f: string) =>
  (parseYaml as unknown as (s: string) => unknown) &&
  readFileSync(`${LAB}/${f}`, 'utf8')
    .split(/^---$/m)
    .map((d) => parseYaml(d))
    .filter(Boolean)
const knp = (f: string) => docs(f).map((d) => networkPolicyToFelix(k8sNetworkPolicyToCalico(d as K8sNetworkPolicy)))
const gnp = (f: string) => docs(f).map((d) => globalNetworkPolicyToFelix(d as GlobalNetworkPolicy))

const pod = (
  name: string,
  node: string,
  ip: string,
  ns: string,
  sa: string,
  labels: Record<string, string>,
): PolicyEndpoint => ({
  kind: 'workload',
  id: `${node}-k8s-${name}-eth0`,
  node,
  iface: `cali${name.padEnd(11, '0').slice(0, 11)}`,
  ips: [ip],
  labels: {
    ...labels,
    'projectcalico.org/namespace': ns,
    'projectcalico.org/orchestrator': 'k8s',
    'projectcalico.org/serviceaccount': sa,
  },
  profileIds: [`kns.${ns}`, `ksa.${ns}.${sa}`],
})

const customer = pod('customer', 'node1', '198.19.21.1', 'yaobank', 'customer', { app: 'customer' })
const summary = pod('summary', 'node1', '198.19.21.2', 'yaobank', 'summary', { app: 'summary' })
const database = pod('database', 'node1', '198.19.21.3', 'yaobank', 'database', { app: 'database' })
const dns = pod('coredns', 'node1', '198.19.21.10', 'kube-system', 'coredns', { 'k8s-app': 'kube-dns' })
const pods = [customer, summary, database, dns]
const autoHep = (node: string, ip: string): PolicyEndpoint => ({
  kind: 'host',
  id: `${node}-auto-hep`,
  node,
  iface: '*',
  ips: [ip],
  labels: { 'kubernetes.io/hostname': node, 'projectcalico.org/created-by': 'calico-kube-controllers' },
  profileIds: ['projectcalico-default-allow'],
})

function state(
  policies: PolicyState['policies'],
  extra: PolicyEndpoint[] = [],
  saLabels: Record<string, string> = {},
): PolicyState {
  return {
    policies,
    profiles: [
      namespaceProfile('yaobank'),
      namespaceProfile('kube-system'),
      serviceAccountProfile('yaobank', 'customer', saLabels),
      serviceAccountProfile('yaobank', 'summary'),
      serviceAccountProfile('yaobank', 'database'),
      serviceAccountProfile('kube-system', 'coredns'),
      defaultAllowProfile(),
    ],
    endpoints: [...pods, ...extra],
    networkSets: [],
  }
}

const tcp = (src: PolicyEndpoint | string, dst: PolicyEndpoint | string, port: number): RefPacket => ({
  src: typeof src === 'string' ? src : src.ips[0]!,
  dst: typeof dst === 'string' ? dst : dst.ips[0]!,
  protocol: 6,
  srcPort: 40000,
  dstPort: port,
})
const udp = (src: PolicyEndpoint, dst: PolicyEndpoint, port: number): RefPacket => ({
  ...tcp(src, dst, port),
  protocol: 17,
})

/** Pod to pod through FORWARD on node1 (iif/oif = the veths). */
function fwd(s: PolicyState, p: RefPacket, from: PolicyEndpoint | undefined, to: PolicyEndpoint | undefined): string {
  const nf = loadRendering(renderNode(s, 'node1'))
  return walk(nf, 'filter', 'FORWARD', nfPacket(p, from?.iface ?? 'eth0', to?.iface ?? 'eth0')).verdict
}

t.test('database-policy: only summary reaches the database on 2379', async (t) => {
  const s0 = state([])
  t.equal(fwd(s0, tcp(customer, database, 2379), customer, database), 'ACCEPT', 'open before the policy')
  const s = state(knp('database-policy.yaml'))
  t.equal(fwd(s, tcp(customer, database, 2379), customer, database), 'DROP', 'customer blocked after')
  t.equal(fwd(s, tcp(summary, database, 2379), summary, database), 'ACCEPT')
  t.equal(fwd(s, tcp(summary, database, 2380), summary, database), 'DROP')
  t.equal(fwd(s, tcp(database, '8.8.8.8', 53), database, undefined), 'ACCEPT', 'egress `- to: []` allows all')
  const r = renderNode(s, 'node1')
  t.ok(r.tables.filter.has('cali-pi-_PRuy1iuw9lTw3ZNXbs8'), 'chain name hashed as in the lab')
})

t.test('default-app-policy: DNS fails, then the DNS rule fixes it', async (t) => {
  const s = state(gnp('default-app-policy.yaml'))
  t.equal(fwd(s, udp(customer, dns, 53), customer, dns), 'DROP')
  t.equal(fwd(s, tcp(customer, summary, 80), customer, summary), 'DROP')
  const s2 = state(gnp('default-app-policy-allow-dns.yaml'))
  t.equal(fwd(s2, udp(customer, dns, 53), customer, dns), 'ACCEPT', 'kube-system is not selected: ingress open')
  t.equal(fwd(s2, tcp(customer, dns, 53), customer, dns), 'DROP', 'TCP not in the rule')
  t.ok(renderNode(s2, 'node1').tables.filter.has('cali-po-_rVowWlDEl8dF2y7QXrS'), 'lab chain name')
  t.ok(renderNode(s2, 'node1').tables.filter.has('cali-pi-_rVowWlDEl8dF2y7QXrS'))
  t.ok(renderNode(s2, 'node1').ipsets.has('cali40s:oCO04qh3P0cpu6ATIRHkzNc'), 'kube-dns IP set named as in the lab')
})

t.test('customer and summary policies open the front end path', async (t) => {
  const base = [...gnp('default-app-policy-allow-dns.yaml'), ...knp('database-policy.yaml')]
  const s = state(base)
  t.equal(fwd(s, tcp('198.19.0.1', customer, 80), undefined, customer), 'DROP', 'front end fails')
  const s2 = state([...base, ...knp('customer-summary-policies.yaml')])
  t.equal(fwd(s2, tcp('198.19.0.1', customer, 80), undefined, customer), 'ACCEPT')
  t.equal(fwd(s2, tcp(customer, summary, 80), customer, summary), 'ACCEPT')
  t.equal(fwd(s2, tcp(summary, database, 2379), summary, database), 'ACCEPT')
  t.equal(fwd(s2, tcp(customer, database, 2379), customer, database), 'DROP')
  t.equal(fwd(s2, tcp(summary, customer, 80), summary, customer), 'DROP', 'summary egress only to database')
})

t.test('egress-lockdown and the internet-egress SA label', async (t) => {
  const base = [
    ...gnp('default-app-policy-allow-dns.yaml'),
    ...knp('database-policy.yaml'),
    ...knp('customer-summary-policies.yaml'),
    ...gnp('egress-lockdown.yaml'),
  ]
  const s = state(base)
  t.equal(fwd(s, tcp(customer, '8.8.8.8', 443), customer, undefined), 'DROP')
  t.equal(fwd(s, tcp(customer, summary, 80), customer, summary), 'ACCEPT', 'private destinations unaffected')
  const po = renderNode(s, 'node1').tables.filter.get('cali-po-_ncH8BROlsLkgfMZXcQI')
  t.equal(po?.length, 6, 'four notNets render as six rules (match block)')
  const s2 = state(base, [], { 'internet-egress': 'allowed' })
  t.equal(fwd(s2, tcp(customer, '8.8.8.8', 443), customer, undefined), 'ACCEPT')
  t.equal(fwd(s2, tcp(summary, '8.8.8.8', 443), summary, undefined), 'DROP')
  t.equal(fwd(s2, tcp(database, '8.8.8.8', 443), database, undefined), 'DROP')
})

t.test('default-node-policy with auto host endpoints; failsafes', async (t) => {
  const s = state(gnp('default-node-policy.yaml'), [autoHep('node1', '198.19.0.1')])
  const nf = loadRendering(renderNode(s, 'node1'))
  const input = (p: RefPacket, iif = 'eth0') => walk(nf, 'filter', 'INPUT', nfPacket(p, iif, '')).verdict
  t.equal(input(tcp('198.19.15.254', '198.19.0.1', 21)), 'DROP', 'nc -w 3 198.19.0.1 21 fails')
  t.equal(input(tcp('198.19.15.254', '198.19.0.1', 22)), 'ACCEPT', 'SSH failsafe')
  t.equal(input(tcp('198.19.15.254', '198.19.0.1', 6443)), 'ACCEPT', 'API server failsafe')
  t.equal(input(tcp('127.0.0.1', '127.0.0.1', 8080), 'lo'), 'ACCEPT', 'loopback allowed by the policy')
  const out = walk(nf, 'filter', 'OUTPUT', nfPacket(tcp('198.19.0.1', '198.19.15.254', 21), '', 'eth0')).verdict
  t.equal(out, 'ACCEPT', 'egress still allowed by the default-allow profile')
  const s0 = state([], [autoHep('node1', '198.19.0.1')])
  const nf0 = loadRendering(renderNode(s0, 'node1'))
  t.equal(walk(nf0, 'filter', 'INPUT', nfPacket(tcp('198.19.15.254', '198.19.0.1', 21), 'eth0', '')).verdict, 'ACCEPT')
  t.ok(renderNode(s, 'node1').tables.filter.has('cali-fh-any-interface-at-all'))
})

t.test('nodeport-policy preDNAT: 30180 only from host1', async (t) => {
  const s = state(
    [...gnp('default-node-policy.yaml'), ...gnp('nodeport-policy-allow-host1.yaml')],
    [autoHep('node1', '198.19.0.1')],
  )
  const r = renderNode(s, 'node1')
  t.ok(r.tables.mangle.has('cali-pi-_DwCMbFMhinVRBQ3qcNH'))
  const nf = loadRendering(r)
  const pre = (p: RefPacket) => walk(nf, 'mangle', 'PREROUTING', nfPacket(p, 'eth0', '')).verdict
  t.equal(pre(tcp('198.19.15.254', '198.19.0.1', 30180)), 'ACCEPT')
  t.equal(pre(tcp('198.19.15.253', '198.19.0.1', 30180)), 'DROP')
  t.equal(pre(tcp('198.19.15.254', '198.19.0.1', 30181)), 'DROP')
  t.equal(
    walk(nf, 'mangle', 'PREROUTING', nfPacket(udp(customer, database, 30500), customer.iface, '')).verdict,
    'ACCEPT',
    'pods skip preDNAT policy',
  )
  t.equal(pre(tcp('198.19.15.253', '198.19.0.1', 22)), 'ACCEPT', 'other ports continue to normal policy')
  const deny = state(gnp('nodeport-policy-deny.yaml'), [autoHep('node1', '198.19.0.1')])
  const nf2 = loadRendering(renderNode(deny, 'node1'))
  t.equal(
    walk(nf2, 'mangle', 'PREROUTING', nfPacket(tcp('198.19.15.254', '198.19.0.1', 30180), 'eth0', '')).verdict,
    'DROP',
  )
})
