import { createServer, request } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { seededRng, silentLogger } from '@calilab/kit'
import t from 'tap'
import { minimalOpenApiV2 } from '../src/io/http/openapi.ts'
import { type RunningApiServer, startApiServer } from '../src/server.ts'

let s: RunningApiServer
t.before(async () => {
  s = await startApiServer({ port: 0, log: silentLogger(), rng: seededRng(3), controllers: false })
})
t.teardown(async () => {
  await s.close()
})

interface Res {
  status: number
  headers: Headers
  text: string
  json: () => Record<string, unknown>
}

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Res> {
  const init: RequestInit = { method, headers }
  if (body !== undefined) init.body = body
  const r = await fetch(`${s.url}${path}`, init)
  const text = await r.text()
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> }
}

const JSON_CT = { 'Content-Type': 'application/json' }

t.test('version, health, metrics, openapi', async (t) => {
  const v = await call('GET', '/version')
  t.equal(v.status, 200)
  t.match(v.json()['gitVersion'], /^v1\.32\.0-calilab/)
  for (const p of ['/healthz', '/livez', '/readyz']) t.equal((await call('GET', p)).status, 200)
  const o = await fetch(`${s.url}/openapi/v2`, {
    headers: { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' },
  })
  t.equal(o.status, 200)
  t.equal(o.headers.get('content-type'), 'application/octet-stream')
  const bytes = Buffer.from(await o.arrayBuffer())
  t.same(bytes, minimalOpenApiV2('Kubernetes', 'v1.32.0-calilab'))
  t.equal(bytes.subarray(0, 5).toString('hex'), '0a03322e30', 'field 1 = "2.0"')
  t.equal((await call('GET', '/openapi/v3')).status, 404)
  const m = await call('GET', '/metrics')
  t.equal(m.status, 200)
  t.match(m.text, /calilab_apiserver_requests_total\{verb="other",resource="version",code="200"\} 1/)
  t.match(m.text, /calilab_apiserver_store_revision \d+/)
})

t.test('discovery', async (t) => {
  const api = (await call('GET', '/api')).json()
  t.same(api['versions'], ['v1'])
  const apis = (await call('GET', '/apis')).json() as { groups: { name: string }[] }
  const names = apis.groups.map((g) => g.name)
  for (const g of ['apps', 'networking.k8s.io', 'apiextensions.k8s.io', 'rbac.authorization.k8s.io'])
    t.ok(names.includes(g), g)
  const v1 = (await call('GET', '/api/v1')).json() as { resources: { name: string; shortNames?: string[] }[] }
  const pods = v1.resources.find((r) => r.name === 'pods')
  t.same(pods?.shortNames, ['po'])
  t.ok(v1.resources.find((r) => r.name === 'pods/log'))
  t.ok(v1.resources.find((r) => r.name === 'pods/exec'))
  t.equal((await call('GET', '/apis/apps/v1')).status, 200)
  const unknown = await call('GET', '/apis/nope.example.com/v1')
  t.equal(unknown.status, 404)
  t.equal(unknown.json()['kind'], 'Status')
  t.equal((await call('GET', '/api/v1/nopes')).status, 404)
})

t.test('CRUD over HTTP, statuses, warnings, tables', async (t) => {
  const created = await call(
    'POST',
    '/api/v1/namespaces/default/configmaps',
    JSON.stringify({ metadata: { name: 'cm' }, data: { a: '1' } }),
    JSON_CT,
  )
  t.equal(created.status, 201, created.text)
  t.equal(created.json()['kind'], 'ConfigMap')
  const dup = await call(
    'POST',
    '/api/v1/namespaces/default/configmaps',
    JSON.stringify({ metadata: { name: 'cm' } }),
    JSON_CT,
  )
  t.equal(dup.status, 409)
  t.equal(dup.json()['reason'], 'AlreadyExists')
  const yaml = await call(
    'POST',
    '/api/v1/namespaces/default/configmaps',
    'metadata:\n  name: cm2\ndata:\n  b: "2"\n',
    {
      'Content-Type': 'application/yaml',
    },
  )
  t.equal(yaml.status, 201, yaml.text)
  const warn = await call(
    'POST',
    '/api/v1/namespaces/default/pods',
    JSON.stringify({ metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }], foo: 1 } }),
    JSON_CT,
  )
  t.equal(warn.status, 201, warn.text)
  t.equal(warn.headers.get('warning'), '299 - "unknown field \\"spec.foo\\""')
  const strict = await call(
    'POST',
    '/api/v1/namespaces/default/pods?fieldValidation=Strict',
    JSON.stringify({ metadata: { name: 'q' }, spec: { containers: [{ name: 'c', image: 'i' }], foo: 1 } }),
    JSON_CT,
  )
  t.equal(strict.status, 400)
  t.match(strict.json()['message'], /strict decoding error: unknown field "spec.foo"/)
  const tbl = await call('GET', '/api/v1/namespaces/default/pods?limit=500', undefined, {
    Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
  })
  const table = tbl.json() as { kind: string; columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }
  t.equal(table.kind, 'Table')
  t.same(
    table.columnDefinitions.slice(0, 3).map((c) => c.name),
    ['Name', 'Ready', 'Status'],
  )
  t.equal(table.rows[0]?.cells[0], 'p')
  const list = (await call('GET', '/api/v1/namespaces/default/configmaps')).json()
  t.equal(list['kind'], 'ConfigMapList')
  const patched = await call('PATCH', '/api/v1/namespaces/default/configmaps/cm', '{"data":{"a":"2"}}', {
    'Content-Type': 'application/merge-patch+json',
  })
  t.same((patched.json() as { data: unknown }).data, { a: '2' })
  const apply = await call('PATCH', '/api/v1/namespaces/default/configmaps/cm', '{}', {
    'Content-Type': 'application/apply-patch+yaml',
  })
  t.equal(apply.status, 415)
  const del = await call(
    'DELETE',
    '/api/v1/namespaces/default/configmaps/cm',
    '{"propagationPolicy":"Background"}',
    JSON_CT,
  )
  t.equal(del.status, 200)
  t.equal((await call('GET', '/api/v1/namespaces/default/configmaps/cm')).status, 404)
  const scale = await call('GET', '/apis/apps/v1/namespaces/default/deployments/nope/scale')
  t.equal(scale.status, 404)
})

t.test('bad bodies change nothing', async (t) => {
  const before = JSON.stringify({ rev: s.api.store.revision, all: s.api.store.list('/').items })
  const truncated = await call('POST', '/api/v1/namespaces/default/configmaps', '{"metadata":{"name":"x"', JSON_CT)
  t.equal(truncated.status, 400)
  t.match(truncated.json()['message'], /json parse error: .*JSON/)
  const proto = await call('POST', '/api/v1/namespaces/default/configmaps', 'x', {
    'Content-Type': 'application/vnd.kubernetes.protobuf',
  })
  // Protobuf bodies are decoded now; one without the k8s magic is malformed (400), as in kube-apiserver.
  t.equal(proto.status, 400)
  t.match(proto.json()['message'], /Kubernetes protobuf magic/)
  const unknownKind = await call(
    'POST',
    '/apis/example.com/v1/namespaces/default/widgets',
    '{"metadata":{"name":"w"}}',
    JSON_CT,
  )
  t.equal(unknownKind.status, 404)
  const badSel = await call('GET', '/api/v1/pods?labelSelector=a%20in%20(')
  t.equal(badSel.status, 400)
  const invalid = await call(
    'POST',
    '/api/v1/namespaces/default/services',
    JSON.stringify({ metadata: { name: 's' }, spec: { ports: [{ port: 99999 }] } }),
    JSON_CT,
  )
  t.equal(invalid.status, 422)
  t.equal(
    (invalid.json() as { details: { causes: { field: string }[] } }).details.causes[0]?.field,
    'spec.ports[0].port',
  )
  const kube = s.api.get(s.api.resources.resolve('services')!, 'default', 'kubernetes')
  const stale = await call(
    'PUT',
    '/api/v1/namespaces/default/services/kubernetes',
    JSON.stringify({ ...kube, metadata: { ...kube.metadata, resourceVersion: '1' } }),
    JSON_CT,
  )
  t.equal(stale.status, 409)
  const big = await new Promise<number>((resolve, reject) => {
    const req = request(`${s.url}/api/v1/namespaces/default/configmaps`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(17 * 1024 * 1024) },
    })
    req.on('response', (r) => {
      r.resume()
      resolve(r.statusCode ?? 0)
      req.destroy()
    })
    req.on('error', reject)
    req.write('{')
  })
  t.equal(big, 413)
  const badYaml = await call('POST', '/api/v1/namespaces/default/configmaps', 'metadata:\n  name: [y\n', {
    'Content-Type': 'application/yaml',
  })
  t.equal(badYaml.status, 400)
  t.match(badYaml.json()['message'], /^yaml parse error: .* at line \d+, column \d+/)
  // A body cut short: the client declares 200 bytes, sends a complete-looking object, then hangs up.
  const cut = await new Promise<string>((resolve, reject) => {
    const u = new URL(s.url)
    const body = '{"metadata":{"name":"cut"},"data":{"a":"1"}}'
    const sock = connect(Number(u.port), u.hostname, () => {
      sock.write(
        `POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n${body}`,
      )
      setTimeout(() => sock.end(), 50)
    })
    let got = ''
    sock.on('data', (d: Buffer) => (got += d.toString('utf8')))
    sock.on('close', () => resolve(got))
    sock.on('error', reject)
  })
  t.notMatch(cut, /^HTTP\/1\.1 201/, `a truncated body is never created: ${cut.split('\r\n')[0]}`)
  t.equal((await call('GET', '/api/v1/namespaces/default/configmaps/cut')).status, 404)
  t.equal(JSON.stringify({ rev: s.api.store.revision, all: s.api.store.list('/').items }), before)
})

t.test('watch streams JSON lines, flushed at once, with Table events', async (t) => {
  const lines: string[] = []
  const ac = new AbortController()
  const res = await fetch(
    `${s.url}/api/v1/namespaces/default/secrets?watch=true&resourceVersion=${s.api.store.revision}`,
    {
      signal: ac.signal,
    },
  )
  t.equal(res.status, 200, 'headers arrive before any event')
  const reader = res.body!.getReader()
  await call('POST', '/api/v1/namespaces/default/secrets', JSON.stringify({ metadata: { name: 'sec' } }), JSON_CT)
  let buf = ''
  while (!lines.length) {
    const { value } = await reader.read()
    buf += Buffer.from(value ?? new Uint8Array()).toString('utf8')
    lines.push(...buf.split('\n').slice(0, -1))
  }
  ac.abort()
  const ev = JSON.parse(lines[0] as string) as { type: string; object: { metadata: { name: string } } }
  t.equal(ev.type, 'ADDED')
  t.equal(ev.object.metadata.name, 'sec')

  const ac2 = new AbortController()
  const tres = await fetch(`${s.url}/api/v1/namespaces/default/secrets?watch=true`, {
    signal: ac2.signal,
    headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
  })
  const r2 = tres.body!.getReader()
  const { value } = await r2.read()
  ac2.abort()
  const tev = JSON.parse(
    Buffer.from(value ?? new Uint8Array())
      .toString('utf8')
      .split('\n')[0] as string,
  ) as {
    object: { kind: string; rows: unknown[] }
  }
  t.equal(tev.object.kind, 'Table')
  t.equal(tev.object.rows.length, 1)
  const gone = await call('GET', '/api/v1/namespaces/default/secrets?watch=true&resourceVersion=abc')
  t.equal(gone.status, 400)
})

t.test('pods/log proxies to the kubelet endpoint; exec without a running pod is a clear 400', async (t) => {
  const kubelet = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    res.end(`log for ${req.url}\n`)
  })
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r))
  t.teardown(() => kubelet.close())
  const port = (kubelet.address() as AddressInfo).port
  const nodes = s.api.resources.resolve('nodes')!
  const pods = s.api.resources.resolve('pods')!
  await s.api.create(nodes, undefined, {
    metadata: { name: 'n1', annotations: { 'calilab.dev/kubelet-endpoint': `127.0.0.1:${port}` } },
  })
  await s.api.create(nodes, undefined, { metadata: { name: 'n2' } })
  await s.api.create(pods, 'default', {
    metadata: { name: 'lp' },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] },
  })
  await s.api.create(pods, 'default', {
    metadata: { name: 'lq' },
    spec: { nodeName: 'n2', containers: [{ name: 'c', image: 'i' }] },
  })
  const log = await call('GET', '/api/v1/namespaces/default/pods/lp/log?tailLines=10')
  t.equal(log.status, 200)
  t.equal(log.text, 'log for /containerLogs/default/lp/c?tailLines=10\n')
  const none = await call('GET', '/api/v1/namespaces/default/pods/lq/log')
  t.equal(none.status, 400)
  t.equal(none.json()['kind'], 'Status')
  const exec = await call('POST', '/api/v1/namespaces/default/pods/lp/exec?command=sh')
  t.equal(exec.status, 400)
  // A plain POST (no WebSocket upgrade) to a pod that is not running says why it cannot exec.
  t.match(exec.json()['message'], /pod is not running yet/)
})
