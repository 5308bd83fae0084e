/** The kinds the API server serves built-in, as kube-apiserver (and Calico's API server) report them. */

import type { ResourceInfo } from './meta.ts'

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const
const NO_DELETECOLLECTION = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] as const

/** Kinds that have a schema in model/ (everything else is validated for metadata only). */
const MODELED: ReadonlySet<string> = new Set([
  '/Namespace',
  '/Pod',
  '/Node',
  '/Service',
  '/Endpoints',
  '/ServiceAccount',
  '/ConfigMap',
  'apps/Deployment',
  'apps/ReplicaSet',
  'apps/DaemonSet',
  'networking.k8s.io/NetworkPolicy',
  'projectcalico.org/NetworkPolicy',
  'projectcalico.org/GlobalNetworkPolicy',
  'projectcalico.org/NetworkSet',
  'projectcalico.org/GlobalNetworkSet',
  'projectcalico.org/HostEndpoint',
  'projectcalico.org/IPPool',
  'projectcalico.org/BGPConfiguration',
  'projectcalico.org/BGPPeer',
  'projectcalico.org/FelixConfiguration',
  'projectcalico.org/KubeControllersConfiguration',
  'projectcalico.org/Node',
  'projectcalico.org/ClusterInformation',
  'projectcalico.org/IPAMBlock',
  'projectcalico.org/BlockAffinity',
  'projectcalico.org/IPAMHandle',
  'projectcalico.org/IPAMConfiguration',
  'operator.tigera.io/Installation',
  'operator.tigera.io/TigeraStatus',
])

interface Row {
  g: string
  v: string
  kind: string
  plural: string
  ns: boolean
  short?: readonly string[]
  cat?: readonly string[]
  sub?: readonly string[]
  verbs?: readonly string[]
}

const ROWS: readonly Row[] = Object.freeze([
  // core/v1
  {
    g: '',
    v: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    ns: false,
    short: ['ns'],
    sub: ['status', 'finalize'],
    verbs: NO_DELETECOLLECTION,
  },
  { g: '', v: 'v1', kind: 'Node', plural: 'nodes', ns: false, short: ['no'], sub: ['status', 'proxy'] },
  {
    g: '',
    v: 'v1',
    kind: 'Pod',
    plural: 'pods',
    ns: true,
    short: ['po'],
    cat: ['all'],
    sub: ['status', 'log', 'exec', 'binding', 'eviction', 'portforward', 'attach', 'ephemeralcontainers'],
  },
  {
    g: '',
    v: 'v1',
    kind: 'Service',
    plural: 'services',
    ns: true,
    short: ['svc'],
    cat: ['all'],
    sub: ['status', 'proxy'],
  },
  { g: '', v: 'v1', kind: 'Endpoints', plural: 'endpoints', ns: true, short: ['ep'] },
  { g: '', v: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', ns: true, short: ['sa'], sub: ['token'] },
  { g: '', v: 'v1', kind: 'ConfigMap', plural: 'configmaps', ns: true, short: ['cm'] },
  { g: '', v: 'v1', kind: 'Secret', plural: 'secrets', ns: true },
  { g: '', v: 'v1', kind: 'Event', plural: 'events', ns: true, short: ['ev'] },
  {
    g: '',
    v: 'v1',
    kind: 'ReplicationController',
    plural: 'replicationcontrollers',
    ns: true,
    short: ['rc'],
    cat: ['all'],
    sub: ['status', 'scale'],
  },
  {
    g: '',
    v: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    ns: true,
    short: ['pvc'],
    sub: ['status'],
  },
  { g: '', v: 'v1', kind: 'PersistentVolume', plural: 'persistentvolumes', ns: false, short: ['pv'], sub: ['status'] },
  { g: '', v: 'v1', kind: 'ResourceQuota', plural: 'resourcequotas', ns: true, short: ['quota'], sub: ['status'] },
  { g: '', v: 'v1', kind: 'LimitRange', plural: 'limitranges', ns: true, short: ['limits'] },
  // apps/v1
  {
    g: 'apps',
    v: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    ns: true,
    short: ['deploy'],
    cat: ['all'],
    sub: ['status', 'scale'],
  },
  {
    g: 'apps',
    v: 'v1',
    kind: 'ReplicaSet',
    plural: 'replicasets',
    ns: true,
    short: ['rs'],
    cat: ['all'],
    sub: ['status', 'scale'],
  },
  {
    g: 'apps',
    v: 'v1',
    kind: 'DaemonSet',
    plural: 'daemonsets',
    ns: true,
    short: ['ds'],
    cat: ['all'],
    sub: ['status'],
  },
  {
    g: 'apps',
    v: 'v1',
    kind: 'StatefulSet',
    plural: 'statefulsets',
    ns: true,
    short: ['sts'],
    cat: ['all'],
    sub: ['status', 'scale'],
  },
  { g: 'apps', v: 'v1', kind: 'ControllerRevision', plural: 'controllerrevisions', ns: true },
  // batch/v1, discovery, autoscaling
  { g: 'batch', v: 'v1', kind: 'Job', plural: 'jobs', ns: true, cat: ['all'], sub: ['status'] },
  { g: 'batch', v: 'v1', kind: 'CronJob', plural: 'cronjobs', ns: true, short: ['cj'], cat: ['all'], sub: ['status'] },
  { g: 'discovery.k8s.io', v: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', ns: true },
  // v2 (preferred) and v1, both from the same stored (v2) objects: the API server converts.
  ...['v2', 'v1'].map((v) => ({
    g: 'autoscaling',
    v,
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    ns: true,
    short: ['hpa'],
    cat: ['all'],
    sub: ['status'],
  })),
  // networking.k8s.io/v1
  { g: 'networking.k8s.io', v: 'v1', kind: 'NetworkPolicy', plural: 'networkpolicies', ns: true, short: ['netpol'] },
  { g: 'networking.k8s.io', v: 'v1', kind: 'Ingress', plural: 'ingresses', ns: true, short: ['ing'], sub: ['status'] },
  { g: 'networking.k8s.io', v: 'v1', kind: 'IngressClass', plural: 'ingressclasses', ns: false },
  // apiextensions, rbac, coordination, policy, scheduling, admission, storage
  {
    g: 'apiextensions.k8s.io',
    v: 'v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    ns: false,
    short: ['crd', 'crds'],
    cat: ['api-extensions'],
    sub: ['status'],
  },
  { g: 'rbac.authorization.k8s.io', v: 'v1', kind: 'Role', plural: 'roles', ns: true },
  { g: 'rbac.authorization.k8s.io', v: 'v1', kind: 'RoleBinding', plural: 'rolebindings', ns: true },
  { g: 'rbac.authorization.k8s.io', v: 'v1', kind: 'ClusterRole', plural: 'clusterroles', ns: false },
  { g: 'rbac.authorization.k8s.io', v: 'v1', kind: 'ClusterRoleBinding', plural: 'clusterrolebindings', ns: false },
  { g: 'coordination.k8s.io', v: 'v1', kind: 'Lease', plural: 'leases', ns: true },
  {
    g: 'policy',
    v: 'v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    ns: true,
    short: ['pdb'],
    sub: ['status'],
  },
  { g: 'scheduling.k8s.io', v: 'v1', kind: 'PriorityClass', plural: 'priorityclasses', ns: false, short: ['pc'] },
  {
    g: 'admissionregistration.k8s.io',
    v: 'v1',
    kind: 'ValidatingWebhookConfiguration',
    plural: 'validatingwebhookconfigurations',
    ns: false,
    cat: ['api-extensions'],
  },
  {
    g: 'admissionregistration.k8s.io',
    v: 'v1',
    kind: 'MutatingWebhookConfiguration',
    plural: 'mutatingwebhookconfigurations',
    ns: false,
    cat: ['api-extensions'],
  },
  { g: 'storage.k8s.io', v: 'v1', kind: 'StorageClass', plural: 'storageclasses', ns: false, short: ['sc'] },
  // projectcalico.org/v3
  {
    g: 'projectcalico.org',
    v: 'v3',
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    ns: true,
    short: ['cnp', 'caliconetworkpolicy', 'caliconetworkpolicies'],
  },
  {
    g: 'projectcalico.org',
    v: 'v3',
    kind: 'GlobalNetworkPolicy',
    plural: 'globalnetworkpolicies',
    ns: false,
    short: ['gnp', 'cgnp', 'calicoglobalnetworkpolicies'],
  },
  { g: 'projectcalico.org', v: 'v3', kind: 'NetworkSet', plural: 'networksets', ns: true, short: ['netsets'] },
  { g: 'projectcalico.org', v: 'v3', kind: 'GlobalNetworkSet', plural: 'globalnetworksets', ns: false },
  { g: 'projectcalico.org', v: 'v3', kind: 'HostEndpoint', plural: 'hostendpoints', ns: false, short: ['hep', 'heps'] },
  { g: 'projectcalico.org', v: 'v3', kind: 'IPPool', plural: 'ippools', ns: false, short: ['ippool'] },
  {
    g: 'projectcalico.org',
    v: 'v3',
    kind: 'BGPConfiguration',
    plural: 'bgpconfigurations',
    ns: false,
    short: ['bgpconfig', 'bgpconfigs'],
  },
  { g: 'projectcalico.org', v: 'v3', kind: 'BGPPeer', plural: 'bgppeers', ns: false },
  {
    g: 'projectcalico.org',
    v: 'v3',
    kind: 'FelixConfiguration',
    plural: 'felixconfigurations',
    ns: false,
    short: ['felixconfig', 'felixconfigs'],
  },
  {
    g: 'projectcalico.org',
    v: 'v3',
    kind: 'KubeControllersConfiguration',
    plural: 'kubecontrollersconfigurations',
    ns: false,
    sub: ['status'],
  },
  { g: 'projectcalico.org', v: 'v3', kind: 'Node', plural: 'nodes', ns: false, sub: ['status'] },
  { g: 'projectcalico.org', v: 'v3', kind: 'ClusterInformation', plural: 'clusterinformations', ns: false },
  { g: 'projectcalico.org', v: 'v3', kind: 'Profile', plural: 'profiles', ns: false },
  { g: 'projectcalico.org', v: 'v3', kind: 'WorkloadEndpoint', plural: 'workloadendpoints', ns: true, short: ['wep'] },
  { g: 'projectcalico.org', v: 'v3', kind: 'IPAMBlock', plural: 'ipamblocks', ns: false },
  { g: 'projectcalico.org', v: 'v3', kind: 'BlockAffinity', plural: 'blockaffinities', ns: false },
  { g: 'projectcalico.org', v: 'v3', kind: 'IPAMHandle', plural: 'ipamhandles', ns: false },
  { g: 'projectcalico.org', v: 'v3', kind: 'IPAMConfiguration', plural: 'ipamconfigurations', ns: false },
  // operator.tigera.io/v1 (the operator's CRDs, served built-in by the emulation)
  { g: 'operator.tigera.io', v: 'v1', kind: 'Installation', plural: 'installations', ns: false, sub: ['status'] },
  { g: 'operator.tigera.io', v: 'v1', kind: 'TigeraStatus', plural: 'tigerastatuses', ns: false, sub: ['status'] },
  { g: 'operator.tigera.io', v: 'v1', kind: 'APIServer', plural: 'apiservers', ns: false, sub: ['status'] },
  { g: 'operator.tigera.io', v: 'v1', kind: 'ImageSet', plural: 'imagesets', ns: false, sub: ['status'] },
  { g: 'operator.tigera.io', v: 'v1', kind: 'Goldmane', plural: 'goldmanes', ns: false, sub: ['status'] },
  { g: 'operator.tigera.io', v: 'v1', kind: 'Whisker', plural: 'whiskers', ns: false, sub: ['status'] },
  { g: 'operator.tigera.io', v: 'v1', kind: 'GatewayAPI', plural: 'gatewayapis', ns: false },
  { g: 'operator.tigera.io', v: 'v1', kind: 'Istio', plural: 'istios', ns: false, sub: ['status'] },
  {
    g: 'operator.tigera.io',
    v: 'v1',
    kind: 'ManagementClusterConnection',
    plural: 'managementclusterconnections',
    ns: false,
    sub: ['status'],
  },
] satisfies Row[])

/** Every built-in kind; a fresh array of fresh entries on each call. */
export function builtinResources(): ResourceInfo[] {
  return ROWS.map((r) => ({
    group: r.g,
    version: r.v,
    kind: r.kind,
    listKind: `${r.kind}List`,
    plural: r.plural,
    singular: r.kind.toLowerCase(),
    namespaced: r.ns,
    shortNames: [...(r.short ?? [])],
    categories: [...(r.cat ?? [])],
    verbs: [...(r.verbs ?? ALL_VERBS)],
    subresources: [...(r.sub ?? [])],
    modeled: MODELED.has(`${r.g}/${r.kind}`),
  }))
}

/** Finds the row for an apiVersion + kind in a table. */
export function findResource(
  table: readonly ResourceInfo[],
  apiVersion: string,
  kind: string,
): ResourceInfo | undefined {
  const slash = apiVersion.indexOf('/')
  const group = slash < 0 ? '' : apiVersion.slice(0, slash)
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1)
  return table.find((r) => r.group === group && r.version === version && r.kind === kind)
}
