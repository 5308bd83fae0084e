import { FakeClock, seededRng, silentLogger } from '@calilab/kit'
import type { KubeObject, ResourceInfo } from '@calilab/model'
import t, { type Test } from 'tap'
import type { ApiWatchEvent } from '../src/api.ts'
import { ApiError } from '../src/core/status.ts'
import { createApi, type ServiceApi } from '../src/io/service/api.ts'
import { MemoryStore } from '../src/io/store/memory-store.ts'

const SEED = 42
t.comment(`rng seed ${SEED}`)

async function setup(store = new MemoryStore()): Promise<{ api: ServiceApi; clock: FakeClock; store: MemoryStore }> {
  const clock = new FakeClock()
  const api = createApi({ store, log: silentLogger(), clock, rng: seededRng(SEED) })
  await api.bootstrap()
  return { api, clock, store }
}

function kind(api: ServiceApi, name: string): ResourceInfo {
  const r = api.resources.resolve(name)
  if (!r) throw new Error(`no kind ${name}`)
  return r
}

async function rejects(t: Tap, p: Promise<unknown> | (() => unknown), code: number, re?: RegExp): Promise<ApiError> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    t.ok(e instanceof ApiError, 'an ApiError')
    const err = e as ApiError
    t.equal(err.status.code, code, `code ${code}: ${err.status.message}`)
    if (re) t.match(err.status.message, re)
    return err
  }
  t.fail(`expected ${code}`)
  throw new Error('unreachable')
}
type Tap = Test

const pod = (name: string, labels: Record<string, string> = {}): unknown => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
})

function snapshot(store: MemoryStore): string {
  return JSON.stringify({ rev: store.revision, all: store.list('/').items })
}

t.test('bootstrap creates the built-in namespaces and the kubernetes service', async (t) => {
  const { api } = await setup()
  const ns = api.list(kind(api, 'namespaces'), undefined).items.map((o) => o.metadata.name)
  t.same(ns.sort(), ['default', 'kube-node-lease', 'kube-public', 'kube-system'])
  const svc = api.get(kind(api, 'services'), 'default', 'kubernetes')
  t.equal((svc.spec as { clusterIP: string }).clusterIP, '198.19.32.1')
  t.equal((svc.spec as { ports: { port: number }[] }).ports[0]?.port, 443)
  const rev = api.store.revision
  await api.bootstrap()
  t.equal(api.store.revision, rev, 'bootstrap is idempotent')
})

t.test('create, get, conflict, generation', async (t) => {
  const { api } = await setup()
  const pods = kind(api, 'pods')
  const { object } = await api.create(pods, 'default', pod('a'))
  t.ok(object.metadata.uid)
  t.equal(object.metadata.creationTimestamp, '2026-01-01T00:00:00Z')
  t.equal(object.metadata.generation, 1)
  t.equal(object.metadata.namespace, 'default')
  t.equal(object.metadata.resourceVersion, String(api.store.revision))
  t.same(api.get(pods, 'default', 'a'), object)
  await rejects(t, api.create(pods, 'default', pod('a')), 409, /pods "a" already exists/)
  await rejects(t, async () => api.get(pods, 'default', 'zz'), 404, /pods "zz" not found/)

  const stale = { ...(object as KubeObject), metadata: { ...object.metadata, resourceVersion: '1' } }
  await rejects(
    t,
    api.update(pods, 'default', 'a', stale),
    409,
    /the object has been modified; please apply your changes/,
  )

  const labelled = structuredClone(object)
  labelled.metadata.labels = { x: 'y' }
  const u1 = await api.update(pods, 'default', 'a', labelled)
  t.equal(u1.object.metadata.generation, 1, 'metadata change keeps generation')
  t.equal(u1.object.metadata.uid, object.metadata.uid)
  const changed = structuredClone(u1.object)
  ;(changed.spec as { containers: { image: string }[] }).containers[0]!.image = 'nginx'
  const u2 = await api.update(pods, 'default', 'a', changed)
  t.equal(u2.object.metadata.generation, 2, 'spec change bumps generation')
})

t.test('generateName', async (t) => {
  const { api } = await setup()
  const pods = kind(api, 'pods')
  const a = await api.create(pods, 'default', {
    metadata: { generateName: 'web-' },
    spec: { containers: [{ name: 'c', image: 'i' }] },
  })
  const b = await api.create(pods, 'default', {
    metadata: { generateName: 'web-' },
    spec: { containers: [{ name: 'c', image: 'i' }] },
  })
  t.match(a.object.metadata.name, /^web-[a-z0-9]{5}$/)
  t.not(a.object.metadata.name, b.object.metadata.name)
})

t.test('a new pod is Pending unless its creator says otherwise', async (t) => {
  const { api } = await setup()
  const pods = kind(api, 'pods')
  t.same((await api.create(pods, 'default', pod('fresh'))).object.status, { phase: 'Pending' })
  const running = { ...(pod('static') as KubeObject), status: { phase: 'Running', podIP: '198.19.16.9' } }
  t.same((await api.create(pods, 'default', running)).object.status, { phase: 'Running', podIP: '198.19.16.9' })
})

t.test('status subresource writes only status; main writes keep status', async (t) => {
  const { api } = await setup()
  const deploy = kind(api, 'deployments')
  const d = {
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
    },
  }
  const created = (await api.create(deploy, 'default', d)).object
  const withStatus = structuredClone(created)
  withStatus.status = { replicas: 2, observedGeneration: 1 }
  ;(withStatus.spec as { replicas: number }).replicas = 5
  const s = await api.update(deploy, 'default', 'web', withStatus, { subresource: 'status' })
  t.same((s.object.status as { replicas: number }).replicas, 2)
  t.equal((s.object.spec as { replicas: number }).replicas, 2, 'spec untouched by a status write')
  t.equal(s.object.metadata.generation, 1)
  const main = structuredClone(s.object)
  main.status = { replicas: 99 }
  ;(main.spec as { replicas: number }).replicas = 3
  const m = await api.update(deploy, 'default', 'web', main)
  t.equal((m.object.status as { replicas: number }).replicas, 2, 'status kept by a main write')
  t.equal(m.object.metadata.generation, 2)
})

t.test('patch: merge, strategic, json; apply is 415', async (t) => {
  const { api } = await setup()
  const svcs = kind(api, 'services')
  await api.create(svcs, 'default', {
    metadata: { name: 's' },
    spec: { selector: { app: 's' }, ports: [{ port: 80 }] },
  })
  const p1 = await api.patch(svcs, 'default', 's', 'strategic', { spec: { externalIPs: ['198.19.48.10'] } })
  t.same((p1.object.spec as { externalIPs: string[] }).externalIPs, ['198.19.48.10'])
  const p2 = await api.patch(svcs, 'default', 's', 'merge', { metadata: { labels: { a: 'b' } } })
  t.same(p2.object.metadata.labels, { a: 'b' })
  const p3 = await api.patch(svcs, 'default', 's', 'json', [{ op: 'replace', path: '/spec/selector/app', value: 't' }])
  t.same((p3.object.spec as { selector: unknown }).selector, { app: 't' })
  t.equal(
    (p3.object.spec as { clusterIP: string }).clusterIP,
    (p1.object.spec as { clusterIP: string }).clusterIP,
    'clusterIP kept',
  )
  await rejects(t, api.patch(svcs, 'default', 's', 'apply', {}), 415)
  await rejects(t, api.patch(svcs, 'default', 'nope', 'merge', {}), 404)
})

t.test('services: cluster IPs and node ports', async (t) => {
  const { api } = await setup()
  const svcs = kind(api, 'services')
  const a = await api.create(svcs, 'default', {
    metadata: { name: 'a' },
    spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] },
  })
  const ip = (a.object.spec as { clusterIP: string }).clusterIP
  t.match(ip, /^198\.19\.(3[2-9]|4[0-7])\.\d+$/)
  t.not(ip, '198.19.32.1')
  const before = snapshot(api.store as MemoryStore)
  const err = await rejects(
    t,
    api.create(svcs, 'default', {
      metadata: { name: 'b' },
      spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] },
    }),
    422,
    /spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated/,
  )
  t.equal(err.status.details?.causes?.[0]?.field, 'spec.ports[0].nodePort')
  await rejects(
    t,
    api.create(svcs, 'default', { metadata: { name: 'c' }, spec: { clusterIP: ip, ports: [{ port: 80 }] } }),
    422,
    /already allocated/,
  )
  t.equal(snapshot(api.store as MemoryStore), before, 'rejected writes change nothing')
  const d = await api.create(svcs, 'default', {
    metadata: { name: 'd' },
    spec: { type: 'NodePort', ports: [{ port: 80 }] },
  })
  const np = (d.object.spec as { ports: { nodePort: number }[] }).ports[0]?.nodePort ?? 0
  t.ok(np >= 30000 && np <= 32767, `nodePort ${np} allocated`)
})

t.test('namespaces: must exist; DELETE only marks Terminating (the controller empties them)', async (t) => {
  const { api } = await setup()
  const pods = kind(api, 'pods')
  const nsk = kind(api, 'namespaces')
  await rejects(t, api.create(pods, 'nope', pod('a')), 404, /namespaces "nope" not found/)
  await api.create(nsk, undefined, { metadata: { name: 'app' } })
  await api.create(pods, 'app', pod('a'))
  const events: string[] = []
  const w = api.watch(nsk, undefined, { resourceVersion: String(api.store.revision) }, (e) =>
    events.push(`${e.type} ${(e.object.status as { phase?: string })?.phase ?? ''}`),
  )
  const marked = await api.delete(nsk, undefined, 'app')
  w.cancel()
  t.equal((marked.status as { phase: string }).phase, 'Terminating')
  t.same(events, ['MODIFIED Terminating'])
  t.ok(api.get(pods, 'app', 'a'), 'contents stay until the namespace controller runs')
  await rejects(t, api.delete(nsk, undefined, 'default'), 403)
})

t.test('watch: initial state, resume, selectors, 410', async (t) => {
  const store = new MemoryStore({ historySize: 5 })
  const { api, clock } = await setup(store)
  const pods = kind(api, 'pods')
  await api.create(pods, 'default', pod('a', { app: 'x' }))
  const got: ApiWatchEvent[] = []
  const w0 = api.watch(pods, 'default', { resourceVersion: '0' }, (e) => got.push(e))
  t.same(
    got.map((e) => `${e.type} ${e.object.metadata.name}`),
    ['ADDED a'],
  )
  const rv = api.store.revision
  await api.create(pods, 'default', pod('b', { app: 'x' }))
  t.same(
    got.map((e) => `${e.type} ${e.object.metadata.name}`),
    ['ADDED a', 'ADDED b'],
  )
  w0.cancel()

  const resumed: string[] = []
  const w1 = api.watch(pods, 'default', { resourceVersion: String(rv) }, (e) =>
    resumed.push(`${e.type} ${e.object.metadata.name}`),
  )
  t.same(resumed, ['ADDED b'], 'resume replays only what came after')
  w1.cancel()

  const sel: string[] = []
  const w2 = api.watch(pods, 'default', { labelSelector: 'app=x', allowWatchBookmarks: true }, (e) =>
    sel.push(`${e.type} ${e.object.metadata.name ?? ''}`),
  )
  await api.patch(pods, 'default', 'a', 'merge', { metadata: { labels: { app: 'y' } } })
  await api.patch(pods, 'default', 'a', 'merge', { metadata: { labels: { app: 'x' } } })
  clock.advance(30_000)
  w2.cancel()
  t.same(sel, ['ADDED a', 'ADDED b', 'DELETED a', 'ADDED a', 'BOOKMARK '])

  for (let i = 0; i < 6; i++) await api.create(pods, 'default', pod(`p${i}`))
  const err = await rejects(
    t,
    async () => api.watch(pods, 'default', { resourceVersion: String(rv) }, () => {}),
    410,
    /too old resource version/,
  )
  t.equal(err.status.reason, 'Expired')
})

t.test('field selectors, label selectors, list paging, deleteCollection', async (t) => {
  const { api } = await setup()
  const pods = kind(api, 'pods')
  for (const n of ['a', 'b', 'c', 'd']) await api.create(pods, 'default', pod(n, { app: n === 'd' ? 'other' : 'web' }))
  t.same(
    api.list(pods, 'default', { fieldSelector: 'metadata.name=b' }).items.map((o) => o.metadata.name),
    ['b'],
  )
  t.same(api.list(pods, undefined, { labelSelector: 'app=web' }).items.length, 3)
  const p1 = api.list(pods, 'default', { limit: 2 })
  t.same(
    p1.items.map((o) => o.metadata.name),
    ['a', 'b'],
  )
  t.ok(p1.continue)
  const p2 = api.list(pods, 'default', { limit: 2, continue: p1.continue as string })
  t.same(
    p2.items.map((o) => o.metadata.name),
    ['c', 'd'],
  )
  t.notOk(p2.continue)
  const before = snapshot(api.store as MemoryStore)
  await rejects(t, async () => api.list(pods, 'default', { labelSelector: 'app in (' }), 400)
  await rejects(t, async () => api.list(pods, 'default', { fieldSelector: 'spec.bogus=1' }), 400)
  await rejects(t, api.deleteCollection(pods, 'default', { labelSelector: '=!=' }), 400)
  t.equal(snapshot(api.store as MemoryStore), before)
  const gone = await api.deleteCollection(pods, 'default', { labelSelector: 'app=web' })
  t.equal(gone.length, 3)
  t.same(
    api.list(pods, 'default').items.map((o) => o.metadata.name),
    ['d'],
  )
  const d = api.get(pods, 'default', 'd')
  await rejects(t, api.delete(pods, 'default', 'd', { preconditions: { uid: 'nope' } }), 409, /Precondition failed/)
  await api.delete(pods, 'default', 'd', { preconditions: { uid: d.metadata.uid as string } })
})

t.test('validation: invalid and unknown fields change nothing', async (t) => {
  const { api } = await setup()
  const pods = kind(api, 'pods')
  const before = snapshot(api.store as MemoryStore)
  await rejects(
    t,
    api.create(pods, 'default', { metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'c', image: 'i' }] } }),
    422,
    /metadata\.name/,
  )
  await rejects(t, api.create(pods, 'default', { metadata: {} }), 422, /name or generateName is required/)
  await rejects(t, api.create(pods, 'default', { kind: 'Service', metadata: { name: 'x' } }), 400)
  await rejects(t, api.create(pods, 'default', 'not an object'), 400)
  await rejects(
    t,
    api.create(
      pods,
      'default',
      { ...(pod('x') as object), spec: { containers: [{ name: 'c', image: 'i' }], foo: 1 } },
      { fieldValidation: 'Strict' },
    ),
    400,
    /strict decoding error: unknown field "spec.foo"/,
  )
  t.equal(snapshot(api.store as MemoryStore), before)
  const warned = await api.create(pods, 'default', {
    ...(pod('x') as object),
    spec: { containers: [{ name: 'c', image: 'i' }], foo: 1 },
  })
  t.same(warned.warnings, ['unknown field "spec.foo"'])
})

const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList', shortNames: ['wd'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: 'Size', type: 'integer', jsonPath: '.spec.size' }],
      },
    ],
  },
}

t.test('CRDs register kinds, survive a restart and cascade on delete', async (t) => {
  const { api, store } = await setup()
  const crds = kind(api, 'customresourcedefinitions')
  t.notOk(api.resources.resolve('wd'))
  await api.create(crds, undefined, CRD)
  const w = kind(api, 'wd')
  t.equal(w.kind, 'Widget')
  t.equal(api.resources.resolve('widgets.example.com'), w)
  t.same(
    api.resources.crdColumns(w)?.map((c) => c.name),
    ['Size'],
  )
  await api.create(w, 'default', {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w1' },
    spec: { size: 3 },
  })
  const again = createApi({ store, log: silentLogger(), clock: new FakeClock(), rng: seededRng(1) })
  const w2 = again.resources.resolve('widgets')
  t.ok(w2, 'rebuilt from the store')
  t.equal(again.get(w2 as ResourceInfo, 'default', 'w1').metadata.name, 'w1')
  await rejects(t, api.create(crds, undefined, { ...CRD, metadata: { name: 'wrong.example.com' } }), 422)
  await api.delete(crds, undefined, 'widgets.example.com')
  t.notOk(api.resources.resolve('widgets'))
  t.same(store.list('/example.com/').items, [])
})

t.test('dry run changes nothing', async (t) => {
  const { api } = await setup()
  const before = snapshot(api.store as MemoryStore)
  const r = await api.create(kind(api, 'pods'), 'default', pod('dry'), { dryRun: true })
  t.equal(r.object.metadata.name, 'dry')
  t.equal(snapshot(api.store as MemoryStore), before)
})

t.test('re-applying a Service without its allocated cluster IP changes nothing', async (t) => {
  const { api, info } = await (async () => {
    const { MemoryStore } = await import('../src/io/store/memory-store.ts')
    const { createApi } = await import('../src/io/service/api.ts')
    const { FakeClock, seededRng, silentLogger } = await import('@calilab/kit')
    const a = createApi({ store: new MemoryStore(), log: silentLogger(), clock: new FakeClock(), rng: seededRng(7) })
    await a.bootstrap()
    return { api: a, info: (r: string) => a.resources.byPlural('', r)! }
  })()
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'typha', namespace: 'default' },
    spec: { selector: { app: 't' }, ports: [{ port: 5473, protocol: 'TCP' }] },
  }
  const created = (await api.create(info('services'), 'default', svc)).object
  const again = (await api.update(info('services'), 'default', 'typha', svc)).object
  t.equal(again.metadata.resourceVersion, created.metadata.resourceVersion, 'no new revision')
  t.equal(again.metadata.generation, 1, 'generation unchanged')
  t.equal((again.spec as { clusterIP: string }).clusterIP, (created.spec as { clusterIP: string }).clusterIP)
})
