import type { KubeObject } from '@calilab/model'

/** A calicoctl resource kind: its names, REST plural, and table columns (calico.md §10). */
export interface CalicoKind {
  kind: string
  plural: string
  aliases: string[]
  namespaced: boolean
  columns: string[]
  wide: string[]
}

type Any = Record<string, unknown>
const spec = (o: KubeObject): Any => (o.spec ?? {}) as Any
const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : String(v))
const list = (v: unknown): string => (Array.isArray(v) ? v.map(str).join(',') : str(v))

export const CALICO_KINDS: CalicoKind[] = [
  {
    kind: 'IPPool',
    plural: 'ippools',
    aliases: ['ippool', 'ipp', 'pool', 'pools'],
    namespaced: false,
    columns: ['NAME', 'CIDR', 'SELECTOR'],
    wide: ['NAME', 'CIDR', 'NAT', 'IPIPMODE', 'VXLANMODE', 'DISABLED', 'DISABLEBGPEXPORT', 'SELECTOR'],
  },
  {
    kind: 'HostEndpoint',
    plural: 'hostendpoints',
    aliases: ['hostendpoint', 'hep', 'heps'],
    namespaced: false,
    columns: ['NAME', 'NODE'],
    wide: ['NAME', 'NODE', 'INTERFACE', 'IPS', 'PROFILES'],
  },
  {
    kind: 'BGPPeer',
    plural: 'bgppeers',
    aliases: ['bgppeer', 'bgpp', 'bp', 'bgpps', 'bps'],
    namespaced: false,
    columns: ['NAME', 'PEERIP', 'NODE', 'ASN'],
    wide: ['NAME', 'PEERIP', 'NODE', 'ASN'],
  },
  {
    kind: 'BGPConfiguration',
    plural: 'bgpconfigurations',
    aliases: ['bgpconfiguration', 'bgpconfig', 'bgpconfigs', 'bgpconfigurations'],
    namespaced: false,
    columns: ['NAME', 'LOGSEVERITY', 'MESHENABLED', 'ASNUMBER'],
    wide: ['NAME', 'LOGSEVERITY', 'MESHENABLED', 'ASNUMBER'],
  },
  {
    kind: 'Node',
    plural: 'nodes',
    aliases: ['node', 'no', 'nodes'],
    namespaced: false,
    columns: ['NAME'],
    wide: ['NAME', 'ASN', 'IPV4', 'IPV6'],
  },
  {
    kind: 'GlobalNetworkPolicy',
    plural: 'globalnetworkpolicies',
    aliases: ['globalnetworkpolicy', 'gnp', 'gnps'],
    namespaced: false,
    columns: ['NAME'],
    wide: ['NAME', 'ORDER', 'SELECTOR'],
  },
  {
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    aliases: ['networkpolicy', 'np', 'nps', 'policy', 'policies', 'pol', 'pols'],
    namespaced: true,
    columns: ['NAME'],
    wide: ['NAME', 'ORDER', 'SELECTOR'],
  },
  {
    kind: 'GlobalNetworkSet',
    plural: 'globalnetworksets',
    aliases: ['globalnetworkset', 'gnetset', 'gnetsets'],
    namespaced: false,
    columns: ['NAME'],
    wide: ['NAME', 'NETS'],
  },
  {
    kind: 'NetworkSet',
    plural: 'networksets',
    aliases: ['networkset', 'netset', 'netsets'],
    namespaced: true,
    columns: ['NAME'],
    wide: ['NAME', 'NETS'],
  },
  {
    kind: 'WorkloadEndpoint',
    plural: 'workloadendpoints',
    aliases: ['workloadendpoint', 'wep', 'weps'],
    namespaced: true,
    columns: ['WORKLOAD', 'NODE', 'NETWORKS', 'INTERFACE'],
    wide: ['NAME', 'WORKLOAD', 'NODE', 'NETWORKS', 'INTERFACE', 'PROFILES', 'NATS'],
  },
  {
    kind: 'Profile',
    plural: 'profiles',
    aliases: ['profile', 'pro', 'pros'],
    namespaced: false,
    columns: ['NAME'],
    wide: ['NAME', 'LABELS'],
  },
  {
    kind: 'FelixConfiguration',
    plural: 'felixconfigurations',
    aliases: ['felixconfiguration', 'felixconfig', 'felixconfigs', 'fc'],
    namespaced: false,
    columns: ['NAME'],
    wide: ['NAME'],
  },
  {
    kind: 'KubeControllersConfiguration',
    plural: 'kubecontrollersconfigurations',
    aliases: ['kubecontrollersconfiguration', 'kcc', 'kubecontrollersconfig'],
    namespaced: false,
    columns: ['NAME'],
    wide: ['NAME'],
  },
  {
    kind: 'ClusterInformation',
    plural: 'clusterinformations',
    aliases: ['clusterinformation', 'clusterinfo'],
    namespaced: false,
    columns: ['NAME', 'CLUSTERGUID', 'CLUSTERTYPE', 'CALICOVERSION', 'DATASTOREREADY'],
    wide: ['NAME', 'CLUSTERGUID', 'CLUSTERTYPE', 'CALICOVERSION', 'DATASTOREREADY'],
  },
  {
    kind: 'IPReservation',
    plural: 'ipreservations',
    aliases: ['ipreservation', 'ipr'],
    namespaced: false,
    columns: ['NAME'],
    wide: ['NAME'],
  },
]

export function resolveCalicoKind(typed: string): CalicoKind | undefined {
  const t = typed.toLowerCase()
  return CALICO_KINDS.find((k) => k.plural === t || k.kind.toLowerCase() === t || k.aliases.includes(t))
}

export function calicoKindOf(kind: string): CalicoKind | undefined {
  return CALICO_KINDS.find((k) => k.kind === kind)
}

/** One table cell for column `col` of object `o`. */
export function cell(k: CalicoKind, col: string, o: KubeObject): string {
  const s = spec(o)
  const st = (o.status ?? {}) as Any
  const bgp = (s['bgp'] ?? {}) as Any
  switch (col) {
    case 'NAME':
      return str(o.metadata.name)
    case 'NAMESPACE':
      return str(o.metadata.namespace)
    case 'CIDR':
      return str(s['cidr'])
    case 'SELECTOR':
      return k.kind === 'IPPool' ? str(s['nodeSelector'] ?? 'all()') : str(s['selector'] ?? 'all()')
    case 'NAT':
      return str(s['natOutgoing'] ?? false)
    case 'IPIPMODE':
      return str(s['ipipMode'] ?? 'Never')
    case 'VXLANMODE':
      return str(s['vxlanMode'] ?? 'Never')
    case 'DISABLED':
      return str(s['disabled'] ?? false)
    case 'DISABLEBGPEXPORT':
      return str(s['disableBGPExport'] ?? false)
    case 'NODE':
      return str(s['node'])
    case 'INTERFACE':
      return str(s['interfaceName'])
    case 'IPS':
      return list(s['expectedIPs'])
    case 'PROFILES':
      return list(s['profiles'])
    case 'PEERIP':
      return str(s['peerIP'])
    case 'ASN':
      if (k.kind === 'Node') return str(bgp['asNumber'] ?? '(64512)')
      return str(s['asNumber'])
    case 'LOGSEVERITY':
      return str(s['logSeverityScreen'] ?? 'Info')
    case 'MESHENABLED':
      return str(s['nodeToNodeMeshEnabled'] ?? true)
    case 'ASNUMBER':
      return str(s['asNumber'] ?? '')
    case 'IPV4':
      return str(bgp['ipv4Address'])
    case 'IPV6':
      return str(bgp['ipv6Address'])
    case 'ORDER':
      return str(s['order'])
    case 'NETS':
      return list(s['nets'])
    case 'WORKLOAD':
      return str(s['workload'] ?? s['pod'])
    case 'NETWORKS':
      return list(s['ipNetworks'])
    case 'NATS':
      return list(s['ipNATs'])
    case 'LABELS':
      return Object.entries(o.metadata.labels ?? {})
        .map(([a, b]) => `${a}=${b}`)
        .join(',')
    case 'CLUSTERGUID':
      return str(s['clusterGUID'])
    case 'CLUSTERTYPE':
      return str(s['clusterType'])
    case 'CALICOVERSION':
      return str(s['calicoVersion'])
    case 'DATASTOREREADY':
      return str(s['datastoreReady'])
    default:
      return str(st[col.toLowerCase()])
  }
}
