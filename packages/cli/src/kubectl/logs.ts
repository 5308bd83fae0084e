import http from 'node:http'
import type { KubeObject } from '@calilab/model'
import { CliError } from '../io.ts'
import type { KubeClient } from '../kube.ts'

interface PodLike extends KubeObject {
  spec?: { containers?: { name: string }[] }
}

function logPath(ns: string, pod: string, q: Record<string, string | undefined>): string {
  const qs = Object.entries(q)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join('&')
  return `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log${qs ? `?${qs}` : ''}`
}

function follow(server: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, server), (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => {
          try {
            const s = JSON.parse(body) as { reason?: string; message?: string }
            reject(new CliError(`Error from server (${s.reason ?? 'Unknown'}): ${s.message ?? body}`))
          } catch {
            reject(new CliError(`error: ${body || res.statusCode}`))
          }
        })
        return
      }
      res.on('data', (c: Buffer) => process.stdout.write(c))
      res.on('end', () => resolve())
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** `kubectl logs POD|-l SEL [-c C] [-f] [--tail N]`. */
export async function logs(
  client: KubeClient,
  args: readonly string[],
  o: { namespace: string; selector?: string; container?: string; follow?: boolean; tail?: number },
): Promise<number> {
  let pods: PodLike[]
  if (o.selector) {
    pods = (
      await client.list<PodLike>(`/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods`, {
        labelSelector: o.selector,
      })
    ).items
    if (pods.length === 0) {
      process.stderr.write(`No resources found in ${o.namespace} namespace.\n`)
      return 0
    }
  } else {
    let name = args[0]
    if (!name)
      throw new CliError('error: expected POD or -l SELECTOR; e.g. calilab kubectl logs -n yaobank -l app=customer')
    if (name.startsWith('pod/') || name.startsWith('pods/')) name = name.slice(name.indexOf('/') + 1)
    pods = [
      await client.get<PodLike>(
        `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods/${encodeURIComponent(name)}`,
      ),
    ]
  }
  const tail = o.tail !== undefined && o.tail >= 0 ? o.tail : o.selector ? 10 : undefined
  const jobs: Promise<void>[] = []
  for (const p of pods) {
    const containers = p.spec?.containers ?? []
    let container = o.container
    if (!container && containers.length > 1) {
      throw new CliError(
        `error: a container name must be specified for pod ${p.metadata.name}, choose one of: [${containers.map((c) => c.name).join(' ')}]`,
      )
    }
    container ??= containers[0]?.name
    const path = logPath(o.namespace, p.metadata.name ?? '', {
      container,
      tailLines: tail === undefined ? undefined : String(tail),
      follow: o.follow ? 'true' : undefined,
    })
    if (o.follow) jobs.push(follow(client.server, path))
    else {
      const res = await client.raw('GET', path, { headers: { Accept: '*/*' } })
      if (res.status >= 300) {
        let msg = res.body.toString()
        try {
          const s = JSON.parse(msg) as { reason?: string; message?: string }
          msg = `Error from server (${s.reason ?? 'Unknown'}): ${s.message}`
        } catch {
          msg = `error: ${msg}`
        }
        throw new CliError(msg)
      }
      process.stdout.write(res.body)
    }
  }
  await Promise.all(jobs)
  return 0
}
