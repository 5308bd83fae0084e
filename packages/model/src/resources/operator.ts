/** operator.tigera.io/v1 Installation and TigeraStatus. */

import { cidr, enabledDisabled, selector } from './fields.ts'
import type { KindDef } from './kind.ts'
import type { Typed } from './meta.ts'
import { bool, enumOf, int, list, object, openObject, string } from './schema.ts'

export interface InstallationIPPool {
  name?: string
  cidr: string
  blockSize?: number
  encapsulation?: 'IPIPCrossSubnet' | 'IPIP' | 'VXLAN' | 'VXLANCrossSubnet' | 'None'
  natOutgoing?: 'Enabled' | 'Disabled'
  nodeSelector?: string
  disableBGPExport?: boolean
  allowedUses?: string[]
}
export interface CalicoNetworkSpec {
  bgp?: 'Enabled' | 'Disabled'
  linuxDataplane?: 'Iptables' | 'BPF' | 'VPP' | 'Nftables'
  containerIPForwarding?: 'Enabled' | 'Disabled'
  hostPorts?: 'Enabled' | 'Disabled'
  ipPools?: InstallationIPPool[]
  mtu?: number
  nodeAddressAutodetectionV4?: Record<string, unknown>
  nodeAddressAutodetectionV6?: Record<string, unknown>
}
export interface InstallationSpec {
  variant?: 'Calico' | 'CalicoEnterprise' | 'TigeraSecureEnterprise'
  registry?: string
  imagePath?: string
  imagePrefix?: string
  kubernetesProvider?: string
  calicoNetwork?: CalicoNetworkSpec
  controlPlaneReplicas?: number
  nodeMetricsPort?: number
  typhaMetricsPort?: number
  [field: string]: unknown
}
export interface TigeraStatusCondition {
  type: string
  status: string
  lastTransitionTime: string
  reason?: string
  message?: string
  observedGeneration?: number
}
export type Installation = Typed<InstallationSpec, Record<string, unknown>>
export type TigeraStatus = Typed<Record<string, never>, { conditions: TigeraStatusCondition[] }>

const installationIPPool = object(
  {
    name: string(),
    cidr: cidr(),
    blockSize: int(0, 128),
    encapsulation: enumOf('IPIPCrossSubnet', 'IPIP', 'VXLAN', 'VXLANCrossSubnet', 'None'),
    natOutgoing: enabledDisabled(),
    nodeSelector: selector(),
    disableBGPExport: bool(),
    disableNewAllocations: bool(),
    allowedUses: list(enumOf('Workload', 'Tunnel', 'LoadBalancer')),
    assignmentMode: enumOf('Automatic', 'Manual'),
  },
  { required: ['cidr'] },
)

const autodetect = object({
  canReach: string(),
  cidrs: list(string()),
  firstFound: bool(),
  interface: string(),
  kubernetes: enumOf('NodeInternalIP'),
  skipInterface: string(),
})

const calicoNetwork = object({
  bgp: enabledDisabled(),
  bpfNetworkBootstrap: enabledDisabled(),
  clusterRoutingMode: enumOf('BIRD', 'Felix', 'FelixIPIPOnly'),
  containerIPForwarding: enabledDisabled(),
  hostPorts: enabledDisabled(),
  ipPools: list(installationIPPool),
  kubeProxyManagement: enabledDisabled(),
  linuxDataplane: enumOf('Iptables', 'BPF', 'VPP', 'Nftables'),
  linuxPodInterfaceType: enumOf('Veth', 'Netkit'),
  linuxPolicySetupTimeoutSeconds: int(0),
  mtu: int(0),
  multiInterfaceMode: enumOf('None', 'Multus'),
  nodeAddressAutodetectionV4: autodetect,
  nodeAddressAutodetectionV6: autodetect,
  sysctl: list(object({ key: string(), value: string() }, { required: ['key', 'value'] })),
  windowsDataplane: enumOf('HNS', 'Disabled'),
})

const installationSpec = object({
  azure: openObject(),
  calicoKubeControllersDeployment: openObject(),
  calicoLibHostPath: string(),
  calicoNetwork,
  calicoNodeDaemonSet: openObject(),
  calicoNodeWindowsDaemonSet: openObject(),
  calicoRunHostPath: string(),
  calicoWindowsUpgradeDaemonSet: openObject(),
  certificateManagement: openObject(),
  cni: object({
    type: enumOf('Calico', 'GKE', 'AmazonVPC', 'AzureVNET'),
    ipam: object({ type: enumOf('Calico', 'HostLocal', 'AmazonVPC', 'AzureVNET') }),
    binDir: string(),
    confDir: string(),
  }),
  componentResources: list(openObject()),
  controlPlaneNodeSelector: openObject(),
  controlPlaneReplicas: int(0),
  controlPlaneTolerations: list(openObject()),
  csiNodeDriverDaemonSet: openObject(),
  fipsMode: enabledDisabled(),
  flexVolumePath: string(),
  imagePath: string(),
  imagePrefix: string(),
  imagePullPolicy: enumOf('Always', 'IfNotPresent', 'Never'),
  imagePullSecrets: list(openObject()),
  kubeletVolumePluginPath: string(),
  kubernetesProvider: enumOf('', 'EKS', 'GKE', 'AKS', 'OpenShift', 'DockerEnterprise', 'RKE2', 'TKG', 'Kind'),
  logging: openObject(),
  networkPolicy: openObject(),
  nodeMetricsPort: int(0, 65535),
  nodeUpdateStrategy: openObject(),
  nonPrivileged: enabledDisabled(),
  proxy: openObject(),
  registry: string(),
  serviceCIDRs: list(cidr()),
  tlsCipherSuites: list(openObject()),
  typhaAffinity: openObject(),
  typhaDeployment: openObject(),
  typhaMetricsPort: int(0, 65535),
  typhaPodDisruptionBudget: openObject(),
  variant: enumOf('Calico', 'CalicoEnterprise', 'TigeraSecureEnterprise'),
  windowsNodes: openObject(),
})

const tigeraStatusCondition = object(
  {
    type: string(),
    status: string(),
    lastTransitionTime: string(),
    reason: string(),
    message: string(),
    observedGeneration: int(0),
  },
  { required: ['type', 'status', 'lastTransitionTime'] },
)

export const operatorKinds: Readonly<Record<string, KindDef>> = Object.freeze({
  'operator.tigera.io/Installation': { root: object({ spec: installationSpec, status: openObject() }) },
  'operator.tigera.io/TigeraStatus': {
    root: object({ spec: object({}), status: object({ conditions: list(tigeraStatusCondition) }) }),
  },
} satisfies Record<string, KindDef>)
