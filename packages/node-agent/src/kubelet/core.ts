/**
 * Pure kubelet decisions: the Node object and its status, pod IPs from the node's block, the
 * status of a started (or waiting) pod, and the start-up lines an emulated container logs.
 */

export interface NodeIdentity {
  nodeName: string
  nodeIP: string
  endpoint: string
  role: 'control' | 'worker'
}

export interface KCondition {
  type: string
  status: string
  reason?: string
  message?: string
  lastHeartbeatTime?: string
  lastTransitionTime?: string
  lastProbeTime?: string | null
}

export const KUBELET_VERSION = 'v1.32.0'
export const CLUSTER_CIDR = '198.19.16.0/20'
export const SERVICE_CIDR = '198.19.32.0/20'
export const NOT_READY_MESSAGE =
  'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized'

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function nodeLabels(id: NodeIdentity): Record<string, string> {
  const l: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': id.nodeName,
    'kubernetes.io/os': 'linux',
  }
  if (id.role === 'control') {
    l['node-role.kubernetes.io/control-plane'] = 'true'
    l['node-role.kubernetes.io/master'] = 'true'
  }
  return l
}

export function nodeAnnotations(id: NodeIdentity, kubeletPort: number): Record<string, string> {
  const a: Record<string, string> = {
    'projectcalico.org/IPv4Address': `${id.nodeIP}/20`,
    'calilab.dev/kubelet-endpoint': `${id.endpoint}:${kubeletPort}`,
    'node.alpha.kubernetes.io/ttl': '0',
    'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
  }
  if (id.role === 'control') {
    a['k3s.io/node-args'] = JSON.stringify([
      'server',
      '--cluster-cidr',
      CLUSTER_CIDR,
      '--service-cidr',
      SERVICE_CIDR,
      '--flannel-backend',
      'none',
      '--disable-network-policy',
    ])
  }
  return a
}

/** The Node the agent registers (spec + metadata; status is written separately). */
export function nodeObject(id: NodeIdentity, kubeletPort: number): Record<string, unknown> {
  const spec: Record<string, unknown> = {}
  if (id.role === 'control') spec.taints = [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: id.nodeName, labels: nodeLabels(id), annotations: nodeAnnotations(id, kubeletPort) },
    spec,
  }
}

function cond(prev: KCondition[] | undefined, c: KCondition, nowIso: string): KCondition {
  const p = prev?.find((x) => x.type === c.type)
  return {
    ...c,
    lastHeartbeatTime: nowIso,
    lastTransitionTime: p && p.status === c.status ? (p.lastTransitionTime ?? nowIso) : nowIso,
  }
}

export function nodeStatus(
  id: NodeIdentity,
  kubeletPort: number,
  networkReady: boolean,
  nowIso: string,
  prev: KCondition[] | undefined,
): Record<string, unknown> {
  const resources = { cpu: '2', 'ephemeral-storage': '20134592Ki', memory: '4026036Ki', pods: '110' }
  return {
    addresses: [
      { type: 'InternalIP', address: id.nodeIP },
      { type: 'Hostname', address: id.nodeName },
    ],
    capacity: resources,
    allocatable: resources,
    daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
    nodeInfo: {
      architecture: 'amd64',
      bootID: '',
      containerRuntimeVersion: 'containerd://1.7.23-k3s2',
      kernelVersion: '5.4.0-1029-gcp',
      kubeProxyVersion: KUBELET_VERSION,
      kubeletVersion: KUBELET_VERSION,
      machineID: '',
      operatingSystem: 'linux',
      osImage: 'Ubuntu 20.04.1 LTS',
      systemUUID: '',
    },
    conditions: [
      cond(
        prev,
        {
          type: 'MemoryPressure',
          status: 'False',
          reason: 'KubeletHasSufficientMemory',
          message: 'kubelet has sufficient memory available',
        },
        nowIso,
      ),
      cond(
        prev,
        {
          type: 'DiskPressure',
          status: 'False',
          reason: 'KubeletHasNoDiskPressure',
          message: 'kubelet has no disk pressure',
        },
        nowIso,
      ),
      cond(
        prev,
        {
          type: 'PIDPressure',
          status: 'False',
          reason: 'KubeletHasSufficientPID',
          message: 'kubelet has sufficient PID available',
        },
        nowIso,
      ),
      cond(
        prev,
        networkReady
          ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }
          : { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: NOT_READY_MESSAGE },
        nowIso,
      ),
    ],
  }
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => ((a << 8) + Number(o)) >>> 0, 0)
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
}

/** Sequential pod IPs from one CIDR (a temporary stand-in for Calico IPAM). */
export class BlockAllocator {
  private readonly base: number
  private readonly size: number
  private readonly used = new Map<string, string>()

  constructor(cidr: string) {
    const [ip, len] = cidr.split('/')
    const bits = Number(len ?? 32)
    this.size = 2 ** (32 - bits)
    this.base = (ipToInt(ip ?? '0.0.0.0') & (bits === 0 ? 0 : ~0 << (32 - bits))) >>> 0
  }

  /** The IP for `owner` (same owner → same IP); undefined when the block is full. */
  assign(owner: string): string | undefined {
    for (const [ip, o] of this.used) if (o === owner) return ip
    for (let i = 0; i < this.size; i++) {
      const ip = intToIp((this.base + i) >>> 0)
      if (!this.used.has(ip)) {
        this.used.set(ip, owner)
        return ip
      }
    }
    return undefined
  }

  /** Marks an IP taken (after a restart, from pods already running). */
  reserve(ip: string, owner: string): boolean {
    const n = ipToInt(ip)
    if (n < this.base || n >= this.base + this.size) return false
    if (this.used.has(ip) && this.used.get(ip) !== owner) return false
    this.used.set(ip, owner)
    return true
  }

  release(owner: string): void {
    for (const [ip, o] of this.used) if (o === owner) this.used.delete(ip)
  }

  get inUse(): number {
    return this.used.size
  }
}

interface PodLike {
  metadata: { name?: string; namespace?: string; uid?: string }
  spec: { containers?: { name: string; image?: string }[]; hostNetwork?: boolean }
  status?: Record<string, unknown>
}

export function containerId(podUid: string, container: string): string {
  // Stable 64-hex id from the pod uid and container name.
  let h1 = 0x811c9dc5
  let out = ''
  const s = `${podUid}/${container}`
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < s.length; i++) {
      h1 ^= s.charCodeAt(i) + round
      h1 = Math.imul(h1, 0x01000193) >>> 0
    }
    out += h1.toString(16).padStart(8, '0')
  }
  return out
}

function imageRef(image: string | undefined): { image: string; imageID: string } {
  const img = image ?? 'busybox'
  const full = img.includes('/')
    ? img.split('/')[0]?.includes('.')
      ? img
      : `docker.io/${img}`
    : `docker.io/library/${img}`
  const tagged = /:[^/]+$/.test(full) ? full : `${full}:latest`
  const digest = containerId(tagged, 'image')
  return { image: tagged, imageID: `${tagged.replace(/:[^/]+$/, '')}@sha256:${digest}` }
}

function podConditions(ready: boolean, nowIso: string): KCondition[] {
  const t = (type: string, ok: boolean): KCondition => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: nowIso,
  })
  return [t('Initialized', true), t('Ready', ready), t('ContainersReady', ready), t('PodScheduled', true)]
}

export function runningPodStatus(pod: PodLike, podIP: string, hostIP: string, nowIso: string): Record<string, unknown> {
  return {
    phase: 'Running',
    conditions: podConditions(true, nowIso),
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP,
    podIPs: [{ ip: podIP }],
    qosClass: 'BestEffort',
    startTime: nowIso,
    containerStatuses: (pod.spec.containers ?? []).map((c) => ({
      name: c.name,
      ...imageRef(c.image),
      containerID: `containerd://${containerId(pod.metadata.uid ?? '', c.name)}`,
      ready: true,
      started: true,
      restartCount: 0,
      lastState: {},
      state: { running: { startedAt: nowIso } },
    })),
  }
}

/** A pod that needs a pod network on a node without CNI: ContainerCreating, as a real kubelet shows. */
export function creatingPodStatus(pod: PodLike, hostIP: string, nowIso: string): Record<string, unknown> {
  return {
    phase: 'Pending',
    conditions: podConditions(false, nowIso).map((c) =>
      c.type === 'Ready' || c.type === 'ContainersReady'
        ? {
            ...c,
            reason: 'ContainersNotReady',
            message: `containers with unready status: [${(pod.spec.containers ?? []).map((x) => x.name).join(' ')}]`,
          }
        : c,
    ),
    hostIP,
    hostIPs: [{ ip: hostIP }],
    qosClass: 'BestEffort',
    startTime: nowIso,
    containerStatuses: (pod.spec.containers ?? []).map((c) => ({
      name: c.name,
      image: imageRef(c.image).image,
      imageID: '',
      ready: false,
      started: false,
      restartCount: 0,
      lastState: {},
      state: { waiting: { reason: 'ContainerCreating' } },
    })),
  }
}

/** Start-up lines an emulated container writes to its log. */
export function startupLogLines(image: string | undefined, container: string, nowIso: string): string[] {
  const img = image ?? ''
  const ts = nowIso.replace('T', ' ').replace('Z', '').slice(0, 19)
  if (img.includes('calico/node')) {
    return [
      `${ts}.000 [INFO][1] startup/startup.go 425: Early log level set to info`,
      `${ts}.000 [INFO][1] startup/startup.go 441: Using NODENAME environment for node name`,
      `${ts}.000 [INFO][1] startup/startup.go 694: Datastore is ready`,
      `${ts}.000 [INFO][60] felix/daemon.go 379: Felix starting up GOMAXPROCS=2 builddate="" gitcommit="" version="v3.21.4"`,
      `${ts}.000 [INFO][60] felix/daemon.go 622: Felix initialization complete`,
      `bird: Started`,
    ]
  }
  if (img.includes('calico/typha'))
    return [`${ts}.000 [INFO][7] daemon.go 163: Typha starting up GOMAXPROCS=2 version="v3.21.4"`]
  if (img.includes('kube-controllers'))
    return [
      `${ts}.000 [INFO][1] main.go 94: Loaded configuration from environment config=&config.Config{LogLevel:"info", EnabledControllers:"node", DatastoreType:"kubernetes"}`,
    ]
  if (img.includes('operator'))
    return [
      `{"level":"info","ts":"${nowIso}","logger":"setup","msg":"Checking type of cluster","provider":""}`,
      `{"level":"info","ts":"${nowIso}","logger":"setup","msg":"starting manager"}`,
    ]
  if (img.includes('nginx')) {
    return [
      '/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration',
      '/docker-entrypoint.sh: Configuration complete; ready for start up',
      `${nowIso.slice(0, 10).replaceAll('-', '/')} ${nowIso.slice(11, 19)} [notice] 1#1: start worker processes`,
    ]
  }
  return [`${container}: started`]
}
