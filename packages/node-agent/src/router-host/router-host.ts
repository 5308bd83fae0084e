/**
 * host1 as an emulated host with a kernel: the external router process gets its own `Host`
 * (root netns, eth0 198.19.15.254/20, an underlay socket on its endpoint), the BGP speaker in
 * router mode whose learned routes go into that kernel's table (`proto bird`, ECMP as
 * multipath), the emulated internet behind it (internet.ts), and a kubelet-like exec endpoint so
 * `calilab ssh host1 -- CMD` runs the emulated tools in host1's namespace.
 *
 *   calilab run bgp-speaker --name host1 --ip 198.19.15.254 --endpoint 127.0.1.254 ... \
 *     --kernel [--underlay-port 4789] [--exec-port 10250]
 *
 * Without `--kernel` `calilab run bgp-speaker` stays the bare speaker.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { BgpRouter, type RouteSink, type RunningSpeaker, runSpeaker } from '@calilab/bgp-speaker'
import { createHost, type Host, LiveFastPath, type Netns, type RouteSpec, type UdpUnderlay } from '@calilab/dataplane'
import { type Clock, createLogger, type Logger, type Rng, readyLine, systemClock, systemRng } from '@calilab/kit'
import { type KubeObject, tryParseCidr, tryParseIPv4 } from '@calilab/model'
import { createKubeClient } from '@calilab/proto'
import { birdcTool } from '../bgp/node-bgp.ts'
import { bindUnderlay, parseEndpoint } from '../dataplane/bind-underlay.ts'
import { UNDERLAY_ANNOTATION } from '../dataplane/desired.ts'
import { attachExecServer } from '../exec/server.ts'
import { attachInternet, type Internet } from './internet.ts'

/** Port of host1's exec endpoint (the real kubelet's port; host1 has no kubelet). */
export const ROUTER_EXEC_PORT = 10250

/** A RouteSink writing into a kernel's main table as BIRD does (`proto bird`, multipath = ECMP). */
export function kernelRouteSink(ns: Netns, dev = 'eth0'): RouteSink {
  const parse = (prefix: string) => {
    const r = tryParseCidr(prefix)
    if (!r.ok) throw new Error(`bad prefix ${prefix}`)
    return { dst: r.cidr.network >>> 0, prefix: r.cidr.prefix }
  }
  return {
    replace(prefix, nexthops) {
      const p = parse(prefix)
      const hops = nexthops.map((h) => tryParseIPv4(h)).filter((h): h is number => h !== undefined)
      if (hops.length === 0) return
      const spec: RouteSpec = { ...p, proto: 'bird' }
      if (hops.length === 1) {
        spec.via = hops[0] as number
        spec.dev = dev
      } else spec.nexthops = hops.map((via) => ({ via, dev, weight: 1 }))
      ns.routes.replace(spec)
    },
    delete(prefix) {
      ns.routes.del({ ...parse(prefix), proto: 'bird' })
    },
  }
}

export interface RouterHostInit {
  name: string
  ip: string
  endpoint: string
  /** 0 = ephemeral; default 4789. */
  underlayPort?: number
  /** 0 = ephemeral; default 10250. */
  execPort?: number
  /** Nodes (and their underlay endpoints) are read from here. */
  apiserver?: string
  /** Arguments for the BGP speaker (`runSpeaker`); none = no speaker (tests). */
  speakerArgv?: readonly string[]
  clock?: Clock
  rng?: Rng
  log?: Logger
  out?: (line: string) => void
  /** How often to re-read the node list (ms, default 3000). */
  pollMs?: number
}

export interface RunningRouterHost {
  host: Host
  underlay: UdpUnderlay
  internet: Internet
  speaker: RunningSpeaker | undefined
  router: BgpRouter | undefined
  execPort: number
  /** Re-reads nodes from the API server now. */
  refreshPeers(): Promise<void>
  close(): Promise<void>
}

export async function startRouterHost(init: RouterHostInit): Promise<RunningRouterHost> {
  const clock = init.clock ?? systemClock()
  const rng = init.rng ?? systemRng()
  const log = (init.log ?? createLogger({ name: `router-${init.name}`, destination: 2 })).child({
    component: 'router-host',
    host: init.name,
  })
  const nodeIp = tryParseIPv4(init.ip)
  if (nodeIp === undefined) throw new Error(`router host: --ip ${init.ip} is not IPv4`)
  const host = createHost({ name: init.name, nodeIp, nodePrefix: 20, clock, rng })
  const underlay = await bindUnderlay(host, { bind: init.endpoint, port: init.underlayPort ?? 4789, log })
  // host1 forwards between nodes and the internet: established flows take the fast path.
  const fastPath = LiveFastPath.attach(host)
  const internet = attachInternet(host.root, clock)

  let speaker: RunningSpeaker | undefined
  let router: BgpRouter | undefined
  if (init.speakerArgv) {
    speaker = await runSpeaker(init.speakerArgv, { log, clock, ...(init.out ? { out: init.out } : {}) })
    // A second router on the same speaker: same import filter, the kernel as its table.
    router = new BgpRouter({ filter: speaker.router.filter, sink: kernelRouteSink(host.root), clock })
    router.attach(speaker.speaker)
  }

  // Underlay peers: every node's IP -> its real underlay endpoint.
  const kc = init.apiserver
    ? createKubeClient({ server: init.apiserver, timeoutMs: 3000, userAgent: `calilab-router/${init.name}` })
    : undefined
  const refreshPeers = async (): Promise<void> => {
    if (!kc) return
    try {
      const list = await kc.list<KubeObject>('/api/v1/nodes')
      for (const n of list.items) {
        const a = n.metadata.annotations ?? {}
        const ip = tryParseIPv4((a['projectcalico.org/IPv4Address'] ?? '').split('/')[0] ?? '')
        const ep = parseEndpoint(a[UNDERLAY_ANNOTATION] ?? '')
        if (ip !== undefined && ep) underlay.setPeer(ip, ep)
      }
    } catch (err) {
      log.debug({ err }, 'node list failed')
    }
  }
  await refreshPeers()
  const poll = kc ? clock.setInterval(() => void refreshPeers(), init.pollMs ?? 3000) : undefined

  // Exec endpoint (`calilab ssh host1 -- ...`).
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok')
      return
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n')
  })
  const exec = attachExecServer(server, {
    log,
    host: () => ({
      ok: true,
      env: {
        hostname: init.name,
        netns: host.root,
        files: { '/etc/resolv.conf': 'nameserver 8.8.8.8\n', '/etc/hostname': `${init.name}\n` },
        clock,
        ...(speaker ? { tools: { birdc: birdcTool((cmd) => (speaker as RunningSpeaker).birdc(cmd)) } } : {}),
      },
    }),
    pod: () => ({ ok: false, status: 404, message: `${init.name} runs no pods` }),
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.execPort ?? ROUTER_EXEC_PORT, init.endpoint, () => resolve())
  })
  const execPort = (server.address() as AddressInfo).port
  log.info({ underlay: underlay.address, execPort, internet: internet.addresses }, 'router host ready')

  return {
    host,
    underlay,
    internet,
    speaker,
    router,
    execPort,
    refreshPeers,
    async close() {
      poll?.cancel()
      exec.close()
      server.closeAllConnections?.()
      await new Promise<void>((r) => server.close(() => r()))
      kc?.close()
      internet.close()
      await speaker?.close()
      fastPath.detach()
      await underlay.close()
    },
  }
}

/**
 * `calilab run bgp-speaker ... --kernel [--underlay-port N] [--exec-port N]`: the speaker's own
 * flags pass through to `runSpeaker`; the ready line adds `underlay` and `execPort`.
 */
export async function runRouterHost(argv: readonly string[]): Promise<{ close(): Promise<void> }> {
  const mine = new Map<string, string>()
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (a === '--kernel') continue
    if (a === '--underlay-port' || a === '--exec-port') {
      mine.set(a.slice(2), argv[++i] ?? '')
      continue
    }
    rest.push(a)
  }
  const flag = (k: string): string | undefined => {
    const i = rest.indexOf(`--${k}`)
    return i >= 0 ? rest[i + 1] : undefined
  }
  const name = flag('name') ?? 'host1'
  const ip = flag('ip')
  const endpoint = flag('endpoint')
  if (!ip || !endpoint) throw new Error('router host: --ip and --endpoint are required')
  const num = (k: string, d: number) => {
    const v = mine.get(k)
    const n = v === undefined ? d : Number(v)
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${k}: must be 0-65535, got "${v}"`)
    return n
  }
  const apiserver = flag('apiserver')
  const log = createLogger({ name: `router-${name}`, level: flag('log-level') ?? 'info', destination: 2 })
  const r = await startRouterHost({
    name,
    ip,
    endpoint,
    underlayPort: num('underlay-port', 4789),
    execPort: num('exec-port', ROUTER_EXEC_PORT),
    ...(apiserver ? { apiserver } : {}),
    speakerArgv: rest,
    log,
    // The speaker's own ready line is replaced by the one below (it adds the kernel's addresses).
    out: () => {},
  })
  process.stdout.write(
    `${readyLine({
      component: 'bgp-speaker',
      name,
      host: endpoint,
      port: r.speaker?.port,
      controlPort: r.speaker?.controlPort,
      underlay: r.underlay.address,
      execPort: r.execPort,
      pid: process.pid,
    })}\n`,
  )
  return r
}
