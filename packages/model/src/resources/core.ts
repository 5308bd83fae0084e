/** core/v1 kinds: Namespace, Pod, Node, Service, Endpoints, ServiceAccount, ConfigMap. */

import {
  defaultPortProtocols,
  dns1035Label,
  dns1123Label,
  ip,
  ipv4,
  portName,
  portNumber,
  protocol,
  qualifiedName,
} from './fields.ts'
import { immutable, jsonEqual, type KindDef, specOf } from './kind.ts'
import type { KubeObject, Typed } from './meta.ts'
import { defaultPodSpec, type PodSpec, type PodStatus, type Protocol, podSpecSchema } from './pod.ts'
import {
  bool,
  type Errs,
  enumOf,
  int,
  intOrString,
  isObject,
  type Json,
  list,
  map,
  object,
  openObject,
  string,
} from './schema.ts'

// ---- types ----------------------------------------------------------------------------------

export type Namespace = Typed<{ finalizers?: string[] }, { phase?: 'Active' | 'Terminating' }>
export type Pod = Typed<PodSpec, PodStatus>

export interface Taint {
  key: string
  value?: string
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
  timeAdded?: string
}
export interface NodeSpec {
  podCIDR?: string
  podCIDRs?: string[]
  providerID?: string
  unschedulable?: boolean
  taints?: Taint[]
}
export interface NodeStatus {
  addresses?: { type: string; address: string }[]
  conditions?: { type: string; status: string; reason?: string; message?: string }[]
  capacity?: Record<string, string>
  allocatable?: Record<string, string>
  nodeInfo?: Record<string, string>
}
export type Node = Typed<NodeSpec, NodeStatus>

export interface ServicePort {
  name?: string
  protocol?: Protocol
  appProtocol?: string
  port: number
  targetPort?: number | string
  nodePort?: number
}
export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName'
  ports?: ServicePort[]
  selector?: Record<string, string>
  clusterIP?: string
  clusterIPs?: string[]
  externalIPs?: string[]
  sessionAffinity?: 'None' | 'ClientIP'
  loadBalancerIP?: string
  loadBalancerSourceRanges?: string[]
  externalName?: string
  externalTrafficPolicy?: 'Cluster' | 'Local'
  internalTrafficPolicy?: 'Cluster' | 'Local'
  healthCheckNodePort?: number
  publishNotReadyAddresses?: boolean
  ipFamilies?: ('IPv4' | 'IPv6')[]
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack'
}
export type Service = Typed<ServiceSpec, { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } }>

export interface EndpointAddress {
  ip: string
  hostname?: string
  nodeName?: string
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string }
}
export interface EndpointSubset {
  addresses?: EndpointAddress[]
  notReadyAddresses?: EndpointAddress[]
  ports?: { name?: string; port: number; protocol?: Protocol; appProtocol?: string }[]
}
export interface Endpoints extends KubeObject {
  subsets?: EndpointSubset[]
}
export interface ServiceAccount extends KubeObject {
  secrets?: { name?: string; namespace?: string }[]
  imagePullSecrets?: { name: string }[]
  automountServiceAccountToken?: boolean
}
export interface ConfigMap extends KubeObject {
  data?: Record<string, string>
  binaryData?: Record<string, string>
  immutable?: boolean
}

// ---- schemas --------------------------------------------------------------------------------

const NODE_PORT_MIN = 30000
const NODE_PORT_MAX = 32767

const servicePort = object(
  {
    name: string(dns1123Label),
    protocol: protocol(),
    appProtocol: string(),
    port: int(1, 65535),
    targetPort: intOrString(portNumber, portName),
    nodePort: int(1, 65535),
  },
  { required: ['port'] },
)

function serviceRules(spec: Json, path: string, errs: Errs): void {
  const type = spec.type ?? 'ClusterIP'
  const ports = Array.isArray(spec.ports) ? spec.ports : []
  const headless = spec.clusterIP === 'None'
  if (type === 'ExternalName') {
    if (typeof spec.externalName !== 'string' || spec.externalName === '') errs.required(`${path}.externalName`)
  } else if (ports.length === 0 && !headless) {
    errs.required(`${path}.ports`)
  }
  const names = new Set<unknown>()
  const seen = new Set<string>()
  ports.forEach((p, i) => {
    if (!isObject(p)) return
    const pp = `${path}.ports[${i}]`
    if (ports.length > 1 && (p.name === undefined || p.name === '')) errs.required(`${pp}.name`)
    if (p.name !== undefined) {
      if (names.has(p.name)) errs.duplicate(`${pp}.name`, p.name)
      names.add(p.name)
    }
    const key = `${String(p.protocol ?? 'TCP')}/${String(p.port)}`
    if (seen.has(key)) errs.duplicate(pp, { port: p.port, protocol: p.protocol ?? 'TCP' })
    seen.add(key)
    if (p.nodePort !== undefined && p.nodePort !== null) {
      if (type === 'ClusterIP' || type === 'ExternalName') {
        errs.forbidden(`${pp}.nodePort`, `may not be used when \`type\` is '${String(type)}'`)
      } else if (typeof p.nodePort === 'number' && (p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX)) {
        errs.invalid(
          `${pp}.nodePort`,
          p.nodePort,
          `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
        )
      }
    }
  })
  const cip = spec.clusterIP
  if (typeof cip === 'string' && cip !== '' && cip !== 'None' && ipv4(cip) !== undefined) {
    errs.invalid(`${path}.clusterIP`, cip, "must be empty, 'None', or a valid IP address")
  }
  if (spec.externalTrafficPolicy !== undefined && type !== 'NodePort' && type !== 'LoadBalancer') {
    errs.invalid(
      `${path}.externalTrafficPolicy`,
      spec.externalTrafficPolicy,
      "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
    )
  }
}

const serviceSpec = object(
  {
    type: enumOf('ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'),
    ports: list(servicePort),
    selector: map(string(), qualifiedName),
    clusterIP: string(),
    clusterIPs: list(string()),
    externalIPs: list(ip()),
    sessionAffinity: enumOf('ClientIP', 'None'),
    sessionAffinityConfig: object({ clientIP: object({ timeoutSeconds: int(1, 86400) }) }),
    loadBalancerIP: string(),
    loadBalancerSourceRanges: list(string()),
    loadBalancerClass: string(),
    externalName: string(),
    externalTrafficPolicy: enumOf('Cluster', 'Local'),
    internalTrafficPolicy: enumOf('Cluster', 'Local'),
    healthCheckNodePort: int(1, 65535),
    publishNotReadyAddresses: bool(),
    ipFamilies: list(enumOf('IPv4', 'IPv6')),
    ipFamilyPolicy: enumOf('SingleStack', 'PreferDualStack', 'RequireDualStack'),
    allocateLoadBalancerNodePorts: bool(),
    trafficDistribution: string(),
  },
  { rules: [serviceRules] },
)

const taint = object(
  {
    key: string(qualifiedName),
    value: string(),
    effect: enumOf('NoSchedule', 'PreferNoSchedule', 'NoExecute'),
    timeAdded: string(),
  },
  { required: ['key', 'effect'] },
)

const endpointAddress = object(
  { ip: ip(), hostname: string(), nodeName: string(), targetRef: openObject() },
  { required: ['ip'] },
)
const endpointSubset = object({
  addresses: list(endpointAddress),
  notReadyAddresses: list(endpointAddress),
  ports: list(
    object(
      { name: string(), port: int(1, 65535), protocol: protocol(), appProtocol: string() },
      { required: ['port'] },
    ),
  ),
})

const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/
const configMapKey = (k: string): string | undefined =>
  k.length > 253
    ? 'must be no more than 253 characters'
    : CONFIGMAP_KEY.test(k)
      ? undefined
      : "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

// ---- defaults -------------------------------------------------------------------------------

function withSpec(o: KubeObject, f: (s: Json) => Json): KubeObject {
  return { ...o, spec: f({ ...specOf(o) }) }
}

function defaultService(o: KubeObject): KubeObject {
  return withSpec(o, (s) => {
    s.type ??= 'ClusterIP'
    if (s.type !== 'ExternalName') {
      s.sessionAffinity ??= 'None'
      s.internalTrafficPolicy ??= 'Cluster'
      s.ipFamilyPolicy ??= 'SingleStack'
      s.ipFamilies ??= ['IPv4']
    }
    if (s.type === 'NodePort' || s.type === 'LoadBalancer') s.externalTrafficPolicy ??= 'Cluster'
    if (s.type === 'LoadBalancer') s.allocateLoadBalancerNodePorts ??= true
    if (Array.isArray(s.ports)) {
      s.ports = s.ports.map((p) =>
        isObject(p) ? { ...p, protocol: p.protocol ?? 'TCP', targetPort: p.targetPort ?? p.port } : p,
      )
    }
    return s
  })
}

function defaultEndpoints(o: KubeObject): KubeObject {
  if (!Array.isArray(o.subsets)) return o
  return {
    ...o,
    subsets: o.subsets.map((ss) =>
      isObject(ss) && Array.isArray(ss.ports) ? { ...ss, ports: defaultPortProtocols(ss.ports) } : ss,
    ),
  }
}

/** Pod fields the API server lets an update change (besides metadata). */
function podUpdate(obj: KubeObject, old: KubeObject, errs: Errs): void {
  const strip = (spec: Json): Json => {
    const s: Json = { ...spec }
    const noImage = (cs: unknown) =>
      Array.isArray(cs) ? cs.map((c) => (isObject(c) ? { ...c, image: undefined } : c)) : cs
    s.containers = noImage(s.containers)
    s.initContainers = noImage(s.initContainers)
    s.activeDeadlineSeconds = undefined
    s.tolerations = undefined
    s.ephemeralContainers = undefined
    return s
  }
  if (!jsonEqual(strip(specOf(obj)), strip(specOf(old)))) {
    errs.forbidden(
      'spec',
      'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
    )
  }
}

export const coreKinds: Readonly<Record<string, KindDef>> = Object.freeze({
  '/Namespace': {
    name: dns1123Label,
    root: object({ spec: object({ finalizers: list(string()) }), status: openObject() }),
    defaults: (o: KubeObject) => ({
      ...o,
      spec: { finalizers: ['kubernetes'], ...specOf(o) },
      status: { phase: 'Active', ...(isObject(o.status) ? o.status : {}) },
    }),
  },
  '/Pod': {
    root: object({ spec: podSpecSchema, status: openObject() }, { required: ['spec'] }),
    defaults: (o: KubeObject) => ({ ...o, spec: defaultPodSpec(o.spec) }),
    update: podUpdate,
  },
  '/Node': {
    root: object({
      spec: object({
        podCIDR: string(),
        podCIDRs: list(string()),
        providerID: string(),
        unschedulable: bool(),
        taints: list(taint),
        configSource: openObject(),
        externalID: string(),
      }),
      status: openObject(),
    }),
  },
  '/Service': {
    name: dns1035Label,
    root: object({ spec: serviceSpec, status: openObject() }, { required: ['spec'] }),
    defaults: defaultService,
    update: (o: KubeObject, old: KubeObject, errs: Errs) => {
      const before = specOf(old).clusterIP
      const now = specOf(o).clusterIP
      if (typeof before === 'string' && before !== '' && now !== undefined && now !== '' && now !== before) {
        immutable(errs, 'spec.clusterIP', now, before)
      }
    },
  },
  '/Endpoints': {
    root: object({ subsets: list(endpointSubset) }),
    defaults: defaultEndpoints,
  },
  '/ServiceAccount': {
    root: object({
      secrets: list(openObject()),
      imagePullSecrets: list(object({ name: string() })),
      automountServiceAccountToken: bool(),
    }),
  },
  '/ConfigMap': {
    root: object({ data: map(string(), configMapKey), binaryData: map(string(), configMapKey), immutable: bool() }),
    update: (o: KubeObject, old: KubeObject, errs: Errs) => {
      if (old.immutable !== true) return
      if (o.immutable !== true) errs.forbidden('immutable', 'field is immutable when `immutable` is set')
      if (!jsonEqual(o.data, old.data)) errs.forbidden('data', 'field is immutable when `immutable` is set')
      if (!jsonEqual(o.binaryData, old.binaryData))
        errs.forbidden('binaryData', 'field is immutable when `immutable` is set')
    },
  },
} satisfies Record<string, KindDef>)
