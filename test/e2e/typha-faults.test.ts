/**
 * Faults that must not lose anything: a real cluster (API server, 2 Typha replicas, 2 nodes) under
 * a random write load of kinds the felix syncer carries (GlobalNetworkSets, NetworkSets, labelled
 * Namespaces), interleaved with kill -9 of each Typha replica and of the API server (the
 * supervisor restarts them). Once the load stops, every node's Felix view (/felix/status hash)
 * must equal the API server's own state for the same kinds, read through a direct syncer.
 * Replay a failure with CALILAB_TEST_SEED=<seed from the log>.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { seededRng, silentLogger } from '@calilab/kit'
import { generateTopology } from '@calilab/model'
import { connectDirect, syncerCacheHash } from '@calilab/node-agent'
import { eventually, startCluster } from '@calilab/testkit'
import t from 'tap'

interface ProcState {
  component: string
  instance?: string
  node?: string
  pid?: number
  restarts: number
  health: string
  ready?: Record<string, unknown>
}
interface State {
  processes: ProcState[]
}

const LOAD_MS = 14_000
const WORKERS = 4

t.test('kill -9 Typha replicas and the API server under a write load: every agent converges', async (t) => {
  const seed = Number(process.env['CALILAB_TEST_SEED'] ?? Date.now() % 1_000_000_000)
  t.comment(`seed ${seed} (replay: CALILAB_TEST_SEED=${seed})`)
  const rng = seededRng(seed)

  const topology = generateTopology(2, { router: false })
  topology.typha.replicas = 2
  const c = await startCluster({ topology, bare: true })
  t.teardown(() => c.stop())
  const state = () => JSON.parse(readFileSync(path.join(c.home, 'run', 'state.json'), 'utf8')) as State
  const proc = (name: string) => state().processes.find((p) => (p.instance ?? p.component) === name)
  const api = c.apiUrl

  // ---- the write load -----------------------------------------------------------------------
  const call = async (method: string, p: string, body?: unknown): Promise<number> => {
    try {
      const res = await fetch(`${api}${p}`, {
        method,
        headers: {
          'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(5000),
      })
      await res.arrayBuffer()
      return res.status
    } catch {
      return 0 // API server down (being restarted): the op simply did not happen, or did
    }
  }
  const KINDS = [
    { path: '/apis/projectcalico.org/v3/globalnetworksets', kind: 'GlobalNetworkSet', ns: false },
    { path: '/apis/projectcalico.org/v3/namespaces/default/networksets', kind: 'NetworkSet', ns: true },
    { path: '/api/v1/namespaces', kind: 'Namespace', ns: false },
  ] as const
  const names: string[][] = KINDS.map(() => [])
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)] as T
  const label = () => ({ app: pick(['a', 'b', 'c', 'd']), v: String(rng.int(1000)) })
  const counts = { create: 0, update: 0, delete: 0, ok: 0, failed: 0 }
  let serial = 0
  const op = async (): Promise<void> => {
    const k = rng.int(KINDS.length)
    const kind = KINDS[k] as (typeof KINDS)[number]
    const list = names[k] as string[]
    const r = rng.next()
    let code: number
    if (list.length < 5 || r < 0.4) {
      const name = `f${seed % 1000}-${serial++}`
      list.push(name)
      counts.create++
      const spec = kind.kind === 'Namespace' ? {} : { spec: { nets: [`10.${rng.int(256)}.${rng.int(256)}.0/24`] } }
      code = await call('POST', kind.path, {
        apiVersion: kind.kind === 'Namespace' ? 'v1' : 'projectcalico.org/v3',
        kind: kind.kind,
        metadata: { name, labels: label() },
        ...spec,
      })
    } else if (r < 0.8) {
      counts.update++
      const patch =
        kind.kind === 'Namespace' || rng.next() < 0.5
          ? { metadata: { labels: label() } }
          : { spec: { nets: [`10.${rng.int(256)}.${rng.int(256)}.0/24`, '192.168.0.0/16'] } }
      code = await call('PATCH', `${kind.path}/${pick(list)}`, patch)
    } else {
      counts.delete++
      const i = rng.int(list.length)
      const name = list[i] as string
      list.splice(i, 1)
      code = await call('DELETE', `${kind.path}/${name}`)
    }
    if (code >= 200 && code < 300) counts.ok++
    else counts.failed++
  }
  const loadEnd = Date.now() + LOAD_MS
  const load = Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (Date.now() < loadEnd) {
        await op()
        await new Promise((r) => setTimeout(r, 5))
      }
    }),
  )

  // ---- the faults, interleaved with the load --------------------------------------------------
  const killAndWait = async (name: string) => {
    const before = proc(name)
    t.ok(before?.pid, `${name} has a pid`)
    process.kill(before?.pid as number, 'SIGKILL')
    t.comment(`kill -9 ${name} (pid ${before?.pid}) after ${counts.ok + counts.failed} ops`)
    await eventually(
      () => {
        const p = proc(name)
        if (!p || p.pid === before?.pid || p.health !== 'ready') throw new Error(`${name} not restarted yet`)
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    )
  }
  const at = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms - (LOAD_MS - (loadEnd - Date.now())))))
  await at(2500)
  await killAndWait('typha-0')
  await at(6000)
  await killAndWait('apiserver')
  await at(10_000)
  await killAndWait('typha-1')
  await load
  t.comment(`load: ${JSON.stringify(counts)}`)
  // The load is time-bound; how many writes fit depends on the machine. What matters is that a real
  // load ran across the kills and every agent converged on its result.
  t.ok(counts.ok > 300, `a real write load was acknowledged across the kills (${counts.ok})`)

  // ---- convergence: every node's Felix view == the API server's state -------------------------
  const wsUrl = `${api.replace(/^http/, 'ws')}/internal/watch`
  const truth = connectDirect({
    url: wsUrl,
    syncerType: 'felix',
    log: silentLogger(),
    callbacks: { onUpdates() {}, onInSync() {} },
  })
  t.teardown(() => truth.close())
  const nodeNames = topology.hosts.filter((h) => h.role !== 'router').map((h) => h.name)
  const endpoints = await eventually(
    async () => {
      const res = await fetch(`${api}/api/v1/nodes`)
      const list = (await res.json()) as {
        items: { metadata: { name: string; annotations?: Record<string, string> } }[]
      }
      const eps = new Map<string, string>()
      for (const n of list.items) {
        const ep = n.metadata.annotations?.['calilab.dev/kubelet-endpoint']
        if (ep) eps.set(n.metadata.name, ep)
      }
      for (const n of nodeNames) if (!eps.has(n)) throw new Error(`node ${n} has no kubelet endpoint yet`)
      return eps
    },
    { timeoutMs: 15_000 },
  )
  let last: unknown
  const converged = await eventually(
    async () => {
      if (truth.status !== 'in-sync') throw new Error('direct view not in sync yet')
      const want = syncerCacheHash(truth.cache)
      const got: Record<string, { hash: string; entries: number; typha?: string; inSync: boolean }> = {}
      for (const n of nodeNames) {
        const res = await fetch(`http://${endpoints.get(n)}/felix/status`, { signal: AbortSignal.timeout(3000) })
        const s = (await res.json()) as { hash: string; entries: number; typha?: string; inSync: boolean }
        got[n] = s
      }
      last = { want, entries: truth.cache.size, got }
      for (const n of nodeNames) {
        if (got[n]?.hash !== want) throw new Error(`${n}: hash differs (${got[n]?.entries} vs ${truth.cache.size})`)
      }
      return { want, got }
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  ).catch((e: unknown) => {
    t.comment(`last view: ${JSON.stringify(last)}`)
    throw e
  })
  for (const n of nodeNames) {
    t.equal(converged.got[n]?.hash, converged.want, `${n}'s Felix view equals the API server's state`)
    t.ok(converged.got[n]?.typha, `${n} syncs through Typha (${converged.got[n]?.typha})`)
  }
  t.ok(truth.cache.size > 20, `the state is not trivial (${truth.cache.size} entries)`)

  // ---- calilab typha status on the real cluster -----------------------------------------------
  const st = await eventually(
    async () => {
      const r = await c.cli(['typha', 'status', '--interval', '0.2'])
      if (r.code !== 0) throw new Error(r.stderr)
      const rows = r.stdout.split('\n')
      for (const name of ['typha-0', 'typha-1']) {
        if (
          !rows.some((l) => new RegExp(`^${name}\\s+\\S+:\\d+\\s+true\\s+\\d+\\s+\\d+\\s+felix=\\d+ bgp=\\d+`).test(l))
        )
          throw new Error(`${name} not in sync in:\n${r.stdout}`)
      }
      return r.stdout
    },
    { timeoutMs: 10_000, intervalMs: 500 },
  )
  t.match(
    st,
    /^TYPHA\s+ADDRESS\s+IN-SYNC\s+REVISION\s+ENTRIES\s+CLIENTS\s+SNAPSHOTS\s+DELTAS\/S\s+BYTES-OUT\s+LAG-DISCONNECTS$/m,
  )
  t.match(st, /^NODE\s+SYNCER\s+TYPHA\s+STATE\s+LAG\s+QUEUED\s+BYTES-WRITTEN$/m)
  for (const n of nodeNames) t.match(st, new RegExp(`^${n}\\s+felix\\s+typha-[01]\\s+live\\s+\\d+`, 'm'))
  const felixClients = [...st.matchAll(/felix=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0)
  t.equal(felixClients, nodeNames.length, 'one felix client per node across the replicas')
  const js = await c.cli(['typha', 'status', '-o', 'json', '--interval', '0'])
  t.equal(js.code, 0, js.stderr)
  const doc = JSON.parse(js.stdout) as { typhas: { name: string; status?: { inSync: boolean } }[] }
  t.same(
    doc.typhas.map((x) => [x.name, x.status?.inSync]),
    [
      ['typha-0', true],
      ['typha-1', true],
    ],
  )
  t.ok(
    ['typha-0', 'typha-1', 'apiserver'].every((n) => (proc(n)?.restarts ?? 0) >= 1),
    'each killed process was restarted by the supervisor',
  )
})
