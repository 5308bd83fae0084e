/**
 * projectcalico.org/v3 infrastructure kinds: HostEndpoint, IPPool, BGPConfiguration, BGPPeer,
 * Node, ClusterInformation and the IPAM records.
 */

import { cidrOverlaps, formatCidr, tryParseCidr } from '../net/cidr.ts'
import { tryParseIPv4 } from '../net/ipv4.ts'
import { cidr, cidrCheck, duration, ip, ipOrCidr, portName, protocol, selector } from './fields.ts'
import { type KindDef, specOf } from './kind.ts'
import type { KubeObject, Typed } from './meta.ts'
import {
  any,
  bool,
  type Errs,
  enumOf,
  has,
  int,
  type Json,
  list,
  map,
  object,
  openObject,
  type Schema,
  string,
} from './schema.ts'

// ---- types ----------------------------------------------------------------------------------

export type EncapMode = 'Always' | 'CrossSubnet' | 'Never'
export interface IPPoolSpec {
  cidr: string
  blockSize?: number
  ipipMode?: EncapMode
  vxlanMode?: EncapMode
  natOutgoing?: boolean
  disabled?: boolean
  disableBGPExport?: boolean
  nodeSelector?: string
  allowedUses?: ('Workload' | 'Tunnel' | 'LoadBalancer')[]
  assignmentMode?: 'Automatic' | 'Manual'
  namespaceSelector?: string
}
export type IPPool = Typed<IPPoolSpec>

export interface HostEndpointSpec {
  node?: string
  interfaceName?: string
  expectedIPs?: string[]
  profiles?: string[]
  ports?: { name: string; port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }[]
}
export type HostEndpoint = Typed<HostEndpointSpec>

export interface BGPConfigurationSpec {
  asNumber?: number
  nodeToNodeMeshEnabled?: boolean
  logSeverityScreen?: string
  listenPort?: number
  serviceClusterIPs?: { cidr: string }[]
  serviceExternalIPs?: { cidr: string }[]
  serviceLoadBalancerIPs?: { cidr: string }[]
  communities?: { name: string; value: string }[]
  prefixAdvertisements?: { cidr: string; communities?: string[] }[]
  bindMode?: 'None' | 'NodeIP'
}
export type BGPConfiguration = Typed<BGPConfigurationSpec>

export interface BGPPeerSpec {
  node?: string
  nodeSelector?: string
  peerIP?: string
  peerSelector?: string
  asNumber?: number
  keepOriginalNextHop?: boolean
  password?: { secretKeyRef?: { name: string; key: string; optional?: boolean } }
  sourceAddress?: 'UseNodeIP' | 'None'
  maxRestartTime?: string
  keepaliveTime?: string
  ttlSecurity?: number
  reachableBy?: string
}
export type BGPPeer = Typed<BGPPeerSpec>

export interface CalicoNodeSpec {
  bgp?: {
    asNumber?: number
    ipv4Address?: string
    ipv6Address?: string
    ipv4IPIPTunnelAddr?: string
    routeReflectorClusterID?: string
  }
  ipv4VXLANTunnelAddr?: string
  vxlanTunnelMACAddr?: string
  orchRefs?: { nodeName?: string; orchestrator: string }[]
  wireguard?: { interfaceIPv4Address?: string; interfaceIPv6Address?: string }
  addresses?: { address: string; type?: string }[]
}
export type CalicoNode = Typed<CalicoNodeSpec, { wireguardPublicKey?: string; podCIDRs?: string[] }>

export type ClusterInformation = Typed<{
  clusterGUID?: string
  clusterType?: string
  calicoVersion?: string
  datastoreReady?: boolean
  variant?: string
}>

export interface AllocationAttribute {
  handle_id?: string
  secondary?: Record<string, string>
}
export interface IPAMBlockSpec {
  cidr: string
  affinity?: string
  strictAffinity: boolean
  allocations: (number | null)[]
  unallocated: number[]
  attributes: AllocationAttribute[]
  deleted?: boolean
  sequenceNumber?: number
  sequenceNumberForAllocation?: Record<string, number>
}
export type IPAMBlock = Typed<IPAMBlockSpec>
export type BlockAffinity = Typed<{
  state: 'confirmed' | 'pending' | 'pendingDeletion'
  node: string
  cidr: string
  deleted: string
  type?: string
}>
export type IPAMHandle = Typed<{ handleID: string; block: Record<string, number>; deleted?: boolean }>
export type IPAMConfiguration = Typed<{
  strictAffinity: boolean
  autoAllocateBlocks: boolean
  maxBlocksPerHost?: number
}>

// ---- schema ---------------------------------------------------------------------------------

const MAX_ASN = 4294967295
const asNumber = (): Schema => int(0, MAX_ASN, 'AS number must be between 0 and 4294967295')
const encap = (): Schema => enumOf('Always', 'CrossSubnet', 'Never')
const LOG_LEVEL = /^(Trace|Debug|Info|Warning|Error|Fatal|None|Panic)$/i
const logLevel = (): Schema =>
  string((s) => (LOG_LEVEL.test(s) ? undefined : 'must be one of Trace, Debug, Info, Warning, Error, Fatal'))
const LINK_LOCAL = '169.254.0.0/16'

function ippoolRules(s: Json, path: string, errs: Errs): void {
  if (typeof s.cidr !== 'string') return
  const r = tryParseCidr(s.cidr)
  if (!r.ok) return
  const bs = typeof s.blockSize === 'number' ? s.blockSize : 26
  if (bs >= 20 && bs <= 32 && r.cidr.prefix > bs) {
    errs.invalid(`${path}.cidr`, s.cidr, `IP pool size is too small (min /${bs}) for use with Calico IPAM`)
  }
  if (cidrOverlaps(r.cidr, LINK_LOCAL)) {
    errs.invalid(`${path}.cidr`, s.cidr, `IP pool range overlaps with IPv4 Link Local range ${LINK_LOCAL}`)
  }
  const ipip = s.ipipMode ?? 'Never'
  const vxlan = s.vxlanMode ?? 'Never'
  if (ipip !== 'Never' && vxlan !== 'Never') {
    errs.invalid(`${path}.vxlanMode`, vxlan, 'cannot enable both VXLAN and IPIP on the same IPPool')
  }
}

const ippoolSpec = object(
  {
    cidr: cidr(),
    blockSize: int(20, 32, 'IPv4 block size must be between 20 and 32'),
    ipipMode: encap(),
    vxlanMode: encap(),
    natOutgoing: bool(),
    disabled: bool(),
    disableBGPExport: bool(),
    nodeSelector: selector(),
    namespaceSelector: selector(),
    allowedUses: list(enumOf('Workload', 'Tunnel', 'LoadBalancer'), { unique: true }),
    assignmentMode: enumOf('Automatic', 'Manual'),
    // deprecated v1-compatible fields Calico still accepts
    ipip: object({ enabled: bool(), mode: enumOf('always', 'cross-subnet') }),
    'nat-outgoing': bool(),
  },
  { required: ['cidr'], rules: [ippoolRules] },
)

const hepSpec = object(
  {
    node: string(),
    interfaceName: string(),
    expectedIPs: list(ip()),
    profiles: list(string()),
    ports: list(
      object(
        { name: string(portName), port: int(1, 65535), protocol: protocol() },
        { required: ['name', 'port', 'protocol'] },
      ),
    ),
  },
  {
    rules: [
      (s, path, errs) => {
        const ips = Array.isArray(s.expectedIPs) ? s.expectedIPs.length : 0
        if ((s.interfaceName === undefined || s.interfaceName === '') && ips === 0) {
          errs.required(`${path}.interfaceName`, 'no interface or expected IPs have been specified')
        }
      },
    ],
  },
)

const COMMUNITY = /^(\d+):(\d+)(:(\d+))?$/
const communityValue = (s: string): string | undefined =>
  COMMUNITY.test(s) ? undefined : 'must be a standard (aa:nn) or large (aa:nn:mm) community'
const cidrList = () => list(object({ cidr: cidr() }, { required: ['cidr'] }))
const secretKeyRef = object(
  { secretKeyRef: object({ name: string(), key: string(), optional: bool() }, { required: ['key'] }) },
  {},
)

const bgpConfigSpec = object({
  asNumber: asNumber(),
  nodeToNodeMeshEnabled: bool(),
  logSeverityScreen: logLevel(),
  listenPort: int(1, 65535),
  serviceClusterIPs: cidrList(),
  serviceExternalIPs: cidrList(),
  serviceLoadBalancerIPs: cidrList(),
  communities: list(object({ name: string(), value: string(communityValue) }, { required: ['name', 'value'] })),
  prefixAdvertisements: list(object({ cidr: cidr(), communities: list(string()) }, { required: ['cidr'] })),
  bindMode: enumOf('None', 'NodeIP'),
  ignoredInterfaces: list(string()),
  nodeMeshPassword: secretKeyRef,
  nodeMeshMaxRestartTime: duration(),
  localWorkloadPeeringIPV4: ip(),
  localWorkloadPeeringIPV6: string(),
  programClusterRoutes: enumOf('Enabled', 'Disabled', 'EnabledIPIPOnly', 'EnabledNoEncapOnly'),
  serviceLoadBalancerAggregation: enumOf('Enabled', 'Disabled'),
  ipv4NormalRoutePriority: int(1, 2147483646),
  ipv6NormalRoutePriority: int(1, 2147483646),
})

/** `IP`, `IP:port`. */
const peerIP = (s: string): string | undefined => {
  const m = /^(.*?)(?::(\d+))?$/.exec(s)
  const host = m?.[1] ?? ''
  const portStr = m?.[2]
  if (tryParseIPv4(host) === undefined && !/^\[?[0-9a-fA-F:]+\]?$/.test(s))
    return 'must be a valid IP address, optionally with :port'
  if (portStr !== undefined && (Number(portStr) < 1 || Number(portStr) > 65535))
    return 'port must be between 1 and 65535'
  return undefined
}

function bgpPeerRules(s: Json, path: string, errs: Errs): void {
  if (has(s, 'node') && s.node !== '' && has(s, 'nodeSelector') && s.nodeSelector !== '') {
    errs.forbidden(`${path}.node`, 'node field must be empty when nodeSelector is specified')
  }
  if (has(s, 'peerSelector') && s.peerSelector !== '') {
    if (has(s, 'peerIP') && s.peerIP !== '') {
      errs.forbidden(`${path}.peerIP`, 'peerIP field must be empty when peerSelector is specified')
    }
    if (has(s, 'asNumber') && s.asNumber !== 0) {
      errs.forbidden(`${path}.asNumber`, 'asNumber field must be empty when peerSelector is specified')
    }
  }
}

const bgpPeerSpec = object(
  {
    node: string(),
    nodeSelector: selector(),
    peerIP: string(peerIP),
    peerSelector: selector(),
    asNumber: asNumber(),
    keepOriginalNextHop: bool(),
    password: secretKeyRef,
    sourceAddress: enumOf('UseNodeIP', 'None'),
    maxRestartTime: duration(),
    keepaliveTime: duration(),
    ttlSecurity: int(0, 255),
    numAllowedLocalASNumbers: int(0, 10),
    localASNumber: asNumber(),
    reachableBy: ip(),
    filters: list(string()),
    localWorkloadSelector: selector(),
    nextHopMode: enumOf('Auto', 'Self', 'Keep'),
    reversePeering: enumOf('Auto', 'Manual'),
  },
  { rules: [bgpPeerRules] },
)

const nodeSpec = object({
  bgp: object({
    asNumber: asNumber(),
    ipv4Address: string(ipOrCidr),
    ipv6Address: string(),
    ipv4IPIPTunnelAddr: ip(),
    routeReflectorClusterID: ip(),
  }),
  ipv4VXLANTunnelAddr: ip(),
  ipv6VXLANTunnelAddr: string(),
  vxlanTunnelMACAddr: string(),
  vxlanTunnelMACAddrV6: string(),
  orchRefs: list(object({ nodeName: string(), orchestrator: string() }, { required: ['orchestrator'] })),
  wireguard: object({ interfaceIPv4Address: ip(), interfaceIPv6Address: string() }),
  addresses: list(object({ address: string(), type: string() }, { required: ['address'] })),
})

const ipamBlockSpec = object(
  {
    cidr: cidr(),
    affinity: string(),
    affinityClaimTime: string(),
    strictAffinity: bool(),
    allocations: list(int(0), { nullable: true }),
    unallocated: list(int(0)),
    attributes: list(object({ handle_id: string(), secondary: map(string()) })),
    deleted: bool(),
    sequenceNumber: int(0),
    sequenceNumberForAllocation: map(int(0)),
  },
  {
    required: ['cidr'],
    rules: [
      (s, path, errs) => {
        if (!Array.isArray(s.allocations) || typeof s.cidr !== 'string') return
        const r = tryParseCidr(s.cidr)
        if (r.ok && s.allocations.length !== r.cidr.size) {
          errs.invalid(
            `${path}.allocations`,
            s.allocations.length,
            `must have exactly ${r.cidr.size} entries for ${formatCidr(r.cidr)}`,
          )
        }
      },
    ],
  },
)

export const calicoInfraKinds: Readonly<Record<string, KindDef>> = Object.freeze({
  'projectcalico.org/HostEndpoint': { root: object({ spec: hepSpec }) },
  'projectcalico.org/IPPool': {
    root: object({ spec: ippoolSpec }, { required: ['spec'] }),
    defaults: (o: KubeObject) => {
      const s: Json = { ...specOf(o) }
      if (typeof s.cidr === 'string' && cidrCheck(s.cidr) === undefined) {
        const r = tryParseCidr(s.cidr)
        if (r.ok) s.cidr = formatCidr(r.cidr)
      }
      s.blockSize ??= 26
      s.ipipMode ??= 'Never'
      s.vxlanMode ??= 'Never'
      s.nodeSelector ??= 'all()'
      s.allowedUses ??= ['Workload', 'Tunnel']
      return { ...o, spec: s }
    },
    update: (o: KubeObject, old: KubeObject, errs: Errs) => {
      const now = specOf(o)
      const before = specOf(old)
      if (now.cidr !== before.cidr) errs.invalid('spec.cidr', now.cidr, 'IPPool CIDR cannot be modified')
      if ((now.blockSize ?? 26) !== (before.blockSize ?? 26)) {
        errs.invalid('spec.blockSize', now.blockSize, 'IPPool BlockSize cannot be modified')
      }
    },
  },
  'projectcalico.org/BGPConfiguration': { root: object({ spec: bgpConfigSpec }) },
  'projectcalico.org/BGPPeer': { root: object({ spec: bgpPeerSpec }) },
  'projectcalico.org/Node': { root: object({ spec: nodeSpec, status: openObject() }) },
  'projectcalico.org/ClusterInformation': {
    root: object({
      spec: object({
        clusterGUID: string(),
        clusterType: string(),
        calicoVersion: string(),
        datastoreReady: bool(),
        variant: string(),
      }),
    }),
  },
  'projectcalico.org/IPAMBlock': { root: object({ spec: ipamBlockSpec }, { required: ['spec'] }) },
  'projectcalico.org/BlockAffinity': {
    root: object(
      {
        spec: object(
          {
            state: enumOf('confirmed', 'pending', 'pendingDeletion'),
            node: string(),
            cidr: cidr(),
            deleted: any(),
            type: string(),
          },
          { required: ['state', 'node', 'cidr'] },
        ),
      },
      { required: ['spec'] },
    ),
  },
  'projectcalico.org/IPAMHandle': {
    root: object(
      {
        spec: object({ handleID: string(), block: map(int(0)), deleted: bool() }, { required: ['handleID'] }),
      },
      { required: ['spec'] },
    ),
  },
  'projectcalico.org/IPAMConfiguration': {
    root: object({
      spec: object({
        strictAffinity: bool(),
        autoAllocateBlocks: bool(),
        maxBlocksPerHost: int(0),
        ipCooldownSeconds: int(0),
        kubeVirtVMAddressPersistence: enumOf('Enabled', 'Disabled'),
      }),
    }),
  },
} satisfies Record<string, KindDef>)
