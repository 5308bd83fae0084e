import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Netns } from '@calilab/dataplane'
import type { Clock, Logger, Timer } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import { createKubeClient, type KubeClient, type KubeWatch } from '@calilab/proto'
import type { PodNetwork } from '../dataplane/pod-network.ts'
import { attachExecServer } from '../exec/server.ts'
import { IpamShell } from '../ipam/shell.ts'
import { hostResolvConf, podResolvConf, type Tool } from '../tools/types.ts'
import { AppsRunner } from './apps-runner.ts'
import {
  creatingPodStatus,
  type KCondition,
  type NodeIdentity,
  nodeObject,
  nodeStatus,
  rfc3339,
  runningPodStatus,
  startupLogLines,
} from './core.ts'
import { ContainerLogs } from './logs.ts'

export interface NodeInit {
  apiServer: string
  nodeName: string
  nodeIP: string
  endpoint: string
  role: 'control' | 'worker'
  calico: 'installed' | 'operator'
  /** Ignored: pod IPs come from Calico IPAM (IP pools, blocks in the API). Kept for old callers. */
  podBlock?: string
  log: Logger
  clock: Clock
  /** Heartbeat period; default 10 s. */
  heartbeatMs?: number
  /**
   * Extra JSON documents served on the kubelet endpoint (`/felix/status` → provider). A provider
   * gets the query string and may return a promise; a thrown `{ status, code, message }` becomes
   * that HTTP status with a JSON error body.
   */
  statusRoutes?: Record<string, (query: URLSearchParams) => unknown>
  /** The kernel namespace exec'd commands run in: a pod's, or the node's root (`'host'`). */
  execNetns?: (target: { namespace: string; pod: string } | 'host') => Netns | undefined
  /** The CNI plugin's dataplane side: called when a pod gets its IP and when it goes away. */
  podNetwork?: PodNetwork
  /** Extra annotations on the Node object (`calilab.dev/underlay`). */
  annotations?: Record<string, string>
  /** Commands the node has beyond the common tools (`birdc`, `calicoctl`), for `ssh` and hostNetwork pods. */
  hostTools?: Readonly<Record<string, Tool>>
  /** Services for the emulated kube-dns (apps run only where the pod network is set up). */
  services?: () => readonly { name: string; namespace: string; clusterIP: string }[]
}

export interface RunningNode {
  close(): Promise<void>
  kubeletPort: number
  logs: ContainerLogs
  /** Whether Calico counts as running on this node (Ready follows it). */
  calicoRunning(): boolean
}

interface PodObj extends KubeObject {
  spec: { nodeName?: string; hostNetwork?: boolean; containers?: { name: string; image?: string }[] }
  status?: { phase?: string; podIP?: string; containerStatuses?: { state?: { waiting?: unknown } }[] }
}

function isCalicoNodePod(p: PodObj): boolean {
  return p.metadata.namespace === 'calico-system' && p.metadata.labels?.['k8s-app'] === 'calico-node'
}

/** Starts the kubelet + calico-node roles of one emulated node. */
export async function startNode(init: NodeInit): Promise<RunningNode> {
  const log = init.log.child({ component: 'kubelet', node: init.nodeName })
  const clock = init.clock
  const client: KubeClient = createKubeClient({ server: init.apiServer, userAgent: `calilab-kubelet/${init.nodeName}` })
  const id: NodeIdentity = { nodeName: init.nodeName, nodeIP: init.nodeIP, endpoint: init.endpoint, role: init.role }
  const logs = new ContainerLogs()
  const apps = new AppsRunner({
    podNetns: (namespace, pod) => init.execNetns?.({ namespace, pod }),
    logs,
    clock: init.clock,
    log: init.log.child({ component: 'runtime', node: init.nodeName }),
    services: init.services ?? (() => []),
  })
  const ipam = new IpamShell({ client, node: init.nodeName, log, clock })
  const pods = new Map<string, PodObj>() // uid → latest
  const started = new Set<string>() // uids we have started
  let calicoUp = init.calico === 'installed'
  let closed = false
  const timers: Timer[] = []
  let watch: KubeWatch | undefined

  // Kubelet HTTP endpoint.
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const statusRoute = init.statusRoutes?.[url.pathname]
    if (req.method === 'GET' && statusRoute) {
      Promise.resolve()
        .then(() => statusRoute(url.searchParams))
        .then(
          (v) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(v)}\n`),
          (e: { status?: number; code?: string; message?: string }) =>
            res
              .writeHead(e.status ?? 500, { 'Content-Type': 'application/json' })
              .end(`${JSON.stringify({ code: e.code, message: e.message })}\n`),
        )
      return
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok')
      return
    }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname)
    if (req.method === 'GET' && m) {
      const [ns, pod, container] = [m[1], m[2], m[3]].map((s) => decodeURIComponent(s ?? '')) as [
        string,
        string,
        string,
      ]
      if (!logs.has(ns, pod, container)) {
        res
          .writeHead(404, { 'Content-Type': 'text/plain' })
          .end(`container "${container}" in pod "${pod}" is not available\n`)
        return
      }
      const tl = url.searchParams.get('tailLines')
      const lines = logs.tail(ns, pod, container, tl === null ? undefined : Number(tl))
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.write(lines.map((l) => `${l}\n`).join(''))
      if (url.searchParams.get('follow') === 'true') {
        const stop = logs.follow(ns, pod, container, (l) => res.write(`${l}\n`))
        res.on('close', stop)
        return
      }
      res.end()
      return
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, init.endpoint, () => resolve())
  })
  const kubeletPort = (server.address() as AddressInfo).port
  const exec = attachExecServer(server, {
    log,
    host: () => ({
      ok: true,
      env: {
        hostname: init.nodeName,
        netns: init.execNetns?.('host'),
        files: { '/etc/resolv.conf': hostResolvConf(), '/etc/hostname': `${init.nodeName}\n` },
        clock,
        ...(init.hostTools ? { tools: init.hostTools } : {}),
      },
    }),
    pod: (namespace, name, container) => {
      const p = [...pods.values()].find((x) => x.metadata.namespace === namespace && x.metadata.name === name)
      if (!p || !started.has(p.metadata.uid ?? ''))
        return { ok: false, status: 404, message: `pod ${namespace}/${name} is not running on ${init.nodeName}` }
      if (!(p.spec.containers ?? []).some((c) => c.name === container))
        return { ok: false, status: 404, message: `container ${container} is not valid for pod ${name}` }
      const hostNet = p.spec.hostNetwork === true
      return {
        ok: true,
        env: {
          hostname: hostNet ? init.nodeName : name,
          netns: init.execNetns?.(hostNet ? 'host' : { namespace, pod: name }),
          files: {
            '/etc/resolv.conf': hostNet ? hostResolvConf() : podResolvConf(namespace),
            '/etc/hostname': `${hostNet ? init.nodeName : name}\n`,
          },
          clock,
          ...(hostNet && init.hostTools ? { tools: init.hostTools } : {}),
        },
      }
    },
  })

  const nodePath = `/api/v1/nodes/${encodeURIComponent(init.nodeName)}`
  const podPath = (p: KubeObject, sub = '') =>
    `/api/v1/namespaces/${encodeURIComponent(p.metadata.namespace ?? 'default')}/pods/${encodeURIComponent(p.metadata.name ?? '')}${sub}`

  async function register(): Promise<void> {
    const want = nodeObject(id, kubeletPort) as KubeObject
    if (init.annotations) want.metadata.annotations = { ...want.metadata.annotations, ...init.annotations }
    try {
      await client.get(nodePath)
      await client.patch(
        nodePath,
        { metadata: { labels: want.metadata.labels, annotations: want.metadata.annotations } },
        'merge',
      )
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err
      await client.create('/api/v1/nodes', want)
      log.info({ nodeIP: init.nodeIP }, 'node registered')
    }
    await postStatus()
  }

  async function postStatus(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const cur = await client.get<KubeObject>(nodePath)
      const prev = (cur.status as { conditions?: KCondition[] } | undefined)?.conditions
      cur.status = nodeStatus(id, kubeletPort, calicoUp, rfc3339(clock.now()), prev)
      try {
        await client.update(`${nodePath}/status`, cur)
        return
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err
      }
    }
  }

  async function ensureCalicoNode(): Promise<void> {
    const path = `/apis/projectcalico.org/v3/nodes/${encodeURIComponent(init.nodeName)}`
    const spec = {
      bgp: { ipv4Address: `${init.nodeIP}/20` },
      orchRefs: [{ nodeName: init.nodeName, orchestrator: 'k8s' }],
    }
    try {
      const cur = await client.get<KubeObject>(path)
      const bgp = (cur.spec as { bgp?: { ipv4Address?: string } } | undefined)?.bgp
      if (bgp?.ipv4Address !== spec.bgp.ipv4Address) {
        await client.patch(path, { spec: { bgp: { ipv4Address: spec.bgp.ipv4Address } } }, 'merge')
      }
    } catch (err) {
      const code = (err as { code?: number }).code
      if (code !== 404) {
        log.warn({ err }, 'calico node: read failed')
        return
      }
      const { nodeLabels } = await import('./core.ts')
      try {
        await client.create('/apis/projectcalico.org/v3/nodes', {
          apiVersion: 'projectcalico.org/v3',
          kind: 'Node',
          metadata: { name: init.nodeName, labels: nodeLabels(id) },
          spec,
        })
        log.info({ ipv4Address: spec.bgp.ipv4Address }, 'calico node created')
      } catch (e) {
        log.warn({ err: e }, 'calico node: create failed')
      }
    }
  }

  async function setCalicoUp(): Promise<void> {
    if (calicoUp) return
    calicoUp = true
    log.info('calico running on this node; network ready')
    await postStatus().catch((err) => log.warn({ err }, 'node status update failed'))
    await ensureCalicoNode()
    for (const p of pods.values()) await syncPod(p)
  }

  async function writePodStatus(p: PodObj, status: Record<string, unknown>): Promise<boolean> {
    let cur: KubeObject = p
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await client.update(podPath(cur, '/status'), { ...cur, status })
        return true
      } catch (err) {
        const code = (err as { code?: number }).code
        if (code === 404) return false
        if (code !== 409) throw err
        cur = await client.get<KubeObject>(podPath(cur))
      }
    }
    return false
  }

  async function podNet(op: 'setup' | 'teardown', p: PodObj, ip?: string): Promise<void> {
    try {
      if (op === 'setup' && ip) {
        await init.podNetwork?.setup(p, ip)
        apps.start(p)
      } else if (op === 'teardown') {
        apps.stop(p)
        await init.podNetwork?.teardown(p)
      }
    } catch (err) {
      log.warn({ err, pod: p.metadata.name, namespace: p.metadata.namespace }, `pod network ${op} failed`)
    }
  }

  async function release(p: PodObj): Promise<void> {
    const uid = p.metadata.uid ?? ''
    pods.delete(uid)
    started.delete(uid)
    if (p.spec.hostNetwork !== true) await podNet('teardown', p)
    if (p.spec.hostNetwork !== true)
      await ipam.releaseForPod(p).catch((err) => log.warn({ err, pod: p.metadata.name }, 'ip release failed'))
    logs.dropPod(p.metadata.namespace ?? '', p.metadata.name ?? '')
  }

  async function syncPod(p: PodObj): Promise<void> {
    const uid = p.metadata.uid ?? ''
    if (p.metadata.deletionTimestamp) {
      await release(p)
      await client.delete(podPath(p), { gracePeriodSeconds: 0 }).catch(() => {})
      return
    }
    pods.set(uid, p)
    const hostNet = p.spec.hostNetwork === true
    const nowIso = rfc3339(clock.now())
    const running = p.status?.phase === 'Running' && typeof p.status.podIP === 'string'
    if (running) {
      // Already started (possibly by a previous run of this agent): its IP stays in IPAM.
      if (!started.has(uid)) {
        started.add(uid)
        if (!hostNet) await podNet('setup', p, p.status?.podIP)
        for (const c of p.spec.containers ?? []) {
          if (!logs.has(p.metadata.namespace ?? '', p.metadata.name ?? '', c.name)) {
            for (const l of startupLogLines(c.image, c.name, nowIso))
              logs.append(p.metadata.namespace ?? '', p.metadata.name ?? '', c.name, l)
          }
        }
      }
      if (isCalicoNodePod(p) && init.calico === 'operator') await setCalicoUp()
      return
    }
    if (started.has(uid)) return
    if (!hostNet && !calicoUp) {
      const waiting = p.status?.containerStatuses?.[0]?.state?.waiting
      if (!waiting) await writePodStatus(p, creatingPodStatus(p, init.nodeIP, nowIso))
      return
    }
    let podIP = init.nodeIP
    if (!hostNet) {
      const r = await ipam.allocateForPod(p)
      if (!r.ok) {
        log.warn({ pod: p.metadata.name, namespace: p.metadata.namespace, err: r.error }, 'no pod IP; retrying')
        timers.push(
          clock.setTimeout(() => {
            const latest = pods.get(uid)
            if (latest && !closed) enqueue(() => syncPod(latest))
          }, 2000),
        )
        return
      }
      podIP = r.ip
      await podNet('setup', p, podIP)
    }
    started.add(uid)
    for (const c of p.spec.containers ?? []) {
      for (const l of startupLogLines(c.image, c.name, nowIso))
        logs.append(p.metadata.namespace ?? '', p.metadata.name ?? '', c.name, l)
    }
    const ok = await writePodStatus(p, runningPodStatus(p, podIP, init.nodeIP, nowIso))
    if (!ok) {
      await release(p)
      return
    }
    log.info({ pod: p.metadata.name, namespace: p.metadata.namespace, podIP }, 'pod started')
    if (isCalicoNodePod(p) && init.calico === 'operator') await setCalicoUp()
  }

  // Serialise pod handling so IP assignment and status writes happen in order.
  let chain: Promise<void> = Promise.resolve()
  const enqueue = (f: () => Promise<void>) => {
    chain = chain.then(f).catch((err) => log.warn({ err }, 'pod sync failed'))
  }

  const selector = `spec.nodeName=${init.nodeName}`
  async function listAndWatch(): Promise<void> {
    if (closed) return
    try {
      const list = await client.list<PodObj>('/api/v1/pods', { fieldSelector: selector })
      const seen = new Set(list.items.map((p) => p.metadata.uid ?? ''))
      for (const p of [...pods.values()]) if (!seen.has(p.metadata.uid ?? '')) enqueue(() => release(p))
      for (const p of list.items) enqueue(() => syncPod(p))
      let rv = list.metadata.resourceVersion
      const w = client.watch<PodObj>(
        '/api/v1/pods',
        { fieldSelector: selector, ...(rv ? { resourceVersion: rv } : {}), allowWatchBookmarks: true },
        (ev) => {
          if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED') enqueue(() => syncPod(ev.object))
          else if (ev.type === 'DELETED') enqueue(() => release(ev.object))
        },
      )
      watch = w
      const r = await w.done
      if (closed) return
      log.warn({ err: r.error }, 'pod watch ended; relisting')
    } catch (err) {
      if (closed) return
      log.warn({ err }, 'pod list failed; retrying')
    }
    timers.push(clock.setTimeout(() => void listAndWatch(), 1000))
  }

  // Registration retries until the API server answers.
  async function boot(): Promise<void> {
    for (;;) {
      if (closed) return
      try {
        await register()
        if (calicoUp) await ensureCalicoNode()
        return
      } catch (err) {
        log.warn({ err }, 'node registration failed; retrying')
        await new Promise<void>((r) => timers.push(clock.setTimeout(r, 1000)))
      }
    }
  }
  await boot()
  void listAndWatch()
  timers.push(
    clock.setInterval(() => {
      if (closed) return
      postStatus().catch((err) => log.warn({ err }, 'heartbeat failed'))
    }, init.heartbeatMs ?? 10_000),
  )
  log.info({ kubeletPort, endpoint: init.endpoint }, 'kubelet serving')

  return {
    kubeletPort,
    logs,
    calicoRunning: () => calicoUp,
    async close() {
      closed = true
      for (const t of timers) t.cancel()
      watch?.close()
      exec.close()
      apps.stopAll()
      await chain.catch(() => {})
      server.closeAllConnections?.()
      await new Promise<void>((r) => server.close(() => r()))
      client.close()
    },
  }
}
