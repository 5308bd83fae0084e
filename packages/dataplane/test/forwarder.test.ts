import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { runIptables } from '../src/core/netfilter/index.ts'
import { buildTcp, TCP_ACK, TCP_PSH } from '../src/core/packet/index.ts'
import {
  decodeSnapshot,
  encodeSnapshot,
  type ForwarderMessage,
  type ForwarderMessages,
  InlineForwarder,
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

t.test('every message type round-trips through structured clone', async (t) => {
  const snap = encodeSnapshot({ version: 1, ns: '', local: [1], routes: [], flows: [] })
  const examples: { [K in keyof ForwarderMessages]: ForwarderMessages[K] } = {
    batch: {
      type: 'batch',
      version: 1,
      snapshot: snap.buf,
      snapshotLen: snap.len,
      packets: [new Uint8Array([0x45, 0, 0, 20])],
    },
    results: {
      type: 'results',
      version: 1,
      results: [
        { action: 'forward', dev: 'eth0', via: 5, bytes: new Uint8Array([1]) },
        { action: 'local', bytes: new Uint8Array([2]) },
        { action: 'drop', reason: 'BLACKHOLE' },
        { action: 'slow' },
      ],
    },
    error: { type: 'error', code: 'FWD_BAD_MESSAGE', message: 'x' },
  }
  for (const [k, m] of Object.entries(examples) as [string, ForwarderMessage][]) {
    const back = structuredClone(m)
    t.equal(back.type, k)
    if (back.type === 'batch' && m.type === 'batch') {
      t.same({ ...back, snapshot: null }, { ...m, snapshot: null })
      t.same(decodeSnapshot(back.snapshot, back.snapshotLen), decodeSnapshot(m.snapshot, m.snapshotLen))
    } else t.same(back, m, k)
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
