import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startApiServer as realStartApiServer } from '@calilab/apiserver'
import { type Logger, seededRng, silentLogger } from '@calilab/kit'
import type { KubeObject, ResourceInfo } from '@calilab/model'
import { SYNCER_PREFIXES } from '@calilab/proto'
import { startTypha } from '@calilab/typha'
import t from 'tap'
import { connectDirect, connectTypha, type SyncerClient, syncerCacheHash } from '../src/io/syncer/index.ts'

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The API server's entry, loaded at run time: its package index does not export it yet. */
interface ApiServerLike {
  url: string
  api: {
    resources: { resolve(n: string): ResourceInfo | undefined }
    store: { list(prefix: string): { items: KubeObject[]; keys?: string[] } }
    create(r: ResourceInfo, ns: string | undefined, body: unknown): Promise<unknown>
    patch(r: ResourceInfo, ns: string | undefined, name: string, type: 'merge', body: unknown): Promise<unknown>
    delete(r: ResourceInfo, ns: string | undefined, name: string): Promise<unknown>
  }
  close(): Promise<void>
}
async function startApiServer(init: {
  port: number
  log: Logger
  controllers: boolean
  dataDir?: string
}): Promise<ApiServerLike> {
  return (await realStartApiServer(init)) as unknown as ApiServerLike
}

t.test('random writes through the API server: every agent converges on its state (Typha and direct)', async (t) => {
  const seed = Number(process.env.CALILAB_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed}`)
  const rng = seededRng(seed)
  const log = silentLogger()
  const apiserver = await startApiServer({ port: 0, log, controllers: false })
  t.teardown(() => apiserver.close())
  const typha = await startTypha({
    apiserver: apiserver.url,
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    index: 0,
    log,
  })
  t.teardown(() => typha.close())

  const agents: SyncerClient[] = []
  for (let i = 0; i < 3; i++) {
    agents.push(
      connectTypha({
        addresses: [`127.0.0.1:${typha.server.port}`],
        nodeName: `node${i}`,
        syncerType: 'felix',
        log,
        rng,
        callbacks: { onUpdates: () => {}, onInSync: () => {} },
      }),
    )
  }
  agents.push(
    connectDirect({
      url: `${apiserver.url.replace('http', 'ws')}/internal/watch`,
      syncerType: 'felix',
      log,
      callbacks: { onUpdates: () => {}, onInSync: () => {} },
    }),
  )
  t.teardown(() => {
    for (const a of agents) a.close()
  })

  const api = apiserver.api
  const kinds = ['namespaces', 'serviceaccounts', 'globalnetworksets', 'networksets'].map((n) => {
    const r = api.resources.resolve(n)
    if (!r) throw new Error(`no resource ${n}`)
    return r
  })
  const N = 400
  let ok = 0
  for (let i = 0; i < N; i++) {
    const r = kinds[rng.int(kinds.length)] as (typeof kinds)[number]
    const ns = r.namespaced ? 'default' : undefined
    const name = `obj-${rng.int(15)}`
    const op = rng.int(3)
    const labels = { app: `a${rng.int(4)}`, gen: String(i) }
    try {
      if (op === 0) {
        const spec = r.kind.endsWith('NetworkSet') ? { spec: { nets: [`10.${rng.int(200)}.0.0/16`] } } : {}
        await api.create(r, ns, {
          apiVersion: r.group ? `${r.group}/${r.version}` : r.version,
          kind: r.kind,
          metadata: { name, labels },
          ...spec,
        })
      } else if (op === 1) {
        await api.patch(r, ns, name, 'merge', { metadata: { labels } })
      } else if (r.plural !== 'namespaces') {
        await api.delete(r, ns, name)
      }
      ok++
    } catch {
      // already exists / not found: part of the randomness
    }
  }
  t.ok(ok > N / 4, `${ok} of ${N} writes succeeded`)

  const truth = () => {
    const m = new Map<string, KubeObject>()
    for (const p of SYNCER_PREFIXES.felix) {
      const { items, keys } = api.store.list(p)
      for (const [i, o] of items.entries()) m.set(keys?.[i] as string, o)
    }
    return syncerCacheHash(m)
  }
  const want = truth()
  await waitFor(() => agents.every((a) => syncerCacheHash(a.cache) === want), 20_000, 'every agent converged')
  t.pass(`all ${agents.length} agents hash ${want.slice(0, 12)}`)

  const res = await fetch(`http://127.0.0.1:${typha.metricsPort}/metrics`)
  const text = await res.text()
  t.match(text, /calilab_typha_connections\{syncer="felix"[^}]*\} 3/)
  t.match(text, /calilab_typha_delta_updates_total/)
})

t.test('faults: a Typha dies and the API server restarts under a write load; every agent converges', async (t) => {
  const seed = Number(process.env.CALILAB_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed}`)
  const rng = seededRng(seed)
  const log = silentLogger()
  const dataDir = mkdtempSync(join(tmpdir(), 'calilab-typha-chaos-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  let apiserver = await startApiServer({ port: 0, log, controllers: false, dataDir })
  const apiPort = Number(new URL(apiserver.url).port)
  t.teardown(() => apiserver.close())
  const typhas = [
    await startTypha({ apiserver: apiserver.url, host: '127.0.0.1', port: 0, metricsPort: 0, index: 0, log }),
    await startTypha({ apiserver: apiserver.url, host: '127.0.0.1', port: 0, metricsPort: 0, index: 1, log }),
  ]
  t.teardown(() => Promise.all(typhas.map((x) => x.close())))
  const addresses = typhas.map((x) => `127.0.0.1:${x.server.port}`)
  const agents = Array.from({ length: 6 }, (_, i) =>
    connectTypha({
      addresses,
      nodeName: `node${i}`,
      syncerType: 'felix',
      log,
      rng,
      reconnectMs: 20,
      callbacks: { onUpdates: () => {}, onInSync: () => {} },
    }),
  )
  t.teardown(() => {
    for (const a of agents) a.close()
  })
  const kinds = ['serviceaccounts', 'globalnetworksets', 'networksets']
  const N = 600
  let ok = 0
  let killedClients = 0
  for (let i = 0; i < N; i++) {
    if (i === 150) {
      // "kill" replica 0: its sockets vanish; a new process comes back on the same port
      const port = typhas[0]?.server.port as number
      killedClients = typhas[0]?.server.clients().length ?? 0
      await typhas[0]?.close()
      typhas[0] = await startTypha({ apiserver: apiserver.url, host: '127.0.0.1', port, metricsPort: 0, index: 0, log })
    }
    if (i === 300) {
      await apiserver.close()
      apiserver = await startApiServer({ port: apiPort, log, controllers: false, dataDir })
    }
    const api = apiserver.api
    const r = api.resources.resolve(kinds[rng.int(kinds.length)] as string) as ResourceInfo
    const ns = r.namespaced ? 'default' : undefined
    const name = `obj-${rng.int(25)}`
    const op = rng.int(3)
    try {
      if (op === 0) {
        const spec = r.kind.endsWith('NetworkSet') ? { spec: { nets: [`10.${rng.int(200)}.0.0/16`] } } : {}
        await api.create(r, ns, {
          apiVersion: `${r.group ? `${r.group}/` : ''}${r.version}`,
          kind: r.kind,
          metadata: { name },
          ...spec,
        })
      } else if (op === 1) {
        await api.patch(r, ns, name, 'merge', { metadata: { labels: { gen: String(i) } } })
      } else {
        await api.delete(r, ns, name)
      }
      ok++
    } catch {
      // exists / not found
    }
    if (i % 25 === 0) await new Promise((r) => setTimeout(r, 5))
  }
  t.ok(ok > N / 4, `${ok} of ${N} writes succeeded`)
  const m = new Map<string, KubeObject>()
  for (const p of SYNCER_PREFIXES.felix) {
    const { items, keys } = apiserver.api.store.list(p)
    for (const [i, o] of items.entries()) m.set(keys?.[i] as string, o)
  }
  const want = syncerCacheHash(m)
  await waitFor(
    () => agents.every((a) => syncerCacheHash(a.cache) === want),
    30_000,
    'every agent converged after faults',
  )
  t.pass(`6 agents converged on ${m.size} objects`)
  t.equal(
    agents.filter((a) => a.stats.failures > 0).length >= killedClients,
    true,
    `the ${killedClients} agents on the killed replica reconnected`,
  )
})
