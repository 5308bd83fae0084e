import { createHost, listTable, type Netns, type TcpConn } from '@calilab/dataplane'
import { silentLogger, systemClock, systemRng } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import t from 'tap'
import { bindUnderlay, NodeDataplane } from '../src/dataplane/index.ts'
import type { SyncerUpdate } from '../src/io/syncer/index.ts'
import { attachInternet } from '../src/router-host/index.ts'

const clock = systemClock()
const keepAlive = setInterval(() => {}, 1000)
t.teardown(() => clearInterval(keepAlive))

const obj = (apiVersion: string, kind: string, name: string, extra: Record<string, unknown>, namespace?: string) =>
  ({
    apiVersion,
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}), ...((extra['metadata'] as object) ?? {}) },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'metadata')),
  }) as KubeObject

function pool(name: string, cidr: string, o: Record<string, unknown> = {}): SyncerUpdate {
  return {
    key: `/projectcalico.org/ippools/_/${name}`,
    value: obj('projectcalico.org/v3', 'IPPool', name, {
      spec: { cidr, blockSize: 26, natOutgoing: true, ipipMode: 'Never', vxlanMode: 'Never', ...o },
    }),
  }
}
function block(cidr: string, node: string, allocations: (number | null)[] = [], attributes: unknown[] = []) {
  const name = cidr.replace(/[./]/g, '-')
  return {
    key: `/projectcalico.org/ipamblocks/_/${name}`,
    value: obj('projectcalico.org/v3', 'IPAMBlock', name, {
      spec: { cidr, affinity: `host:${node}`, strictAffinity: false, allocations, unallocated: [], attributes },
    }),
  }
}
function k8sNode(name: string, ip: string, underlay: string): SyncerUpdate {
  return {
    key: `/core/nodes/_/${name}`,
    value: obj('v1', 'Node', name, {
      metadata: { annotations: { 'projectcalico.org/IPv4Address': `${ip}/20`, 'calilab.dev/underlay': underlay } },
    }),
  }
}

async function eventually(fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    if (await fn()) return
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

function tcpRequest(ns: Netns, dst: string, port: number, text: string): Promise<string> {
  return ns.tcpConnect({ dst, port, timeoutMs: 3000 }).then(
    (c: TcpConn) =>
      new Promise<string>((resolve, reject) => {
        let got = ''
        c.onData((d) => {
          got += Buffer.from(d).toString()
        })
        c.onClose((err) => (err ? reject(new Error(err.code)) : resolve(got)))
        c.onEnd(() => c.end())
        c.write(text)
        c.end()
      }),
  )
}

/** Echo server answering `from <source ip>` then closing. */
function listenWho(ns: Netns, port: number): void {
  ns.tcpListen(port, (c) => {
    c.onData(() => {
      const r = c.remote.ip
      c.write(`from ${r >>> 24}.${(r >>> 16) & 255}.${(r >>> 8) & 255}.${r & 255} to ${ns.name || 'root'}`)
      c.end()
    })
  })
}

async function cluster(t: { teardown(fn: () => Promise<void>): void }) {
  const mk = (name: string, ip: string) =>
    new NodeDataplane({
      nodeName: name,
      nodeIp: ip,
      clock,
      rng: systemRng(),
      log: silentLogger(),
      underlay: { bind: '127.0.0.1', port: 0 },
      gateway: { ip: '198.19.15.254' },
    })
  // host1: a bare kernel with its own underlay socket.
  const h1 = createHost({ name: 'host1', nodeIp: 0xc6130ffe, clock, rng: systemRng() })
  const h1u = await bindUnderlay(h1, { bind: '127.0.0.1', port: 0 })
  const n1 = mk('node1', '198.19.0.2')
  const n2 = mk('node2', '198.19.0.3')
  // The gateway's endpoint is only known once bound (port 0): set it like the topology would.
  await n1.start()
  await n2.start()
  for (const n of [n1, n2]) n.setGatewayEndpoint({ host: '127.0.0.1', port: h1u.endpoint.port })
  h1u.setPeer(0xc6130002, { address: '127.0.0.1', port: n1.underlay?.endpoint.port ?? 0 })
  h1u.setPeer(0xc6130003, { address: '127.0.0.1', port: n2.underlay?.endpoint.port ?? 0 })
  t.teardown(async () => {
    await n1.close()
    await n2.close()
    await h1u.close()
  })
  const updates: SyncerUpdate[] = [
    pool('default-ipv4-ippool', '198.19.16.0/21'),
    block('198.19.16.0/26', 'node1'),
    block('198.19.16.64/26', 'node2'),
    k8sNode('node1', '198.19.0.2', n1.underlayAddress ?? ''),
    k8sNode('node2', '198.19.0.3', n2.underlayAddress ?? ''),
  ]
  n1.onUpdates(updates)
  n2.onUpdates(updates)
  n1.apply()
  n2.apply()
  n1.setup({ metadata: { namespace: 'yaobank', name: 'customer-1' } }, '198.19.16.1')
  n2.setup({ metadata: { namespace: 'yaobank', name: 'summary-1' } }, '198.19.16.65')
  n2.setup({ metadata: { namespace: 'yaobank', name: 'summary-2' } }, '198.19.16.66')
  return { n1, n2, h1 }
}

t.test('pods on two nodes reach each other over the UDP underlay', async (t) => {
  const { n1, n2 } = await cluster(t)
  const route1 = n1.host.root.ip(['route']).stdout
  t.match(route1, /blackhole 198\.19\.16\.0\/26 proto bird/)
  t.match(route1, /198\.19\.16\.1 dev cali[0-9a-f]{11} scope link/)
  t.match(route1, /198\.19\.16\.64\/26 via 198\.19\.0\.3 dev eth0 proto static/)
  t.match(route1, /default via 198\.19\.15\.254 dev eth0/)
  const pod = n1.podNetns('yaobank', 'customer-1') as Netns
  const podRoutes = pod.ip(['route']).stdout
  t.match(podRoutes, /default via 169\.254\.1\.1 dev eth0/)
  t.match(podRoutes, /169\.254\.1\.1 dev eth0 scope link/)
  t.match(pod.ip(['addr']).stdout, /eth0@if\d+/)
  const link = n1.host.root.ip(['link']).stdout
  t.match(link, /cali[0-9a-f]{11}@if\d+/)

  const r = await pod.ping('198.19.16.65', { count: 2, intervalMs: 10, timeoutMs: 2000 })
  t.equal(r.received, 2, 'ping across nodes')
  listenWho(n2.podNetns('yaobank', 'summary-1') as Netns, 80)
  const got = await tcpRequest(pod, '198.19.16.65', 80, 'GET /')
  t.equal(got, 'from 198.19.16.1 to yaobank/summary-1', 'TCP keeps the pod source across nodes (no NAT inside pools)')
  t.ok((n1.status().underlay?.sent ?? 0) > 0)
  t.same(n1.status().routes, ['198.19.16.64/26 via 198.19.0.3 dev eth0', 'blackhole 198.19.16.0/26'].sort())

  // Teardown reverses the pod's network.
  n2.teardown({ metadata: { namespace: 'yaobank', name: 'summary-2' } })
  t.notMatch(n2.host.root.ip(['route']).stdout, /198\.19\.16\.66/)
  t.equal(n2.podNetns('yaobank', 'summary-2'), undefined)
})

t.test('ClusterIP and NodePort through the rendered kube-proxy rules', async (t) => {
  const { n1, n2, h1 } = await cluster(t)
  listenWho(n2.podNetns('yaobank', 'summary-1') as Netns, 80)
  listenWho(n2.podNetns('yaobank', 'summary-2') as Netns, 80)
  listenWho(n1.podNetns('yaobank', 'customer-1') as Netns, 80)
  const svc = (name: string, clusterIP: string, type: string, nodePort?: number): SyncerUpdate => ({
    key: `/core/services/yaobank/${name}`,
    value: obj(
      'v1',
      'Service',
      name,
      {
        spec: {
          type,
          clusterIP,
          selector: { app: name },
          ports: [{ port: 80, targetPort: 80, protocol: 'TCP', ...(nodePort ? { nodePort } : {}) }],
        },
      },
      'yaobank',
    ),
  })
  const eps = (name: string, ips: [string, string][]): SyncerUpdate => ({
    key: `/core/endpoints/yaobank/${name}`,
    value: obj(
      'v1',
      'Endpoints',
      name,
      {
        subsets: [
          { addresses: ips.map(([ip, nodeName]) => ({ ip, nodeName })), ports: [{ port: 80, protocol: 'TCP' }] },
        ],
      },
      'yaobank',
    ),
  })
  const u = [
    svc('summary', '198.19.32.20', 'ClusterIP'),
    eps('summary', [
      ['198.19.16.65', 'node2'],
      ['198.19.16.66', 'node2'],
    ]),
    svc('customer', '198.19.32.30', 'NodePort', 30180),
    eps('customer', [['198.19.16.1', 'node1']]),
  ]
  n1.onUpdates(u)
  n2.onUpdates(u)
  await eventually(() => n1.status().services === 2 && n2.status().services === 2)
  const pod = n1.podNetns('yaobank', 'customer-1') as Netns
  const seen = new Set<string>()
  for (let i = 0; i < 12; i++) seen.add(await tcpRequest(pod, '198.19.32.20', 80, 'x'))
  t.ok(
    [...seen].every((s) => /^from 198\.19\.16\.1 to yaobank\/summary-[12]$/.test(s)),
    [...seen].join(', '),
  )
  const svcChain = listTable(n1.host.root.nf, 'nat', { chain: 'KUBE-SERVICES', numeric: true, verbose: true })
  t.match(svcChain, /KUBE-SVC-/)
  const kubeSvc = /(KUBE-SVC-\S+)\s+tcp\s+--\s+\*\s+\*\s+0\.0\.0\.0\/0\s+198\.19\.32\.20/.exec(svcChain)
  t.ok(kubeSvc, 'summary chain listed')
  const split = listTable(n1.host.root.nf, 'nat', { chain: kubeSvc?.[1] ?? '', numeric: true, verbose: true })
  t.match(split, /statistic mode random probability 0\.50000000000/)
  const counters = [...split.matchAll(/^\s*(\d+)\s+\d+\s+KUBE-SEP/gm)].map((m) => Number(m[1]))
  t.equal(counters.length, 2)
  t.ok((counters[0] ?? 0) > 0, `counters move: ${counters.join(',')}`)

  // NodePort from host1 through node2 (no local endpoint): DNAT to the pod on node1, SNAT to node2.
  h1.root.addLink('internet', 'dummy', { up: true })
  const viaN2 = await tcpRequest(h1.root, '198.19.0.3', 30180, 'GET /')
  t.equal(viaN2, 'from 198.19.0.3 to yaobank/customer-1', 'source NATed to the ingress node')
  const viaN1 = await tcpRequest(h1.root, '198.19.0.2', 30180, 'GET /')
  t.equal(viaN1, 'from 198.19.0.2 to yaobank/customer-1')

  // Service removed: its chains go.
  n1.onUpdates([{ key: '/core/services/yaobank/summary', value: null }])
  await eventually(() => n1.status().services === 1)
  t.notMatch(listTable(n1.host.root.nf, 'nat', {}), new RegExp(kubeSvc?.[1] ?? 'none'))
})

t.test('natOutgoing masquerades traffic leaving the pools toward host1', async (t) => {
  const { n1, h1 } = await cluster(t)
  listenWho(h1.root, 8080)
  const pod = n1.podNetns('yaobank', 'customer-1') as Netns
  t.equal(await tcpRequest(pod, '198.19.15.254', 8080, 'x'), 'from 198.19.0.2 to root')
  const nat = listTable(n1.host.root.nf, 'nat', { chain: 'cali-nat-outgoing', numeric: true, verbose: true })
  t.match(nat, /MASQUERADE .*match-set cali40masq-ipam-pools src ! match-set cali40all-ipam-pools dst/)
  t.match(nat, /^\s*1\s+\d+\s+MASQUERADE/m)
  attachInternet(h1.root, clock)
  t.equal((await pod.ping('8.8.8.8', { count: 1, timeoutMs: 2000 })).received, 1, 'ping 8.8.8.8 (masqueraded ICMP)')
  // Turning natOutgoing off empties the masquerade set (flows already NATed keep their conntrack entries).
  n1.onUpdates([pool('default-ipv4-ippool', '198.19.16.0/21', { natOutgoing: false })])
  n1.apply()
  t.same(n1.status().pools.masq, [])
  t.notOk(n1.host.root.sets.test('cali40masq-ipam-pools', 0xc6131001), 'pod addresses no longer masqueraded')
})

t.test('IPIP and VXLAN pools route through tunl0 / vxlan.calico', async (t) => {
  const { n1, n2 } = await cluster(t)
  const ipip = [pool('default-ipv4-ippool', '198.19.16.0/21', { ipipMode: 'Always' })]
  n1.onUpdates(ipip)
  n2.onUpdates(ipip)
  await eventually(() => /tunl0/.test(n1.host.root.ip(['route']).stdout))
  t.match(n1.host.root.ip(['route']).stdout, /198\.19\.16\.64\/26 via 198\.19\.0\.3 dev tunl0 proto static onlink/)
  const pod = n1.podNetns('yaobank', 'customer-1') as Netns
  t.equal((await pod.ping('198.19.16.65', { count: 1, timeoutMs: 2000 })).received, 1, 'ping over IPIP')
  const cross = [pool('default-ipv4-ippool', '198.19.16.0/21', { ipipMode: 'CrossSubnet' })]
  n1.onUpdates(cross)
  n1.apply()
  t.match(
    n1.host.root.ip(['route']).stdout,
    /198\.19\.16\.64\/26 via 198\.19\.0\.3 dev eth0 proto static/,
    'same subnet: no encap',
  )
  const vx = [pool('default-ipv4-ippool', '198.19.16.0/21', { vxlanMode: 'Always' })]
  n1.onUpdates(vx)
  n2.onUpdates(vx)
  await eventually(
    () =>
      /vxlan\.calico/.test(n1.host.root.ip(['route']).stdout) &&
      /vxlan\.calico/.test(n2.host.root.ip(['route']).stdout),
  )
  t.match(n1.host.root.ip(['route']).stdout, /blackhole 198\.19\.16\.0\/26 proto 80/)
  t.equal((await pod.ping('198.19.16.65', { count: 1, timeoutMs: 2000 })).received, 1, 'ping over VXLAN')
})
