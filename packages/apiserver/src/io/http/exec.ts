/**
 * pods/{name}/exec: kubectl 1.30+ asks for a WebSocket upgrade (`v5.channel.k8s.io`, falling back
 * to v4). The API server checks the pod, picks its container and node, and then relays the raw
 * upgrade to the node's kubelet endpoint (node annotation `calilab.dev/kubelet-endpoint`,
 * `GET /exec/{ns}/{pod}/{container}?command=…`), piping bytes both ways: the kubelet answers the
 * handshake and runs the session. Requests that do not ask for a WebSocket (kubectl 1.20's SPDY)
 * get a Status saying so.
 */

import type { IncomingMessage, Server } from 'node:http'
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import type { Api } from '../../api.ts'
import { ApiError, apiErrors } from '../../core/status.ts'
import { isRecord } from '../service/objects.ts'
import { KUBELET_ENDPOINT_ANNOTATION } from './logs.ts'
import { parseRoute } from './route.ts'

export interface ExecTarget {
  node: string
  endpoint: string
  /** Path and query on the kubelet endpoint. */
  path: string
}

function containerNames(pod: KubeObject): string[] {
  const spec = isRecord(pod.spec) ? pod.spec : {}
  const cs = Array.isArray(spec['containers']) ? (spec['containers'] as unknown[]) : []
  return cs.filter(isRecord).map((c) => String(c['name'] ?? ''))
}

/** Validates an exec request and finds where it goes; throws ApiError as kube-apiserver answers. */
export function execTarget(api: Api, namespace: string, name: string, query: URLSearchParams): ExecTarget {
  const podInfo = api.resources.byPlural('', 'pods')
  const nodeInfo = api.resources.byPlural('', 'nodes')
  if (!podInfo || !nodeInfo) throw apiErrors.noRoute()
  const pod = api.get(podInfo, namespace, name)
  const phase = isRecord(pod.status) ? pod.status['phase'] : undefined
  if (phase === 'Succeeded' || phase === 'Failed')
    throw apiErrors.badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`)
  const names = containerNames(pod)
  let container = query.get('container') ?? ''
  if (!container) {
    if (names.length === 0) throw apiErrors.badRequest(`pod ${name} has no containers`)
    container = names[0] as string
  } else if (!names.includes(container)) {
    throw apiErrors.badRequest(`container ${container} is not valid for pod ${name}`)
  }
  if (query.getAll('command').length === 0)
    throw apiErrors.badRequest('you must specify at least one command for the container')
  const spec = isRecord(pod.spec) ? pod.spec : {}
  const node = typeof spec['nodeName'] === 'string' ? spec['nodeName'] : ''
  if (!node || phase !== 'Running')
    throw apiErrors.badRequest(`container ${container} is not valid for pod ${name}: pod is not running yet`)
  let endpoint: string | undefined
  try {
    endpoint = api.get(nodeInfo, undefined, node).metadata.annotations?.[KUBELET_ENDPOINT_ANNOTATION]
  } catch {
    endpoint = undefined
  }
  if (!endpoint) throw apiErrors.badRequest(`no kubelet endpoint known for node "${node}"`)
  const q = new URLSearchParams()
  for (const c of query.getAll('command')) q.append('command', c)
  for (const k of ['stdin', 'stdout', 'stderr', 'tty']) {
    const v = query.get(k)
    if (v !== null) q.set(k, v)
  }
  const path = `/exec/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}?${q}`
  return { node, endpoint, path }
}

function writeStatus(socket: Duplex, err: ApiError): void {
  const body = JSON.stringify(err.status)
  const code = err.status.code
  socket.end(
    `HTTP/1.1 ${code} ${err.status.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

/** The answer to an exec request that is not a WebSocket upgrade (plain POST, SPDY). */
export function execWithoutWebSocket(api: Api, namespace: string, name: string, query: URLSearchParams): never {
  execTarget(api, namespace, name, query)
  throw apiErrors.badRequest(
    'Upgrade request required: calilab serves exec over WebSockets (v5.channel.k8s.io, v4.channel.k8s.io); use kubectl 1.30 or newer',
  )
}

/** Relays an accepted upgrade to the kubelet. */
function relay(req: IncomingMessage, socket: Duplex, head: Buffer, target: ExecTarget, log: Logger): void {
  const [host, port] = target.endpoint.split(':')
  const up = connect({ host: host as string, port: Number(port) })
  const lines = [`GET ${target.path} HTTP/1.1`]
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i] as string
    const lk = k.toLowerCase()
    if (lk === 'host' || lk === 'authorization' || lk === 'content-length') continue
    lines.push(`${k}: ${req.rawHeaders[i + 1]}`)
  }
  lines.push(`Host: ${target.endpoint}`)
  up.on('connect', () => {
    up.write(`${lines.join('\r\n')}\r\n\r\n`)
    if (head.length) up.write(head)
    up.pipe(socket)
    socket.pipe(up)
  })
  up.on('error', (e) => {
    log.warn({ err: e, endpoint: target.endpoint }, 'exec: kubelet unreachable')
    writeStatus(
      socket,
      apiErrors.badRequest(`error dialing backend: dial tcp ${target.endpoint}: ${e.message}`) as ApiError,
    )
  })
  socket.on('error', () => up.destroy())
  socket.on('close', () => up.destroy())
  up.on('close', () => socket.destroy())
}

/** Serves pods/exec upgrades on the API server; other upgrade paths are left to their owners. */
export function attachExecProxy(init: { server: Server; api: Api; log: Logger }): { close(): void } {
  const log = init.log.child({ component: 'apiserver.exec' })
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://x')
    } catch {
      return
    }
    const r = parseRoute(url.pathname)
    if (r.type !== 'resource' || r.group !== '' || r.plural !== 'pods' || r.subresource !== 'exec') return
    try {
      const upgrade = String(req.headers.upgrade ?? '').toLowerCase()
      if (upgrade !== 'websocket')
        execWithoutWebSocket(init.api, r.namespace ?? 'default', r.name ?? '', url.searchParams)
      const target = execTarget(init.api, r.namespace ?? 'default', r.name ?? '', url.searchParams)
      log.debug({ pod: r.name, namespace: r.namespace, node: target.node }, 'exec relay')
      relay(req, socket, head, target, log)
    } catch (e) {
      writeStatus(socket, e instanceof ApiError ? e : (apiErrors.internal(String(e)) as ApiError))
    }
  }
  init.server.on('upgrade', onUpgrade)
  return { close: () => init.server.off('upgrade', onUpgrade) }
}
