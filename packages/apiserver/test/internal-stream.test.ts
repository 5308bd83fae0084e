import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { silentLogger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import {
  connectInternalStream,
  type InternalStreamState,
  packMessage,
  unpackMessage,
  type WatchEvent,
  type WatchItem,
} from '@calilab/proto'
import t from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { attachInternalStream, type InternalStreamInit } from '../src/io/internal-stream.ts'
import { MemoryStore } from '../src/io/store/memory-store.ts'
import type { Store } from '../src/io/store/types.ts'

type Tap = { teardown(fn: () => unknown): void }

const pool = (name: string, cidr = '198.19.16.0/21'): KubeObject => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr },
})
const cm = (name: string, pad = ''): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { pad },
})
const poolKey = (n: string) => `/projectcalico.org/ippools/_/${n}`
const cmKey = (n: string) => `/core/configmaps/default/${n}`

async function eventually(fn: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function setup(t: Tap, store: Store, extra: Partial<InternalStreamInit> = {}) {
  const server: Server = createServer((_req, res) => res.end('ok'))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const attach = () => attachInternalStream({ server, store, log: silentLogger(), ...extra })
  const h = { stream: attach(), reattach: () => (h.stream = attach()) }
  t.teardown(async () => {
    h.stream.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  const { port } = server.address() as AddressInfo
  return { server, h, url: `ws://127.0.0.1:${port}/internal/watch`, port }
}

function recorder() {
  const r = {
    snapshots: [] as Array<{ items: WatchItem[]; revision: number }>,
    events: [] as WatchEvent[],
    synced: [] as number[],
    states: [] as InternalStreamState[],
  }
  const handler = {
    onSnapshot: (items: WatchItem[], revision: number) => r.snapshots.push({ items, revision }),
    onEvents: (events: WatchEvent[]) => r.events.push(...events),
    onSynced: (revision: number) => r.synced.push(revision),
    onState: (s: InternalStreamState) => r.states.push(s),
  }
  return { r, handler }
}

function client(t: Tap, url: string, handler: ReturnType<typeof recorder>['handler'], prefixes?: string[]) {
  const c = connectInternalStream({
    url,
    log: silentLogger(),
    handler,
    reconnectMs: 20,
    ...(prefixes ? { prefixes } : {}),
  })
  t.teardown(() => c.close())
  return c
}

/** A raw ws client: messages received, and whether it was closed. */
async function raw(t: Tap, url: string) {
  const ws = new WebSocket(url)
  const got: unknown[] = []
  const state = { closed: false, code: 0 }
  ws.on('message', (d: Buffer) => got.push(unpackMessage(d)))
  ws.on('close', (code) => Object.assign(state, { closed: true, code }))
  ws.on('error', () => {})
  t.teardown(() => ws.terminate())
  await new Promise((r, j) => ws.once('open', r).once('error', j))
  return { ws, got, state }
}

t.test('snapshot in chunks, then live events', async (t) => {
  const store = new MemoryStore()
  for (let i = 0; i < 2500; i++)
    await store.commit([{ op: 'create', key: cmKey(`c${String(i).padStart(4, '0')}`), object: cm(`c${i}`) }])
  const { url, h } = await setup(t, store)
  const { r, handler } = recorder()
  const c = client(t, url, handler)
  await eventually(() => r.synced.length === 1, 'sync')
  t.equal(r.snapshots.length, 1)
  t.equal(r.snapshots[0]?.items.length, 2500)
  t.equal(r.snapshots[0]?.revision, 2500)
  t.equal(r.snapshots[0]?.items[0]?.key, cmKey('c0000'))
  t.same(r.states, ['connecting', 'syncing', 'in-sync'])
  t.equal(h.stream.clients(), 1)
  await store.commit([{ op: 'create', key: poolKey('p1'), object: pool('p1') }])
  await store.commit([{ op: 'delete', key: cmKey('c0001') }])
  await eventually(() => r.events.length === 2, 'events')
  t.same(
    r.events.map((e) => [e.type, e.key, e.revision]),
    [
      ['ADDED', poolKey('p1'), 2501],
      ['DELETED', cmKey('c0001'), 2502],
    ],
  )
  t.equal(c.revision, 2502)
})

t.test('resume after a disconnect: backlog only, no second snapshot', async (t) => {
  const store = new MemoryStore()
  await store.commit([{ op: 'create', key: poolKey('p1'), object: pool('p1') }])
  const { url, h } = await setup(t, store)
  const { r, handler } = recorder()
  client(t, url, handler)
  await eventually(() => r.synced.length === 1, 'sync')
  h.stream.close() // drops every client
  await eventually(() => r.states.includes('disconnected'), 'disconnect')
  await store.commit([{ op: 'create', key: poolKey('p2'), object: pool('p2') }])
  await store.commit([{ op: 'update', key: poolKey('p1'), object: pool('p1', '198.19.24.0/21') }])
  h.reattach()
  await eventually(() => r.synced.length === 2, 'resync')
  t.equal(r.snapshots.length, 1, 'no second snapshot')
  t.same(
    r.events.map((e) => [e.type, e.revision]),
    [
      ['ADDED', 2],
      ['MODIFIED', 3],
    ],
  )
  t.equal(r.synced[1], 3)
  await store.commit([{ op: 'delete', key: poolKey('p2') }])
  await eventually(() => r.events.length === 3, 'live after resume')
})

t.test('gone: compacted revision makes the client resync from 0', async (t) => {
  const store = new MemoryStore({ historySize: 3 })
  await store.commit([{ op: 'create', key: poolKey('p1'), object: pool('p1') }])
  const { url, h } = await setup(t, store)
  const { r, handler } = recorder()
  const c = client(t, url, handler)
  await eventually(() => r.synced.length === 1, 'sync')
  h.stream.close()
  await eventually(() => r.states.includes('disconnected'), 'disconnect')
  for (let i = 2; i <= 10; i++) await store.commit([{ op: 'create', key: poolKey(`p${i}`), object: pool(`p${i}`) }])
  h.reattach()
  await eventually(() => r.snapshots.length === 2 && r.synced.length === 2, 'second snapshot')
  t.equal(r.snapshots[1]?.items.length, 10, 'full state again')
  t.equal(r.snapshots[1]?.revision, 10)
  t.equal(r.events.length, 0, 'nothing replayed as events')
  t.equal(c.revision, 10)
})

t.test('a client from the future (server lost its state) is told gone', async (t) => {
  const store = new MemoryStore()
  await store.commit([{ op: 'create', key: poolKey('p1'), object: pool('p1') }])
  const { url } = await setup(t, store)
  const c = await raw(t, url)
  c.ws.send(packMessage({ type: 'hello', version: 1, fromRevision: 99 }))
  await eventually(() => c.state.closed, 'close')
  t.match(c.got, [{ type: 'gone' }])
})

t.test('prefixes filter snapshot and events', async (t) => {
  const store = new MemoryStore()
  await store.commit([{ op: 'create', key: poolKey('p1'), object: pool('p1') }])
  await store.commit([{ op: 'create', key: cmKey('a'), object: cm('a') }])
  const { url } = await setup(t, store)
  const { r, handler } = recorder()
  client(t, url, handler, ['/projectcalico.org/ippools/'])
  await eventually(() => r.synced.length === 1, 'sync')
  t.same(
    r.snapshots[0]?.items.map((i) => i.key),
    [poolKey('p1')],
  )
  await store.commit([{ op: 'create', key: cmKey('b'), object: cm('b') }])
  await store.commit([{ op: 'create', key: poolKey('p2'), object: pool('p2') }])
  await eventually(() => r.events.length >= 1, 'event')
  await new Promise((res) => setTimeout(res, 50))
  t.same(
    r.events.map((e) => e.key),
    [poolKey('p2')],
  )
})

t.test('malformed hello, wrong version and garbage: error frame and close; server keeps serving', async (t) => {
  const store = new MemoryStore()
  await store.commit([{ op: 'create', key: poolKey('p1'), object: pool('p1') }])
  const { url, h, port, server } = await setup(t, store)
  const cases: Array<[string | Buffer, string]> = [
    [packMessage({ type: 'hello', version: 1 }), 'PROTO_BAD_MESSAGE'],
    [packMessage({ type: 'hello', version: 7, fromRevision: 0 }), 'PROTO_VERSION'],
    [packMessage({ type: 'events', events: [] }), 'PROTO_BAD_MESSAGE'],
    [Buffer.from([0x92, 0x01]), 'PROTO_UNDECODABLE'],
    ['{"type":"hello"}', 'PROTO_BAD_MESSAGE'],
  ]
  for (const [payload, code] of cases) {
    const c = await raw(t, url)
    c.ws.send(payload)
    await eventually(() => c.state.closed, `close after ${code}`)
    t.match(c.got, [{ type: 'error', code }], code)
  }
  await eventually(() => h.stream.clients() === 0, 'no clients left')
  // other upgrade paths are left to other handlers
  const otherWss = new WebSocketServer({ noServer: true })
  const onOther = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url === '/elsewhere') otherWss.handleUpgrade(req, socket, head, (ws) => ws.send('hi from elsewhere'))
  }
  server.on('upgrade', onOther)
  t.teardown(() => otherWss.close())
  const other = new WebSocket(`ws://127.0.0.1:${port}/elsewhere`)
  t.teardown(() => other.terminate())
  const hi = await new Promise((r) => other.on('error', r).on('message', (d) => r(String(d))))
  t.equal(hi, 'hi from elsewhere')
  const { r, handler } = recorder()
  client(t, url, handler)
  await eventually(() => r.synced.length === 1, 'good client still served')
  // ping/pong
  const c = await raw(t, url)
  c.ws.send(packMessage({ type: 'ping', t: 42 }))
  await eventually(() => c.got.length === 1, 'pong')
  t.same(c.got, [{ type: 'pong', t: 42 }])
})

t.test('a slow consumer is dropped without stalling others', async (t) => {
  const store = new MemoryStore({ historySize: 10 })
  const { url, h } = await setup(t, store, { maxBufferedBytes: 256 * 1024 })
  const slow = await raw(t, url)
  slow.ws.send(packMessage({ type: 'hello', version: 1, fromRevision: 0 }))
  const { r, handler } = recorder()
  client(t, url, handler)
  await eventually(() => r.synced.length === 1 && slow.got.length >= 3, 'both synced')
  // stop reading on the slow client: the server's socket buffer fills up
  ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause()
  const pad = 'x'.repeat(64 * 1024)
  let n = 0
  while (!slow.state.closed && n < 2000) {
    n++
    await store.commit([{ op: 'create', key: cmKey(`big${n}`), object: cm(`big${n}`, pad) }])
    if (n % 20 === 0) await new Promise((res) => setTimeout(res, 1))
    if (h.stream.clients() === 1) break
  }
  await eventually(() => h.stream.clients() === 1, 'slow client dropped')
  t.ok(n < 2000, `dropped after ${n} events of 64 KiB`)
  await eventually(() => r.events.length === n, 'fast client got everything')
  t.equal(r.events.at(-1)?.revision, n)
})
