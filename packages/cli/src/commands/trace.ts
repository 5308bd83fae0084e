/**
 * `calilab trace [-n NS] FROM TO:PORT[/PROTO]`: walks one packet through the emulated kernel of
 * FROM's node (the node agent's `/felix/trace` on its kubelet endpoint) and prints each hook,
 * chain and matching rule, the verdict and why. When the packet leaves for another node, the
 * source node keeps it (`hold=1`) and the walk goes on in the next node's kernel with the very
 * bytes that would have crossed the underlay (decap, its policy, delivery), hop by hop, so a
 * denial at the destination's ingress shows up as it does for a real connection. FROM and TO: a
 * pod name, `deploy/NAME`, a node name, or an IP.
 */
import { CliError, out } from '../io.ts'
import type { KubeClient } from '../kube.ts'
import { type ConnectOpts, connect, isNotFound, serverErrorLine } from '../kubectl/client.ts'
import { KUBELET_ENDPOINT_ANNOTATION } from './ssh.ts'

export type Proto = 'tcp' | 'udp' | 'icmp'

export interface Destination {
  ref: string
  port: number
  proto: Proto
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** `TO:PORT[/PROTO]` or `TO/icmp`. */
export function parseDestination(s: string): Destination {
  const icmp = /^(.+)\/icmp$/i.exec(s)
  if (icmp) return { ref: icmp[1]!, port: 0, proto: 'icmp' }
  const m = /^(.+):(\d+)(?:\/(tcp|udp))?$/i.exec(s)
  if (!m) throw new CliError(`error: destination "${s}": want TO:PORT[/PROTO] (PROTO tcp or udp) or TO/icmp`)
  const port = Number(m[2])
  if (port < 1 || port > 65535) throw new CliError(`error: destination "${s}": port must be 1-65535`)
  return { ref: m[1]!, port, proto: (m[3]?.toLowerCase() ?? 'tcp') as Proto }
}

/** Where a FROM/TO reference points. */
export interface Endpoint {
  /** What to print. */
  label: string
  ip: string
  /** The node it lives on (undefined for an IP outside the cluster). */
  node?: string
  /** `ns/pod` for a pod. */
  pod?: string
}

interface PodLite {
  metadata: { name?: string; namespace?: string; labels?: Record<string, string> }
  spec?: { nodeName?: string }
  status?: { phase?: string; podIP?: string }
}
interface NodeLite {
  metadata: { name?: string; annotations?: Record<string, string> }
  status?: { addresses?: { type: string; address: string }[] }
}

const nodeIp = (n: NodeLite) =>
  n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? n.status?.addresses?.[0]?.address

function podEndpoint(p: PodLite): Endpoint {
  const ns = p.metadata.namespace ?? 'default'
  const ip = p.status?.podIP
  if (!ip) throw new CliError(`error: pod ${ns}/${p.metadata.name} has no IP yet`)
  const e: Endpoint = { label: `${ns}/${p.metadata.name}`, ip, pod: `${ns}/${p.metadata.name}` }
  if (p.spec?.nodeName) e.node = p.spec.nodeName
  return e
}

/** Resolves a pod name, `deploy/NAME`, a node name or an IP through the API server. */
export async function resolveEndpoint(client: KubeClient, ns: string, ref: string): Promise<Endpoint> {
  const enc = encodeURIComponent
  if (IPV4.test(ref)) {
    const pods = await client.list<PodLite>('/api/v1/pods')
    const p = pods.items.find((x) => x.status?.podIP === ref && x.status.phase !== 'Succeeded')
    if (p) return { ...podEndpoint(p), label: ref }
    const nodes = await client.list<NodeLite>('/api/v1/nodes')
    const n = nodes.items.find((x) => x.status?.addresses?.some((a) => a.address === ref))
    return n?.metadata.name ? { label: ref, ip: ref, node: n.metadata.name } : { label: ref, ip: ref }
  }
  const d = /^(deploy|deployment|deployments)\/(.+)$/.exec(ref)
  if (d) {
    const dep = await client.get<{ spec?: { selector?: { matchLabels?: Record<string, string> } } }>(
      `/apis/apps/v1/namespaces/${enc(ns)}/deployments/${enc(d[2]!)}`,
    )
    const sel = Object.entries(dep.spec?.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
    const pods = await client.list<PodLite>(`/api/v1/namespaces/${enc(ns)}/pods`, { labelSelector: sel })
    const p = pods.items.find((x) => x.status?.phase === 'Running' && x.status.podIP) ?? pods.items[0]
    if (!p) throw new CliError(`error: no pods found for deployment ${d[2]}`)
    return podEndpoint(p)
  }
  const name = ref.replace(/^(pod|pods|po)\//, '')
  try {
    return podEndpoint(await client.get<PodLite>(`/api/v1/namespaces/${enc(ns)}/pods/${enc(name)}`))
  } catch (e) {
    if (!isNotFound(e)) throw e
  }
  try {
    const n = await client.get<NodeLite>(`/api/v1/nodes/${enc(name)}`)
    const ip = nodeIp(n)
    if (!ip) throw new CliError(`error: node ${name} has no address`)
    return { label: name, ip, node: name }
  } catch (e) {
    if (!isNotFound(e)) throw e
  }
  throw new CliError(`error: "${ref}" is neither a pod in namespace ${ns}, a deployment, a node nor an IP`)
}

/** The node agent's kubelet endpoint (`host:port`) for a node. */
export async function kubeletEndpoint(client: KubeClient, node: string): Promise<string> {
  const n = await client.get<NodeLite>(`/api/v1/nodes/${encodeURIComponent(node)}`)
  const ep = n.metadata.annotations?.[KUBELET_ENDPOINT_ANNOTATION]
  if (!ep) throw new CliError(`error: node ${node} has no kubelet endpoint (is its node agent running?)`)
  return ep
}

/** GET a node agent route; its JSON body, or a CliError with the agent's message. */
export async function agentGet<T>(endpoint: string, path: string, q: URLSearchParams): Promise<T> {
  let res: Response
  try {
    res = await fetch(`http://${endpoint}${path}?${q}`)
  } catch (e) {
    throw new CliError(`error: node agent at ${endpoint}: ${(e as Error).message}`)
  }
  const text = await res.text()
  if (!res.ok) {
    let msg = text.trim()
    try {
      msg = (JSON.parse(text) as { message?: string }).message ?? msg
    } catch {}
    throw new CliError(`error: node agent at ${endpoint} answered ${res.status}: ${msg}`)
  }
  return JSON.parse(text) as T
}

export interface TraceCliOpts extends ConnectOpts {
  namespace?: string
  output?: 'text' | 'json'
}

interface TraceAnswer {
  node: string
  spec: { src: string; dst: string; proto: Proto; dport?: number; sport?: number }
  verdict: 'allowed' | 'denied' | 'dropped'
  reason: string
  text: string
  /** The packet held at the node's underlay, for the next node. */
  underlay?: { nextHop: string; packet: string }
}

/** The whole walk: one answer per node it crossed; the verdict is the last node's. */
export interface TraceWalk {
  hops: TraceAnswer[]
  verdict: TraceAnswer['verdict']
  reason: string
}

const MAX_HOPS = 4

/** Node name by address, listed once per command (probe walks many cells). */
export type NodeFinder = (ip: string) => Promise<string | undefined>

/** The node whose address is `ip`, or undefined (host1, the internet, an unknown address). */
export function nodeFinder(client: KubeClient): NodeFinder {
  let nodes: Promise<NodeLite[]> | undefined
  return async (ip) => {
    nodes ??= client.list<NodeLite>('/api/v1/nodes').then((l) => l.items)
    return (await nodes).find((n) => n.status?.addresses?.some((a) => a.address === ip))?.metadata.name
  }
}

/**
 * Traces from `node`, following the packet into each next node while it is allowed and lands on
 * a node with an agent. Exported for `calilab probe` (its UDP cells).
 */
export async function traceWalk(
  client: KubeClient,
  node: string,
  q: { src: string; dst: string; proto: Proto; dport?: number; iif?: string },
  nodeByIp: NodeFinder = nodeFinder(client),
): Promise<TraceWalk> {
  const first = new URLSearchParams({ src: q.src, dst: q.dst, proto: q.proto, hold: '1' })
  if (q.proto !== 'icmp') first.set('dport', String(q.dport ?? 0))
  if (q.iif) first.set('iif', q.iif)
  const hops = [await agentGet<TraceAnswer>(await kubeletEndpoint(client, node), '/felix/trace', first)]
  for (;;) {
    const last = hops[hops.length - 1]!
    const next = last.underlay && last.verdict === 'allowed' ? await nodeByIp(last.underlay.nextHop) : undefined
    if (!last.underlay || !next || hops.length >= MAX_HOPS) break
    const s = last.spec
    const p = new URLSearchParams({ src: s.src, dst: s.dst, proto: s.proto, hold: '1', packet: last.underlay.packet })
    if (s.dport !== undefined) p.set('dport', String(s.dport))
    if (s.sport !== undefined) p.set('sport', String(s.sport))
    hops.push(await agentGet<TraceAnswer>(await kubeletEndpoint(client, next), '/felix/trace', p))
  }
  const end = hops[hops.length - 1]!
  return { hops, verdict: end.verdict, reason: end.reason }
}

/** `calilab trace`: exit 0 when the packet is allowed, 1 when it is denied or dropped. */
export async function traceCommand(from: string, to: string, o: TraceCliOpts): Promise<number> {
  const dest = parseDestination(to)
  const { client, namespace } = connect(o)
  try {
    const ns = o.namespace ?? namespace
    let src: Endpoint
    let dst: Endpoint
    try {
      src = await resolveEndpoint(client, ns, from)
      dst = await resolveEndpoint(client, ns, dest.ref)
    } catch (e) {
      if (e instanceof CliError) throw e
      throw new CliError(serverErrorLine(e))
    }
    // From outside the cluster (host1, an IP): the walk starts where the packet enters, TO's node's eth0.
    const entry = src.node ?? dst.node
    if (!entry)
      throw new CliError(`error: neither ${from} nor ${dest.ref} is on a cluster node; trace starts on a node`)
    const w = await traceWalk(client, entry, {
      src: src.pod ?? src.ip,
      dst: dst.ip,
      proto: dest.proto,
      ...(dest.proto === 'icmp' ? {} : { dport: dest.port }),
      ...(src.node ? {} : { iif: 'eth0' }),
    })
    if (o.output === 'json') out(`${JSON.stringify(w, null, 2)}\n`)
    else {
      const what = `${src.label} -> ${dst.label}${dest.proto === 'icmp' ? '' : `:${dest.port}`}/${dest.proto}`
      out(
        w.hops
          .map((h, i) =>
            i === 0
              ? `# ${what} ${src.node ? 'on' : 'from outside the cluster, arriving on eth0 of'} node ${h.node}\n${h.text}`
              : `\n# arrives at node ${h.node} over the underlay\n${h.text}`,
          )
          .join(''),
      )
    }
    return w.verdict === 'allowed' ? 0 : 1
  } finally {
    client.close()
  }
}
