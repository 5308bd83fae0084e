import type { ServerResponse } from 'node:http'
import { request } from 'node:http'
import type { KubeObject } from '@calilab/model'
import type { Api } from '../../api.ts'
import { apiErrors } from '../../core/status.ts'
import { isRecord } from '../service/objects.ts'

export const KUBELET_ENDPOINT_ANNOTATION = 'calilab.dev/kubelet-endpoint'

function containerNames(pod: KubeObject): string[] {
  const spec = isRecord(pod.spec) ? pod.spec : {}
  const cs = Array.isArray(spec['containers']) ? (spec['containers'] as unknown[]) : []
  return cs.filter(isRecord).map((c) => String(c['name'] ?? ''))
}

/**
 * GET pods/{name}/log: finds the pod's node, then its kubelet endpoint (node annotation
 * `calilab.dev/kubelet-endpoint`), and streams `GET /containerLogs/{ns}/{pod}/{container}` through.
 */
export async function proxyPodLog(
  api: Api,
  namespace: string,
  name: string,
  query: URLSearchParams,
  res: ServerResponse,
): Promise<void> {
  const podInfo = api.resources.byPlural('', 'pods')
  const nodeInfo = api.resources.byPlural('', 'nodes')
  if (!podInfo || !nodeInfo) throw apiErrors.noRoute()
  const pod = api.get(podInfo, namespace, name)
  const names = containerNames(pod)
  let container = query.get('container') ?? ''
  if (!container) {
    if (names.length !== 1) {
      throw apiErrors.badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`,
      )
    }
    container = names[0] as string
  } else if (!names.includes(container)) {
    throw apiErrors.badRequest(`container ${container} is not valid for pod ${name}`)
  }
  const spec = isRecord(pod.spec) ? pod.spec : {}
  const nodeName = typeof spec['nodeName'] === 'string' ? spec['nodeName'] : ''
  if (!nodeName)
    throw apiErrors.badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`)
  let endpoint: string | undefined
  try {
    endpoint = api.get(nodeInfo, undefined, nodeName).metadata.annotations?.[KUBELET_ENDPOINT_ANNOTATION]
  } catch {
    endpoint = undefined
  }
  const path = `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}`
  if (!endpoint) {
    throw apiErrors.badRequest(
      `Get "https://${nodeName}:10250${path}": no kubelet endpoint known for node "${nodeName}"`,
    )
  }
  const q = new URLSearchParams()
  for (const k of ['tailLines', 'follow', 'timestamps', 'sinceSeconds', 'limitBytes', 'previous']) {
    const v = query.get(k)
    if (v !== null) q.set(k, v)
  }
  const [host, port] = endpoint.split(':')
  const qs = q.toString()
  await new Promise<void>((resolve, reject) => {
    const upstream = request(
      { host, port: Number(port), path: `${path}${qs ? `?${qs}` : ''}`, method: 'GET' },
      (up) => {
        if ((up.statusCode ?? 500) >= 400) {
          const chunks: Buffer[] = []
          up.on('data', (c: Buffer) => chunks.push(c))
          up.on('end', () =>
            reject(
              apiErrors.badRequest(
                Buffer.concat(chunks).toString('utf8').trim() || `kubelet answered ${up.statusCode}`,
              ),
            ),
          )
          return
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' })
        res.flushHeaders()
        up.pipe(res)
        up.on('end', () => resolve())
        up.on('error', () => resolve())
        res.on('close', () => {
          up.destroy()
          resolve()
        })
      },
    )
    upstream.on('error', (e) => reject(apiErrors.badRequest(`Get "http://${endpoint}${path}": ${e.message}`)))
    upstream.end()
  })
}
