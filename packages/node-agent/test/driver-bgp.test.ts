/**
 * Two nodes' dataplanes with their BGP speakers (routing 'bgp') on 127.0.x addresses, ephemeral
 * BGP ports published as the `calilab.dev/bgp` annotation: the mesh comes up, each node's block
 * lands in the other's kernel as `proto bird`, pods reach each other, a withdrawn block goes away,
 * and the node's views (`calicoctl node status`, `birdc show protocols|route`) run as commands.
 */
import { silentLogger, systemClock, systemRng } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import t from 'tap'
import { BGP_ANNOTATION, NodeBgp } from '../src/bgp/node-bgp.ts'
import { NodeDataplane } from '../src/dataplane/index.ts'
import type { SyncerUpdate } from '../src/io/syncer/index.ts'
import { runCommand, type ToolEnv } from '../src/tools/index.ts'

const clock = systemClock()
const keepAlive = setInterval(() => {}, 1000)
t.teardown(() => clearInterval(keepAlive))

const obj = (apiVersion: string, kind: string, name: string, extra: Record<string, unknown>) =>
  ({
    apiVersion,
    kind,
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'metadata')),
    metadata: { name, ...((extra['metadata'] as object) ?? {}) },
  }) as KubeObject

const pool = (name: string, cidr: string): SyncerUpdate => ({
  key: `/projectcalico.org/ippools/_/${name}`,
  value: obj('projectcalico.org/v3', 'IPPool', name, {
    spec: { cidr, blockSize: 26, natOutgoing: true, ipipMode: 'Never', vxlanMode: 'Never' },
  }),
})
const block = (cidr: string, node: string): SyncerUpdate => {
  const name = cidr.replace(/[./]/g, '-')
  return {
    key: `/projectcalico.org/ipamblocks/_/${name}`,
    value: obj('projectcalico.org/v3', 'IPAMBlock', name, {
      spec: { cidr, affinity: `host:${node}`, strictAffinity: false, allocations: [], unallocated: [], attributes: [] },
    }),
  }
}
const k8sNode = (name: string, ip: string, underlay: string, bgp: string): SyncerUpdate => ({
  key: `/core/nodes/_/${name}`,
  value: obj('v1', 'Node', name, {
    metadata: {
      annotations: {
        'projectcalico.org/IPv4Address': `${ip}/20`,
        'calilab.dev/underlay': underlay,
        [BGP_ANNOTATION]: bgp,
      },
    },
  }),
})

async function eventually(fn: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    if (fn()) return
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function run(argv: string[], env: ToolEnv): Promise<{ code: number; out: string }> {
  let out = ''
  const code = await runCommand(argv, env, {
    stdout: (s) => (out += s),
    stderr: (s) => (out += s),
    signal: new AbortController().signal,
  })
  return { code, out }
}

t.test('node speakers mesh and program each other’s blocks as proto bird', async (t) => {
  const mk = async (name: string, ip: string, endpoint: string) => {
    const dp = new NodeDataplane({
      nodeName: name,
      nodeIp: ip,
      clock,
      rng: systemRng(),
      log: silentLogger(),
      underlay: { bind: endpoint, port: 0 },
      routing: 'bgp',
    })
    await dp.start()
    const bgp = new NodeBgp({
      nodeName: name,
      nodeIp: ip,
      endpoint,
      port: 0,
      netns: dp.host.root,
      clock,
      log: silentLogger(),
      timers: { connectRetryTime: 1 },
    })
    await bgp.start()
    return { dp, bgp }
  }
  const a = await mk('node1', '198.19.0.2', '127.0.77.2')
  const b = await mk('node2', '198.19.0.3', '127.0.77.3')
  t.teardown(async () => {
    for (const n of [a, b]) {
      await n.bgp.close()
      await n.dp.close()
    }
  })
  const updates: SyncerUpdate[] = [
    pool('default-ipv4-ippool', '198.19.16.0/21'),
    block('198.19.16.0/26', 'node1'),
    block('198.19.16.64/26', 'node2'),
    k8sNode('node1', '198.19.0.2', a.dp.underlayAddress ?? '', a.bgp.address ?? ''),
    k8sNode('node2', '198.19.0.3', b.dp.underlayAddress ?? '', b.bgp.address ?? ''),
  ]
  for (const n of [a, b]) {
    n.dp.onUpdates(updates)
    n.bgp.onUpdates(updates)
  }
  a.dp.setup({ metadata: { namespace: 'yaobank', name: 'customer-1' } }, '198.19.16.1')
  b.dp.setup({ metadata: { namespace: 'yaobank', name: 'summary-1' } }, '198.19.16.65')

  await eventually(
    () =>
      /198\.19\.16\.64\/26 via 198\.19\.0\.3 dev eth0 proto bird/.test(a.dp.host.root.ip(['route']).stdout) &&
      /198\.19\.16\.0\/26 via 198\.19\.0\.2 dev eth0 proto bird/.test(b.dp.host.root.ip(['route']).stdout),
  )
  const r1 = a.dp.host.root.ip(['route']).stdout
  t.match(r1, /blackhole 198\.19\.16\.0\/26 proto bird/, 'own block stays a blackhole')
  t.notMatch(r1, /proto static/, 'no static remote routes with routing bgp')
  t.same(a.bgp.status().kernelRoutes, ['198.19.16.64/26'])

  const pod = a.dp.podNetns('yaobank', 'customer-1')
  const ping = await pod?.ping('198.19.16.65', { count: 2, intervalMs: 10, timeoutMs: 2000 })
  t.equal(ping?.received, 2, 'pods reach each other over BGP-learned routes')

  const env: ToolEnv = { hostname: 'node1', netns: a.dp.host.root, files: {}, clock, tools: a.bgp.tools() }
  const st = await run(['calicoctl', 'node', 'status'], env)
  t.equal(st.code, 0)
  t.match(st.out, /Calico process is running\./)
  t.match(st.out, /\| 198\.19\.0\.3 +\| node-to-node mesh \| up +\| \d\d:\d\d:\d\d \| Established \|/)
  const pr = await run(['birdc', 'show', 'protocols'], env)
  t.match(pr.out, /Mesh_198_19_0_3 +BGP +--- +up .*Established/)
  const rt = await run(['sudo', 'birdc', '-s', '/var/run/calico/bird.ctl', 'show', 'route'], env)
  t.match(rt.out, /198\.19\.16\.64\/26/)
  t.match(rt.out, /via 198\.19\.0\.3 on eth0/)
  const ipr = await run(['ip', 'route'], env)
  t.match(ipr.out, /198\.19\.16\.64\/26 via 198\.19\.0\.3 dev eth0 proto bird/)

  // node2's block goes away: withdrawn, removed from node1's kernel.
  const del: SyncerUpdate[] = [{ key: block('198.19.16.64/26', 'node2').key, value: null }]
  for (const n of [a, b]) {
    n.dp.onUpdates(del)
    n.bgp.onUpdates(del)
  }
  await eventually(() => !/198\.19\.16\.64\/26/.test(a.dp.host.root.ip(['route']).stdout))
  t.same(a.bgp.status().kernelRoutes, [])
})
