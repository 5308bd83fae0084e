import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from '@calilab/kit'

export interface MetricsHttp {
  readonly port: number
  close(): Promise<void>
}

/** `/metrics` (Prometheus text), `/status` (JSON from `status()`), `/healthz`. */
export async function startMetricsHttp(init: {
  registry: Registry
  host?: string
  port?: number
  status?: () => unknown
}): Promise<MetricsHttp> {
  const srv = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/metrics') {
      init.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': init.registry.contentType })
          res.end(text)
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' })
          res.end(err.message)
        },
      )
      return
    }
    if (path === '/status' && init.status) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(init.status()))
      return
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('ok')
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found')
  })
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject)
    srv.listen(init.port ?? 0, init.host ?? '127.0.0.1', () => resolve())
  })
  const port = (srv.address() as AddressInfo).port
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections()
        srv.close(() => resolve())
      }),
  }
}
