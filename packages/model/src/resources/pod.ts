/** core/v1 PodSpec and PodTemplateSpec: types, schema, defaults (shared by Pod and workloads). */

import {
  defaultPortProtocols,
  dns1123Label,
  dns1123Subdomain,
  labelSelector,
  portName,
  portNumber,
  protocol,
  qualifiedName,
  quantity,
} from './fields.ts'
import type { ObjectMeta } from './meta.ts'
import {
  any,
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
  type Schema,
  string,
} from './schema.ts'

export type Protocol = 'TCP' | 'UDP' | 'SCTP'

export interface ContainerPort {
  name?: string
  hostPort?: number
  containerPort: number
  protocol?: Protocol
  hostIP?: string
}

export interface EnvVar {
  name: string
  value?: string
  valueFrom?: Record<string, unknown>
}

export interface Container {
  name: string
  image?: string
  command?: string[]
  args?: string[]
  workingDir?: string
  ports?: ContainerPort[]
  env?: EnvVar[]
  envFrom?: Record<string, unknown>[]
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> }
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[]
  livenessProbe?: Record<string, unknown>
  readinessProbe?: Record<string, unknown>
  startupProbe?: Record<string, unknown>
  terminationMessagePath?: string
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError'
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never'
  securityContext?: Record<string, unknown>
  stdin?: boolean
  tty?: boolean
}

export interface Toleration {
  key?: string
  operator?: 'Exists' | 'Equal'
  value?: string
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
  tolerationSeconds?: number
}

export interface PodSpec {
  containers: Container[]
  initContainers?: Container[]
  volumes?: Record<string, unknown>[]
  restartPolicy?: 'Always' | 'OnFailure' | 'Never'
  terminationGracePeriodSeconds?: number
  activeDeadlineSeconds?: number
  dnsPolicy?: 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None'
  nodeSelector?: Record<string, string>
  serviceAccountName?: string
  serviceAccount?: string
  automountServiceAccountToken?: boolean
  nodeName?: string
  hostNetwork?: boolean
  hostPID?: boolean
  hostIPC?: boolean
  securityContext?: Record<string, unknown>
  imagePullSecrets?: { name: string }[]
  hostname?: string
  subdomain?: string
  affinity?: Record<string, unknown>
  schedulerName?: string
  tolerations?: Toleration[]
  priorityClassName?: string
  priority?: number
  enableServiceLinks?: boolean
}

export interface PodStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown'
  conditions?: { type: string; status: string; lastTransitionTime?: string; reason?: string; message?: string }[]
  hostIP?: string
  podIP?: string
  podIPs?: { ip: string }[]
  startTime?: string
  containerStatuses?: Record<string, unknown>[]
}

export interface PodTemplateSpec {
  metadata?: ObjectMeta
  spec: PodSpec
}

// ---- schema ---------------------------------------------------------------------------------

const containerPort = object(
  {
    name: string(portName),
    hostPort: int(1, 65535),
    containerPort: int(1, 65535),
    protocol: protocol(),
    hostIP: string(),
  },
  { required: ['containerPort'] },
)

const keyRef = object({ name: string(), key: string(), optional: bool() }, { required: ['key'] })
const fieldRef = object({ apiVersion: string(), fieldPath: string() }, { required: ['fieldPath'] })
const resourceFieldRef = object(
  { containerName: string(), resource: string(), divisor: quantity() },
  { required: ['resource'] },
)

const envVar = object(
  {
    name: string(),
    value: string(),
    valueFrom: object({
      fieldRef,
      resourceFieldRef,
      configMapKeyRef: keyRef,
      secretKeyRef: keyRef,
      fileKeyRef: openObject(),
    }),
  },
  { required: ['name'] },
)

const envFromSource = object({
  prefix: string(),
  configMapRef: object({ name: string(), optional: bool() }),
  secretRef: object({ name: string(), optional: bool() }),
})

const resourceList = map(quantity())
const resources = object({ limits: resourceList, requests: resourceList, claims: list(openObject()) })

const volumeMount = object(
  {
    name: string(),
    readOnly: bool(),
    recursiveReadOnly: enumOf('Disabled', 'IfPossible', 'Enabled'),
    mountPath: string(),
    subPath: string(),
    mountPropagation: enumOf('None', 'HostToContainer', 'Bidirectional'),
    subPathExpr: string(),
  },
  { required: ['name', 'mountPath'] },
)

const httpGet = object(
  {
    path: string(),
    port: intOrString(portNumber, portName),
    host: string(),
    scheme: enumOf('HTTP', 'HTTPS'),
    httpHeaders: list(object({ name: string(), value: string() }, { required: ['name', 'value'] })),
  },
  { required: ['port'] },
)
const handlerFields = {
  exec: object({ command: list(string()) }),
  httpGet,
  tcpSocket: object({ port: intOrString(portNumber, portName), host: string() }, { required: ['port'] }),
  grpc: object({ port: int(1, 65535), service: string() }, { required: ['port'] }),
}
const probe = object({
  ...handlerFields,
  initialDelaySeconds: int(0),
  timeoutSeconds: int(1),
  periodSeconds: int(1),
  successThreshold: int(1),
  failureThreshold: int(1),
  terminationGracePeriodSeconds: int(1),
})
const lifecycleHandler = object({ ...handlerFields, sleep: object({ seconds: int(0) }) })

const containerFields = {
  name: string(dns1123Label),
  image: string(),
  command: list(string()),
  args: list(string()),
  workingDir: string(),
  ports: list(containerPort),
  envFrom: list(envFromSource),
  env: list(envVar),
  resources,
  resizePolicy: list(openObject()),
  restartPolicy: enumOf('Always'),
  restartPolicyRules: list(openObject()),
  volumeMounts: list(volumeMount),
  volumeDevices: list(object({ name: string(), devicePath: string() }, { required: ['name', 'devicePath'] })),
  livenessProbe: probe,
  readinessProbe: probe,
  startupProbe: probe,
  lifecycle: object({ postStart: lifecycleHandler, preStop: lifecycleHandler, stopSignal: string() }),
  terminationMessagePath: string(),
  terminationMessagePolicy: enumOf('File', 'FallbackToLogsOnError'),
  imagePullPolicy: enumOf('Always', 'IfNotPresent', 'Never'),
  securityContext: openObject(),
  stdin: bool(),
  stdinOnce: bool(),
  tty: bool(),
}
const container = object(containerFields, { required: ['name'] })
const ephemeralContainer = object({ ...containerFields, targetContainerName: string() }, { required: ['name'] })

const toleration = object({
  key: string(qualifiedName),
  operator: enumOf('Exists', 'Equal'),
  value: string(),
  effect: enumOf('NoSchedule', 'PreferNoSchedule', 'NoExecute'),
  tolerationSeconds: int(),
})

/** A volume: its name plus exactly one source; sources are opaque objects. */
const VOLUME_SOURCES = [
  'hostPath',
  'emptyDir',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'secret',
  'nfs',
  'iscsi',
  'glusterfs',
  'persistentVolumeClaim',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'downwardAPI',
  'fc',
  'azureFile',
  'configMap',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'projected',
  'portworxVolume',
  'scaleIO',
  'storageos',
  'csi',
  'ephemeral',
  'image',
] as const
const volumeFields: Record<string, Schema> = { name: string(dns1123Label) }
for (const s of VOLUME_SOURCES) volumeFields[s] = openObject()
volumeFields.hostPath = object(
  {
    path: string(),
    type: enumOf('', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'),
  },
  { required: ['path'] },
)
const volume = object(volumeFields, {
  required: ['name'],
  rules: [
    (v, path, errs) => {
      const n = VOLUME_SOURCES.filter((s) => v[s] !== undefined && v[s] !== null).length
      if (n > 1) errs.forbidden(path, 'may not specify more than 1 volume type')
    },
  ],
})

const uniqueNames = (field: string) => (v: Json, path: string, errs: Errs) => {
  const items = v[field]
  if (!Array.isArray(items)) return
  const seen = new Set<unknown>()
  items.forEach((c, i) => {
    if (!isObject(c) || typeof c.name !== 'string') return
    if (seen.has(c.name)) errs.duplicate(`${path}.${field}[${i}].name`, c.name)
    seen.add(c.name)
  })
}

export const podSpecSchema = object(
  {
    volumes: list(volume),
    initContainers: list(container),
    containers: list(container, { minItems: 1 }),
    ephemeralContainers: list(ephemeralContainer),
    restartPolicy: enumOf('Always', 'OnFailure', 'Never'),
    terminationGracePeriodSeconds: int(0),
    activeDeadlineSeconds: int(1),
    dnsPolicy: enumOf('ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'),
    nodeSelector: map(string(), qualifiedName),
    serviceAccountName: string(dns1123Subdomain),
    serviceAccount: string(),
    automountServiceAccountToken: bool(),
    nodeName: string(dns1123Subdomain),
    hostNetwork: bool(),
    hostPID: bool(),
    hostIPC: bool(),
    shareProcessNamespace: bool(),
    securityContext: openObject(),
    imagePullSecrets: list(object({ name: string() })),
    hostname: string(dns1123Label),
    subdomain: string(dns1123Label),
    affinity: openObject(),
    schedulerName: string(),
    tolerations: list(toleration),
    hostAliases: list(object({ ip: string(), hostnames: list(string()) }, { required: ['ip'] })),
    priorityClassName: string(),
    priority: int(),
    dnsConfig: object({ nameservers: list(string()), searches: list(string()), options: list(openObject()) }),
    readinessGates: list(object({ conditionType: string() }, { required: ['conditionType'] })),
    runtimeClassName: string(),
    enableServiceLinks: bool(),
    preemptionPolicy: enumOf('PreemptLowerPriority', 'Never'),
    overhead: resourceList,
    topologySpreadConstraints: list(openObject()),
    setHostnameAsFQDN: bool(),
    os: object({ name: enumOf('linux', 'windows') }, { required: ['name'] }),
    hostUsers: bool(),
    schedulingGates: list(object({ name: string() }, { required: ['name'] })),
    resourceClaims: list(openObject()),
    resources,
    hostnameOverride: string(),
  },
  { required: ['containers'], rules: [uniqueNames('containers'), uniqueNames('volumes')] },
)

/** ObjectMeta inside templates: validated loosely (labels/annotations maps). */
export const templateMetaSchema = object(
  {
    name: string(),
    generateName: string(),
    namespace: string(),
    labels: map(string(), qualifiedName),
    annotations: map(string(), qualifiedName),
    creationTimestamp: any(),
    uid: string(),
    resourceVersion: string(),
    generation: int(),
    ownerReferences: list(openObject()),
    finalizers: list(string()),
  },
  {},
)

export const podTemplateSchema = object({ metadata: templateMetaSchema, spec: podSpecSchema }, { required: ['spec'] })

export { labelSelector }

// ---- defaults -------------------------------------------------------------------------------

function defaultPullPolicy(image: unknown): 'Always' | 'IfNotPresent' {
  if (typeof image !== 'string') return 'IfNotPresent'
  if (image.includes('@')) return 'IfNotPresent'
  const lastSlash = image.lastIndexOf('/')
  const colon = image.indexOf(':', lastSlash + 1)
  const tag = colon < 0 ? '' : image.slice(colon + 1)
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent'
}

function defaultContainer(c: unknown): unknown {
  if (!isObject(c)) return c
  const out: Json = { ...c }
  out.terminationMessagePath ??= '/dev/termination-log'
  out.terminationMessagePolicy ??= 'File'
  out.imagePullPolicy ??= defaultPullPolicy(c.image)
  if (Array.isArray(c.ports)) {
    out.ports = defaultPortProtocols(c.ports)
  }
  return out
}

/** Defaults kube-apiserver applies to a PodSpec (SetDefaults_PodSpec and friends). */
export function defaultPodSpec(spec: unknown): unknown {
  if (!isObject(spec)) return spec
  const out: Json = { ...spec }
  out.restartPolicy ??= 'Always'
  out.terminationGracePeriodSeconds ??= 30
  out.dnsPolicy ??= 'ClusterFirst'
  out.securityContext ??= {}
  out.schedulerName ??= 'default-scheduler'
  out.enableServiceLinks ??= true
  if (typeof out.serviceAccountName === 'string' && out.serviceAccount === undefined) {
    out.serviceAccount = out.serviceAccountName
  }
  if (Array.isArray(spec.containers)) out.containers = spec.containers.map(defaultContainer)
  if (Array.isArray(spec.initContainers)) out.initContainers = spec.initContainers.map(defaultContainer)
  if (out.hostNetwork === true && Array.isArray(out.containers)) {
    // hostNetwork pods: hostPort defaults to containerPort
    out.containers = out.containers.map((c) =>
      isObject(c) && Array.isArray(c.ports)
        ? { ...c, ports: c.ports.map((p) => (isObject(p) ? { ...p, hostPort: p.hostPort ?? p.containerPort } : p)) }
        : c,
    )
  }
  return out
}

export function defaultPodTemplate(t: unknown): unknown {
  if (!isObject(t)) return t
  return { ...t, spec: defaultPodSpec(t.spec) }
}
