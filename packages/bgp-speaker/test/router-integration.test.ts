/**
 * Three speakers on loopback: node1 (in process, driven by the Calico model), node2 (a child
 * process running `runSpeaker`), host1 (router mode via `runSpeaker` in process). host1's
 * `/ip-route` shows the service CIDR with a next hop per node; killing node2's process withdraws
 * its routes on host1 at once (TCP reset), long before the hold time.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import * as http from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseReadyLine, silentLogger, systemClock } from '@calilab/kit'
import type { BGPConfiguration, BGPPeer, CalicoNode, IPAMBlock } from '@calilab/model'
import t from 'tap'
import { CalicoBgpDriver, createSpeaker, desiredBgp, endpointResolver, runSpeaker } from '../src/index.ts'

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))
const EP = { host1: '127.77.0.254', node1: '127.77.0.2', node2: '127.77.0.3' }
const PORT = 1790

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: EP.host1, port, path }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
  })
}

async function eventually<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined || Date.now() > end) return v
    await new Promise((r) => setTimeout(r, 50))
  }
}

function startChild(args: string[]): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const code = `import { runSpeaker } from ${JSON.stringify(MAIN)}; await runSpeaker(${JSON.stringify(args)})`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error(`child not ready: ${stderr}`)), 30_000)
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      for (const line of buf.split('\n')) {
        const r = parseReadyLine(line)
        if (r) {
          clearTimeout(timer)
          resolve({ child, ready: r })
        }
      }
    })
    child.on('exit', (c) => reject(new Error(`child exited ${c}: ${stderr}`)))
  })
}

const block = (cidr: string, node: string, size: number): IPAMBlock => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'IPAMBlock',
  metadata: { name: cidr },
  spec: {
    cidr,
    affinity: `host:${node}`,
    strictAffinity: false,
    allocations: new Array(size).fill(null),
    unallocated: [],
    attributes: [],
  },
})
const cnode = (name: string, ip: string): CalicoNode => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'Node',
  metadata: { name },
  spec: { bgp: { ipv4Address: `${ip}/20` } },
})

t.test('host1 learns ECMP service routes from two nodes; a killed node is withdrawn', async (t) => {
  // node2: a separate process (so it can really be killed), originating what Calico would.
  const { child } = await startChild([
    '--name',
    'node2',
    '--ip',
    '198.19.0.3',
    '--endpoint',
    EP.node2,
    '--port',
    String(PORT),
    '--peers',
    `host1=198.19.15.254@${EP.host1}:${PORT},Mesh_198_19_0_2=198.19.0.2@${EP.node1}:${PORT}`,
    '--originate',
    '198.19.19.64/26,198.19.24.216/29,198.19.32.0/20',
    '--filter',
    'all',
    '--connect-retry',
    '1',
    '--log-level',
    'warn',
  ]) // prettier-ignore
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })

  // node1: the Calico model (mesh + global peer host1 + serviceClusterIPs) applied to a speaker.
  const node1 = createSpeaker({
    routerId: '198.19.0.2',
    asNumber: 64512,
    listen: { host: EP.node1, port: PORT },
    clock: systemClock(),
    log: silentLogger(),
    peers: [],
  })
  t.teardown(() => node1.stop())
  await node1.start()
  const state = {
    nodes: [cnode('node1', '198.19.0.2'), cnode('node2', '198.19.0.3')],
    blocks: [block('198.19.22.128/26', 'node1', 64), block('198.19.24.208/29', 'node1', 8)],
    bgpConfigurations: [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'BGPConfiguration',
        metadata: { name: 'default' },
        spec: { serviceClusterIPs: [{ cidr: '198.19.32.0/20' }] },
      } as BGPConfiguration,
    ],
    bgpPeers: [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'BGPPeer',
        metadata: { name: 'bgppeer-global-host1' },
        spec: { peerIP: '198.19.15.254', asNumber: 64512 },
      } as BGPPeer,
    ],
  }
  const resolve = endpointResolver(
    new Map([
      ['198.19.0.3', EP.node2],
      ['198.19.15.254', EP.host1],
    ]),
    PORT,
  )
  const driver = new CalicoBgpDriver(node1, resolve, EP.node1, { connectRetryTime: 1 })
  const applied = driver.apply(desiredBgp(state, 'node1'))
  t.same(applied.added, ['Mesh_198_19_0_3', 'Global_198_19_15_254'])

  // host1: router mode, in process.
  const lines: string[] = []
  const host1 = await runSpeaker(
    [
      '--name',
      'host1',
      '--ip',
      '198.19.15.254',
      '--endpoint',
      EP.host1,
      '--as',
      '64512',
      '--port',
      String(PORT),
      '--peers',
      `node1=198.19.0.2@${EP.node1}:${PORT},node2=198.19.0.3@${EP.node2}:${PORT}`,
      '--control-port',
      '0',
      '--connect-retry',
      '1',
    ], // prettier-ignore
    { log: silentLogger(), out: (l) => lines.push(l) },
  )
  t.teardown(() => host1.close())
  const ready = parseReadyLine(lines[0] ?? '')
  t.match(ready, { component: 'bgp-speaker', name: 'host1', port: PORT, controlPort: host1.controlPort })

  const ecmp = [
    '198.19.32.0/20 proto bird metric 32',
    '\tnexthop via 198.19.0.2 dev eth0 weight 1',
    '\tnexthop via 198.19.0.3 dev eth0 weight 1',
  ].join('\n')
  const full = await eventually(async () => {
    const r = await get(host1.controlPort, '/ip-route')
    return r.body.includes(ecmp) && r.body.includes('198.19.24.216/29') && r.body.includes('198.19.24.208/29')
      ? r.body
      : undefined
  }, 15_000)
  t.equal(
    full,
    [
      '198.19.0.0/20 dev eth0 proto kernel scope link src 198.19.15.254',
      '198.19.24.208/29 via 198.19.0.2 dev eth0 proto bird metric 32',
      '198.19.24.216/29 via 198.19.0.3 dev eth0 proto bird metric 32',
      ecmp,
      '',
    ].join('\n'),
    'the /26 blocks are filtered, the /29s and the ECMP service route are installed',
  )

  const protos = await get(host1.controlPort, '/birdc?cmd=show+protocols')
  t.equal(protos.status, 200)
  t.match(protos.body, /^node1 {6}BGP {8}--- {8}up {5}\d\d:\d\d:\d\d\.\d{3} {2}Established$/m)
  t.match(protos.body, /^node2 {6}BGP {8}--- {8}up {5}\d\d:\d\d:\d\d\.\d{3} {2}Established$/m)
  const route = await get(host1.controlPort, '/birdc?cmd=show%20route')
  t.match(
    route.body,
    /^198\.19\.32\.0\/20 {7}unicast \[node[12] [\d:.]+\] \* \(100\/0\) \[i\]\n\tvia 198\.19\.0\.[23] on eth0\n {21}unicast/m,
  )
  const all = await get(host1.controlPort, '/birdc?cmd=show+protocols+all+node1')
  t.match(all.body, /Neighbor address: 198\.19\.0\.2\n/)
  t.match(all.body, /Routes: {9}2 imported, 0 exported, 2 preferred/)
  const bad = await get(host1.controlPort, '/birdc?cmd=show+nothing')
  t.equal(bad.status, 400)
  const status = JSON.parse((await get(host1.controlPort, '/status')).body) as {
    peers: { name: string; address: string }[]
  }
  t.same(
    status.peers.map((p) => [p.name, p.address]),
    [
      ['node1', '198.19.0.2'],
      ['node2', '198.19.0.3'],
    ],
  )
  // node1's own view: the mesh to node2 and the global peer host1, both Established
  // (node2 first dialled before node1 listened: it retries after BIRD's error wait of 5 s.)
  const n1 = await eventually(async () => {
    const st = node1.status().map((s) => [s.name, s.state])
    return st.every((s) => s[1] === 'Established') ? st : undefined
  }, 15_000)
  t.same(n1, [
    ['Mesh_198_19_0_3', 'Established'],
    ['Global_198_19_15_254', 'Established'],
  ])

  // Kill node2's process: the TCP connection closes and host1 withdraws node2's routes at once.
  const killedAt = Date.now()
  child.kill('SIGKILL')
  const after = await eventually(async () => {
    const r = await get(host1.controlPort, '/ip-route')
    return r.body.includes('198.19.24.216/29') ? undefined : r.body
  }, 10_000)
  t.ok(Date.now() - killedAt < 10_000, 'withdrawn well before the 240 s hold time')
  t.equal(
    after,
    [
      '198.19.0.0/20 dev eth0 proto kernel scope link src 198.19.15.254',
      '198.19.24.208/29 via 198.19.0.2 dev eth0 proto bird metric 32',
      '198.19.32.0/20 via 198.19.0.2 dev eth0 proto bird metric 32',
      '',
    ].join('\n'),
  )
  t.match(host1.birdc('show protocols'), /^node2 +BGP +--- +start /m)
})
