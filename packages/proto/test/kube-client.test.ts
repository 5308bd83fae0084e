import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createKubeClient, KubeClientError, resourcePath } from '../src/io/kube-client.ts'

async function server(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const s = http.createServer(handler)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        s.closeAllConnections()
        s.close(() => r())
      }),
  }
}

t.test('resourcePath builds core, group, namespaced and subresource paths', (t) => {
  t.equal(resourcePath({ group: '', version: 'v1', plural: 'nodes' }), '/api/v1/nodes')
  t.equal(
    resourcePath({ group: 'apps', version: 'v1', plural: 'deployments', namespace: 'yaobank', name: 'customer' }),
    '/apis/apps/v1/namespaces/yaobank/deployments/customer',
  )
  t.equal(
    resourcePath({ group: '', version: 'v1', plural: 'pods', namespace: 'a', name: 'p', subresource: 'status' }),
    '/api/v1/namespaces/a/pods/p/status',
  )
  t.end()
})

t.test('requests carry the right method, query, content type and body; errors carry the Status', async (t) => {
  const seen: { method: string | undefined; url: string | undefined; ct: string | undefined; body: string }[] = []
  const s = await server((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, ct: req.headers['content-type'], body })
      if (req.url?.startsWith('/api/v1/namespaces/x/pods/missing')) {
        res.writeHead(404, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify({ kind: 'Status', message: 'pods "missing" not found', reason: 'NotFound', code: 404 }))
        return
      }
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ metadata: { resourceVersion: '7' }, items: [{ metadata: { name: 'a' } }] }))
    })
  })
  t.teardown(() => s.close())
  const c = createKubeClient({ server: s.url })
  t.teardown(() => c.close())
  const list = await c.list('/api/v1/pods', { labelSelector: 'app=customer', fieldSelector: 'spec.nodeName=node1' })
  t.equal(list.items.length, 1)
  t.equal(seen[0]?.url, '/api/v1/pods?labelSelector=app%3Dcustomer&fieldSelector=spec.nodeName%3Dnode1')
  await c.patch('/api/v1/namespaces/x/services/s', { spec: { externalIPs: ['198.19.48.10'] } }, 'strategic')
  t.equal(seen[1]?.method, 'PATCH')
  t.equal(seen[1]?.ct, 'application/strategic-merge-patch+json')
  t.same(JSON.parse(seen[1]?.body ?? ''), { spec: { externalIPs: ['198.19.48.10'] } })
  const err = await c.get('/api/v1/namespaces/x/pods/missing').catch((e: unknown) => e)
  t.ok(err instanceof KubeClientError)
  t.equal((err as KubeClientError).code, 404)
  t.equal((err as KubeClientError).status.reason, 'NotFound')
  t.match((err as KubeClientError).message, /pods "missing" not found/)
})

t.test('watch delivers one event per JSON line, across chunk boundaries', async (t) => {
  const s = await server((req, res) => {
    t.match(req.url, /watch=true/)
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.flushHeaders()
    const a = JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })
    const b = JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'a' } } })
    res.write(`${a}\n${b.slice(0, 10)}`)
    setTimeout(() => res.end(`${b.slice(10)}\n`), 20)
  })
  t.teardown(() => s.close())
  const c = createKubeClient({ server: s.url })
  t.teardown(() => c.close())
  const events: string[] = []
  const w = c.watch('/api/v1/pods', { resourceVersion: '5' }, (e) => events.push(`${e.type}:${e.object.metadata.name}`))
  const r = await w.done
  t.equal(r.error, undefined)
  t.same(events, ['ADDED:a', 'DELETED:a'])
})

t.test('a refused connection says what to do', async (t) => {
  const s = await server((_q, r) => r.end())
  const url = s.url
  await s.close()
  const c = createKubeClient({ server: url })
  await t.rejects(c.get('/api'), /cannot reach the API server .* is calilab running\?/)
  c.close()
})
