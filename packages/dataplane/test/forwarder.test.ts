import { MessageChannel } from 'node:worker_threads'
import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { runIptables } from '../src/core/netfilter/index.ts'
import { buildTcp, checksumsOk, PacketView, parsePacket, TCP_ACK, TCP_PSH } from '../src/core/packet/index.ts'
import {
  decodeSnapshot,
  encodeSnapshot,
  FastPath,
  type ForwarderMessage,
  type ForwarderMessages,
  FWD_DROP,
  FWD_FORWARD,
  FWD_FORWARD_VIA,
  FWD_LOCAL,
  FWD_SLOW,
  InlineForwarder,
  PacketBatch,
  snapshotOf,
  WorkerForwarder,
} from '../src/forwarder/index.ts'
import { HostImpl } from '../src/kernel/host.ts'
import type { NetnsImpl } from '../src/kernel/netns.ts'

const ip = parseIPv4

async function setup() {
  const clock = new FakeClock()
  const h = new HostImpl({ name: 'node1', nodeIp: ip('198.19.0.2'), clock, rng: seededRng(7) })
  const pod = (name: string, a: string, veth: string) => {
    const ns = h.createPodNetns(name) as NetnsImpl
    h.addVethPair(h.root, veth, ns, 'eth0')
    ns.addAddr('eth0', ip(a), 32)
    ns.routes.add({ dst: ip('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
    ns.routes.add({ dst: 0, prefix: 0, via: ip('169.254.1.1'), dev: 'eth0' })
    h.root.routes.add({ dst: ip(a), prefix: 32, dev: veth, scope: 'link' })
    return ns
  }
  const a = pod('a', '198.19.16.5', 'cali000000000aa')
  const b = pod('b', '198.19.16.6', 'cali000000000bb')
  runIptables(h.root.nf, [
    '-t',
    'nat',
    '-A',
    'PREROUTING',
    '-d',
    '198.19.32.10',
    '-p',
    'tcp',
    '--dport',
    '80',
    '-j',
    'DNAT',
    '--to-destination',
    '198.19.16.6:8080',
  ])
  b.tcpListen(8080, (c) => c.onData((d) => c.write(d)))
  const c = await a.tcpConnect({ dst: '198.19.32.10', port: 80, timeoutMs: 1000 })
  c.write('warm')
  return { h, c, clock }
}

function packets(c: { local: { ip: number; port: number }; remote: { ip: number; port: number } }, n: number) {
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++)
    out.push(
      buildTcp({
        src: c.local.ip,
        dst: c.remote.ip,
        sport: c.local.port,
        dport: c.remote.port,
        seq: 1000 + i,
        ack: 1,
        flags: TCP_ACK | TCP_PSH,
        payload: new Uint8Array(64),
      }),
    )
  return out
}

function batchOf(pkts: Uint8Array[]): PacketBatch {
  const b = PacketBatch.create(pkts.length, 64 * pkts.length)
  for (const p of pkts) b.push(p)
  return b
}

function resultBatch(): PacketBatch {
  const b = batchOf([1, 2, 3, 4].map((x) => new Uint8Array([x])))
  b.setResult(0, FWD_FORWARD_VIA, 0, 5)
  b.setResult(1, FWD_LOCAL, 0, 0)
  b.setResult(2, FWD_DROP, 0, 0)
  return b
}

t.test('every message type round-trips through structured clone', async (t) => {
  const snap = encodeSnapshot({ version: 1, ns: '', local: [1], routes: [], flows: [] })
  const examples: { [K in keyof ForwarderMessages]: ForwarderMessages[K] } = {
    batch: {
      type: 'batch',
      version: 1,
      snapshot: snap.buf,
      snapshotLen: snap.len,
      batch: batchOf([new Uint8Array([0x45, 0, 0, 20])]).buf,
    },
    results: { type: 'results', version: 1, batch: resultBatch().buf },
    error: { type: 'error', code: 'FWD_BAD_MESSAGE', message: 'x' },
  }
  for (const [k, m] of Object.entries(examples) as [string, ForwarderMessage][]) {
    const back = structuredClone(m)
    t.equal(back.type, k)
    if (back.type === 'batch' && m.type === 'batch') {
      t.same({ ...back, snapshot: null, batch: null }, { ...m, snapshot: null, batch: null })
      t.same(decodeSnapshot(back.snapshot, back.snapshotLen), decodeSnapshot(m.snapshot, m.snapshotLen))
      t.same([...new PacketBatch(back.batch).packet(0)], [0x45, 0, 0, 20])
    } else if (back.type === 'results' && m.type === 'results') {
      const b = new PacketBatch(back.batch)
      t.same(
        [0, 1, 2, 3].map((i) => [b.action(i), b.arg(i), b.via(i), [...b.packet(i)]]),
        [
          [FWD_FORWARD_VIA, 0, 5, [1]],
          [FWD_LOCAL, 0, 0, [2]],
          [FWD_DROP, 0, 0, [3]],
          [FWD_SLOW, 0, 0, [4]],
        ],
      )
    } else t.same(back, m, k)
    // A transferred buffer arrives whole and leaves the sender detached.
    if (m.type !== 'error') {
      const { port1, port2 } = new MessageChannel()
      const got = new Promise<ArrayBuffer>((resolve) =>
        port2.once('message', (x: { batch: ArrayBuffer }) => resolve(x.batch)),
      )
      const len = m.batch.byteLength
      port1.postMessage(m, [m.batch])
      t.equal(m.batch.byteLength, 0, 'detached after transfer')
      t.equal((await got).byteLength, len)
      port1.close()
      port2.close()
    }
  }
})

t.test('established-flow packets: workers give the same results as inline', async (t) => {
  const { h, c, clock } = await setup()
  const snap = snapshotOf(h.root, clock.now(), 1)
  t.ok(snap.flows.length >= 2, 'the DNATed flow is in the snapshot')
  const inline = new InlineForwarder()
  inline.publish(snap)
  const workers = new WorkerForwarder({ threads: 1 })
  t.teardown(() => workers.close())
  workers.publish(snap)
  const a = await inline.process(packets(c, 64))
  const b = await workers.process(packets(c, 64))
  t.same(b, a)
  const first = a[0]!
  t.equal(first.action, 'forward')
  if (first.action === 'forward') {
    t.equal(first.dev, 'cali000000000bb')
    t.equal(
      ((first.bytes[16]! << 24) | (first.bytes[17]! << 16) | (first.bytes[18]! << 8) | first.bytes[19]!) >>> 0,
      ip('198.19.16.6'),
      'DNAT applied',
    )
  }
  // A packet of no established flow goes to the slow path.
  const miss = await workers.process(packets({ local: { ip: 1, port: 1 }, remote: { ip: 2, port: 2 } }, 1))
  t.same(miss, [{ action: 'slow' }])
})

t.test('the fast path rewrites bytes exactly as the full pipeline does (DNAT, TTL, checksums)', async (t) => {
  const { h, c, clock } = await setup()
  const fp = new FastPath(snapshotOf(h.root, clock.now(), 1))
  const [pkt] = packets(c, 1)
  const seen: Uint8Array[] = []
  const tap = h.root.tap('cali000000000bb', (b) => seen.push(b), { direction: 'out' })
  t.teardown(() => tap.close())
  h.root.pipeline.receive(pkt!.slice(), 'cali000000000aa')
  t.equal(seen.length, 1, 'the full pipeline forwarded it')
  const fast = pkt!.slice()
  const r = fp.process(fast)
  t.equal(r.action, 'forward')
  t.same([...fast], [...seen[0]!], 'same bytes')
  const v = new PacketView()
  t.equal(parsePacket(fast, v), 'ok')
  t.ok(checksumsOk(v), 'IP and TCP checksums valid')
  t.equal(v.ttl, 63)
})

t.test('the fast path leaves to the slow path what it cannot decide', async (t) => {
  const { h, c, clock } = await setup()
  const fp = new FastPath(snapshotOf(h.root, clock.now(), 1))
  const b = PacketBatch.create(8, 8 * 128)
  const [ok] = packets(c, 1)
  const syn = ok!.slice()
  syn[33] = 0x02 // TCP flags: SYN
  const ttl1 = buildTcp({
    src: c.local.ip,
    dst: c.remote.ip,
    sport: c.local.port,
    dport: c.remote.port,
    flags: TCP_ACK,
    ttl: 1,
  })
  const frag = ok!.slice()
  frag[7] = 0x10 // fragment offset != 0
  const truncated = ok!.slice(0, 30)
  for (const p of [ok!, syn, ttl1, frag, truncated]) t.ok(b.push(p))
  fp.runBatch(b)
  t.same(
    [0, 1, 2, 3, 4].map((i) => b.action(i)),
    [FWD_FORWARD, FWD_SLOW, FWD_SLOW, FWD_SLOW, FWD_SLOW],
  )
  t.equal(fp.devs[b.arg(0)], 'cali000000000bb')
})

t.test('a batch refuses packets beyond its slots or bytes', async (t) => {
  const b = PacketBatch.create(2, 100)
  t.ok(b.push(new Uint8Array(60)))
  t.notOk(b.push(new Uint8Array(60)), 'bytes full')
  t.ok(b.push(new Uint8Array(20)))
  t.notOk(b.push(new Uint8Array(1)), 'slots full')
  t.equal(b.count, 2)
  b.clear()
  t.equal(b.count, 0)
  t.ok(b.push(new Uint8Array(60)))
})

t.test('processBatch through a worker: one buffer out and back, per-batch worker time', async (t) => {
  const { h, c, clock } = await setup()
  const workers = new WorkerForwarder({ threads: 1 })
  t.teardown(() => workers.close())
  workers.publish(snapshotOf(h.root, clock.now(), 7))
  const b = PacketBatch.create(64)
  for (const p of packets(c, 64)) b.push(p)
  const sent = b.buf
  const back = await workers.processBatch(b)
  t.equal(back, b, 'the same batch object, re-attached')
  t.equal(sent.byteLength, 0, 'the buffer was transferred, not copied')
  t.equal(b.count, 64)
  t.equal(b.version, 7)
  t.ok(b.workerMs >= 0)
  t.same(new Set(Array.from({ length: 64 }, (_, i) => b.action(i))), new Set([FWD_FORWARD]))
  t.equal(workers.devices(7)[b.arg(0)], 'cali000000000bb')
})
