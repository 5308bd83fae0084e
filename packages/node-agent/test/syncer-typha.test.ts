import { seededRng, silentLogger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import type { InternalStreamHandler } from '@calilab/proto'
import { startTyphaServer, type TyphaServer } from '@calilab/typha'
import t from 'tap'
import { connectTypha, type SyncerUpdate, syncerCacheHash } from '../src/io/syncer/index.ts'

function pod(name: string, rv: number, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'ns', resourceVersion: String(rv), uid: `u-${name}` },
    ...extra,
  }
}
const key = (name: string) => `/core/pods/ns/${name}`

/** One upstream state fed to every Typha, like several Typhas watching one API server. */
class World {
  readonly state = new Map<string, KubeObject>()
  private handlers: InternalStreamHandler[] = []
  rev = 0
  factory = (h: InternalStreamHandler) => {
    this.handlers.push(h)
    h.onSnapshot(
      [...this.state].map(([k, object]) => ({ key: k, object })),
      this.rev,
    )
    h.onSynced?.(this.rev)
    return { close: () => (this.handlers = this.handlers.filter((x) => x !== h)) }
  }
  put(name: string, extra: Record<string, unknown> = {}): void {
    const o = pod(name, ++this.rev, extra)
    const type = this.state.has(key(name)) ? 'MODIFIED' : 'ADDED'
    this.state.set(key(name), o)
    for (const h of this.handlers) h.onEvents([{ type, key: key(name), object: o, revision: this.rev }])
  }
  del(name: string): void {
    const o = this.state.get(key(name))
    if (!o) return
    this.state.delete(key(name))
    this.rev++
    for (const h of this.handlers) h.onEvents([{ type: 'DELETED', key: key(name), object: o, revision: this.rev }])
  }
}

async function waitFor(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('typha client: snapshot, deltas, failover to another replica and reconcile', async (t) => {
  const world = new World()
  for (let i = 0; i < 50; i++) world.put(`p${i}`)
  const servers: TyphaServer[] = []
  for (let i = 0; i < 2; i++) {
    const s = await startTyphaServer({ log: silentLogger(), upstream: world.factory, serverId: `typha-${i}` })
    servers.push(s)
    t.teardown(() => s.close())
  }
  const updates: SyncerUpdate[] = []
  let inSyncs = 0
  const client = connectTypha({
    addresses: servers.map((s) => `127.0.0.1:${s.port}`),
    nodeName: 'node1',
    syncerType: 'felix',
    log: silentLogger(),
    rng: seededRng(7),
    reconnectMs: 20,
    callbacks: {
      onUpdates: (u) => updates.push(...u),
      onInSync: () => inSyncs++,
    },
  })
  t.teardown(() => client.close())
  await waitFor(() => client.status === 'in-sync', 5000, 'in-sync')
  t.equal(inSyncs, 1)
  t.equal(updates.length, 50)
  t.equal(syncerCacheHash(client.cache), syncerCacheHash(world.state))

  world.put('p1', { spec: { changed: true } })
  world.del('p2')
  await waitFor(() => !client.cache.has(key('p2')), 5000, 'delta')
  t.equal(syncerCacheHash(client.cache), syncerCacheHash(world.state))

  // kill the replica the client is on; change the world while it moves
  const first = client.serverId
  const victim = servers.find((s) => s.serverId === first) as TyphaServer
  const other = servers.find((s) => s !== victim) as TyphaServer
  updates.length = 0
  await victim.close()
  world.del('p3')
  world.put('p4', { spec: { moved: true } })
  world.put('new')
  await waitFor(() => client.serverId === other.serverId && client.status === 'in-sync', 5000, 'failover')
  await waitFor(() => syncerCacheHash(client.cache) === syncerCacheHash(world.state), 5000, 'converged')
  t.equal(inSyncs, 2)
  t.ok(client.stats.failures >= 1)
  // the resync delivered only the differences, not the whole snapshot again
  t.same(
    updates.map((u) => `${u.key}${u.value === null ? ' deleted' : ''}`).sort(),
    [key('new'), `${key('p3')} deleted`, key('p4')].sort(),
  )
})

t.test('typha client: every replica down, then one comes back on a known port', async (t) => {
  const world = new World()
  world.put('a')
  const s1 = await startTyphaServer({ log: silentLogger(), upstream: world.factory })
  const port = s1.port
  const client = connectTypha({
    addresses: [{ host: '127.0.0.1', port }],
    nodeName: 'n',
    syncerType: 'felix',
    log: silentLogger(),
    rng: seededRng(1),
    reconnectMs: 20,
    callbacks: { onUpdates: () => {}, onInSync: () => {} },
  })
  t.teardown(() => client.close())
  await waitFor(() => client.status === 'in-sync')
  await s1.close()
  await waitFor(() => client.status !== 'in-sync', 5000, 'noticed')
  world.put('b')
  const s2 = await startTyphaServer({ log: silentLogger(), upstream: world.factory, port })
  t.teardown(() => s2.close())
  await waitFor(() => client.status === 'in-sync' && client.cache.has(key('b')), 10_000, 'back')
  t.equal(syncerCacheHash(client.cache), syncerCacheHash(world.state))
})

t.test('typha client: a version mismatch is refused with an error frame', async (t) => {
  const world = new World()
  const s = await startTyphaServer({ log: silentLogger(), upstream: world.factory })
  t.teardown(() => s.close())
  const client = connectTypha({
    addresses: [`127.0.0.1:${s.port}`],
    nodeName: 'n',
    syncerType: 'bgp',
    log: silentLogger(),
    rng: seededRng(1),
    reconnectMs: 1000,
    protocolVersion: 99,
    callbacks: { onUpdates: () => {}, onInSync: () => {} },
  })
  t.teardown(() => client.close())
  await waitFor(() => client.stats.failures >= 1, 5000, 'refused')
  t.not(client.status, 'in-sync')
})
