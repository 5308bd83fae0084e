import { seededRng, silentLogger, systemClock } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import t from 'tap'
import type { Api } from '../src/api.ts'
import { startControllers } from '../src/controllers/index.ts'
import { createApi } from '../src/io/service/api.ts'
import { MemoryStore } from '../src/io/store/memory-store.ts'

async function eventually<T>(f: () => T | undefined | false, ms = 8000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = f()
    if (v) return v
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

function info(api: Api, apiVersion: string, kind: string) {
  const r = api.resources.byKind(apiVersion, kind)
  if (!r) throw new Error(`${apiVersion} ${kind} not served`)
  return r
}

const iso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')

async function addNode(api: Api, name: string, taints: unknown[] = []): Promise<void> {
  const r = info(api, 'v1', 'Node')
  const n = await api.create(r, undefined, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { taints },
  })
  await api.update(
    r,
    undefined,
    name,
    { ...n.object, status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: iso() }] } },
    { subresource: 'status' },
  )
}

/** Plays kubelet: every scheduled pod becomes Running and Ready with an IP. */
async function runPods(api: Api, ns: string | undefined): Promise<number> {
  const r = info(api, 'v1', 'Pod')
  let n = 0
  for (const p of api.list(r, ns).items) {
    const spec = p.spec as { nodeName?: string }
    const status = p.status as { phase?: string } | undefined
    if (!spec.nodeName || status?.phase === 'Running' || p.metadata.deletionTimestamp) continue
    n++
    await api
      .update(
        r,
        p.metadata.namespace,
        p.metadata.name ?? '',
        {
          ...p,
          status: {
            ...(status ?? {}),
            phase: 'Running',
            podIP: `198.19.16.${n + 10}`,
            conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: iso() }],
          },
        },
        { subresource: 'status' },
      )
      .catch(() => {})
  }
  return n
}

t.test('deployment → pods scheduled → running → rollout complete; RS recreates deleted pods', async (t) => {
  const api = createApi({ store: new MemoryStore(), log: silentLogger(), clock: systemClock(), rng: seededRng(1) })
  await api.bootstrap()
  const ctl = startControllers({ api, log: silentLogger(), clock: systemClock(), rng: seededRng(2) })
  t.teardown(() => ctl.stop())
  await addNode(api, 'control', [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }])
  await addNode(api, 'node1')
  await addNode(api, 'node2')
  const D = info(api, 'apps/v1', 'Deployment')
  await api.create(D, 'default', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  })
  await api.create(info(api, 'v1', 'Service'), 'default', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
  })
  const P = info(api, 'v1', 'Pod')
  const pods = await eventually(() => {
    const items = api.list(P, 'default').items
    return items.length === 2 && items.every((p) => (p.spec as { nodeName?: string }).nodeName) && items
  })
  t.same(
    pods.map((p) => (p.spec as { nodeName: string }).nodeName).sort(),
    ['node1', 'node2'],
    'spread over the workers',
  )
  t.match(pods[0]?.metadata.name, /^web-[a-z0-9]+-[a-z0-9]{5}$/)
  await runPods(api, 'default')
  const done = await eventually(() => {
    const d = api.get(D, 'default', 'web') as KubeObject & { status?: Record<string, unknown> }
    return d.status?.availableReplicas === 2 && d.status.updatedReplicas === 2 && d.status.replicas === 2 && d
  })
  t.match(done.status, {
    observedGeneration: 1,
    readyReplicas: 2,
    conditions: [
      { type: 'Available', status: 'True' },
      { type: 'Progressing', reason: 'NewReplicaSetAvailable' },
    ],
  })
  const ep = await eventually(() => {
    try {
      const e = api.get(info(api, 'v1', 'Endpoints'), 'default', 'web') as KubeObject & {
        subsets?: { addresses?: unknown[]; ports?: unknown[] }[]
      }
      return e.subsets?.[0]?.addresses?.length === 2 && e
    } catch {
      return undefined
    }
  })
  t.same(ep.subsets?.[0]?.ports, [{ port: 8080, protocol: 'TCP' }], 'named targetPort resolved')

  const victim = pods[0]?.metadata.name ?? ''
  await api.delete(P, 'default', victim)
  await eventually(() => {
    const items = api.list(P, 'default').items.filter((p) => !p.metadata.deletionTimestamp)
    return items.length === 2 && !items.some((p) => p.metadata.name === victim)
  })
  t.pass('the ReplicaSet replaced the deleted pod')

  await api.delete(D, 'default', 'web')
  await eventually(
    () =>
      api.list(P, 'default').items.length === 0 &&
      api.list(info(api, 'apps/v1', 'ReplicaSet'), 'default').items.length === 0,
  )
  t.pass('garbage collection removed the ReplicaSet and its pods')
})

t.test('a controller whose writes change nothing reaches a fixed point (no busy loop)', async (t) => {
  const api = createApi({ store: new MemoryStore(), log: silentLogger(), clock: systemClock(), rng: seededRng(1) })
  await api.bootstrap()
  const CM = info(api, 'v1', 'ConfigMap')
  await api.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: 'v' } })
  let runs = 0
  // Like the operator's drift check on an object the API server has defaulted: it always "updates"
  // to content the store already holds.
  const ctl = startControllers({
    api,
    log: silentLogger(),
    clock: systemClock(),
    rng: seededRng(2),
    resyncMs: 60_000,
    controllers: [
      {
        name: 'same-content',
        watches: [['v1', 'ConfigMap']],
        reconcile: (ctx) => {
          runs++
          const cur = ctx.get<KubeObject>('v1', 'ConfigMap', 'default', 'c')
          return cur ? [{ op: 'update', obj: { ...cur, data: { k: 'v' } } }] : []
        },
      },
    ],
  })
  t.teardown(() => ctl.stop())
  await new Promise((r) => setTimeout(r, 600))
  t.ok(runs >= 1, 'the controller ran')
  t.ok(runs <= 3, `ran ${runs} times in 600 ms (a loop would run every 10 ms)`)
  const before = runs
  const rv = api.get(CM, 'default', 'c').metadata.resourceVersion
  await api.update(CM, 'default', 'c', { ...api.get(CM, 'default', 'c'), data: { k: 'w' } })
  await eventually(() => runs > before)
  await new Promise((r) => setTimeout(r, 300))
  t.ok(runs - before <= 3, 'a real change runs it again, then it settles')
  t.not(api.get(CM, 'default', 'c').metadata.resourceVersion, rv, 'the update was stored')
  t.same(api.get(CM, 'default', 'c').data, { k: 'v' }, 'the controller set its content back once')
})
