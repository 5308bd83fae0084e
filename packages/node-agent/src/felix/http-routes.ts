/**
 * The node agent's Felix routes on the kubelet endpoint (mounted by the kubelet; each handler
 * takes the request's query and returns a JSON-able value or a promise of one):
 *
 * - `/felix/policy`  the policy manager's counters.
 * - `/felix/trace?src=IP|NS/POD&dst=IP&proto=tcp&dport=2379[&iif=eth0][&hold=1]`  one packet, traced;
 *   with `hold=1` a packet leaving for another node is kept and returned (`underlay`: next hop and
 *   base64 bytes) instead of sent, so the caller can continue the trace there with
 *   `&packet=BASE64&sport=N` (the held bytes arrive on `iif`, default eth0, of that node).
 * - `/felix/probe?from=NS/POD&to=NAME=IP&port=2379/tcp[&timeoutMs=1000]`  (each repeatable):
 *   real connections from local pods (TCP connect, ICMP ping; UDP by trace), all in parallel.
 */
import type { Host, Netns } from '@calilab/dataplane'
import { tryParseIPv4 } from '@calilab/model'
import type { PolicyManager } from './policy-manager.ts'
import { type TraceProto, type TraceReport, traceArrival, tracePacket } from './trace.ts'

export type FelixRouteHandler = (query: URLSearchParams) => unknown

export interface FelixRoutesInit {
  host: Host
  policy: PolicyManager
}

export class FelixRouteError extends Error {
  readonly code: 'FELIX_BAD_QUERY' | 'FELIX_NOT_LOCAL'
  readonly status: number
  constructor(code: FelixRouteError['code'], message: string) {
    super(message)
    this.code = code
    this.status = code === 'FELIX_BAD_QUERY' ? 400 : 404
  }
}

/** `/felix/trace`'s answer; `underlay` only for a held trace that left the node. */
export type TraceAnswer = Omit<TraceReport, 'steps' | 'underlay'> & {
  node: string
  underlay?: { nextHop: string; packet: string }
}

export type ProbeResult = 'connected' | 'refused' | 'blocked' | 'error'

export interface ProbeCell {
  from: string
  to: string
  port: number
  proto: TraceProto
  result: ProbeResult
  /** true when the packet got through policy (connected or refused). */
  reachable: boolean
  detail?: string
}

function parseProto(s: string | undefined): TraceProto {
  const p = (s ?? 'tcp').toLowerCase()
  if (p === 'tcp' || p === 'udp' || p === 'icmp') return p
  throw new FelixRouteError('FELIX_BAD_QUERY', `proto: Unsupported value "${s}": supported values: tcp, udp, icmp`)
}

/** `2379`, `2379/TCP`, `53/udp`, `icmp`. */
export function parsePortSpec(s: string): { port: number; proto: TraceProto } {
  const [a, b] = s.split('/') as [string, string | undefined]
  if (b === undefined && a.toLowerCase() === 'icmp') return { port: 0, proto: 'icmp' }
  const port = Number(a)
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new FelixRouteError('FELIX_BAD_QUERY', `port: Invalid value "${s}": want PORT[/PROTO] with PORT 1-65535`)
  return { port, proto: parseProto(b) }
}

export function felixHttpRoutes(init: FelixRoutesInit): Record<string, FelixRouteHandler> {
  const { host, policy } = init
  // Successive traces use fresh source ports (61000-64999) so conntrack sees each as NEW.
  let sportSeq = 0
  const nextSport = () => 61000 + (sportSeq++ % 4000)

  /** An IP, or `ns/pod` of a pod on this node. */
  const resolveIp = (s: string, what: string): string => {
    if (tryParseIPv4(s) !== undefined) return s
    const [ns, pod] = s.includes('/') ? (s.split('/', 2) as [string, string]) : [undefined, s]
    const w = policy.builder.findWorkload(ns === undefined ? { pod } : { namespace: ns, pod })
    const ip = w?.ips[0]
    if (!ip) throw new FelixRouteError('FELIX_NOT_LOCAL', `${what}: pod "${s}" has no endpoint on this node`)
    return ip
  }
  const podNetns = (ip: string): Netns | undefined => {
    const n = tryParseIPv4(ip)
    return n === undefined ? undefined : host.namespaces().find((x) => x !== host.root && x.isLocal(n))
  }

  const trace = (q: URLSearchParams): TraceAnswer => {
    const src = q.get('src')
    const dst = q.get('dst')
    if (!src || !dst) throw new FelixRouteError('FELIX_BAD_QUERY', 'src and dst are required')
    const proto = parseProto(q.get('proto') ?? undefined)
    const dport = q.get('dport')
    const sportQ = q.get('sport')
    const sport = sportQ === null ? nextSport() : Number(sportQ)
    if (!Number.isInteger(sport) || sport < 0 || sport > 65535)
      throw new FelixRouteError('FELIX_BAD_QUERY', `sport: Invalid value "${sportQ}": want 0-65535`)
    const spec = {
      src: resolveIp(src, 'src'),
      dst: resolveIp(dst, 'dst'),
      proto,
      sport,
      ...(dport ? { dport: parsePortSpec(dport).port } : {}),
      ...(q.get('iif') ? { iif: q.get('iif')! } : {}),
    }
    const hold = q.get('hold') === '1' || q.get('hold') === 'true'
    const packet = q.get('packet')
    let r: TraceReport
    if (packet !== null) {
      const bytes = Buffer.from(packet, 'base64')
      if (bytes.length < 20)
        throw new FelixRouteError('FELIX_BAD_QUERY', `packet: Invalid value: ${bytes.length} bytes is no IPv4 packet`)
      r = traceArrival(host, spec, new Uint8Array(bytes), policy.names(), { hold })
    } else r = tracePacket(host, spec, policy.names(), { hold })
    return {
      node: policy.status().node,
      spec: r.spec,
      verdict: r.verdict,
      reason: r.reason,
      text: r.text,
      ...(r.underlay
        ? { underlay: { nextHop: r.underlay.nextHop, packet: Buffer.from(r.underlay.packet).toString('base64') } }
        : {}),
    }
  }

  const probeOne = async (
    from: string,
    toName: string,
    toIp: string,
    port: number,
    proto: TraceProto,
    timeoutMs: number,
  ): Promise<ProbeCell> => {
    const cell = { from, to: toName, port, proto }
    const srcIp = resolveIp(from, 'from')
    const ns = podNetns(srcIp)
    if (!ns) return { ...cell, result: 'error', reachable: false, detail: `no netns owns ${srcIp}` }
    if (proto === 'tcp') {
      try {
        const c = await ns.tcpConnect({ dst: toIp, port, timeoutMs })
        c.destroy()
        return { ...cell, result: 'connected', reachable: true }
      } catch (e) {
        const code = (e as { code?: string }).code
        if (code === 'ECONNREFUSED') return { ...cell, result: 'refused', reachable: true }
        if (code === 'ETIMEDOUT') return { ...cell, result: 'blocked', reachable: false }
        return { ...cell, result: 'error', reachable: false, detail: code ?? String(e) }
      }
    }
    if (proto === 'icmp') {
      const r = await ns.ping(toIp, { count: 1, timeoutMs })
      return r.received > 0
        ? { ...cell, result: 'connected', reachable: true }
        : { ...cell, result: 'blocked', reachable: false }
    }
    const t = tracePacket(host, { src: srcIp, dst: toIp, proto, dport: port, sport: nextSport() }, policy.names())
    return t.verdict === 'allowed'
      ? { ...cell, result: 'connected', reachable: true, detail: 'by trace' }
      : { ...cell, result: 'blocked', reachable: false, detail: t.reason }
  }

  const probe = async (q: URLSearchParams): Promise<{ node: string; cells: ProbeCell[] }> => {
    const froms = q.getAll('from')
    const tos = q.getAll('to').map((t) => {
      const i = t.lastIndexOf('=')
      return i < 0 ? { name: t, ip: t } : { name: t.slice(0, i), ip: t.slice(i + 1) }
    })
    const ports = q.getAll('port').map(parsePortSpec)
    if (froms.length === 0 || tos.length === 0 || ports.length === 0)
      throw new FelixRouteError('FELIX_BAD_QUERY', 'from, to and port are required (each may repeat)')
    for (const t of tos)
      if (tryParseIPv4(t.ip) === undefined)
        throw new FelixRouteError('FELIX_BAD_QUERY', `to: Invalid value "${t.name}=${t.ip}": want NAME=IP`)
    const timeoutMs = Number(q.get('timeoutMs') ?? 1000)
    const jobs: Promise<ProbeCell>[] = []
    for (const f of froms)
      for (const t of tos) for (const p of ports) jobs.push(probeOne(f, t.name, t.ip, p.port, p.proto, timeoutMs))
    return { node: policy.status().node, cells: await Promise.all(jobs) }
  }

  return {
    '/felix/policy': () => policy.status(),
    '/felix/trace': trace,
    '/felix/probe': probe,
  }
}
