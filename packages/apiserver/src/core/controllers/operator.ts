import type { KubeObject } from '@calilab/model'
import type { Action, Condition, DaemonSet, Deployment, Pod, PodSpec, PodTemplate } from './types.ts'
import { clone, jsonEqual } from './types.ts'
import { getCondition, isPodReady, ownerRefTo, setCondition } from './util.ts'

/** What tigera-operator (v3.21 era) renders from the Installation `default`. */
export const CALICO_VERSION = 'v3.21.4'
export const CALICO_NS = 'calico-system'
const TOLERATE_ALL = [
  { key: 'CriticalAddonsOnly', operator: 'Exists' },
  { effect: 'NoSchedule', operator: 'Exists' },
  { effect: 'NoExecute', operator: 'Exists' },
]

export interface IpPoolSpec {
  name?: string
  cidr: string
  blockSize?: number
  natOutgoing?: 'Enabled' | 'Disabled'
  encapsulation?: 'None' | 'IPIP' | 'VXLAN' | 'IPIPCrossSubnet' | 'VXLANCrossSubnet'
  nodeSelector?: string
}

export interface Installation extends KubeObject {
  spec?: {
    variant?: string
    calicoNetwork?: {
      ipPools?: IpPoolSpec[]
      containerIPForwarding?: string
      linuxDataplane?: string
      bgp?: string
      mtu?: number
      [k: string]: unknown
    }
    [k: string]: unknown
  }
}

/** Typha replicas, operator of the lab's era (pkg/common GetExpectedTyphaScale): nodes ≤ 3 → nodes. */
export function typhaReplicas(nodes: number): number {
  if (nodes <= 3) return Math.max(1, nodes)
  return Math.max(3, Math.floor(nodes / 200) + 2)
}

export function ippoolFromInstallation(p: IpPoolSpec, index: number): KubeObject {
  const enc = p.encapsulation ?? 'IPIP'
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: p.name ?? (index === 0 ? 'default-ipv4-ippool' : `ippool-${index}`) },
    spec: {
      cidr: p.cidr,
      blockSize: p.blockSize ?? 26,
      ipipMode: enc === 'IPIP' ? 'Always' : enc === 'IPIPCrossSubnet' ? 'CrossSubnet' : 'Never',
      vxlanMode: enc === 'VXLAN' ? 'Always' : enc === 'VXLANCrossSubnet' ? 'CrossSubnet' : 'Never',
      natOutgoing: (p.natOutgoing ?? 'Enabled') === 'Enabled',
      nodeSelector: p.nodeSelector ?? 'all()',
    },
  }
}

function computedSpec(inst: Installation): Record<string, unknown> {
  const cn = inst.spec?.calicoNetwork ?? {}
  const pools = (cn.ipPools ?? []).map((p) => ({
    blockSize: 26,
    encapsulation: 'IPIP',
    natOutgoing: 'Enabled',
    nodeSelector: 'all()',
    ...p,
  }))
  return {
    ...(inst.spec ?? {}),
    variant: inst.spec?.variant ?? 'Calico',
    cni: { type: 'Calico', ipam: { type: 'Calico' } },
    calicoNetwork: {
      bgp: 'Enabled',
      hostPorts: 'Enabled',
      linuxDataplane: 'Iptables',
      multiInterfaceMode: 'None',
      nodeAddressAutodetectionV4: { firstFound: true },
      ...cn,
      ipPools: pools,
    },
    controlPlaneReplicas: 2,
    flexVolumePath: '/usr/libexec/kubernetes/kubelet-plugins/volume/exec/',
    nodeUpdateStrategy: { rollingUpdate: { maxUnavailable: 1 }, type: 'RollingUpdate' },
  }
}

function podTemplate(
  app: string,
  image: string,
  opts: {
    hostNetwork: boolean
    ports?: unknown[]
    env?: unknown[]
    serviceAccount: string
    tolerations: unknown[]
    nodeSelector?: Record<string, string>
  },
): PodTemplate {
  const container: Record<string, unknown> = { name: app, image, imagePullPolicy: 'IfNotPresent' }
  if (opts.ports) container.ports = opts.ports
  if (opts.env) container.env = opts.env
  const spec: Record<string, unknown> = {
    containers: [container],
    serviceAccountName: opts.serviceAccount,
    tolerations: opts.tolerations,
    nodeSelector: { 'kubernetes.io/os': 'linux', ...(opts.nodeSelector ?? {}) },
    priorityClassName: 'system-node-critical',
  }
  if (opts.hostNetwork) {
    spec.hostNetwork = true
    spec.dnsPolicy = 'ClusterFirstWithHostNet'
  }
  return { metadata: { labels: { 'k8s-app': app } }, spec: spec as unknown as PodSpec }
}

export interface OperatorInput {
  installation: Installation | undefined
  /** The tigera-operator Deployment (namespace tigera-operator). */
  operator: Deployment | undefined
  nodeCount: number
  /** Current objects, looked up by `${kind}/${namespace}/${name}`. */
  existing: (kind: string, namespace: string | undefined, name: string) => KubeObject | undefined
  calicoPods: Pod[]
  nowIso: string
  /** Random UUID-like id for ClusterInformation.clusterGUID (from the injected Rng). */
  guid: () => string
  served: (apiVersion: string, kind: string) => boolean
}

export function operatorAvailable(d: Deployment | undefined): boolean {
  return (d?.status?.availableReplicas ?? 0) >= 1
}

/** The calico-system objects the operator keeps in place (owned by the Installation). */
export function desiredCalicoSystem(inst: Installation, nodeCount: number): KubeObject[] {
  const owner = [ownerRefTo(inst)]
  const meta = (name: string, labels: Record<string, string> = {}) => ({
    name,
    namespace: CALICO_NS,
    labels,
    ownerReferences: owner,
  })
  const node: DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta('calico-node', { 'k8s-app': 'calico-node' }),
    spec: {
      selector: { matchLabels: { 'k8s-app': 'calico-node' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: podTemplate('calico-node', `docker.io/calico/node:${CALICO_VERSION}`, {
        hostNetwork: true,
        serviceAccount: 'calico-node',
        tolerations: TOLERATE_ALL,
        env: [
          { name: 'DATASTORE_TYPE', value: 'kubernetes' },
          { name: 'WAIT_FOR_DATASTORE', value: 'true' },
          { name: 'CLUSTER_TYPE', value: 'k8s,operator,bgp' },
          { name: 'CALICO_NETWORKING_BACKEND', value: 'bird' },
          { name: 'FELIX_DEFAULTENDPOINTTOHOSTACTION', value: 'ACCEPT' },
          { name: 'FELIX_HEALTHENABLED', value: 'true' },
          { name: 'FELIX_HEALTHPORT', value: '9099' },
          { name: 'FELIX_TYPHAK8SSERVICENAME', value: 'calico-typha' },
          { name: 'FELIX_TYPHAK8SNAMESPACE', value: CALICO_NS },
          { name: 'IP', value: 'autodetect' },
        ],
      }),
    },
  }
  const typha: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('calico-typha', { 'k8s-app': 'calico-typha' }),
    spec: {
      replicas: typhaReplicas(nodeCount),
      selector: { matchLabels: { 'k8s-app': 'calico-typha' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: 1 } },
      revisionHistoryLimit: 2,
      template: podTemplate('calico-typha', `docker.io/calico/typha:${CALICO_VERSION}`, {
        hostNetwork: true,
        serviceAccount: 'calico-typha',
        tolerations: TOLERATE_ALL,
        ports: [{ containerPort: 5473, hostPort: 5473, name: 'calico-typha', protocol: 'TCP' }],
        env: [
          { name: 'TYPHA_K8SNAMESPACE', value: CALICO_NS },
          { name: 'TYPHA_HEALTHENABLED', value: 'true' },
          { name: 'TYPHA_HEALTHPORT', value: '9098' },
          { name: 'TYPHA_DATASTORETYPE', value: 'kubernetes' },
        ],
      }),
    },
  }
  const kc: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('calico-kube-controllers', { 'k8s-app': 'calico-kube-controllers' }),
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'k8s-app': 'calico-kube-controllers' } },
      strategy: { type: 'Recreate' },
      template: podTemplate('calico-kube-controllers', `docker.io/calico/kube-controllers:${CALICO_VERSION}`, {
        hostNetwork: false,
        serviceAccount: 'calico-kube-controllers',
        tolerations: [
          { key: 'CriticalAddonsOnly', operator: 'Exists' },
          { key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' },
          { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
        ],
        env: [
          { name: 'DATASTORE_TYPE', value: 'kubernetes' },
          { name: 'ENABLED_CONTROLLERS', value: 'node' },
        ],
      }),
    },
  }
  const sas = ['calico-node', 'calico-typha', 'calico-kube-controllers'].map(
    (n): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(n) }),
  )
  const typhaSvc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('calico-typha', { 'k8s-app': 'calico-typha' }),
    spec: {
      selector: { 'k8s-app': 'calico-typha' },
      ports: [{ name: 'calico-typha', port: 5473, protocol: 'TCP', targetPort: 'calico-typha' }],
    },
  }
  return [...sas, typhaSvc, node, typha, kc]
}

export function felixConfigurationDefault(): KubeObject {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'FelixConfiguration',
    metadata: { name: 'default' },
    spec: {
      bpfLogLevel: '',
      floatingIPs: 'Disabled',
      healthPort: 9099,
      logSeverityScreen: 'Info',
      reportingInterval: '0s',
    },
  }
}

export function kubeControllersConfigurationDefault(): KubeObject {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'KubeControllersConfiguration',
    metadata: { name: 'default' },
    spec: {
      controllers: {
        node: {
          hostEndpoint: { autoCreate: 'Disabled' },
          leakGracePeriod: '15m0s',
          reconcilerPeriod: '5m0s',
          syncLabels: 'Enabled',
        },
      },
      etcdV3CompactionPeriod: '10m0s',
      healthChecks: 'Enabled',
      logSeverityScreen: 'Info',
      prometheusMetricsPort: 9094,
    },
  }
}

export function clusterInformationDefault(guid: string): KubeObject {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'ClusterInformation',
    metadata: { name: 'default' },
    spec: { calicoVersion: CALICO_VERSION, clusterGUID: guid, clusterType: 'k8s,operator,bgp', datastoreReady: true },
  }
}

/** Fields of a desired object the operator owns (it leaves status and server-set metadata alone). */
function drifted(cur: KubeObject, want: KubeObject): boolean {
  if (!jsonEqual(cur.spec, want.spec)) return true
  const curLabels = cur.metadata.labels ?? {}
  return Object.entries(want.metadata.labels ?? {}).some(([k, v]) => curLabels[k] !== v)
}

/** Reconcile what tigera-operator does. Inputs are current state; output the writes. */
export function reconcileOperator(input: OperatorInput): Action[] {
  const inst = input.installation
  if (!inst || inst.metadata.deletionTimestamp || !operatorAvailable(input.operator)) return []
  const actions: Action[] = []
  const ensure = (want: KubeObject, overwrite: boolean) => {
    if (!input.served(want.apiVersion, want.kind)) return
    const cur = input.existing(want.kind, want.metadata.namespace, want.metadata.name ?? '')
    if (!cur) actions.push({ op: 'create', obj: want })
    else if (overwrite && drifted(cur, want)) {
      const next = clone(cur)
      next.spec = want.spec
      next.metadata.labels = { ...(cur.metadata.labels ?? {}), ...(want.metadata.labels ?? {}) }
      actions.push({ op: 'update', obj: next })
    }
  }
  ensure(
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: CALICO_NS,
        labels: { name: CALICO_NS, 'kubernetes.io/metadata.name': CALICO_NS },
        ownerReferences: [ownerRefTo(inst)],
      },
    },
    false,
  )
  const pools = inst.spec?.calicoNetwork?.ipPools ?? []
  for (const [i, p] of pools.entries()) ensure(ippoolFromInstallation(p, i), false)
  ensure(felixConfigurationDefault(), false)
  ensure(kubeControllersConfigurationDefault(), false)
  const ci = input.existing('ClusterInformation', undefined, 'default')
  if (!ci) ensure(clusterInformationDefault(input.guid()), false)
  if (input.existing('Namespace', undefined, CALICO_NS)) {
    for (const o of desiredCalicoSystem(inst, input.nodeCount)) ensure(o, o.kind !== 'ServiceAccount')
  }

  // Status: TigeraStatus calico and the Installation.
  const workloads = [
    input.existing('DaemonSet', CALICO_NS, 'calico-node') as DaemonSet | undefined,
    input.existing('Deployment', CALICO_NS, 'calico-typha') as Deployment | undefined,
    input.existing('Deployment', CALICO_NS, 'calico-kube-controllers') as Deployment | undefined,
  ]
  const pods = input.calicoPods.filter((p) => !p.metadata.deletionTimestamp)
  const notReady = pods.filter((p) => p.status?.phase !== 'Running' || !isPodReady(p))
  const ds = workloads[0]
  const dsStatus = (ds?.status ?? {}) as Record<string, number>
  const dsOk =
    ds !== undefined &&
    (dsStatus.desiredNumberScheduled ?? 0) > 0 &&
    dsStatus.numberAvailable === dsStatus.desiredNumberScheduled &&
    dsStatus.updatedNumberScheduled === dsStatus.desiredNumberScheduled
  const depOk = (d: Deployment | undefined) =>
    d !== undefined && (d.status?.availableReplicas ?? 0) >= (d.spec.replicas ?? 1) && (d.spec.replicas ?? 1) > 0
  const available = dsOk && depOk(workloads[1]) && depOk(workloads[2]) && notReady.length === 0 && pods.length > 0
  let progressingMsg = ''
  if (!ds || !dsOk) {
    progressingMsg = `DaemonSet "${CALICO_NS}/calico-node" is not available (awaiting ${Math.max(
      1,
      (dsStatus.desiredNumberScheduled ?? 1) - (dsStatus.numberAvailable ?? 0),
    )} nodes)`
  } else if (!depOk(workloads[1])) progressingMsg = `Deployment "${CALICO_NS}/calico-typha" is not available`
  else if (!depOk(workloads[2])) progressingMsg = `Deployment "${CALICO_NS}/calico-kube-controllers" is not available`
  else if (notReady.length) progressingMsg = `Pod "${CALICO_NS}/${notReady[0]?.metadata.name}" is not ready`
  const ts = input.existing('TigeraStatus', undefined, 'calico')
  const prevConds = (ts?.status as { conditions?: Condition[] } | undefined)?.conditions
  const cond = (type: string, status: 'True' | 'False', reason: string, message: string): Condition => ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: input.nowIso,
    observedGeneration: inst.metadata.generation ?? 1,
  })
  let conds = setCondition(
    prevConds,
    cond(
      'Available',
      available ? 'True' : 'False',
      available ? 'AllObjectsAvailable' : 'ResourceNotReady',
      available ? 'All objects are available' : progressingMsg,
    ),
    input.nowIso,
  )
  conds = setCondition(
    conds,
    cond(
      'Progressing',
      available ? 'False' : 'True',
      available ? 'AllObjectsAvailable' : 'ResourceNotReady',
      available ? 'All Objects are available' : progressingMsg,
    ),
    input.nowIso,
  )
  conds = setCondition(
    conds,
    cond('Degraded', 'False', available ? 'AllObjectsAvailable' : 'ResourceNotReady', ''),
    input.nowIso,
  )
  const tsStatus = { conditions: conds }
  if (input.served('operator.tigera.io/v1', 'TigeraStatus')) {
    if (!ts) {
      actions.push({
        op: 'create',
        obj: { apiVersion: 'operator.tigera.io/v1', kind: 'TigeraStatus', metadata: { name: 'calico' }, spec: {} },
      })
    } else if (!jsonEqual(ts.status, tsStatus)) {
      const next = clone(ts)
      next.status = tsStatus
      actions.push({ op: 'updateStatus', obj: next })
    }
  }
  const instStatus: Record<string, unknown> = { variant: 'Calico', computed: computedSpec(inst), imageSet: '' }
  const prevInst = (inst.status ?? {}) as Record<string, unknown>
  if (available) instStatus.calicoVersion = CALICO_VERSION
  else if (prevInst.calicoVersion !== undefined) instStatus.calicoVersion = prevInst.calicoVersion
  if (prevInst.mtu !== undefined) instStatus.mtu = prevInst.mtu
  else instStatus.mtu = 1440
  if (!jsonEqual(prevInst, instStatus)) {
    const next = clone(inst)
    next.status = instStatus
    actions.push({ op: 'updateStatus', obj: next })
  }
  void getCondition
  return actions
}
