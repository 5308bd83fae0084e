/**
 * Felix's (v1) view of policy: what the syncer's update processors hand the calculation graph
 * after the v3 → v1 selector rewriting (calico.md §1.4). Selectors are canonical strings.
 */
import type { Labels } from '@calilab/model'

export type FelixAction = 'allow' | 'deny' | 'log' | 'next-tier'

export interface PortRange {
  first: number
  last: number
}

export interface FelixRule {
  action: FelixAction
  /** IP protocol number. */
  protocol?: number
  notProtocol?: number
  icmpType?: number
  icmpCode?: number
  notIcmpType?: number
  notIcmpCode?: number
  srcNets: string[]
  notSrcNets: string[]
  dstNets: string[]
  notDstNets: string[]
  /** Canonical selectors (scope already folded in). */
  srcSelector?: string
  notSrcSelector?: string
  dstSelector?: string
  notDstSelector?: string
  srcPorts: PortRange[]
  notSrcPorts: PortRange[]
  dstPorts: PortRange[]
  notDstPorts: PortRange[]
  srcNamedPorts: string[]
  notSrcNamedPorts: string[]
  dstNamedPorts: string[]
  notDstNamedPorts: string[]
  /** IPv6-only rules are kept but never rendered in the IPv4 tables. */
  ipVersion?: 4 | 6
  annotations?: Record<string, string>
}

export interface FelixPolicy {
  /** Felix policy id: `default.<name>` (GNP), `<ns>/default.<name>` (NP), `<ns>/knp.default.<name>`. */
  id: string
  tier: string
  order?: number
  /** Canonical selector over endpoints (namespace / SA scoping folded in). */
  selector: string
  ingress: boolean
  egress: boolean
  inbound: FelixRule[]
  outbound: FelixRule[]
  doNotTrack: boolean
  preDNAT: boolean
  applyOnForward: boolean
}

export interface FelixProfile {
  id: string
  /** Labels this profile lends to endpoints that name it as a parent (`pcns.*`, `pcsa.*`). */
  labels: Labels
  inbound: FelixRule[]
  outbound: FelixRule[]
}

export interface NamedPort {
  name: string
  protocol: 'TCP' | 'UDP' | 'SCTP'
  port: number
}

/** A workload or host endpoint anywhere in the cluster (remote ones matter as IP-set members). */
export interface PolicyEndpoint {
  kind: 'workload' | 'host'
  /** WEP name / HEP name; unique. */
  id: string
  node: string
  /** Host-side veth for a workload; HEP interfaceName (`*` = every interface); '' for none. */
  iface: string
  /** IPv4 addresses, no mask (WEP ipNetworks, HEP expectedIPs). */
  ips: string[]
  /** Own labels (for a pod: pod labels + projectcalico.org/namespace, orchestrator, serviceaccount). */
  labels: Labels
  profileIds: string[]
  ports?: NamedPort[]
  adminDown?: boolean
}

export interface FelixNetworkSet {
  id: string
  labels: Labels
  nets: string[]
  profileIds: string[]
}

/** Everything the policy core needs, as it is now. */
export interface PolicyState {
  policies: readonly FelixPolicy[]
  profiles: readonly FelixProfile[]
  endpoints: readonly PolicyEndpoint[]
  networkSets: readonly FelixNetworkSet[]
}

export interface FailsafePort {
  protocol: 'tcp' | 'udp'
  port: number
  net?: string
}

export interface PolicyRenderConfig {
  failsafeInbound: readonly FailsafePort[]
  failsafeOutbound: readonly FailsafePort[]
  defaultEndpointToHostAction: 'DROP' | 'RETURN' | 'ACCEPT'
  logPrefix: string
  interfacePrefix: string
}

const fs = (spec: string): FailsafePort => {
  const [p, n] = spec.split(':') as [string, string]
  return { protocol: p as 'tcp' | 'udp', port: Number(n) }
}

/** Felix's default `failsafeInboundHostPorts` (calico.md §1.11). */
export const DEFAULT_FAILSAFE_INBOUND: readonly FailsafePort[] = [
  'tcp:22',
  'udp:68',
  'tcp:179',
  'tcp:2379',
  'tcp:2380',
  'tcp:5473',
  'tcp:6443',
  'tcp:6666',
  'tcp:6667',
].map(fs)

/** Felix's default `failsafeOutboundHostPorts`. */
export const DEFAULT_FAILSAFE_OUTBOUND: readonly FailsafePort[] = [
  'udp:53',
  'udp:67',
  'tcp:179',
  'tcp:2379',
  'tcp:2380',
  'tcp:5473',
  'tcp:6443',
  'tcp:6666',
  'tcp:6667',
].map(fs)

export const DEFAULT_RENDER_CONFIG: PolicyRenderConfig = {
  failsafeInbound: DEFAULT_FAILSAFE_INBOUND,
  failsafeOutbound: DEFAULT_FAILSAFE_OUTBOUND,
  defaultEndpointToHostAction: 'DROP',
  logPrefix: 'calico-packet',
  interfacePrefix: 'cali',
}

/** An empty rule with the given action (every list empty). */
export function emptyRule(action: FelixAction): FelixRule {
  return {
    action,
    srcNets: [],
    notSrcNets: [],
    dstNets: [],
    notDstNets: [],
    srcPorts: [],
    notSrcPorts: [],
    dstPorts: [],
    notDstPorts: [],
    srcNamedPorts: [],
    notSrcNamedPorts: [],
    dstNamedPorts: [],
    notDstNamedPorts: [],
  }
}
