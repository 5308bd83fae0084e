/**
 * Fan-out bench, in one process: a Typha fed by an in-process upstream, N lightweight syncer
 * clients (the node agent's real TyphaClient over real loopback TCP).
 *   npx tsx packages/typha/bench/fanout.ts [agents=200] [endpoints=10000] [policies=1000] [rate=1000] [seconds=3]
 * Prints JSON: snapshot time to 1 agent and to all, delta p50/p99 write-to-last-agent latency.
 */
import { createRegistry, seededRng, silentLogger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import type { InternalStreamHandler } from '@calilab/proto'
import { connectTypha } from '../../node-agent/src/io/syncer/typha-client.ts'
import { createTyphaMetrics, startTyphaServer } from '../src/index.ts'

const [agentsN = 200, endpointsN = 10_000, policiesN = 1000, rate = 1000, seconds = 3] = process.argv
  .slice(2)
  .map(Number)

function pod(i: number, rv: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `pod-${i}`,
      namespace: `ns-${i % 50}`,
      uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(rv),
      labels: { app: `app-${i % 100}`, tier: `t${i % 5}`, 'pod-template-hash': 'abcdef1234' },
    },
    spec: { nodeName: `node-${i % 200}`, serviceAccountName: 'default', containers: [{ name: 'c', image: 'nginx' }] },
    status: {
      phase: 'Running',
      podIP: `198.19.${16 + ((i >> 8) & 15)}.${i & 255}`,
      podIPs: [{ ip: `198.19.${16 + ((i >> 8) & 15)}.${i & 255}` }],
    },
  }
}
function policy(i: number, rv: number): KubeObject {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: `gnp-${i}`, uid: `p-${i}`, resourceVersion: String(rv) },
    spec: {
      order: i,
      selector: `app == 'app-${i % 100}'`,
      types: ['Ingress'],
      ingress: [
        { action: 'Allow', protocol: 'TCP', source: { selector: `tier == 't${i % 5}'` }, destination: { ports: [80] } },
      ],
    },
  }
}

const items: { key: string; object: KubeObject }[] = []
let rev = 0
for (let i = 0; i < endpointsN; i++) items.push({ key: `/core/pods/ns-${i % 50}/pod-${i}`, object: pod(i, ++rev) })
for (let i = 0; i < policiesN; i++)
  items.push({ key: `/projectcalico.org/globalnetworkpolicies/_/gnp-${i}`, object: policy(i, ++rev) })
let handler: InternalStreamHandler | undefined
const registry = createRegistry()
const server = await startTyphaServer({
  log: silentLogger(),
  metrics: createTyphaMetrics(registry),
  maxQueueBytes: 64 * 1024 * 1024,
  upstream: (h) => {
    handler = h
    h.onSnapshot(items, rev)
    h.onSynced?.(rev)
    return { close() {} }
  },
})
const rng = seededRng(1)
const sent = new Map<string, number>()
const pendingCount = new Map<string, number>()
const latencies: number[] = []
const mkAgent = (i: number, onSync: () => void) =>
  connectTypha({
    addresses: [`127.0.0.1:${server.port}`],
    nodeName: `node-${i}`,
    syncerType: 'felix',
    log: silentLogger(),
    rng,
    readTimeoutMs: 120_000,
    callbacks: {
      onInSync: onSync,
      onUpdates: (ups) => {
        for (const u of ups) {
          const tag = `${u.key}@${u.value?.metadata.resourceVersion}`
          const left = pendingCount.get(tag)
          if (left === undefined) continue
          if (left === 1) {
            pendingCount.delete(tag)
            latencies.push(performance.now() - (sent.get(tag) as number))
            sent.delete(tag)
          } else pendingCount.set(tag, left - 1)
        }
      },
    },
  })

// 1. one agent
let t0 = performance.now()
const first = await new Promise<ReturnType<typeof mkAgent>>((resolve) => {
  const a = mkAgent(0, () => resolve(a))
})
const oneAgentMs = performance.now() - t0
// 2. the rest at once
t0 = performance.now()
const others = await Promise.all(
  Array.from(
    { length: agentsN - 1 },
    (_, i) =>
      new Promise<ReturnType<typeof mkAgent>>((resolve) => {
        const a = mkAgent(i + 1, () => resolve(a))
      }),
  ),
)
const allAgentsMs = performance.now() - t0
const agents = [first, ...others]

// 3. deltas at `rate` updates/s for `seconds`
const total = rate * seconds
const tickMs = 10
const perTick = Math.max(1, Math.round((rate * tickMs) / 1000))
let n = 0
const cpu0 = process.cpuUsage()
const start = performance.now()
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const events = []
    for (let k = 0; k < perTick && n < total; k++, n++) {
      const i = n % endpointsN
      const o = pod(i, ++rev)
      const key = `/core/pods/ns-${i % 50}/pod-${i}`
      const tag = `${key}@${rev}`
      sent.set(tag, performance.now())
      pendingCount.set(tag, agentsN)
      events.push({ type: 'MODIFIED' as const, key, object: o, revision: rev })
    }
    handler?.onEvents(events)
    if (n >= total) {
      clearInterval(timer)
      resolve()
    }
  }, tickMs)
})
const deadline = performance.now() + 30_000
while (pendingCount.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20))
const elapsed = (performance.now() - start) / 1000
const cpu = process.cpuUsage(cpu0)
latencies.sort((a, b) => a - b)
const q = (p: number) =>
  Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN) * 10) / 10
const metrics = await registry.getMetricsAsJSON()
const val = (name: string, kind?: string) =>
  metrics
    .find((m) => m.name === name)
    ?.values.filter((v) => !kind || v.labels.kind === kind)
    .reduce((s, v) => s + v.value, 0)
process.stdout.write(
  `${JSON.stringify(
    {
      agents: agentsN,
      endpoints: endpointsN,
      policies: policiesN,
      snapshotToOneAgentMs: Math.round(oneAgentMs),
      snapshotToAllAgentsMs: Math.round(allAgentsMs),
      snapshotBytes: val('calilab_typha_snapshot_bytes'),
      updatesSent: total,
      updatesDeliveredPerSec: Math.round((latencies.length * agentsN) / elapsed),
      undelivered: pendingCount.size,
      latencyP50Ms: q(0.5),
      latencyP99Ms: q(0.99),
      deltaFramesEncoded: val('calilab_typha_encodes_total', 'deltas'),
      bytesOut: val('calilab_typha_bytes_out_total'),
      processCpuSecDuringDeltas: Math.round((cpu.user + cpu.system) / 1e4) / 100,
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
      note: 'Typha and all agents share one process (rss and cpu include the agents)',
    },
    null,
    2,
  )}\n`,
)
for (const a of agents) a.close()
await server.close()
process.exit(0)
