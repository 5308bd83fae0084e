import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeClock, seededRng, silentLogger, systemClock } from '@calilab/kit'
import type { KubeObject, ResourceInfo } from '@calilab/model'
import t, { type Test } from 'tap'
import type { Api, ApiWatchEvent } from '../src/api.ts'
import { namespaceController } from '../src/controllers/defs.ts'
import { startControllers } from '../src/controllers/index.ts'
import { namespaceDueInMs, reconcileNamespace } from '../src/core/controllers/namespace.ts'
import { ApiError } from '../src/core/status.ts'
import { createApi, type ServiceApi } from '../src/io/service/api.ts'
import { MemoryStore } from '../src/io/store/memory-store.ts'
import { startApiServer } from '../src/server.ts'

/** Namespace deletion as a real cluster does it: Terminating first, emptied and removed by the controller. */

type Tap = Test
const SEED = 5
t.comment(`rng seed ${SEED}`)

async function setup(): Promise<ServiceApi> {
  const api = createApi({ store: new MemoryStore(), log: silentLogger(), clock: new FakeClock(), rng: seededRng(SEED) })
  await api.bootstrap()
  return api
}

function kind(api: Api, name: string): ResourceInfo {
  const r = api.resources.resolve(name)
  if (!r) throw new Error(`no kind ${name}`)
  return r
}

async function rejects(t: Tap, p: Promise<unknown>, code: number): Promise<ApiError> {
  try {
    await p
  } catch (e) {
    t.ok(e instanceof ApiError, 'an ApiError')
    t.equal((e as ApiError).status.code, code, (e as ApiError).status.message)
    return e as ApiError
  }
  throw new Error(`expected ${code}`)
}

async function eventually<T>(f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = f()
    if (v) return v
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

const pod = (name: string): unknown => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }] } })

const CRD = {
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
}

/** A namespace holding a pod, a service, a config map and a CRD-defined Widget. */
async function fill(api: Api, ns: string): Promise<void> {
  await api.create(kind(api, 'namespaces'), undefined, { metadata: { name: ns } })
  await api.create(kind(api, 'pods'), ns, pod('p'))
  await api.create(kind(api, 'services'), ns, { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } })
  await api.create(kind(api, 'configmaps'), ns, { metadata: { name: 'c' }, data: { a: '1' } })
  if (!api.resources.resolve('widgets')) await api.create(kind(api, 'customresourcedefinitions'), undefined, CRD)
  await api.create(kind(api, 'widgets'), ns, { metadata: { name: 'w' }, spec: { size: 1 } })
}

function contents(api: Api, ns: string): string[] {
  return ['pods', 'services', 'configmaps', 'widgets'].flatMap((k) =>
    api.list(kind(api, k), ns).items.map((o) => `${k}/${o.metadata.name}`),
  )
}

t.test('DELETE marks Terminating; new content refused, deletes allowed, re-create 409', async (t) => {
  const api = await setup()
  const nsk = kind(api, 'namespaces')
  const pods = kind(api, 'pods')
  await fill(api, 'app')
  const events: string[] = []
  const w = api.watch(nsk, undefined, { resourceVersion: String(api.store.revision) }, (e: ApiWatchEvent) =>
    events.push(`${e.type} ${e.object.metadata.name}`),
  )
  t.teardown(() => w.cancel())
  const marked = await api.delete(nsk, undefined, 'app', { propagationPolicy: 'Background' })
  t.ok(marked.metadata.deletionTimestamp, 'deletionTimestamp set')
  t.same(marked.spec, { finalizers: ['kubernetes'] })
  t.equal((marked.status as { phase: string }).phase, 'Terminating')
  t.same(events, ['MODIFIED app'])
  t.same(contents(api, 'app'), ['pods/p', 'services/s', 'configmaps/c', 'widgets/w'], 'nothing emptied yet')

  const refused = await rejects(t, api.create(pods, 'app', pod('late')), 403)
  t.equal(refused.status.reason, 'Forbidden')
  t.equal(
    refused.status.message,
    'pods "late" is forbidden: unable to create new content in namespace app because it is being terminated',
  )
  t.same(refused.status.details?.causes?.[0], {
    reason: 'NamespaceTerminating',
    message: 'namespace app is being terminated',
    field: 'metadata.namespace',
  })
  const deploys = kind(api, 'deployments')
  const e2 = await rejects(t, api.create(deploys, 'app', { metadata: { name: 'd' } }), 403)
  t.match(e2.status.message, /^deployments\.apps "d" is forbidden: unable to create new content in namespace app/)
  const again = await rejects(t, api.create(nsk, undefined, { metadata: { name: 'app' } }), 409)
  t.equal(again.status.reason, 'AlreadyExists')

  await api.delete(pods, 'app', 'p')
  t.same(contents(api, 'app'), ['services/s', 'configmaps/c', 'widgets/w'], 'deleting content still works')
  const rev = api.store.revision
  const second = await api.delete(nsk, undefined, 'app')
  t.equal(second.metadata.resourceVersion, marked.metadata.resourceVersion, 'a second DELETE changes nothing')
  t.equal(api.store.revision, rev)
  t.ok(api.get(nsk, undefined, 'app'), 'still there: spec.finalizers holds it')

  // What the controller does, by hand: empty, finalize, delete again.
  for (const k of ['services', 'configmaps', 'widgets']) await api.deleteCollection(kind(api, k), 'app')
  t.same(contents(api, 'app'), [])
  const cur = api.get(nsk, undefined, 'app')
  const fin = await api.update(nsk, undefined, 'app', { ...cur, spec: { finalizers: [] } }, { subresource: 'finalize' })
  t.same(fin.object.spec, { finalizers: [] })
  t.ok(fin.object.metadata.deletionTimestamp, 'finalize keeps the deletionTimestamp')
  await api.delete(nsk, undefined, 'app')
  await rejects(t, (async () => api.get(nsk, undefined, 'app'))(), 404)
  t.same(events.at(-1), 'DELETED app')
  await api.create(nsk, undefined, { metadata: { name: 'app' } })
  t.equal((api.get(nsk, undefined, 'app').status as { phase: string }).phase, 'Active', 're-created once gone')
})

t.test('reconcileNamespace: one step per pass', (t) => {
  const base: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'x', uid: 'u1', resourceVersion: '7', deletionTimestamp: '2024-01-01T00:00:00Z' },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Terminating' },
  }
  const nowIso = '2024-01-01T00:00:01Z'
  const pods = { apiVersion: 'v1', kind: 'Pod', count: 2 }
  const none = { apiVersion: 'v1', kind: 'ConfigMap', count: 0 }
  const first = reconcileNamespace({ namespace: base, content: [pods, none], nowIso })
  t.same(
    first.map((a) => a.op),
    ['updateStatus', 'deleteCollection'],
  )
  t.match(first[1], { op: 'deleteCollection', apiVersion: 'v1', kind: 'Pod', namespace: 'x' })
  const withConds = first[0]?.op === 'updateStatus' ? first[0].obj : base
  t.same(
    reconcileNamespace({ namespace: withConds, content: [pods, none], nowIso }).map((a) => a.op),
    ['deleteCollection'],
    'conditions already set',
  )
  const fin = reconcileNamespace({ namespace: withConds, content: [{ ...pods, count: 0 }], nowIso })
  t.same(fin, [{ op: 'finalize', obj: { ...withConds, spec: { finalizers: [] } } }])
  const finalized = { ...withConds, spec: { finalizers: [] } }
  t.match(reconcileNamespace({ namespace: finalized, content: [], nowIso }), [
    { op: 'delete', kind: 'Namespace', name: 'x', uid: 'u1' },
  ])
  const otherFinalizer = { ...withConds, spec: { finalizers: ['example.com/keep'] } }
  t.same(reconcileNamespace({ namespace: otherFinalizer, content: [], nowIso }), [], 'waits for other finalizers')
  const since = Date.parse('2024-01-01T00:00:00Z')
  t.equal(namespaceDueInMs(base, since + 1000, 5000), 4000, 'the grace period runs from the deletionTimestamp')
  t.equal(namespaceDueInMs(base, since + 6000, 5000), 0, 'then it is due (also right after a restart)')
  const active = { ...base, metadata: { name: 'x' } }
  t.same(reconcileNamespace({ namespace: active, content: [pods], nowIso }), [], 'an Active namespace is left alone')
  t.end()
})

t.test('the namespace controller empties and removes a Terminating namespace', async (t) => {
  const api = await setup()
  const nsk = kind(api, 'namespaces')
  await fill(api, 'app')
  await api.create(kind(api, 'pods'), 'default', pod('keep'))
  const c = startControllers({
    api,
    log: silentLogger(),
    clock: systemClock(),
    rng: seededRng(SEED),
    controllers: [namespaceController(0)],
  })
  t.teardown(() => c.stop())
  const events: string[] = []
  const w = api.watch(nsk, undefined, { resourceVersion: String(api.store.revision) }, (e) =>
    events.push(`${e.type} ${(e.object.status as { phase?: string } | undefined)?.phase ?? ''}`),
  )
  t.teardown(() => w.cancel())
  await api.delete(nsk, undefined, 'app')
  await eventually(() => events.at(-1)?.startsWith('DELETED'))
  t.equal(events[0], 'MODIFIED Terminating', 'first MODIFIED (Terminating)')
  t.equal(events.at(-1), 'DELETED Terminating', 'then DELETED')
  t.same(contents(api, 'app'), [], 'every namespaced kind emptied, CRD-defined ones too')
  t.ok(api.get(kind(api, 'pods'), 'default', 'keep'), 'other namespaces untouched')
  await api.create(nsk, undefined, { metadata: { name: 'app' } })
  t.same(contents(api, 'app'), [], 're-created empty')
})

t.test('a namespace left Terminating by a stopped server is finalized after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'calilab-ns-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const open = (controllers: boolean) =>
    startApiServer({
      port: 0,
      dataDir: dir,
      fsync: false,
      log: silentLogger(),
      rng: seededRng(SEED),
      controllers,
      namespaceGraceMs: 0,
    })
  const s1 = await open(false)
  await fill(s1.api, 'app')
  await s1.api.delete(kind(s1.api, 'namespaces'), undefined, 'app')
  t.equal((s1.api.get(kind(s1.api, 'namespaces'), undefined, 'app').status as { phase: string }).phase, 'Terminating')
  await s1.close()

  const s2 = await open(true)
  t.teardown(() => s2.close())
  const nsk = kind(s2.api, 'namespaces')
  await eventually(() => !s2.api.list(nsk, undefined).items.some((n) => n.metadata.name === 'app'))
  t.same(contents(s2.api, 'app'), [], 'its contents are gone too')
})
