import { createRegistry, FakeClock, silentLogger } from '@calilab/kit'
import { TYPHA_ERROR } from '@calilab/proto'
import t, { type Test } from 'tap'
import { createTyphaMetrics, startTyphaServer, type TyphaServerInit } from '../src/index.ts'
import { FakeUpstream, obj, RawClient } from './helpers.ts'

const POD = '/core/pods/yaobank/customer'
const POOL = '/projectcalico.org/ippools/_/default-ipv4-ippool'
const BLOCK = '/projectcalico.org/ipamblocks/_/198-19-16-0-26'

async function setup(t: Test, extra: Partial<TyphaServerInit> = {}) {
  const up = new FakeUpstream()
  const registry = createRegistry()
  const metrics = createTyphaMetrics(registry)
  const server = await startTyphaServer({ log: silentLogger(), upstream: up.factory, metrics, ...extra })
  t.teardown(() => server.close())
  const client = (opts: { read?: boolean } = {}) => {
    const c = new RawClient(server.port, opts)
    t.teardown(() => c.close())
    return c
  }
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name)
    const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val))
    return v?.value ?? 0
  }
  return { up, server, client, metric, registry }
}

t.test('snapshot, in-sync, then deltas; each syncer gets its kinds; deltas encoded once', async (t) => {
  const { up, client, metric } = await setup(t)
  up.snapshot(
    [
      { key: POD, object: obj('Pod', 'customer', 1, {}, 'yaobank') },
      { key: POOL, object: obj('IPPool', 'default-ipv4-ippool', 2) },
      { key: BLOCK, object: obj('IPAMBlock', '198-19-16-0-26', 3) },
    ],
    3,
  )
  const felix = [client().hello('felix', 'n1'), client().hello('felix', 'n2'), client().hello('felix', 'n3')]
  const bgp = client().hello('bgp', 'n1')
  const all = [...felix, bgp]
  for (const c of all) await c.until(() => c.messages.some((m) => m.type === 'in-sync'), 5000, 'in-sync')
  for (const c of felix) {
    t.same(
      c.messages.map((m) => m.type),
      ['hello', 'snapshot', 'in-sync'],
    )
    t.same([...c.state().keys()].sort(), [POD, POOL].sort())
  }
  t.same([...bgp.state().keys()].sort(), [POOL, BLOCK].sort())
  t.equal(
    await metric('calilab_typha_encodes_total', { kind: 'snapshot' }),
    4,
    'one snapshot chunk + in-sync per syncer type',
  )

  up.event('MODIFIED', POD, obj('Pod', 'customer', 4, { spec: { nodeName: 'node1' } }, 'yaobank'), 4)
  for (const c of felix) await c.until(() => c.messages.some((m) => m.type === 'deltas'), 5000, 'pod delta')
  up.event('ADDED', '/projectcalico.org/ippools/_/extra', obj('IPPool', 'extra', 5), 5)
  for (const c of all) await c.until(() => c.state().has('/projectcalico.org/ippools/_/extra'), 5000, 'pool delta')
  t.notOk(
    bgp.messages.some((m) => m.type === 'deltas' && m.updates.some((u) => u.key === POD)),
    'bgp never sees pods',
  )
  for (const c of felix) t.same((c.state().get(POD)?.spec as { nodeName: string } | undefined)?.nodeName, 'node1')
  t.equal(await metric('calilab_typha_encodes_total', { kind: 'deltas' }), 3, '3 frames for 4 clients x 2 updates')
  t.equal(await metric('calilab_typha_connections', { syncer: 'felix' }), 3)
  t.equal(await metric('calilab_typha_connections', { syncer: 'bgp' }), 1)
  const last = felix[0]?.messages.at(-1)
  t.same(last?.type === 'deltas' && last.revision, 5)
})

t.test('a client that connects before the upstream is in sync waits for it', async (t) => {
  const { up, client } = await setup(t)
  const c = client().hello('felix')
  await c.until(() => c.messages.length >= 1)
  await new Promise((r) => setTimeout(r, 50))
  t.same(
    c.messages.map((m) => m.type),
    ['hello'],
  )
  up.snapshot([{ key: POD, object: obj('Pod', 'customer', 7, {}, 'yaobank') }], 7)
  await c.until(() => c.messages.some((m) => m.type === 'in-sync'))
  t.same(c.messages.at(-1), { type: 'in-sync', revision: 7 })
})

t.test('malformed frames and version mismatches get an error frame and a close; the server lives on', async (t) => {
  const { up, client, metric } = await setup(t)
  up.snapshot([], 1)
  const cases: [string, (c: RawClient) => void, string][] = [
    ['bad msgpack', (c) => c.sock.write(Buffer.from([0, 0, 0, 2, 0xc1, 0xc1])), TYPHA_ERROR.MALFORMED],
    ['huge length', (c) => c.sock.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1])), TYPHA_ERROR.MALFORMED],
    ['not an object', (c) => c.send([1, 2, 3]), TYPHA_ERROR.MALFORMED],
    ['unknown type', (c) => c.send({ type: 'gimme' }), TYPHA_ERROR.MALFORMED],
    [
      'bad hello',
      (c) => c.send({ type: 'hello', version: 1, nodeName: 7, syncerType: 'felix' }),
      TYPHA_ERROR.MALFORMED,
    ],
    ['wrong version', (c) => c.hello('felix', 'n', 99), TYPHA_ERROR.VERSION],
    [
      'hello twice',
      (c) => {
        c.hello('felix')
        c.hello('felix')
      },
      TYPHA_ERROR.UNEXPECTED,
    ],
  ]
  for (const [name, act, code] of cases) {
    const c = client()
    act(c)
    await c.until(() => c.closed, 5000, `${name}: close`)
    const err = c.messages.find((m) => m.type === 'error')
    t.equal(err?.type === 'error' && err.code, code, name)
  }
  t.equal(await metric('calilab_typha_disconnects_total', { reason: 'malformed' }), 5)
  t.equal(await metric('calilab_typha_disconnects_total', { reason: 'version' }), 1)
  const ok = client().hello('bgp')
  await ok.until(() => ok.messages.some((m) => m.type === 'in-sync'))
  t.pass('a well-behaved client is still served')
})

t.test('a slow client is cut off while the others keep receiving', async (t) => {
  const { up, server, client, metric } = await setup(t, { maxQueueBytes: 256 * 1024 })
  up.snapshot([], 1)
  const fast = client().hello('felix', 'fast')
  const slow = client({ read: false }).hello('felix', 'slow')
  await fast.until(() => fast.messages.some((m) => m.type === 'in-sync'))
  await new Promise((r) => setTimeout(r, 50))
  t.equal(server.clients().filter((c) => c.state === 'live').length, 2)
  const pad = 'x'.repeat(40_000)
  const N = 600
  for (let i = 0; i < N; i++) {
    up.event('ADDED', `/core/pods/ns/p${i}`, obj('Pod', `p${i}`, 10 + i, { pad }, 'ns'), 10 + i)
    await new Promise((r) => setImmediate(r))
  }
  await fast.until(() => fast.state().size === N, 20_000, 'fast client gets every update')
  t.equal(await metric('calilab_typha_disconnects_total', { reason: 'lag-bytes' }), 1)
  // a paused socket sees the reset only once it reads
  slow.sock.resume()
  await slow.until(() => slow.closed, 10_000, 'slow client sees the close')
  t.same(
    server.clients().map((c) => c.nodeName),
    ['fast'],
  )
  t.equal(fast.messages.at(-1)?.type, 'deltas')
})

t.test('keepalive: ping every interval, a silent client is dropped, handshake timeout', async (t) => {
  const clock = new FakeClock()
  const { up, client, metric } = await setup(t, {
    clock,
    pingIntervalMs: 1000,
    pongTimeoutMs: 2500,
    handshakeTimeoutMs: 500,
  })
  up.snapshot([], 1)
  const live = client().hello('felix', 'live')
  const mute = client().hello('felix', 'mute')
  const shy = client()
  for (const c of [live, mute]) await c.until(() => c.messages.some((m) => m.type === 'in-sync'))
  // a client ping is answered
  live.send({ type: 'ping', t: 42 })
  await live.until(() => live.messages.some((m) => m.type === 'pong' && m.t === 42))
  for (let i = 1; i <= 3; i++) {
    clock.advance(1000)
    await live.until(() => live.messages.filter((m) => m.type === 'ping').length >= i, 5000, `ping ${i}`)
    live.send({ type: 'pong', t: i })
    await new Promise((r) => setTimeout(r, 30))
  }
  await mute.until(() => mute.closed, 5000, 'mute dropped')
  const err = mute.messages.find((m) => m.type === 'error')
  t.equal(err?.type === 'error' && err.code, TYPHA_ERROR.PONG_TIMEOUT)
  t.notOk(live.closed, 'the client that answers stays')
  await shy.until(() => shy.closed, 5000, 'no hello: dropped')
  t.equal(await metric('calilab_typha_disconnects_total', { reason: 'handshake-timeout' }), 1)
})
