/**
 * Felix in eBPF mode, for one node: follows FelixConfiguration (`bpfEnabled`,
 * `bpfExternalServiceMode`, `bpfKubeProxyIptablesCleanupEnabled`, `vxlanPort`; `default` then
 * `node.<name>`), programs the NAT and route maps from Services, Endpoints and Nodes
 * (core/bpf), and attaches the tc programs to eth0 and every `cali*` veth of the root namespace.
 *
 * With `bpfKubeProxyIptablesCleanupEnabled` true (the default) kube-proxy's KUBE-* rules are
 * removed while BPF is on; false leaves them (the BPF programs see service traffic first).
 * Turning `bpfEnabled` off detaches the programs, empties the maps and brings kube-proxy back.
 * Existing connections keep the path they started on (see core/bpf/program.ts).
 *
 * `onUpdates` records and marks dirty; `apply()` on a microtask reconciles (CONVENTIONS §5).
 */
import {
  attachBpf,
  BpfMaps,
  BpfProgram,
  type BpfServiceMode,
  bpfEnv,
  detachBpf,
  dumpConntrack,
  dumpNat,
  dumpRoutes,
  type Host,
} from '@calilab/dataplane'
import type { Clock, Logger, Timer } from '@calilab/kit'
import type { Endpoints, KubeObject, Service } from '@calilab/model'
import { tryParseIPv4 } from '@calilab/model'
import { renderBpfNat } from '../core/bpf/index.ts'
import type { SyncerUpdate } from '../io/syncer/types.ts'
import type { Tool } from '../tools/types.ts'
import { type NetView, nodeAddresses } from './desired.ts'
import { ApplySoon, applyToViews } from './follow.ts'
import type { PodNetwork } from './pod-network.ts'

export interface BpfSettings {
  enabled: boolean
  mode: BpfServiceMode
  kubeProxyCleanup: boolean
  vxlanPort: number
}

export const BPF_DEFAULTS: Readonly<BpfSettings> = Object.freeze({
  enabled: false,
  mode: 'Tunnel',
  kubeProxyCleanup: true,
  vxlanPort: 4789,
})

/** FelixConfiguration specs (`default` first, then the node's own) -> the BPF settings. */
export function bpfSettings(specs: readonly Record<string, unknown>[]): BpfSettings {
  const s: BpfSettings = { ...BPF_DEFAULTS }
  for (const spec of specs) {
    if (typeof spec['bpfEnabled'] === 'boolean') s.enabled = spec['bpfEnabled']
    if (spec['bpfExternalServiceMode'] === 'DSR' || spec['bpfExternalServiceMode'] === 'Tunnel')
      s.mode = spec['bpfExternalServiceMode']
    if (typeof spec['bpfKubeProxyIptablesCleanupEnabled'] === 'boolean')
      s.kubeProxyCleanup = spec['bpfKubeProxyIptablesCleanupEnabled']
    if (typeof spec['vxlanPort'] === 'number') s.vxlanPort = spec['vxlanPort']
  }
  return s
}

export interface NodeBpfInit {
  host: Host
  nodeName: string
  nodeIp: string
  clock: Clock
  log: Logger
  /** Whether kube-proxy's iptables rules should be programmed (NodeDataplane.setKubeProxyActive). */
  setKubeProxy(on: boolean): void
}

export interface NodeBpfStatus {
  settings: BpfSettings
  frontends: number
  backends: number
  conntrack: number
  attached: string[]
  stats: BpfProgram['stats']
}

const EMPTY = new Map<string, KubeObject>()

export class NodeBpf {
  readonly maps = new BpfMaps()
  readonly program: BpfProgram
  private readonly init: NodeBpfInit
  private readonly log: Logger
  private readonly view = {
    services: new Map<string, KubeObject>(),
    endpoints: new Map<string, KubeObject>(),
    k8sNodes: new Map<string, KubeObject>(),
    calicoNodes: new Map<string, KubeObject>(),
    felix: new Map<string, KubeObject>(),
  }
  private settings: BpfSettings = { ...BPF_DEFAULTS }
  private attached = false
  private closed = false
  private gcTimer: Timer | undefined

  constructor(init: NodeBpfInit) {
    this.init = init
    this.log = init.log.child({ component: 'felix.bpf', node: init.nodeName })
    const nodeIp = tryParseIPv4(init.nodeIp) ?? init.host.nodeIp
    this.program = new BpfProgram(
      this.maps,
      { nodeIp, mode: BPF_DEFAULTS.mode, vxlanPort: BPF_DEFAULTS.vxlanPort },
      bpfEnv(init.host.root),
    )
  }

  onUpdates(batch: readonly SyncerUpdate[]): void {
    const v = this.view
    const changed = applyToViews(batch, {
      'core/services': v.services,
      'core/endpoints': v.endpoints,
      'core/nodes': v.k8sNodes,
      'projectcalico.org/nodes': v.calicoNodes,
      'projectcalico.org/felixconfigurations': v.felix,
    })
    if (changed && !this.closed) this.soon.schedule()
  }

  private readonly soon = new ApplySoon(() => {
    if (!this.closed) this.apply()
  })

  apply(): void {
    const specs: Record<string, unknown>[] = []
    for (const name of ['default', `node.${this.init.nodeName}`])
      for (const o of this.view.felix.values())
        if (o.metadata.name === name) specs.push((o.spec ?? {}) as Record<string, unknown>)
    const s = bpfSettings(specs)
    const was = this.settings
    this.settings = s
    this.program.cfg.mode = s.mode
    this.program.cfg.vxlanPort = s.vxlanPort
    if (s.enabled !== was.enabled || s.mode !== was.mode || s.kubeProxyCleanup !== was.kubeProxyCleanup)
      this.log.info({ ...s }, 'bpf settings')
    this.init.setKubeProxy(!(s.enabled && s.kubeProxyCleanup))
    if (!s.enabled) {
      if (this.attached) {
        detachBpf(this.init.host.root)
        this.maps.clear()
        this.attached = false
        this.gcTimer?.cancel()
        this.gcTimer = undefined
        this.log.info({}, 'bpf programs detached; iptables mode')
      }
      return
    }
    this.programMaps()
    this.syncLinks()
    if (!this.attached) {
      this.attached = true
      this.gcTimer = this.init.clock.setInterval(() => this.maps.gc(this.init.clock.now()), 10_000)
      this.log.info({ mode: s.mode }, 'bpf programs attached')
    }
  }

  private programMaps(): void {
    const net: NetView = {
      pools: EMPTY,
      blocks: EMPTY,
      calicoNodes: this.view.calicoNodes,
      k8sNodes: this.view.k8sNodes,
      services: this.view.services,
      endpoints: this.view.endpoints,
    }
    const nodeIps = new Map<string, number>()
    for (const [name, a] of nodeAddresses(net)) if (a.ip) nodeIps.set(name, a.ip)
    const nat = renderBpfNat({
      services: [...this.view.services.values()] as Service[],
      endpoints: [...this.view.endpoints.values()] as Endpoints[],
      nodeName: this.init.nodeName,
      nodeIp: this.program.cfg.nodeIp,
      nodeIps,
    })
    this.maps.setNat(nat.fe, nat.be)
    this.maps.setRoutes(nat.routes)
  }

  /** Attaches the programs to links that appeared since (a new pod's veth); no-op when off. */
  syncLinks(): void {
    if (this.settings.enabled) attachBpf(this.init.host.root, this.program)
  }

  status(): NodeBpfStatus {
    return {
      settings: { ...this.settings },
      frontends: this.maps.natFe.size,
      backends: this.maps.natBe.size,
      conntrack: this.maps.ct.size,
      attached: this.init.host.root
        .links()
        .filter((l) => l.tc !== undefined)
        .map((l) => l.name),
      stats: { ...this.program.stats },
    }
  }

  /** `calico-node -bpf nat dump | conntrack dump | routes dump` on the node (`calilab ssh`). */
  tool(): Tool {
    return async (argv, _env, io) => {
      const [flag, map, verb] = argv.slice(1)
      if (flag !== '-bpf' || verb !== 'dump' || map === undefined) {
        io.stderr('usage: calico-node -bpf nat|conntrack|routes dump\n')
        return 2
      }
      if (map === 'nat') io.stdout(dumpNat(this.maps))
      else if (map === 'conntrack' || map === 'ct') io.stdout(dumpConntrack(this.maps, this.init.clock.now()))
      else if (map === 'routes') io.stdout(dumpRoutes(this.maps))
      else {
        io.stderr(`calico-node: unknown map "${map}" (nat, conntrack, routes)\n`)
        return 2
      }
      return 0
    }
  }

  close(): void {
    this.closed = true
    this.gcTimer?.cancel()
  }
}

/** The CNI side with BPF: a new pod's veth gets the workload program as soon as it exists. */
export function withBpfPrograms(pods: PodNetwork, bpf: NodeBpf): PodNetwork {
  return {
    setup: async (pod, ip) => {
      await pods.setup(pod, ip)
      bpf.syncLinks()
    },
    teardown: (pod) => pods.teardown(pod),
    podNetns: (namespace, name) => pods.podNetns(namespace, name),
  }
}
