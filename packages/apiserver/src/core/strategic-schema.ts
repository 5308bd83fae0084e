/**
 * Patch metadata for strategic merge patch: which lists merge element-wise and by which key,
 * as declared by `patchStrategy` / `patchMergeKey` tags in k8s.io/api. Lists not named here are
 * replaced whole (atomic). Maps not named here still merge recursively.
 */

export interface FieldPatchMeta {
  /** 'merge': element-wise merge (by mergeKey for lists of maps; union for primitive lists). */
  strategy?: 'merge' | 'replace'
  mergeKey?: string
  /** The field honours `$retainKeys` (patchStrategy "retainKeys"). */
  retainKeys?: boolean
  /** Schema of the value (a map) or of each list element. */
  schema?: PatchSchema
}

export interface PatchSchema {
  fields: Record<string, FieldPatchMeta>
}

const merge = (mergeKey: string, schema?: PatchSchema): FieldPatchMeta =>
  schema ? { strategy: 'merge', mergeKey, schema } : { strategy: 'merge', mergeKey }
const nested = (schema: PatchSchema): FieldPatchMeta => ({ schema })
const s = (fields: Record<string, FieldPatchMeta>): PatchSchema => ({ fields })

const conditions = merge('type')

export const OBJECT_META: PatchSchema = s({
  finalizers: { strategy: 'merge' },
  ownerReferences: merge('uid'),
})

const CONTAINER: PatchSchema = s({
  ports: merge('containerPort'),
  env: merge('name'),
  volumeMounts: merge('mountPath'),
  volumeDevices: merge('devicePath'),
})

export const POD_SPEC: PatchSchema = s({
  volumes: { strategy: 'merge', mergeKey: 'name', retainKeys: true },
  initContainers: merge('name', CONTAINER),
  containers: merge('name', CONTAINER),
  ephemeralContainers: merge('name', CONTAINER),
  imagePullSecrets: merge('name'),
  hostAliases: merge('ip'),
  topologySpreadConstraints: merge('topologyKey'),
  resourceClaims: { strategy: 'merge', mergeKey: 'name', retainKeys: true },
  schedulingGates: merge('name'),
})

const POD_STATUS: PatchSchema = s({
  conditions,
  podIPs: merge('ip'),
  hostIPs: merge('ip'),
})

const POD_TEMPLATE_SPEC: PatchSchema = s({ metadata: nested(OBJECT_META), spec: nested(POD_SPEC) })

const withMeta = (fields: Record<string, FieldPatchMeta>): PatchSchema =>
  s({ metadata: nested(OBJECT_META), ...fields })

const statusWithConditions = nested(s({ conditions }))

const WORKLOAD_SPEC = (extra: Record<string, FieldPatchMeta> = {}) =>
  nested(s({ template: nested(POD_TEMPLATE_SPEC), ...extra }))

/** Root schemas by `group/Kind` (`/Pod` for the core group). */
export const STRATEGIC_SCHEMAS: Readonly<Record<string, PatchSchema>> = {
  '/Pod': withMeta({ spec: nested(POD_SPEC), status: nested(POD_STATUS) }),
  '/PodTemplate': withMeta({ template: nested(POD_TEMPLATE_SPEC) }),
  '/ReplicationController': withMeta({ spec: WORKLOAD_SPEC(), status: statusWithConditions }),
  '/Service': withMeta({
    spec: nested(s({ ports: merge('port') })),
    status: statusWithConditions,
  }),
  '/Endpoints': withMeta({}),
  '/Node': withMeta({
    spec: nested(s({ podCIDRs: { strategy: 'merge' } })),
    status: nested(s({ conditions, addresses: merge('type') })),
  }),
  '/Namespace': withMeta({ status: statusWithConditions }),
  '/ServiceAccount': withMeta({ secrets: merge('name'), imagePullSecrets: merge('name') }),
  '/ConfigMap': withMeta({}),
  '/Secret': withMeta({}),
  '/Event': withMeta({}),
  '/PersistentVolumeClaim': withMeta({ status: statusWithConditions }),
  '/PersistentVolume': withMeta({}),
  '/LimitRange': withMeta({}),
  '/ResourceQuota': withMeta({}),
  'apps/Deployment': withMeta({
    spec: WORKLOAD_SPEC({ strategy: { retainKeys: true } }),
    status: statusWithConditions,
  }),
  'apps/ReplicaSet': withMeta({ spec: WORKLOAD_SPEC(), status: statusWithConditions }),
  'apps/DaemonSet': withMeta({ spec: WORKLOAD_SPEC(), status: statusWithConditions }),
  'apps/StatefulSet': withMeta({ spec: WORKLOAD_SPEC(), status: statusWithConditions }),
  'apps/ControllerRevision': withMeta({}),
  'batch/Job': withMeta({ spec: WORKLOAD_SPEC(), status: statusWithConditions }),
  'batch/CronJob': withMeta({
    spec: nested(s({ jobTemplate: nested(s({ metadata: nested(OBJECT_META), spec: WORKLOAD_SPEC() })) })),
  }),
  'networking.k8s.io/NetworkPolicy': withMeta({}),
  'networking.k8s.io/Ingress': withMeta({}),
  'discovery.k8s.io/EndpointSlice': withMeta({}),
  'coordination.k8s.io/Lease': withMeta({}),
  'rbac.authorization.k8s.io/Role': withMeta({}),
  'rbac.authorization.k8s.io/ClusterRole': withMeta({}),
  'rbac.authorization.k8s.io/RoleBinding': withMeta({}),
  'rbac.authorization.k8s.io/ClusterRoleBinding': withMeta({}),
  'policy/PodDisruptionBudget': withMeta({ status: statusWithConditions }),
  'apiextensions.k8s.io/CustomResourceDefinition': withMeta({ status: statusWithConditions }),
}

/** The strategic schema of a built-in kind, or undefined (CRDs, Calico kinds: merge patch semantics). */
export function strategicSchemaFor(kind: { group: string; kind: string }): PatchSchema | undefined {
  return STRATEGIC_SCHEMAS[`${kind.group}/${kind.kind}`]
}
