import type { Endpoints, Service } from '@calilab/model'
import t from 'tap'
import {
  base32,
  endpointChainName,
  probabilityText,
  renderKubeProxy,
  saveString,
  serviceChainName,
} from '../src/core/kubeproxy/index.ts'

function svc(ns: string, name: string, spec: Service['spec']): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec }
}
function eps(ns: string, name: string, port: number, addrs: [string, string][], portName = 'http'): Endpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { namespace: ns, name },
    subsets: [
      {
        addresses: addrs.map(([ip, nodeName]) => ({ ip, nodeName })),
        ports: [{ name: portName, port, protocol: 'TCP' }],
      },
    ],
  }
}

const SUMMARY = svc('yaobank', 'summary', {
  clusterIP: '198.19.33.15',
  ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80 }],
})
const CUSTOMER = svc('yaobank', 'customer', {
  type: 'NodePort',
  clusterIP: '198.19.37.80',
  ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80, nodePort: 30180 }],
})
const DATABASE = svc('yaobank', 'database', {
  clusterIP: '198.19.40.2',
  ports: [{ name: 'http', port: 2379, protocol: 'TCP' }],
})
const SUMMARY_EPS = eps('yaobank', 'summary', 80, [
  ['198.19.22.130', 'node2'],
  ['198.19.21.4', 'node1'],
])
const CUSTOMER_EPS = eps('yaobank', 'customer', 80, [['198.19.22.132', 'node1']])

t.test('chain names follow kube-proxy’s SHA-256 + base32 formula (the lab’s names)', async (t) => {
  t.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI======', 'RFC 4648 test vector')
  t.equal(serviceChainName('yaobank/summary:http', 'tcp'), 'KUBE-SVC-OIQIZJVJK6E34BR4')
  t.equal(serviceChainName('yaobank/customer:http', 'TCP'), 'KUBE-SVC-PX5FENG4GZJTCELT')
  t.equal(serviceChainName('yaobank/database:http', 'tcp'), 'KUBE-SVC-AE2X4VPDA5SRYCA6')
  t.equal(serviceChainName('kube-system/kube-dns:dns', 'udp'), 'KUBE-SVC-TCOU7JCQXEZGVUNU')
  t.equal(serviceChainName('default/kubernetes:https', 'tcp'), 'KUBE-SVC-NPX46M4PTMTKRN6Y')
  t.equal(endpointChainName('yaobank/summary:http', 'tcp', '198.19.21.4:80'), 'KUBE-SEP-XSAPI3SEG2KJVDTP')
  t.equal(endpointChainName('yaobank/summary:http', 'tcp', '198.19.22.130:80'), 'KUBE-SEP-KGQRHMYN3EBQMPXF')
  t.equal(endpointChainName('yaobank/customer:http', 'tcp', '198.19.22.132:80'), 'KUBE-SEP-UBXKSM3V2OSEF4IL')
})

t.test('probabilities as iptables-save prints them', async (t) => {
  t.equal(probabilityText(2), '0.50000000000')
  t.equal(probabilityText(3), '0.33333333349')
  t.equal(probabilityText(4), '0.25000000000')
  t.equal(probabilityText(10), '0.10000000009')
})

t.test('comment quoting follows xtables', async (t) => {
  t.equal(saveString('yaobank/summary:http'), '"yaobank/summary:http"')
  t.equal(saveString('plain-word_1'), 'plain-word_1')
  t.equal(saveString('say "hi"'), '"say \\"hi\\""')
})

t.test('yaobank summary and customer: the full iptables-restore input', async (t) => {
  const r = renderKubeProxy({
    services: [SUMMARY, CUSTOMER],
    endpoints: [SUMMARY_EPS, CUSTOMER_EPS],
    nodeName: 'node1',
    clusterCIDR: '198.19.16.0/20',
  })
  t.equal(
    r.restore,
    `*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -s 198.19.16.0/20 -m comment --comment "kubernetes forwarding conntrack pod source rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-FORWARD -d 198.19.16.0/20 -m comment --comment "kubernetes forwarding conntrack pod destination rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-PX5FENG4GZJTCELT - [0:0]
:KUBE-SEP-UBXKSM3V2OSEF4IL - [0:0]
:KUBE-SVC-OIQIZJVJK6E34BR4 - [0:0]
:KUBE-SEP-XSAPI3SEG2KJVDTP - [0:0]
:KUBE-SEP-KGQRHMYN3EBQMPXF - [0:0]
:KUBE-MARK-DROP - [0:0]
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark 0x4000/0x4000 -j MASQUERADE
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-SERVICES ! -s 198.19.16.0/20 -d 198.19.37.80/32 -p tcp -m comment --comment "yaobank/customer:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -d 198.19.37.80/32 -p tcp -m comment --comment "yaobank/customer:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-PX5FENG4GZJTCELT
-A KUBE-NODEPORTS -p tcp -m comment --comment "yaobank/customer:http" -m tcp --dport 30180 -j KUBE-MARK-MASQ
-A KUBE-NODEPORTS -p tcp -m comment --comment "yaobank/customer:http" -m tcp --dport 30180 -j KUBE-SVC-PX5FENG4GZJTCELT
-A KUBE-SVC-PX5FENG4GZJTCELT -m comment --comment "yaobank/customer:http" -j KUBE-SEP-UBXKSM3V2OSEF4IL
-A KUBE-SEP-UBXKSM3V2OSEF4IL -s 198.19.22.132/32 -m comment --comment "yaobank/customer:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-UBXKSM3V2OSEF4IL -p tcp -m comment --comment "yaobank/customer:http" -m tcp -j DNAT --to-destination 198.19.22.132:80
-A KUBE-SERVICES ! -s 198.19.16.0/20 -d 198.19.33.15/32 -p tcp -m comment --comment "yaobank/summary:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -d 198.19.33.15/32 -p tcp -m comment --comment "yaobank/summary:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-OIQIZJVJK6E34BR4
-A KUBE-SVC-OIQIZJVJK6E34BR4 -m comment --comment "yaobank/summary:http" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-XSAPI3SEG2KJVDTP
-A KUBE-SEP-XSAPI3SEG2KJVDTP -s 198.19.21.4/32 -m comment --comment "yaobank/summary:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-XSAPI3SEG2KJVDTP -p tcp -m comment --comment "yaobank/summary:http" -m tcp -j DNAT --to-destination 198.19.21.4:80
-A KUBE-SVC-OIQIZJVJK6E34BR4 -m comment --comment "yaobank/summary:http" -j KUBE-SEP-KGQRHMYN3EBQMPXF
-A KUBE-SEP-KGQRHMYN3EBQMPXF -s 198.19.22.130/32 -m comment --comment "yaobank/summary:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-KGQRHMYN3EBQMPXF -p tcp -m comment --comment "yaobank/summary:http" -m tcp -j DNAT --to-destination 198.19.22.130:80
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000
COMMIT
`,
  )
  t.equal(r.restore, r.filter + r.nat)
  const summary = r.servicePorts.find((s) => s.servicePortName === 'yaobank/summary:http')
  t.same(
    summary?.endpoints.map((e) => [e.endpoint, e.chain, e.local]),
    [
      ['198.19.21.4:80', 'KUBE-SEP-XSAPI3SEG2KJVDTP', true],
      ['198.19.22.130:80', 'KUBE-SEP-KGQRHMYN3EBQMPXF', false],
    ],
    'endpoints sorted by ip:port string',
  )
})

t.test('no endpoints: filter REJECT for the ClusterIP and the NodePort, no nat chains', async (t) => {
  const r = renderKubeProxy({
    services: [DATABASE, CUSTOMER],
    endpoints: [],
    nodeName: 'node1',
    clusterCIDR: '198.19.16.0/20',
  })
  t.match(
    r.filter,
    '-A KUBE-SERVICES -d 198.19.40.2/32 -p tcp -m comment --comment "yaobank/database:http has no endpoints" -m tcp --dport 2379 -j REJECT --reject-with icmp-port-unreachable\n',
  )
  t.match(
    r.filter,
    '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "yaobank/customer:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30180 -j REJECT --reject-with icmp-port-unreachable\n',
  )
  t.notMatch(r.nat, /KUBE-SVC-/)
})

t.test('three endpoints: 1/3, 1/2, then unconditional; UDP service; unnamed port', async (t) => {
  const dns = svc('kube-system', 'kube-dns', {
    clusterIP: '198.19.32.10',
    ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
  })
  const dnsEps: Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { namespace: 'kube-system', name: 'kube-dns' },
    subsets: [
      {
        addresses: [{ ip: '198.19.16.9' }, { ip: '198.19.16.10' }, { ip: '198.19.16.2' }],
        ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
      },
    ],
  }
  const r = renderKubeProxy({ services: [dns], endpoints: [dnsEps], nodeName: 'n', clusterCIDR: '198.19.16.0/20' })
  const svcRules = r.nat.split('\n').filter((l) => l.startsWith('-A KUBE-SVC-TCOU7JCQXEZGVUNU'))
  t.equal(svcRules.length, 3)
  t.match(svcRules[0], '--probability 0.33333333349 -j KUBE-SEP-')
  t.match(svcRules[1], '--probability 0.50000000000 -j KUBE-SEP-')
  t.notMatch(svcRules[2], 'statistic')
  t.same(
    r.servicePorts[0]?.endpoints.map((e) => e.endpoint),
    ['198.19.16.10:53', '198.19.16.2:53', '198.19.16.9:53'],
    'string order, not numeric',
  )
  t.match(
    r.nat,
    '-p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 198.19.16.10:53',
  )
  t.match(
    r.nat,
    '-d 198.19.32.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU',
  )
  const plain = svc('default', 'web', { clusterIP: '198.19.32.50', ports: [{ port: 8080 }] })
  const plainEps: Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { namespace: 'default', name: 'web' },
    subsets: [{ addresses: [{ ip: '198.19.16.20' }], ports: [{ port: 8080 }] }],
  }
  const p = renderKubeProxy({ services: [plain], endpoints: [plainEps], nodeName: 'n' })
  t.match(p.nat, `-A ${serviceChainName('default/web', 'tcp')} -m comment --comment "default/web" -j KUBE-SEP-`)
  t.notMatch(p.nat, '! -s', 'no cluster CIDR → no masquerade rule for off-cluster sources')
})

t.test('externalIPs and externalTrafficPolicy Local', async (t) => {
  const cust = svc('yaobank', 'customer', {
    ...CUSTOMER.spec,
    externalIPs: ['198.19.48.10'],
    externalTrafficPolicy: 'Local',
  })
  const r = renderKubeProxy({
    services: [cust],
    endpoints: [CUSTOMER_EPS],
    nodeName: 'node1',
    clusterCIDR: '198.19.16.0/20',
  })
  const lines = r.nat.split('\n')
  t.ok(lines.includes(':KUBE-XLB-PX5FENG4GZJTCELT - [0:0]'))
  for (const want of [
    '-A KUBE-SERVICES -d 198.19.48.10/32 -p tcp -m comment --comment "yaobank/customer:http external IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
    '-A KUBE-SERVICES -d 198.19.48.10/32 -p tcp -m comment --comment "yaobank/customer:http external IP" -m tcp --dport 80 -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j KUBE-SVC-PX5FENG4GZJTCELT',
    '-A KUBE-SERVICES -d 198.19.48.10/32 -p tcp -m comment --comment "yaobank/customer:http external IP" -m tcp --dport 80 -m addrtype --dst-type LOCAL -j KUBE-SVC-PX5FENG4GZJTCELT',
    '-A KUBE-NODEPORTS -s 127.0.0.0/8 -p tcp -m comment --comment "yaobank/customer:http" -m tcp --dport 30180 -j KUBE-MARK-MASQ',
    '-A KUBE-NODEPORTS -p tcp -m comment --comment "yaobank/customer:http" -m tcp --dport 30180 -j KUBE-XLB-PX5FENG4GZJTCELT',
    '-A KUBE-XLB-PX5FENG4GZJTCELT -s 198.19.16.0/20 -m comment --comment "Redirect pods trying to reach external loadbalancer VIP to clusterIP" -j KUBE-SVC-PX5FENG4GZJTCELT',
    '-A KUBE-XLB-PX5FENG4GZJTCELT -m comment --comment "masquerade LOCAL traffic for yaobank/customer:http LB IP" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
    '-A KUBE-XLB-PX5FENG4GZJTCELT -m comment --comment "route LOCAL traffic for yaobank/customer:http LB IP to service chain" -m addrtype --src-type LOCAL -j KUBE-SVC-PX5FENG4GZJTCELT',
    '-A KUBE-XLB-PX5FENG4GZJTCELT -m comment --comment "Balancing rule 0 for yaobank/customer:http" -j KUBE-SEP-UBXKSM3V2OSEF4IL',
  ]) {
    t.ok(lines.includes(want), want)
  }
  t.notOk(
    lines.some((l) => l.startsWith('-A KUBE-NODEPORTS -p tcp') && l.endsWith('-j KUBE-MARK-MASQ')),
    'no SNAT for NodePort traffic under ETP Local',
  )
  // on a node without a local endpoint the XLB chain drops
  const other = renderKubeProxy({
    services: [cust],
    endpoints: [CUSTOMER_EPS],
    nodeName: 'node2',
    clusterCIDR: '198.19.16.0/20',
  })
  t.match(
    other.nat,
    '-A KUBE-XLB-PX5FENG4GZJTCELT -m comment --comment "yaobank/customer:http has no local endpoints" -j KUBE-MARK-DROP\n',
  )
})

t.test('session affinity, random-fully, nodeport addresses, jump rules', async (t) => {
  const sticky = svc('yaobank', 'summary', { ...SUMMARY.spec, sessionAffinity: 'ClientIP' })
  const r = renderKubeProxy({
    services: [sticky],
    endpoints: [SUMMARY_EPS],
    nodeName: 'node1',
    randomFully: true,
    nodePortAddresses: ['198.19.0.2'],
  })
  t.match(
    r.nat,
    '-A KUBE-SVC-OIQIZJVJK6E34BR4 -m comment --comment "yaobank/summary:http" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-XSAPI3SEG2KJVDTP --mask 255.255.255.255 --rsource -j KUBE-SEP-XSAPI3SEG2KJVDTP\n',
  )
  t.match(
    r.nat,
    '-A KUBE-SEP-XSAPI3SEG2KJVDTP -p tcp -m comment --comment "yaobank/summary:http" -m recent --set --name KUBE-SEP-XSAPI3SEG2KJVDTP --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 198.19.21.4:80\n',
  )
  t.match(r.nat, '-j MASQUERADE --random-fully\n')
  t.match(
    r.nat,
    '-A KUBE-SERVICES -d 198.19.0.2/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS\n',
  )
  t.same(r.jumps[0], {
    table: 'filter',
    chain: 'INPUT',
    rule: '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  })
  t.ok(
    r.jumps.some((j) => j.rule === '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
  )
  t.ok(
    r.jumps.some(
      (j) => j.rule === '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ),
  )
  const noKubelet = renderKubeProxy({ services: [], endpoints: [], nodeName: 'n', includeKubeletChains: false })
  t.notMatch(noKubelet.restore, 'KUBE-MARK-DROP')
  t.notMatch(noKubelet.restore, 'KUBE-FIREWALL')
})

t.test('many endpoints: comments dropped from SVC/SEP rules above 1000 endpoint chains', async (t) => {
  const addrs: [string, string][] = Array.from({ length: 1001 }, (_, i) => [`10.0.${i >> 8}.${i & 255}`, 'n'])
  const r = renderKubeProxy({ services: [SUMMARY], endpoints: [eps('yaobank', 'summary', 80, addrs)], nodeName: 'n' })
  const sep = r.nat.split('\n').filter((l) => l.startsWith('-A KUBE-SEP-'))
  t.equal(sep.length, 2002)
  t.notOk(sep.some((l) => l.includes('--comment')))
  t.match(r.nat, '--comment "yaobank/summary:http cluster IP"', 'KUBE-SERVICES keeps its comment')
})
