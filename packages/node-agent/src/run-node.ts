import { createLogger, readyLine, systemClock, systemRng } from '@calilab/kit'
import { createKubeClient } from '@calilab/proto'
import { ftpBanner } from './apps/apps.ts'
import { BGP_ANNOTATION, NodeBgp, parseBgpEndpoints } from './bgp/node-bgp.ts'
import { NodeBpf, withBpfPrograms } from './dataplane/bpf.ts'
import { UNDERLAY_ANNOTATION } from './dataplane/desired.ts'
import { NodeDataplane } from './dataplane/driver.ts'
import { WireguardManager } from './dataplane/wireguard.ts'
import { type FelixAgent, type FelixSource, startFelix } from './felix/agent.ts'
import { felixHttpRoutes } from './felix/http-routes.ts'
import { startPolicyManager } from './felix/policy-manager.ts'
import { connectDirect } from './io/syncer/direct-client.ts'
import type { SyncerClient } from './io/syncer/types.ts'
import { connectTypha } from './io/syncer/typha-client.ts'
import { IpamShell } from './ipam/shell.ts'
import { startNode } from './kubelet/agent.ts'

/**
 * `calilab run node --name N --ip IP --endpoint ADDR --role control|worker --calico installed|operator
 *   [--pod-block CIDR] [--apiserver URL] [--typha HOST:PORT,...] [--syncer typha|direct]
 *   [--underlay-port 4789] [--gateway 198.19.15.254] [--gateway-endpoint 127.0.1.254:4789]
 *   [--routing bgp|static] [--bgp-port 1790] [--bgp-endpoints 198.19.15.254=127.0.1.254:1790,...]`
 * The node's emulated kernel (dataplane/driver.ts) gets its underlay socket on
 * ENDPOINT:UNDERLAY-PORT (announced as the Node annotation `calilab.dev/underlay`) and a default
 * route via the gateway (host1), whose underlay endpoint is given here (it is no Node).
 * The Felix-like agent reads the datastore through Typha when Typha addresses are given (the
 * default whenever Typha runs), or straight from the API server's stream with `--syncer direct`.
 * With `--routing bgp` (the default) the node runs its BGP speaker (bgp/node-bgp.ts) on
 * ENDPOINT:BGP-PORT (announced as `calilab.dev/bgp`), fed by the BGP syncer: routes to other
 * nodes' blocks are learned over BGP (`proto bird`); `--routing static` programs them from the
 * IPAM blocks instead and runs no speaker. `--bgp-endpoints` names the real BGP endpoints of
 * emulated peers that are no Node (host1).
 */
export async function runNode(argv: string[]): Promise<{
  close(): Promise<void>
  dataplane: NodeDataplane
  bgp: NodeBgp | undefined
}> {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (!a.startsWith('--')) continue
    const eq = a.indexOf('=')
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1))
    else flags.set(a.slice(2), argv[++i] ?? '')
  }
  const need = (k: string) => {
    const v = flags.get(k)
    if (!v) throw new Error(`--${k} is required`)
    return v
  }
  const role = flags.get('role') ?? 'worker'
  const calico = flags.get('calico') ?? 'installed'
  if (role !== 'control' && role !== 'worker') throw new Error(`--role: must be control or worker, got "${role}"`)
  if (calico !== 'installed' && calico !== 'operator')
    throw new Error(`--calico: must be installed or operator, got "${calico}"`)
  const nodeName = need('name')
  const log = createLogger({ name: `node-${nodeName}`, destination: 2 })
  const podBlock = flags.get('pod-block')
  const apiServer = flags.get('apiserver') ?? 'http://127.0.0.1:6443'
  const typhas = (flags.get('typha') ?? '').split(',').filter((a) => a !== '')
  const syncer = flags.get('syncer') ?? (typhas.length ? 'typha' : 'direct')
  if (syncer !== 'typha' && syncer !== 'direct') throw new Error(`--syncer: must be typha or direct, got "${syncer}"`)
  if (syncer === 'typha' && !typhas.length) throw new Error('--syncer typha needs --typha HOST:PORT[,HOST:PORT...]')
  const wsUrl = new URL(apiServer)
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:'
  wsUrl.pathname = '/internal/watch'
  const source: FelixSource =
    syncer === 'typha' ? { kind: 'typha', addresses: typhas } : { kind: 'direct', url: wsUrl.toString() }
  const clock = systemClock()
  const underlayPort = Number(flags.get('underlay-port') ?? 4789)
  if (!Number.isInteger(underlayPort) || underlayPort < 0 || underlayPort > 65535)
    throw new Error(`--underlay-port: must be 0-65535, got "${flags.get('underlay-port')}"`)
  const gatewayIp = flags.get('gateway')
  const gwEp = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(flags.get('gateway-endpoint') ?? '')
  const routing = flags.get('routing') ?? 'bgp'
  if (routing !== 'bgp' && routing !== 'static') throw new Error(`--routing: must be bgp or static, got "${routing}"`)
  const bgpPort = Number(flags.get('bgp-port') ?? 1790)
  if (!Number.isInteger(bgpPort) || bgpPort < 0 || bgpPort > 65535)
    throw new Error(`--bgp-port: must be 0-65535, got "${flags.get('bgp-port')}"`)
  const bgpEndpoints = parseBgpEndpoints(flags.get('bgp-endpoints') ?? '')
  const dp = new NodeDataplane({
    routing,
    nodeName,
    nodeIp: need('ip'),
    clock,
    rng: systemRng(),
    log,
    underlay: { bind: need('endpoint'), port: underlayPort },
    ...(gatewayIp
      ? {
          gateway: { ip: gatewayIp, ...(gwEp ? { endpoint: { host: gwEp[1] as string, port: Number(gwEp[2]) } } : {}) },
        }
      : {}),
  })
  await dp.start()
  // The BGP speaker (calico-node's BIRD): learned routes go into the node's kernel.
  const bgp =
    routing === 'bgp'
      ? new NodeBgp({
          nodeName,
          nodeIp: need('ip'),
          endpoint: need('endpoint'),
          port: bgpPort,
          defaultPeerPort: bgpPort === 0 ? 1790 : bgpPort,
          staticEndpoints: bgpEndpoints,
          netns: dp.host.root,
          clock,
          log,
        })
      : undefined
  await bgp?.start()
  // Felix's policy side programs the node's root netns; kube-proxy's chains there are left alone.
  const policy = startPolicyManager({ nodeName, netns: dp.host.root, log, clock })
  // Felix's eBPF mode (FelixConfiguration bpfEnabled): tc programs and NAT maps for services.
  const bpf = new NodeBpf({
    host: dp.host,
    nodeName,
    nodeIp: need('ip'),
    clock,
    log,
    setKubeProxy: (on) => dp.setKubeProxyActive(on),
  })
  // WireGuard (Felix's manager + calico-node's tunnel address): fed by both syncers (blocks come from BGP's).
  const wgClient = createKubeClient({ server: apiServer, userAgent: `calilab-node/${nodeName}` })
  const wg = new WireguardManager({
    nodeName,
    netns: dp.host.root,
    client: wgClient,
    ipam: new IpamShell({ client: wgClient, node: nodeName, log, clock }),
    log,
    clock,
  })
  const felix: FelixAgent = startFelix({
    nodeName,
    source,
    log,
    rng: systemRng(),
    clock,
    onUpdates: (u) => {
      dp.onUpdates(u)
      policy.onUpdates(u)
      bpf.onUpdates(u)
      wg.onUpdates(u)
    },
    onInSync: () => policy.onInSync(),
  })
  // The node's own FTP server on port 21 (the lab's host-endpoint target, vsftpd on the VMs).
  const ftp = ftpBanner({
    net: dp.host.root,
    clock,
    log: () => {},
    namespace: '',
    podName: nodeName,
  })
  // IPAM blocks are not in Felix's syncer (Felix reads routes from BIRD); the BGP syncer has them.
  const callbacks = {
    onUpdates: (u: Parameters<typeof dp.onUpdates>[0]) => {
      dp.onUpdates(u)
      bgp?.onUpdates(u)
      wg.onUpdates(u)
    },
    onInSync: () => {},
  }
  const bgpLog = log.child({ component: 'dataplane.syncer' })
  const bgpSyncer: SyncerClient =
    source.kind === 'typha'
      ? connectTypha({
          addresses: source.addresses,
          nodeName,
          syncerType: 'bgp',
          callbacks,
          log: bgpLog,
          rng: systemRng(),
          clock,
        })
      : connectDirect({ url: source.url, syncerType: 'bgp', callbacks, log: bgpLog })
  const node = await startNode({
    statusRoutes: {
      '/felix/status': () => felix.status(),
      '/dataplane/status': () => dp.status(),
      '/bpf/status': () => bpf.status(),
      '/wireguard/status': () => ({ ...wg.status(), device: dp.host.root.wireguardStatus(wg.status().iface) ?? null }),
      ...(bgp ? { '/bgp/status': () => bgp.status() } : {}),
      ...felixHttpRoutes({ host: dp.host, policy }),
    },
    services: () => dp.serviceList(),
    podNetwork: withBpfPrograms(dp, bpf),
    execNetns: dp.execNetns,
    annotations: {
      ...(dp.underlayAddress ? { [UNDERLAY_ANNOTATION]: dp.underlayAddress } : {}),
      ...(bgp?.address ? { [BGP_ANNOTATION]: bgp.address } : {}),
    },
    hostTools: { ...(bgp?.tools() ?? {}), wg: wg.tool(), 'calico-node': bpf.tool() },
    apiServer,
    nodeName,
    nodeIP: need('ip'),
    endpoint: need('endpoint'),
    role,
    calico,
    ...(podBlock ? { podBlock } : {}),
    log,
    clock,
  })
  process.stdout.write(
    `${readyLine({ component: 'node', node: nodeName, pid: process.pid, kubeletPort: node.kubeletPort })}\n`,
  )
  return {
    ...node,
    dataplane: dp,
    bgp,
    async close() {
      felix.close()
      bgpSyncer.close()
      ftp.stop()
      policy.close()
      bpf.close()
      wg.close()
      wgClient.close()
      await node.close()
      await bgp?.close()
      await dp.close()
    },
  }
}
