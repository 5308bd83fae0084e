/**
 * `calilab run bgp-speaker`: a standalone speaker in router mode (host1): listens on its loopback
 * endpoint, dials its peers from there, installs learned best routes that pass the import filter
 * into its own table (ECMP), exports nothing but `--originate` prefixes, and serves a small HTTP
 * control endpoint for `ip route` / `birdc` / status.
 *
 *   --name host1 --ip 198.19.15.254 --endpoint 127.0.1.254 [--as 64512] [--port 1790]
 *   [--apiserver URL] [--peers [NAME=][NODEIP@]HOST:PORT,...] [--control-port 0]
 *   [--filter '198.19.48.0/20,198.19.32.0/20+,198.19.24.0/21+' | all] [--originate CIDR,...]
 *   [--subnet 198.19.0.0/20] [--connect-retry S] [--hold-time S] [--log-level L] [--passive]
 *
 * `--passive`: never dial; wait for the peers to connect (host1 in the lab: nodes dial it once a
 * BGPPeer names it).
 */
import * as http from 'node:http'
import { parseArgs } from 'node:util'
import { type Clock, createLogger, type Logger, readyLine, systemClock } from '@calilab/kit'
import { formatCidr, type KubeObject, tryParseCidr, tryParseIPv4 } from '@calilab/model'
import { createKubeClient } from '@calilab/proto'
import { calicoNodeFromK8s, nodeEndpoint } from './calico/desired.ts'
import { createSpeaker, type PeerConfig, type Speaker } from './io/speaker.ts'
import { host1Filter, type ImportFilter, parseFilter } from './router/filter.ts'
import { BgpRouter } from './router/router.ts'
import { RouteTable } from './router/table.ts'
import {
  baseProtocols,
  formatShowProtocols,
  formatShowProtocolsAll,
  formatShowRoute,
  type ViewPeer,
  viewPeersFromStatus,
} from './views/index.ts'

export interface PeerSpec {
  name?: string
  /** Emulated address (what views show). */
  nodeIP?: string
  host: string
  port: number
}

/** `[NAME=][NODEIP@]HOST:PORT`; throws with the entry in the message. */
export function parsePeerSpec(s: string): PeerSpec {
  const m = /^(?:([A-Za-z0-9_.-]+)=)?(?:(\d+\.\d+\.\d+\.\d+)@)?(\d+\.\d+\.\d+\.\d+):(\d{1,5})$/.exec(s.trim())
  const port = Number(m?.[4])
  if (!m || tryParseIPv4(m[3] ?? '') === undefined || !(port >= 1 && port <= 65535)) {
    throw new Error(
      `bgp-speaker: --peers entry "${s}" must be [NAME=][NODEIP@]HOST:PORT, e.g. node1=198.19.0.2@127.0.1.2:1790`,
    )
  }
  const p: PeerSpec = { host: m[3] as string, port }
  if (m[1] !== undefined) p.name = m[1]
  if (m[2] !== undefined) p.nodeIP = m[2]
  return p
}

export interface SpeakerDeps {
  log?: Logger
  clock?: Clock
  /** Where the ready line goes (default process.stdout). */
  out?: (line: string) => void
}

export interface RunningSpeaker {
  speaker: Speaker
  router: BgpRouter
  table: RouteTable
  port: number
  controlPort: number
  /** Text of `GET /birdc?cmd=...` (also used by the CLI in process). */
  birdc(cmd: string): string
  close(): Promise<void>
}

interface NodeRef {
  name: string
  ip: string
  host: string
}

async function listNodes(apiserver: string, log: Logger): Promise<NodeRef[]> {
  const kc = createKubeClient({ server: apiserver, timeoutMs: 3000, userAgent: 'calilab-bgp-speaker' })
  try {
    const list = await kc.list<KubeObject>('/api/v1/nodes')
    const out: NodeRef[] = []
    for (const n of list.items) {
      const host = nodeEndpoint(n)
      const ip = calicoNodeFromK8s(n).spec.bgp?.ipv4Address?.split('/')[0]
      if (host && ip && n.metadata.name) out.push({ name: n.metadata.name, ip, host })
    }
    return out
  } catch (err) {
    log.warn({ err }, 'cannot list nodes from the API server')
    return []
  } finally {
    kc.close()
  }
}

export async function runSpeaker(argv: readonly string[], deps: SpeakerDeps = {}): Promise<RunningSpeaker> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      name: { type: 'string' },
      ip: { type: 'string' },
      endpoint: { type: 'string' },
      as: { type: 'string' },
      port: { type: 'string' },
      apiserver: { type: 'string' },
      peers: { type: 'string' },
      'control-port': { type: 'string' },
      filter: { type: 'string' },
      originate: { type: 'string' },
      subnet: { type: 'string' },
      'connect-retry': { type: 'string' },
      'hold-time': { type: 'string' },
      'log-level': { type: 'string' },
      passive: { type: 'boolean' },
    },
    strict: true,
  })
  const need = (k: 'name' | 'ip' | 'endpoint'): string => {
    const v = values[k]
    if (!v) throw new Error(`bgp-speaker: --${k} is required`)
    return v
  }
  const num = (k: keyof typeof values, dflt: number, min = 0, max = 65535): number => {
    const v = values[k]
    if (v === undefined || typeof v !== 'string') return dflt
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`bgp-speaker: --${k} must be ${min}-${max}, got ${v}`)
    return n
  }
  const name = need('name')
  const ip = need('ip')
  const endpoint = need('endpoint')
  if (tryParseIPv4(ip) === undefined) throw new Error(`bgp-speaker: --ip ${ip} is not an IPv4 address`)
  if (tryParseIPv4(endpoint) === undefined)
    throw new Error(`bgp-speaker: --endpoint ${endpoint} is not an IPv4 address`)
  const asNumber = num('as', 64512, 1, 4294967295)
  const bgpPort = num('port', 1790)
  const controlPort = num('control-port', 0)
  const connectRetry = num('connect-retry', 5, 1, 3600)
  const holdTime = num('hold-time', 240, 0, 65535)
  const filter: ImportFilter = values.filter !== undefined ? parseFilter(values.filter, 'import_filter') : host1Filter()
  const originate = (values.originate ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const c of originate) {
    if (!tryParseCidr(c).ok) throw new Error(`bgp-speaker: --originate entry "${c}" is not a CIDR`)
  }
  const subnetText = values.subnet ?? `${ip}/20`
  const sr = tryParseCidr(subnetText)
  if (!sr.ok) throw new Error(`bgp-speaker: --subnet ${subnetText}: ${sr.error.message}`)
  const subnet = formatCidr({ ...sr.cidr, ip: sr.cidr.network })

  const clock = deps.clock ?? systemClock()
  const log = deps.log ?? createLogger({ name: 'bgp-speaker', level: values['log-level'] ?? 'info', destination: 2 })
  const out = deps.out ?? ((l: string) => process.stdout.write(`${l}\n`))

  const specs = (values.peers ?? '')
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(parsePeerSpec)
  const apiserver = values.apiserver
  const fromApi = apiserver !== undefined && (specs.length === 0 || specs.some((s) => s.nodeIP === undefined))
  const nodes = fromApi ? await listNodes(apiserver, log) : []
  if (specs.length === 0) {
    for (const n of nodes)
      if (n.host !== endpoint) specs.push({ name: n.name, nodeIP: n.ip, host: n.host, port: bgpPort })
  }

  /** Endpoint host -> emulated IP, and emulated IP -> name (for descriptions). */
  const ipOf = new Map<string, string>()
  const table = new RouteTable({ connected: [{ prefix: subnet, src: ip }] })
  const router = new BgpRouter({ filter, sink: table, clock })
  const speaker = createSpeaker({
    routerId: ip,
    asNumber,
    listen: { host: endpoint, port: bgpPort },
    clock,
    log: log.child({ host: name }),
    peers: [],
  })
  router.attach(speaker)
  const bound = await speaker.start()
  const configured = new Set<string>()
  const addPeer = (s: PeerSpec) => {
    const known = nodes.find((n) => n.host === s.host)
    const nodeIP = s.nodeIP ?? known?.ip
    if (nodeIP !== undefined) ipOf.set(s.host, nodeIP)
    const cfg: PeerConfig = {
      name: s.name ?? known?.name ?? `peer_${(nodeIP ?? s.host).replace(/\./g, '_')}`,
      address: s.host,
      port: s.port,
      asNumber,
      localAddress: endpoint,
      nextHopSelf: ip,
      connectRetryTime: connectRetry,
      holdTime,
    }
    if (values.passive === true) cfg.passive = true
    speaker.addPeer(cfg)
    configured.add(s.host)
  }
  for (const s of specs) addPeer(s)
  if (originate.length > 0) speaker.originate(originate)

  // Peers from the API server: new nodes join as they register (only when no --peers were given).
  let poll: { cancel(): void } | undefined
  if (apiserver !== undefined && (values.peers ?? '') === '') {
    poll = clock.setInterval(() => {
      void listNodes(apiserver, log).then((ns) => {
        for (const n of ns) {
          if (n.host === endpoint || configured.has(n.host)) continue
          nodes.push(n)
          addPeer({ name: n.name, nodeIP: n.ip, host: n.host, port: bgpPort })
          log.info({ peer: n.name, address: n.ip }, 'peer added from node list')
        }
      })
    }, 5000)
  }

  const viewPeers = (): ViewPeer[] =>
    viewPeersFromStatus(speaker.status(), {
      addressOf: (h) => ipOf.get(h),
      localAs: asNumber,
      sourceAddress: ip,
      description: (n) => `Connection to ${n}`,
      importFilter: filter.name,
      exportFilter: 'REJECT',
      preferred: (n) => router.countsFor(n).preferred,
    }).map((p) => ({
      ...p,
      routes: {
        imported: router.countsFor(p.name).imported,
        exported: p.routes?.exported ?? 0,
        preferred: p.routes?.preferred ?? 0,
      },
    }))
  const viewClock = () => ({ now: clock.now() })
  const birdc = (cmd: string): string => {
    const words = cmd.trim().split(/\s+/)
    const c = words.join(' ')
    if (c === 'show protocols' || c === 'show protocol') {
      return formatShowProtocols(baseProtocols(speaker.startedAt, 'router'), viewPeers(), viewClock())
    }
    if (/^show protocols? all( |$)/.test(c)) {
      const want = words[3]
      const peers = viewPeers().filter((p) => want === undefined || p.name === want)
      if (peers.length === 0) return formatShowProtocolsAll(undefined, viewClock())
      return peers.map((p, i) => formatShowProtocolsAll(p, viewClock(), { banner: i === 0 })).join('')
    }
    if (c === 'show route' || c === 'show routes') {
      return formatShowRoute(router.list(), viewClock())
    }
    throw new Error(`syntax error, unknown command "${c}" (supported: show protocols [all NAME], show route)`)
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const text = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type })
      res.end(body)
    }
    try {
      if (req.method !== 'GET') return text(405, 'method not allowed\n')
      if (url.pathname === '/ip-route') return text(200, table.format())
      if (url.pathname === '/birdc') return text(200, birdc(url.searchParams.get('cmd') ?? 'show protocols'))
      if (url.pathname === '/healthz') return text(200, 'ok\n')
      if (url.pathname === '/status') {
        return text(
          200,
          `${JSON.stringify({ name, routerId: ip, asNumber, endpoint, port: bound?.port, peers: viewPeers(), routes: router.list() })}\n`,
          'application/json',
        )
      }
      return text(404, `not found: ${url.pathname} (try /ip-route, /birdc?cmd=show+protocols, /status)\n`)
    } catch (err) {
      return text(400, `${(err as Error).message}\n`)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: endpoint, port: controlPort }, () => resolve())
  })
  const ctl = (server.address() as { port: number }).port
  const port = bound?.port ?? bgpPort
  log.info({ name, endpoint, port, controlPort: ctl, peers: specs.length }, 'bgp speaker ready')
  out(readyLine({ component: 'bgp-speaker', name, host: endpoint, port, controlPort: ctl, pid: process.pid }))

  return {
    speaker,
    router,
    table,
    port,
    controlPort: ctl,
    birdc,
    close: async () => {
      poll?.cancel()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
      await speaker.stop()
    },
  }
}
