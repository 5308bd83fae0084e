import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock, Logger } from '@calilab/kit'
import { apiVersionOf, type KubeObject, type ResourceInfo } from '@calilab/model'
import type {
  ApiWatchEvent,
  DeleteOptions,
  FieldValidation,
  ListOptions,
  WriteOptions,
  WriteResult,
} from '../../api.ts'
import { createProtobufDecoder } from '../../core/protobuf/index.ts'
import { ApiError, apiErrors } from '../../core/status.ts'
import type { ApiServerMetrics } from '../../metrics.ts'
import type { ServiceApi } from '../service/api.ts'
import { isRecord } from '../service/objects.ts'
import { parseJson, parseObjectBody, parseOptionsBody, patchTypeOf, readBody } from './body.ts'
import { apiGroup, apiGroupList, apiResourceList, apiVersions } from './discovery.ts'
import { execWithoutWebSocket } from './exec.ts'
import { proxyPodLog } from './logs.ts'
import { minimalOpenApiV2 } from './openapi.ts'
import { parseRoute, type Route, splitTarget } from './route.ts'
import { getScale, updateScale } from './scale.ts'
import { asTable, type TableOptions, wantsTable } from './table.ts'
import { createServiceAccountToken, createTokenSigner } from './token.ts'

export const GIT_VERSION = 'v1.32.0-calilab'

export interface HandlerInit {
  api: ServiceApi
  log: Logger
  clock: Clock
  metrics?: ApiServerMetrics
  /** host:port the server is reachable at (for /api's serverAddressByClientCIDRs). */
  address: () => string
}

/** Subresources with a handler here; others a kind lists (binding, eviction, proxy, token...) are 404. */
/** Longest a watch event waits to be batched with others. */
const WATCH_FLUSH_MS = 5

const SERVED_SUBRESOURCES = new Set([
  'status',
  'scale',
  'log',
  'exec',
  'attach',
  'portforward',
  'binding',
  'finalize',
  'token',
])

type ResourceRoute = Extract<Route, { type: 'resource' }>

function json(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
  jsonText(res, code, JSON.stringify(body), warnings)
}

/** A JSON response from its text. */
function jsonText(res: ServerResponse, code: number, data: string, warnings: string[] = []): void {
  const headers: Record<string, string | string[] | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(data),
  }
  if (warnings.length) headers['Warning'] = warnings.map((w) => `299 - "${w.replace(/["\\]/g, (c) => `\\${c}`)}"`)
  res.writeHead(code, headers)
  res.end(data)
}

function fieldValidation(q: URLSearchParams): FieldValidation | undefined {
  const v = q.get('fieldValidation')
  if (v === null || v === '') return undefined
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v
  throw apiErrors.badRequest(`fieldValidation parameter unsupported: ${v}`)
}

function writeOptions(q: URLSearchParams, subresource: string | undefined): WriteOptions {
  const o: WriteOptions = {}
  if (q.get('dryRun') === 'All') o.dryRun = true
  const fv = fieldValidation(q)
  if (fv) o.fieldValidation = fv
  const fm = q.get('fieldManager')
  if (fm) o.fieldManager = fm
  if (subresource === 'status' || subresource === 'finalize') o.subresource = subresource
  return o
}

function listOptions(q: URLSearchParams): ListOptions {
  const o: ListOptions = {}
  const ls = q.get('labelSelector')
  if (ls) o.labelSelector = ls
  const fs = q.get('fieldSelector')
  if (fs) o.fieldSelector = fs
  const limit = q.get('limit')
  if (limit) {
    const n = Number(limit)
    if (!Number.isInteger(n) || n < 0) throw apiErrors.badRequest(`invalid limit: "${limit}"`)
    o.limit = n
  }
  const c = q.get('continue')
  if (c) o.continue = c
  const rv = q.get('resourceVersion')
  if (rv) o.resourceVersion = rv
  return o
}

function verbOf(method: string, r: ResourceRoute, q: URLSearchParams): string {
  switch (method) {
    case 'GET':
      if (r.subresource === 'log') return 'proxy'
      if (r.name !== undefined) return 'get'
      return q.get('watch') === 'true' || q.get('watch') === '1' ? 'watch' : 'list'
    case 'POST':
      return 'create'
    case 'PUT':
      return 'update'
    case 'PATCH':
      return 'patch'
    case 'DELETE':
      return r.name !== undefined ? 'delete' : 'deletecollection'
    default:
      return 'other'
  }
}

export function createHandler(init: HandlerInit): (req: IncomingMessage, res: ServerResponse) => void {
  const { api, clock, metrics } = init
  const log = init.log.child({ component: 'apiserver.http' })
  const openapi = minimalOpenApiV2('Kubernetes', GIT_VERSION)
  // kubectl's typed clients (create namespace|deployment|job..., scale) write protobuf.
  const protobuf = createProtobufDecoder()
  const objectBody = (buf: Buffer, req: IncomingMessage) => parseObjectBody(buf, req.headers['content-type'], protobuf)
  // Service-account tokens (`kubectl create token`): RS256 with a key made on first use.
  const tokens = createTokenSigner()

  const sendError = (res: ServerResponse, e: unknown): number => {
    let err: ApiError
    if (e instanceof ApiError) err = e
    else {
      log.error({ err: e }, 'request failed')
      err = apiErrors.internal(e instanceof Error ? e.message : String(e))
    }
    if (res.headersSent) {
      res.destroy()
      return err.status.code
    }
    json(res, err.status.code, err.status)
    return err.status.code
  }

  const tableOpts = (q: URLSearchParams, info: ResourceInfo, rv: string): TableOptions => {
    const io = q.get('includeObject')
    const o: TableOptions = { now: clock.now(), resourceVersion: rv }
    if (io === 'None' || io === 'Object' || io === 'Metadata') o.includeObject = io
    const cols = api.resources.crdColumns(info)
    if (cols) o.crdColumns = cols
    return o
  }

  const listBody = (info: ResourceInfo, items: KubeObject[], rv: string, cont?: string) => {
    const metadata: Record<string, string> = { resourceVersion: rv }
    if (cont) metadata['continue'] = cont
    return { kind: info.listKind, apiVersion: apiVersionOf(info), metadata, items }
  }

  // Each stored object is serialized once per event type, however many watchers receive it: the
  // same Buffer goes to every watch stream (objects from the store are shared and immutable).
  // The object's own JSON is kept too: a write's response reuses what its watch event encoded.
  const encoded = new WeakMap<object, Partial<Record<ApiWatchEvent['type'], Buffer>>>()
  const objectJson = new WeakMap<object, string>()
  const encodedEvent = (e: ApiWatchEvent): Buffer => {
    let m = encoded.get(e.object)
    if (!m) encoded.set(e.object, (m = {}))
    let b = m[e.type]
    if (!b) {
      let text = objectJson.get(e.object)
      if (text === undefined) objectJson.set(e.object, (text = JSON.stringify(e.object)))
      // What JSON.stringify({ type, object }) gives, with the object's text reused.
      b = m[e.type] = Buffer.from(`{"type":${JSON.stringify(e.type)},"object":${text}}\n`)
    }
    return b
  }

  const sendObject = (
    req: IncomingMessage,
    res: ServerResponse,
    q: URLSearchParams,
    info: ResourceInfo,
    code: number,
    result: WriteResult,
  ) => {
    const o = result.object
    if (wantsTable(req.headers.accept)) {
      return json(res, code, asTable(info, [o], tableOpts(q, info, o.metadata.resourceVersion ?? '')), result.warnings)
    }
    jsonText(res, code, objectJson.get(o) ?? JSON.stringify(o), result.warnings)
  }

  /** Request metrics and the debug line, once the response is decided. */
  const finish = (req: IncomingMessage, verb: string, resource: string, started: number, code: number) => {
    metrics?.requests.inc({ verb, resource, code: String(code) })
    if (verb !== 'watch') metrics?.latency.observe({ verb, resource }, (performance.now() - started) / 1000)
    log.debug({ method: req.method, url: req.url, code }, 'request')
  }

  const watch = (
    req: IncomingMessage,
    res: ServerResponse,
    info: ResourceInfo,
    ns: string | undefined,
    q: URLSearchParams,
  ) => {
    const table = wantsTable(req.headers.accept)
    const opts: Parameters<ServiceApi['watch']>[2] = {}
    const ls = q.get('labelSelector')
    if (ls) opts.labelSelector = ls
    const fs = q.get('fieldSelector')
    if (fs) opts.fieldSelector = fs
    const rv = q.get('resourceVersion')
    if (rv !== null) opts.resourceVersion = rv
    if (q.get('allowWatchBookmarks') === 'true') opts.allowWatchBookmarks = true
    const pending: ApiWatchEvent[] = []
    let started = false
    // Lines are batched for up to WATCH_FLUSH_MS and written as one chunk: under load one syscall
    // carries many events to a watcher instead of one syscall per event.
    let queue: (string | Buffer)[] = []
    const flush = () => {
      const lines = queue
      queue = []
      if (res.writableEnded || res.destroyed) return
      res.write(
        lines.length === 1
          ? (lines[0] as string | Buffer)
          : Buffer.concat(lines.map((l) => (typeof l === 'string' ? Buffer.from(l) : l))),
      )
    }
    const send = (e: ApiWatchEvent) => {
      if (!started) {
        pending.push(e)
        return
      }
      let line: string | Buffer
      if (table && e.type !== 'BOOKMARK') {
        const object = asTable(info, [e.object], tableOpts(q, info, e.object.metadata.resourceVersion ?? ''))
        line = `${JSON.stringify({ type: e.type, object })}\n`
      } else line = encodedEvent(e)
      if (queue.push(line) === 1) setTimeout(flush, WATCH_FLUSH_MS)
    }
    const w = api.watch(info, ns, opts, send)
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache',
    })
    res.flushHeaders()
    started = true
    for (const e of pending.splice(0)) send(e)
    metrics?.watches.inc({ resource: info.plural })
    const timeout = Number(q.get('timeoutSeconds') ?? '0')
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined
    timer?.unref()
    res.on('close', () => {
      w.cancel()
      if (timer) clearTimeout(timer)
      metrics?.watches.dec({ resource: info.plural })
    })
  }

  const resource = async (req: IncomingMessage, res: ServerResponse, r: ResourceRoute, q: URLSearchParams) => {
    const method = req.method ?? 'GET'
    const info = api.resources.byGroupVersionPlural(r.group, r.version, r.plural)
    if (!info) throw apiErrors.noRoute()
    if (info.namespaced && r.namespace === undefined && r.name !== undefined) throw apiErrors.noRoute()
    if (!info.namespaced && r.namespace !== undefined) throw apiErrors.noRoute()
    const ns = info.namespaced ? r.namespace : undefined
    const sub = r.subresource
    if (sub !== undefined && !info.subresources.includes(sub)) throw apiErrors.noRoute()
    if (sub !== undefined && !SERVED_SUBRESOURCES.has(sub)) throw apiErrors.noRoute()

    if (sub === 'log') {
      if (method !== 'GET') throw apiErrors.methodNotAllowed(`${method} is not supported on pods/log`)
      return proxyPodLog(api, ns as string, r.name as string, q, res)
    }
    if (sub === 'finalize' && method !== 'PUT')
      throw apiErrors.methodNotAllowed(`${method} is not supported on namespaces/finalize`)
    if (sub === 'exec') return execWithoutWebSocket(api, ns as string, r.name as string, q)
    if (sub === 'attach' || sub === 'portforward') {
      api.get(info, ns, r.name as string)
      throw apiErrors.badRequest(`${sub} is not available yet`)
    }
    if (sub === 'token') {
      if (method !== 'POST') throw apiErrors.methodNotAllowed(`${method} is not supported on serviceaccounts/token`)
      const body = objectBody(await readBody(req), req)
      const sa = { info, namespace: ns as string, name: r.name as string }
      return json(res, 201, await createServiceAccountToken(api, tokens, clock, sa, body))
    }
    if (sub === 'binding') {
      if (method !== 'POST') throw apiErrors.methodNotAllowed(`${method} is not supported on pods/binding`)
      const body = objectBody(await readBody(req), req)
      await api.update(info, ns, r.name as string, body, { ...writeOptions(q, undefined), subresource: 'binding' })
      return json(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 })
    }
    if (sub === 'scale') {
      if (method === 'GET') return json(res, 200, getScale(api.get(info, ns, r.name as string)))
      if (method !== 'PUT' && method !== 'PATCH')
        throw apiErrors.methodNotAllowed(`${method} is not supported on scale`)
      const buf = await readBody(req)
      const body = method === 'PUT' ? objectBody(buf, req) : parseJson(buf.toString('utf8'))
      const out = await updateScale(
        api,
        info,
        ns,
        r.name as string,
        method === 'PUT' ? 'put' : patchTypeOf(req.headers['content-type']),
        body,
        writeOptions(q, undefined),
      )
      return json(res, 200, out)
    }

    switch (method) {
      case 'GET': {
        if (r.name !== undefined) {
          const o = api.get(info, ns, r.name)
          return sendObject(req, res, q, info, 200, { object: o, warnings: [] })
        }
        if (q.get('watch') === 'true' || q.get('watch') === '1') return watch(req, res, info, ns, q)
        const l = api.list(info, ns, listOptions(q))
        if (wantsTable(req.headers.accept)) {
          const t = asTable(info, l.items, tableOpts(q, info, l.resourceVersion)) as Record<string, unknown>
          if (l.continue) t['metadata'] = { ...(t['metadata'] as object), continue: l.continue }
          return json(res, 200, t)
        }
        return json(res, 200, listBody(info, l.items, l.resourceVersion, l.continue))
      }
      case 'POST': {
        if (r.name !== undefined) throw apiErrors.methodNotAllowed(`POST is not supported on a named ${info.plural}`)
        const body = objectBody(await readBody(req), req)
        return sendObject(req, res, q, info, 201, await api.create(info, ns, body, writeOptions(q, undefined)))
      }
      case 'PUT': {
        if (r.name === undefined)
          throw apiErrors.methodNotAllowed(`PUT is not supported on a ${info.plural} collection`)
        const body = objectBody(await readBody(req), req)
        return sendObject(req, res, q, info, 200, await api.update(info, ns, r.name, body, writeOptions(q, sub)))
      }
      case 'PATCH': {
        if (r.name === undefined)
          throw apiErrors.methodNotAllowed(`PATCH is not supported on a ${info.plural} collection`)
        const type = patchTypeOf(req.headers['content-type'])
        const buf = await readBody(req)
        if (!buf.length) throw apiErrors.badRequest('the request body is empty')
        const body = parseJson(buf.toString('utf8'))
        return sendObject(req, res, q, info, 200, await api.patch(info, ns, r.name, type, body, writeOptions(q, sub)))
      }
      case 'DELETE': {
        const buf = await readBody(req)
        const opts: DeleteOptions = {}
        if (buf.length) {
          const b = parseOptionsBody(buf, req.headers['content-type'], protobuf)
          if (isRecord(b)) {
            if (isRecord(b['preconditions'])) {
              const p = b['preconditions']
              opts.preconditions = {}
              if (typeof p['uid'] === 'string') opts.preconditions.uid = p['uid']
              if (typeof p['resourceVersion'] === 'string') opts.preconditions.resourceVersion = p['resourceVersion']
            }
            const pp = b['propagationPolicy']
            if (pp === 'Background' || pp === 'Foreground' || pp === 'Orphan') opts.propagationPolicy = pp
            if (Array.isArray(b['dryRun']) && b['dryRun'].includes('All')) opts.dryRun = true
          }
        }
        if (q.get('dryRun') === 'All') opts.dryRun = true
        const pp = q.get('propagationPolicy')
        if (pp === 'Background' || pp === 'Foreground' || pp === 'Orphan') opts.propagationPolicy = pp
        if (r.name !== undefined) return json(res, 200, await api.delete(info, ns, r.name, opts))
        const gone = await api.deleteCollection(info, ns, { ...listOptions(q), ...opts })
        return json(res, 200, listBody(info, gone, String(api.store.revision)))
      }
      default:
        throw apiErrors.methodNotAllowed(`${method} is not supported`)
    }
  }

  const route = async (req: IncomingMessage, res: ServerResponse, rt: Route, q: URLSearchParams): Promise<void> => {
    const method = req.method ?? 'GET'
    if (rt.type !== 'resource' && method !== 'GET' && method !== 'HEAD') {
      throw apiErrors.methodNotAllowed(`${method} is not supported`)
    }
    switch (rt.type) {
      case 'version':
        return json(res, 200, {
          major: '1',
          minor: '32',
          gitVersion: GIT_VERSION,
          gitCommit: '0000000000000000000000000000000000000000',
          gitTreeState: 'clean',
          buildDate: '2026-01-01T00:00:00Z',
          goVersion: 'go1.23.0',
          compiler: 'gc',
          platform: `${process.platform === 'darwin' ? 'darwin' : 'linux'}/amd64`,
        })
      case 'health':
        res.writeHead(200, { 'Content-Type': 'text/plain' })
        res.end('ok')
        return
      case 'metrics': {
        if (!metrics) throw apiErrors.noRoute()
        const text = await metrics.registry.metrics()
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType })
        res.end(text)
        return
      }
      case 'openapi':
        if (rt.version === 'v3') throw apiErrors.noRoute()
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': openapi.length })
        res.end(openapi)
        return
      case 'apiVersions':
        return json(res, 200, apiVersions(init.address()))
      case 'groupList':
        return json(res, 200, apiGroupList(api.resources))
      case 'group': {
        const g = apiGroup(api.resources, rt.group)
        if (!g) throw apiErrors.noRoute()
        return json(res, 200, g)
      }
      case 'resourceList': {
        const l = apiResourceList(api.resources, rt.group, rt.version)
        if (!l) throw apiErrors.noRoute()
        return json(res, 200, l)
      }
      case 'resource':
        return resource(req, res, rt, q)
      default:
        throw apiErrors.noRoute()
    }
  }

  return (req, res) => {
    const started = performance.now()
    const url = splitTarget(req.url ?? '/')
    let rt: Route
    try {
      rt = parseRoute(url.pathname)
    } catch {
      rt = { type: 'none' }
    }
    const verb = rt.type === 'resource' ? verbOf(req.method ?? 'GET', rt, url.searchParams) : 'other'
    const resourceLabel =
      rt.type === 'resource' ? (rt.subresource ? `${rt.plural}/${rt.subresource}` : rt.plural) : rt.type
    route(req, res, rt, url.searchParams).then(
      () => finish(req, verb, resourceLabel, started, res.statusCode),
      (e: unknown) => finish(req, verb, resourceLabel, started, sendError(res, e)),
    )
  }
}
