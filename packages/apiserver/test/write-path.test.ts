/**
 * What the cheap REST write path must keep: copies with JSON's semantics, request targets split as
 * the URL parser splits them, stored objects never modified by later writes, and a write's
 * response the same bytes as its watch event's object.
 */
import http from 'node:http'
import { FakeClock, seededRng, silentLogger } from '@calilab/kit'
import type { KubeObject, ResourceInfo } from '@calilab/model'
import t from 'tap'
import { jsonClone } from '../src/core/index.ts'
import { parseRoute, splitTarget } from '../src/io/http/route.ts'
import { createApi } from '../src/io/service/api.ts'
import { MemoryStore } from '../src/io/store/memory-store.ts'
import { startApiServer } from '../src/server.ts'

const SEED = 7
t.comment(`rng seed ${SEED}`)

t.test('jsonClone gives what a JSON round trip gives, sharing nothing', (t) => {
  const cases: unknown[] = [
    { a: 1, b: undefined, c: [1, undefined, () => 1, Number.NaN, Number.POSITIVE_INFINITY], d: { e: null, f: 'x' } },
    { when: new Date(0), n: -0, nested: [[{ x: [true, false] }]] },
    JSON.parse('{"__proto__": {"polluted": 1}, "y": [{"z": true}]}'),
    [undefined, 'a'],
    'text',
    5,
    null,
    Object.create(null),
  ]
  for (const c of cases) {
    t.equal(JSON.stringify(jsonClone(c)), JSON.stringify(JSON.parse(JSON.stringify(c))), JSON.stringify(c))
  }
  t.equal(jsonClone(undefined), undefined)
  const src = JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, unknown>
  const copy = jsonClone(src)
  t.equal(Object.getPrototypeOf(copy), Object.prototype, '__proto__ stays an own key')
  t.same(Object.keys(copy), ['__proto__'])
  t.equal(({} as Record<string, unknown>)['polluted'], undefined)
  const o = { a: { b: [{ c: 1 }] } }
  const k = jsonClone(o)
  k.a.b[0] = { c: 2 }
  t.equal(o.a.b[0]?.c, 1, 'the copy shares nothing')
  t.end()
})

t.test('splitTarget splits as new URL does; parseRoute reads the path', (t) => {
  const targets = [
    '/api',
    '/api/v1/namespaces/default/pods/p1/log?follow=true&tailLines=3',
    '/api/v1/namespaces/default/status',
    '/apis/apps/v1/deployments?watch=1&labelSelector=a%3Db,c+d',
    '/apis/projectcalico.org/v3/globalnetworksets/bench-1',
    '//elsewhere/api/v1',
    '/api/v1/../v1/pods',
    '/api/./v1',
    '/api/v1/%2e%2e/x',
    '/api/v1/namespaces/def%61ult/pods',
    '/api/v1/pods?x=1#frag',
    '/api/v1/pods?',
    '/api/v1/pods?q=a b',
    '/api\\v1',
    '/api/v1/%ZZ',
    '/api/v1/é',
    '/api//v1///pods/',
    '/healthz',
    '/openapi/v2',
  ]
  const route = (p: string) => {
    try {
      return JSON.stringify(parseRoute(p))
    } catch {
      return 'throws'
    }
  }
  for (const target of targets) {
    const u = new URL(target, 'http://apiserver')
    const s = splitTarget(target)
    t.equal(s.pathname, u.pathname, `${target}: path`)
    t.equal(s.searchParams.toString(), u.searchParams.toString(), `${target}: query`)
    t.equal(route(s.pathname), route(u.pathname), `${target}: route`)
  }
  t.same(parseRoute('/apis/projectcalico.org/v3/globalnetworksets/bench-1'), {
    type: 'resource',
    group: 'projectcalico.org',
    version: 'v3',
    plural: 'globalnetworksets',
    name: 'bench-1',
  })
  t.end()
})

t.test('patches leave the stored objects they start from as they were', async (t) => {
  const store = new MemoryStore()
  const api = createApi({ store, log: silentLogger(), clock: new FakeClock(), rng: seededRng(SEED) })
  await api.bootstrap()
  const gns = api.resources.resolve('globalnetworksets') as ResourceInfo
  await api.create(gns, undefined, { metadata: { name: 's1', labels: { a: 'b' } }, spec: { nets: ['10.0.0.0/24'] } })
  for (const type of ['merge', 'json', 'strategic'] as const) {
    const before = api.get(gns, undefined, 's1')
    const text = JSON.stringify(before)
    const body =
      type === 'json'
        ? [{ op: 'add', path: '/metadata/labels/x', value: type }]
        : { metadata: { labels: { x: type } }, spec: { nets: ['10.0.1.0/24'] } }
    const out = await api.patch(gns, undefined, 's1', type, body)
    t.equal(JSON.stringify(before), text, `${type}: the earlier stored object is unchanged`)
    t.equal((out.object.metadata.labels ?? {})['x'], type)
    t.not(out.object.metadata.labels, before.metadata.labels, `${type}: no shared labels`)
    t.not(out.object.spec, before.spec, `${type}: no shared spec`)
  }
  const cur = api.get(gns, undefined, 's1')
  t.equal(cur.metadata.generation, 2, 'one spec change: generation 2')
  const same = await api.patch(gns, undefined, 's1', 'merge', { metadata: { labels: { x: 'strategic' } } })
  t.equal(same.object.metadata.resourceVersion, cur.metadata.resourceVersion, 'a no-op patch writes nothing')
})

t.test('a write answers the bytes its watch event carries', async (t) => {
  const s = await startApiServer({ host: '127.0.0.1', port: 0, log: silentLogger(), controllers: false })
  t.teardown(() => s.close())
  const call = (method: string, path: string, body?: unknown, type = 'application/json') =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: s.port, path, method, headers: { 'Content-Type': type } })
      req.on('response', (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      })
      req.on('error', reject)
      req.end(body === undefined ? undefined : JSON.stringify(body))
    })
  const base = '/apis/projectcalico.org/v3/globalnetworksets'
  const created = await call('POST', base, { metadata: { name: 'w1' }, spec: { nets: ['10.1.0.0/24'] } })
  t.equal(created.status, 201)
  const rv = (JSON.parse(created.text) as KubeObject).metadata.resourceVersion
  const lines: string[] = []
  const watching = new Promise<void>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: s.port, path: `${base}?watch=true&resourceVersion=${rv}` })
    req.on('response', (res) => {
      res.setEncoding('utf8')
      let buf = ''
      res.on('data', (d: string) => {
        buf += d
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          lines.push(buf.slice(0, i))
          buf = buf.slice(i + 1)
          if (lines.length === 2) {
            req.destroy()
            resolve()
          }
        }
      })
    })
    req.on('error', (e) => (lines.length >= 2 ? resolve() : reject(e)))
  })
  await new Promise((r) => setTimeout(r, 50))
  const a = await call('PATCH', `${base}/w1`, { metadata: { annotations: { t: '1' } } }, 'application/merge-patch+json')
  const b = await call('PATCH', `${base}/w1`, { metadata: { annotations: { t: '2' } } }, 'application/merge-patch+json')
  await watching
  t.equal(lines[0], JSON.stringify({ type: 'MODIFIED', object: JSON.parse(a.text) }))
  t.equal(lines[0], `{"type":"MODIFIED","object":${a.text}}`, 'the response is the event object, byte for byte')
  t.equal(lines[1], `{"type":"MODIFIED","object":${b.text}}`)
})
