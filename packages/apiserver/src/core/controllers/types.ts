import type { KubeObject, ObjectMeta } from '@calilab/model'

/**
 * What a reconcile function asks the shell to do. Kinds are named by apiVersion + kind; the shell
 * resolves them through the API's resource table. Updates carry the resourceVersion they were
 * computed from, so a concurrent change surfaces as a 409 and the controller runs again.
 */
export type Action =
  | { op: 'create'; obj: KubeObject }
  | { op: 'update'; obj: KubeObject }
  | { op: 'updateStatus'; obj: KubeObject }
  | { op: 'delete'; apiVersion: string; kind: string; namespace?: string | undefined; name: string; uid?: string }
  /** Every object of a kind in one namespace (the namespace controller emptying a namespace). */
  | { op: 'deleteCollection'; apiVersion: string; kind: string; namespace: string }
  /** PUT namespaces/NAME/finalize with the object's spec.finalizers. */
  | { op: 'finalize'; obj: KubeObject }

export function createAction(obj: KubeObject): Action {
  return { op: 'create', obj }
}

export function deleteAction(obj: KubeObject): Action {
  const a: Action = {
    op: 'delete',
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name ?? '',
  }
  if (obj.metadata.uid) a.uid = obj.metadata.uid
  return a
}

export interface Condition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  reason?: string
  message?: string
  lastTransitionTime?: string
  lastUpdateTime?: string
  lastProbeTime?: string | null
  lastHeartbeatTime?: string
  observedGeneration?: number
}

export interface Toleration {
  key?: string
  operator?: 'Exists' | 'Equal'
  value?: string
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | ''
  tolerationSeconds?: number
}

export interface Taint {
  key: string
  value?: string
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
  timeAdded?: string
}

export interface ContainerPort {
  name?: string
  containerPort: number
  hostPort?: number
  protocol?: string
}

export interface Container {
  name: string
  image?: string
  ports?: ContainerPort[]
  [k: string]: unknown
}

export interface PodSpec {
  nodeName?: string
  nodeSelector?: Record<string, string>
  tolerations?: Toleration[]
  hostNetwork?: boolean
  containers: Container[]
  initContainers?: Container[]
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] }
    }
  }
  schedulerName?: string
  [k: string]: unknown
}

export interface NodeSelectorRequirement {
  key: string
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt'
  values?: string[]
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[]
  matchFields?: NodeSelectorRequirement[]
}

export interface PodStatus {
  phase?: string
  conditions?: Condition[]
  podIP?: string
  podIPs?: { ip: string }[]
  hostIP?: string
  startTime?: string
  containerStatuses?: unknown[]
  [k: string]: unknown
}

export interface Pod extends KubeObject {
  spec: PodSpec
  status?: PodStatus
}

export interface NodeObj extends KubeObject {
  spec?: { taints?: Taint[]; unschedulable?: boolean; podCIDR?: string; [k: string]: unknown }
  status?: {
    conditions?: Condition[]
    addresses?: { type: string; address: string }[]
    [k: string]: unknown
  }
}

export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[]
}

export interface PodTemplate {
  metadata?: ObjectMeta
  spec: PodSpec
}

export interface Deployment extends KubeObject {
  spec: {
    replicas?: number
    selector: LabelSelector
    template: PodTemplate
    strategy?: {
      type?: 'RollingUpdate' | 'Recreate'
      rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string }
    }
    minReadySeconds?: number
    paused?: boolean
    revisionHistoryLimit?: number
    progressDeadlineSeconds?: number
  }
  status?: {
    observedGeneration?: number
    replicas?: number
    updatedReplicas?: number
    readyReplicas?: number
    availableReplicas?: number
    unavailableReplicas?: number
    conditions?: Condition[]
    collisionCount?: number
  }
}

export interface ReplicaSet extends KubeObject {
  spec: { replicas?: number; selector: LabelSelector; template: PodTemplate; minReadySeconds?: number }
  status?: {
    replicas?: number
    fullyLabeledReplicas?: number
    readyReplicas?: number
    availableReplicas?: number
    observedGeneration?: number
  }
}

export interface DaemonSet extends KubeObject {
  spec: {
    selector: LabelSelector
    template: PodTemplate
    updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: { maxUnavailable?: number | string } }
    minReadySeconds?: number
  }
  status?: Record<string, unknown>
}

/** Deep structural equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bb = b as unknown[]
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]))
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined)
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined)
  return ak.length === bk.length && ak.every((k) => jsonEqual(ao[k], bo[k]))
}

export function clone<T>(v: T): T {
  return structuredClone(v)
}

/** RFC 3339 with seconds, as the API server writes timestamps. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}
