import http from 'node:http'
import https from 'node:https'
import type { KubeObject } from '@calilab/model'

/**
 * A small client for the Kubernetes REST API the calilab API server serves (JSON only): what the
 * node agents, the supervisor and the `calilab kubectl`/`calicoctl` commands use. Paths are REST
 * paths (`/api/v1/namespaces/default/pods`). Failures throw KubeClientError carrying the
 * server's Status.
 */

export interface KubeStatus {
  kind?: string
  status?: string
  message: string
  reason: string
  code: number
  details?: {
    name?: string
    group?: string
    kind?: string
    causes?: { reason?: string; message?: string; field?: string }[]
  }
}

export class KubeClientError extends Error {
  readonly status: KubeStatus
  readonly code: number
  constructor(status: KubeStatus) {
    super(status.message)
    this.name = 'KubeClientError'
    this.status = status
    this.code = status.code
  }
}

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

export interface RequestOpts {
  headers?: Record<string, string>
  body?: string | Buffer
  query?: Record<string, string | number | boolean | undefined>
  timeoutMs?: number
}

export interface ListQuery {
  labelSelector?: string
  fieldSelector?: string
  limit?: number
  continue?: string
  resourceVersion?: string
  /** Override the Accept header (e.g. to ask for a Table). */
  accept?: string
}

export interface WatchQuery {
  labelSelector?: string
  fieldSelector?: string
  resourceVersion?: string
  allowWatchBookmarks?: boolean
  timeoutSeconds?: number
  accept?: string
}

export interface KubeWatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'
  object: T
}

export interface KubeWatch {
  close(): void
  /** Resolves when the stream ends (server closed, error, or close()). */
  readonly done: Promise<{ error?: Error }>
}

export interface KubeList<T = KubeObject> {
  kind?: string
  apiVersion?: string
  metadata: { resourceVersion?: string; continue?: string }
  items: T[]
}

export type PatchKind = 'merge' | 'strategic' | 'json'

const PATCH_TYPES: Record<PatchKind, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
}

export interface KubeClientInit {
  /** http://127.0.0.1:6443 */
  server: string
  timeoutMs?: number
  /** Sent as User-Agent. */
  userAgent?: string
}

export interface KubeClient {
  readonly server: string
  raw(method: string, path: string, opts?: RequestOpts): Promise<RawResponse>
  get<T = KubeObject>(path: string, opts?: { accept?: string }): Promise<T>
  list<T = KubeObject>(path: string, q?: ListQuery): Promise<KubeList<T>>
  create<T = KubeObject>(path: string, obj: unknown, q?: { fieldValidation?: string; dryRun?: boolean }): Promise<T>
  update<T = KubeObject>(path: string, obj: unknown): Promise<T>
  patch<T = KubeObject>(path: string, body: unknown, type?: PatchKind): Promise<T>
  delete<T = KubeObject>(path: string, body?: unknown): Promise<T>
  watch<T = KubeObject>(path: string, q: WatchQuery, onEvent: (e: KubeWatchEvent<T>) => void): KubeWatch
  close(): void
}

function queryString(q: Record<string, string | number | boolean | undefined> | undefined): string {
  if (!q) return ''
  const parts: string[] = []
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === '') continue
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
  }
  return parts.length ? `?${parts.join('&')}` : ''
}

function withQuery(path: string, q: Record<string, string | number | boolean | undefined> | undefined): string {
  const qs = queryString(q)
  if (!qs) return path
  return path.includes('?') ? `${path}&${qs.slice(1)}` : `${path}${qs}`
}

function toError(res: RawResponse, method: string, path: string): KubeClientError {
  const text = res.body.toString('utf8')
  try {
    const s = JSON.parse(text) as KubeStatus
    if (s && typeof s.message === 'string') return new KubeClientError({ ...s, code: s.code ?? res.status })
  } catch {
    // not a Status: fall through
  }
  return new KubeClientError({
    message: `${method} ${path}: HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    reason: res.status === 404 ? 'NotFound' : 'Unknown',
    code: res.status,
  })
}

export function createKubeClient(init: KubeClientInit): KubeClient {
  const base = new URL(init.server)
  const isHttps = base.protocol === 'https:'
  const agent = isHttps ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true, maxSockets: 64 })
  const defaultTimeout = init.timeoutMs ?? 30_000
  const ua = init.userAgent ?? 'calilab'

  function raw(method: string, path: string, opts: RequestOpts = {}): Promise<RawResponse> {
    const full = withQuery(path, opts.query)
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'User-Agent': ua, Accept: 'application/json', ...opts.headers }
      if (opts.body !== undefined) headers['Content-Length'] = Buffer.byteLength(opts.body)
      const req = (isHttps ? https : http).request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method,
          path: full,
          headers,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          )
          res.on('error', reject)
        },
      )
      req.setTimeout(opts.timeoutMs ?? defaultTimeout, () => {
        req.destroy(
          new Error(`${method} ${init.server}${full}: timed out after ${opts.timeoutMs ?? defaultTimeout} ms`),
        )
      })
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') {
          reject(new Error(`cannot reach the API server at ${init.server} (connection refused): is calilab running?`))
        } else reject(err)
      })
      if (opts.body !== undefined) req.write(opts.body)
      req.end()
    })
  }

  async function json<T>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    const res = await raw(method, path, opts)
    if (res.status < 200 || res.status >= 300) throw toError(res, method, path)
    const text = res.body.toString('utf8')
    return (text ? JSON.parse(text) : {}) as T
  }

  function body(obj: unknown, contentType = 'application/json'): RequestOpts {
    return { body: JSON.stringify(obj), headers: { 'Content-Type': contentType } }
  }

  return {
    server: init.server,
    raw,
    get: (path, opts) => json('GET', path, opts?.accept ? { headers: { Accept: opts.accept } } : {}),
    list: (path, q = {}) => {
      const { accept, ...query } = q
      return json('GET', path, { query, ...(accept ? { headers: { Accept: accept } } : {}) })
    },
    create: (path, obj, q) => json('POST', path, { ...body(obj), query: { ...q } }),
    update: (path, obj) => json('PUT', path, body(obj)),
    patch: (path, patchBody, type = 'merge') => json('PATCH', path, body(patchBody, PATCH_TYPES[type])),
    delete: (path, delBody) => json('DELETE', path, delBody === undefined ? {} : body(delBody)),
    watch<T>(path: string, q: WatchQuery, onEvent: (e: KubeWatchEvent<T>) => void): KubeWatch {
      const { accept, ...rest } = q
      const full = withQuery(path, { ...rest, watch: true })
      let req: http.ClientRequest | undefined
      let closed = false
      let settle: (r: { error?: Error }) => void = () => {}
      const done = new Promise<{ error?: Error }>((r) => (settle = r))
      req = (isHttps ? https : http).request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method: 'GET',
          path: full,
          headers: { 'User-Agent': ua, Accept: accept ?? 'application/json' },
          agent: false,
        },
        (res) => {
          if ((res.statusCode ?? 0) >= 300) {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () =>
              settle({
                error: toError(
                  { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) },
                  'GET',
                  path,
                ),
              }),
            )
            return
          }
          res.setEncoding('utf8')
          let buf = ''
          res.on('data', (d: string) => {
            buf += d
            let i = buf.indexOf('\n')
            while (i >= 0) {
              const line = buf.slice(0, i).trim()
              buf = buf.slice(i + 1)
              if (line) {
                try {
                  onEvent(JSON.parse(line) as KubeWatchEvent<T>)
                } catch (err) {
                  settle({ error: err as Error })
                  req?.destroy()
                  return
                }
              }
              i = buf.indexOf('\n')
            }
          })
          res.on('end', () => settle({}))
          res.on('error', (err) => settle(closed ? {} : { error: err }))
          res.on('close', () => settle({}))
        },
      )
      req.on('error', (err) => settle(closed ? {} : { error: err }))
      req.end()
      return {
        done,
        close() {
          closed = true
          req?.destroy()
          req = undefined
          settle({})
        },
      }
    },
    close: () => agent.destroy(),
  }
}

/** REST path of a collection or object. `group` '' = core. */
export function resourcePath(r: {
  group: string
  version: string
  plural: string
  namespace?: string | undefined
  name?: string | undefined
  subresource?: string | undefined
}): string {
  const root = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : ''
  const name = r.name ? `/${encodeURIComponent(r.name)}` : ''
  const sub = r.name && r.subresource ? `/${r.subresource}` : ''
  return `${root}${ns}/${r.plural}${name}${sub}`
}
