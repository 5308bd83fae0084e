import { createRegistry, FakeClock, silentLogger } from '@calilab/kit'
import t, { type Test } from 'tap'
import { createTyphaMetrics, startTyphaServer, type TyphaServerInit } from '../src/index.ts'
import { FakeUpstream, obj, RawClient, waitFor } from './helpers.ts'

const gns = (i: number, rv: number) => ({
  key: `/projectcalico.org/globalnetworksets/_/s${i}`,
  object: obj('GlobalNetworkSet', `s${i}`, rv, { spec: { nets: [`10.0.${i}.0/24`] } }),
})

async function setup(t: Test, extra: Partial<TyphaServerInit> = {}) {
  const up = new FakeUpstream()
  const registry = createRegistry()
  const metrics = createTyphaMetrics(registry)
  const server = await startTyphaServer({ log: silentLogger(), upstream: up.factory, metrics, ...extra })
  t.teardown(() => server.close())
  /** A client that also keeps every byte it receives. */
  const client = () => {
    const c = new RawClient(server.port)
    const bytes: Buffer[] = []
    c.sock.on('data', (d: Buffer) => bytes.push(d))
    t.teardown(() => c.close())
    return Object.assign(c, { bytes: () => Buffer.concat(bytes) })
  }
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name)
    const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val))
    return v?.value ?? 0
  }
  return { up, server, client, metric }
}

const inSync = (c: RawClient) => c.messages.some((m) => m.type === 'in-sync')
const revisions = (c: RawClient) => c.messages.flatMap((m) => (m.type === 'deltas' ? [m.revision] : []))

t.test('N clients: every frame encoded once, every client receives the very same bytes', async (t) => {
  const { up, client, metric } = await setup(t, { snapshotChunk: 4 })
  up.snapshot(
    Array.from({ length: 10 }, (_, i) => gns(i, i + 1)),
    10,
  )
  const cs = Array.from({ length: 20 }, () => client().hello('felix', 'n'))
  for (const c of cs) await c.until(() => inSync(c), 5000, 'in-sync')
  for (let i = 0; i < 5; i++) {
    const g = gns(i, 11 + i)
    up.event('MODIFIED', g.key, g.object, 11 + i)
    await waitFor(() => cs.every((c) => revisions(c).includes(11 + i)), 5000, `delta ${i}`)
  }
  t.equal(await metric('calilab_typha_encodes_total', { kind: 'deltas' }), 5, '5 delta frames for 20 clients')
  t.equal(await metric('calilab_typha_encodes_total', { kind: 'snapshot' }), 4, '3 chunks + in-sync, once')
  const first = cs[0]?.bytes() as Buffer
  t.ok(first.length > 0)
  t.ok(
    cs.every((c) => c.bytes().equals(first)),
    'identical byte streams',
  )
})

t.test('coalesced writes: one writev per client per tick, frames in order', async (t) => {
  const { up, client, metric } = await setup(t, { snapshotChunk: 3, coalesce: false })
  up.snapshot(
    Array.from({ length: 50 }, (_, i) => gns(i, i + 1)),
    50,
  )
  const c = client().hello('felix', 'n')
  await c.until(() => inSync(c), 5000, 'in-sync')
  t.same(
    c.messages.map((m) => m.type),
    ['hello', ...Array(17).fill('snapshot'), 'in-sync'],
  )
  t.equal(
    await metric('calilab_typha_socket_writes_total', { syncer: 'felix' }),
    1,
    'hello + 17 chunks + in-sync: 1 write',
  )
  // three upstream events in one tick, not coalesced into one frame: 3 frames, 1 write
  for (let i = 0; i < 3; i++) {
    const g = gns(i, 51 + i)
    up.event('MODIFIED', g.key, g.object, 51 + i)
  }
  await c.until(() => revisions(c).length === 3, 5000, 'deltas')
  t.same(revisions(c), [51, 52, 53], 'in order')
  t.equal(await metric('calilab_typha_socket_writes_total', { syncer: 'felix' }), 2, 'one more write for 3 frames')
  t.equal(await metric('calilab_typha_encodes_total', { kind: 'deltas' }), 3)
  t.same(c.state().get(gns(2, 0).key)?.metadata.resourceVersion, '53')
})

t.test(
  'snapshot frames are shared: clients connecting together, and later ones get snapshot + deltas since',
  async (t) => {
    const { up, server, client, metric } = await setup(t, { snapshotChunk: 4, snapshotMaxAgeMs: 60_000 })
    up.snapshot(
      Array.from({ length: 10 }, (_, i) => gns(i, i + 1)),
      10,
    )
    const together = Array.from({ length: 5 }, () => client().hello('felix', 'n'))
    for (const c of together) await c.until(() => inSync(c), 5000, 'in-sync')
    const b0 = together[0]?.bytes() as Buffer
    t.ok(
      together.every((c) => c.bytes().equals(b0)),
      'the same bytes to each',
    )
    t.equal(await metric('calilab_typha_encodes_total', { kind: 'snapshot' }), 4, 'encoded once')
    // the cache moves on; a client connecting now reuses the frames and gets the deltas since
    for (let i = 0; i < 3; i++) {
      const g = gns(20 + i, 11 + i)
      up.event('ADDED', g.key, g.object, 11 + i)
      await waitFor(() => together.every((c) => revisions(c).includes(11 + i)), 5000, 'delta')
    }
    const late = client().hello('felix', 'late')
    await late.until(() => revisions(late).length === 3, 5000, 'late deltas')
    t.equal(await metric('calilab_typha_encodes_total', { kind: 'snapshot' }), 4, 'no new encode')
    t.equal(await metric('calilab_typha_snapshot_reuses_total', { syncer: 'felix' }), 5)
    t.same(
      late.messages.find((m) => m.type === 'in-sync'),
      { type: 'in-sync', revision: 10 },
    )
    t.same(revisions(late), [11, 12, 13], 'the deltas since the snapshot, in order')
    t.same(late.state(), together[0]?.state(), 'same view as the early clients')
    t.equal(late.state().size, server.cache.size)
    // live from here on
    const g = gns(1, 14)
    up.event('MODIFIED', g.key, g.object, 14)
    await late.until(() => revisions(late).includes(14), 5000, 'live delta')
    const early = together[0] as RawClient
    await early.until(() => revisions(early).includes(14), 5000, 'live delta (early)')
    t.same(late.state(), early.state())
  },
)

t.test('a stale shared snapshot (too old, or too long a tail) is encoded afresh', async (t) => {
  const { up, client, metric } = await setup(t, { snapshotMaxAgeMs: 0, snapshotMaxTailBytes: 1 })
  up.snapshot([gns(0, 1)], 1)
  const a = client().hello('felix', 'a')
  await a.until(() => inSync(a))
  const g = gns(1, 2)
  up.event('ADDED', g.key, g.object, 2)
  await a.until(() => revisions(a).includes(2))
  const b = client().hello('felix', 'b')
  await b.until(() => inSync(b))
  t.equal(await metric('calilab_typha_encodes_total', { kind: 'snapshot' }), 4, 'two snapshots, 2 frames each')
  t.same(
    b.messages.find((m) => m.type === 'in-sync'),
    { type: 'in-sync', revision: 2 },
  )
  t.same(b.state(), a.state())
  t.same(revisions(b), [])
})

t.test('big snapshot chunks and delta batches go out as self-contained records; clients decode them', async (t) => {
  const { up, server, client } = await setup(t)
  up.snapshot(
    Array.from({ length: 700 }, (_, i) => gns(i, i + 1)),
    700,
  )
  const a = client().hello('felix', 'a')
  await a.until(() => inSync(a), 5000, 'in-sync')
  // one burst of 300 changes: one delta frame of 300 updates
  const events = Array.from({ length: 300 }, (_, i) => gns(i, 701 + i))
  for (const h of up.handlers) {
    h.onEvents(events.map((g, i) => ({ type: 'MODIFIED' as const, key: g.key, object: g.object, revision: 701 + i })))
  }
  await a.until(() => revisions(a).includes(1000), 5000, 'burst')
  const state = a.state()
  t.equal(state.size, 700)
  for (const [k, v] of state) t.same(v, server.cache.get(k), k)
  const raw = a.bytes()
  t.ok(raw.includes(Buffer.from([0xd4, 0x72])), 'record definitions on the wire')
  const b = client().hello('felix', 'b')
  await b.until(() => inSync(b), 5000, 'b in-sync')
  t.same(b.state(), state, 'a later client (shared snapshot + tail) sees the same')
})

t.test(
  'pacing: while updates keep coming, fan-outs are clients x gap apart and what arrives meanwhile joins one frame',
  async (t) => {
    const clock = new FakeClock()
    // 2 clients x 5 ms = 10 ms, capped at 8 ms
    const { up, client, metric } = await setup(t, { clock, flushGapPerClientUs: 5000, maxFlushGapMs: 8 })
    up.snapshot([gns(0, 1)], 1)
    const cs = [client().hello('felix', 'a'), client().hello('felix', 'b')]
    for (const c of cs) await c.until(() => inSync(c), 5000, 'in-sync')
    const send = (i: number, rv: number) => {
      const g = gns(i, rv)
      up.event('MODIFIED', g.key, g.object, rv)
    }
    // the first update after a quiet spell goes out at once
    send(0, 2)
    await waitFor(() => cs.every((c) => revisions(c).includes(2)), 5000, 'first delta')
    // the next ones, within the gap, wait for it and share a frame
    send(1, 3)
    await new Promise((r) => setImmediate(r))
    send(2, 4)
    await new Promise((r) => setTimeout(r, 50))
    clock.advance(7)
    await new Promise((r) => setTimeout(r, 20))
    t.same(revisions(cs[0] as RawClient), [2], 'held back within the gap')
    clock.advance(1)
    await waitFor(() => cs.every((c) => revisions(c).includes(4)), 5000, 'paced delta')
    for (const c of cs) t.same(revisions(c), [2, 4], 'revisions 3 and 4 in one frame')
    t.equal(await metric('calilab_typha_encodes_total', { kind: 'deltas' }), 2)
    t.same(cs[0]?.state().get(gns(1, 0).key)?.metadata.resourceVersion, '3')
    // quiet again for longer than the gap: at once
    clock.advance(100)
    send(3, 5)
    await waitFor(() => cs.every((c) => revisions(c).includes(5)), 5000, 'after a quiet spell')
    t.same(cs[1]?.state(), cs[0]?.state())
  },
)
