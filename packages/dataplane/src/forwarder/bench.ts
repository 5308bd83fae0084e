/**
 * Established-flow packets/s: full pipeline (ns.receive) inline, fast path inline, and the
 * worker pool. Run: npx tsx packages/dataplane/src/forwarder/bench.ts [threads]
 */
import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 as ip } from '@calilab/model'
import { buildTcp, TCP_ACK } from '../core/packet/index.ts'
import { HostImpl } from '../kernel/host.ts'
import { InlineForwarder, WorkerForwarder } from './forwarder.ts'
import { snapshotOf } from './snapshot.ts'

const clock = new FakeClock()
const h = new HostImpl({ name: 'n', nodeIp: ip('198.19.0.2'), clock, rng: seededRng(1) })
const pa = h.createPodNetns('a')
const pb = h.createPodNetns('b')
h.addVethPair(h.root, 'caliaaaaaaaaaaa', pa, 'eth0')
h.addVethPair(h.root, 'calibbbbbbbbbbb', pb, 'eth0')
pa.addAddr('eth0', ip('198.19.16.5'), 32)
pb.addAddr('eth0', ip('198.19.16.6'), 32)
h.root.routes.add({ dst: ip('198.19.16.5'), prefix: 32, dev: 'caliaaaaaaaaaaa' })
h.root.routes.add({ dst: ip('198.19.16.6'), prefix: 32, dev: 'calibbbbbbbbbbb' })
const FLOWS = 1000
const pkts: Uint8Array[] = []
for (let i = 0; i < FLOWS; i++) {
  const f = { src: ip('198.19.16.5'), dst: ip('198.19.16.6'), sport: 10000 + i, dport: 80 }
  h.root.receive(buildTcp({ ...f, flags: 2 }), 'caliaaaaaaaaaaa')
  h.root.receive(buildTcp({ src: f.dst, dst: f.src, sport: 80, dport: f.sport, flags: 0x12 }), 'calibbbbbbbbbbb')
  pkts.push(buildTcp({ ...f, flags: TCP_ACK, seq: 1, ack: 1, payload: new Uint8Array(64) }))
}
// Full pipeline: the root netns only (stop at the veth: drain the queue without the pod netns work).
const N = 300_000
let t0 = performance.now()
for (let i = 0; i < N; i++) h.root.pipeline.receive(pkts[i % FLOWS]!.slice(), 'caliaaaaaaaaaaa')
const full = N / ((performance.now() - t0) / 1000)
const snap = snapshotOf(h.root, clock.now(), 1)
const inline = new InlineForwarder()
inline.publish(snap)
const B = 256
t0 = performance.now()
for (let i = 0; i < N; i += B) {
  const batch: Uint8Array[] = []
  for (let j = 0; j < B; j++) batch.push(pkts[(i + j) % FLOWS]!.slice())
  inline.processSync(batch)
}
const fast = N / ((performance.now() - t0) / 1000)
const threads = Number(process.argv[2] ?? 2)
const w = new WorkerForwarder({ threads })
w.publish(snap)
await w.process([pkts[0]!.slice()])
const M = 600_000
t0 = performance.now()
const inflight: Promise<unknown>[] = []
for (let i = 0; i < M; i += B) {
  const batch: Uint8Array[] = []
  for (let j = 0; j < B; j++) batch.push(pkts[(i + j) % FLOWS]!.slice())
  inflight.push(w.process(batch))
  if (inflight.length >= threads * 4) await inflight.shift()
}
await Promise.all(inflight)
const pool = M / ((performance.now() - t0) / 1000)
await w.close()
const f = (x: number) => `${(x / 1e6).toFixed(2)} Mpps`
process.stdout.write(
  `full pipeline inline (root netns, established, no rules): ${f(full)}\nfast path inline (batch ${B}): ${f(fast)}\nworker pool (${threads} threads, batch ${B}): ${f(pool)}\n`,
)
