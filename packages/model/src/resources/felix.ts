/** projectcalico.org/v3 FelixConfiguration and KubeControllersConfiguration. */

import { duration, enabledDisabled } from './fields.ts'
import type { KindDef } from './kind.ts'
import type { Typed } from './meta.ts'
import { bool, enumOf, int, intOrString, list, object, openObject, type Schema, string } from './schema.ts'

/** FelixConfiguration fields the lab and the emulation use (the schema below lists them all). */
export interface FelixConfigurationSpec {
  wireguardEnabled?: boolean
  wireguardListeningPort?: number
  wireguardInterfaceName?: string
  wireguardRoutingRulePriority?: number
  wireguardMTU?: number
  bpfEnabled?: boolean
  bpfExternalServiceMode?: string
  bpfKubeProxyIptablesCleanupEnabled?: boolean
  bpfConnectTimeLoadBalancingEnabled?: boolean
  failsafeInboundHostPorts?: ProtoPort[]
  failsafeOutboundHostPorts?: ProtoPort[]
  defaultEndpointToHostAction?: string
  iptablesMarkMask?: number
  interfacePrefix?: string
  vxlanPort?: number
  vxlanVNI?: number
  ipipMTU?: number
  vxlanMTU?: number
  routeRefreshInterval?: string
  iptablesRefreshInterval?: string
  logPrefix?: string
  logSeverityScreen?: string
  chainInsertMode?: string
  routeTableRange?: { min: number; max: number }
  healthPort?: number
  prometheusMetricsPort?: number
  [field: string]: unknown
}
export interface ProtoPort {
  protocol?: string
  port: number
  net?: string
}
export type FelixConfiguration = Typed<FelixConfigurationSpec>

export interface KubeControllersConfigurationSpec {
  logSeverityScreen?: string
  healthChecks?: 'Enabled' | 'Disabled'
  etcdV3CompactionPeriod?: string
  prometheusMetricsPort?: number
  debugProfilePort?: number
  controllers: {
    node?: {
      reconcilerPeriod?: string
      syncLabels?: 'Enabled' | 'Disabled'
      hostEndpoint?: { autoCreate?: 'Enabled' | 'Disabled' }
      leakGracePeriod?: string
    }
    policy?: { reconcilerPeriod?: string }
    workloadEndpoint?: { reconcilerPeriod?: string }
    serviceAccount?: { reconcilerPeriod?: string }
    namespace?: { reconcilerPeriod?: string }
  }
}
export type KubeControllersConfiguration = Typed<KubeControllersConfigurationSpec, Record<string, unknown>>

/** A case-insensitive enum (Felix accepts `drop`, `Drop`, `DROP`). */
function ciEnum(...values: string[]): Schema {
  const lower = values.map((v) => v.toLowerCase())
  return string((s) =>
    s === '' || lower.includes(s.toLowerCase()) ? undefined : `must be one of ${values.join(', ')}`,
  )
}

const protoPort = object(
  { protocol: enumOf('TCP', 'UDP', 'SCTP', 'tcp', 'udp', 'sctp'), port: int(0, 65535), net: string() },
  { required: ['port'] },
)

const felixSpec = object({
  allowIPIPPacketsFromWorkloads: bool(),
  allowVXLANPacketsFromWorkloads: bool(),
  awsSrcDstCheck: enumOf('DoNothing', 'Enable', 'Disable'),
  bpfAttachType: enumOf('TC', 'TCX', 'Netkit'),
  bpfCTLBLogFilter: string(),
  bpfConnectTimeLoadBalancing: enumOf('TCP', 'Enabled', 'Disabled'),
  bpfConnectTimeLoadBalancingEnabled: bool(),
  bpfConntrackLogLevel: enumOf('Off', 'Debug'),
  bpfConntrackMode: enumOf('Auto', 'Userspace', 'BPFProgram'),
  bpfConntrackTimeouts: openObject(),
  bpfDSROptoutCIDRs: list(string()),
  bpfDataIfacePattern: string(),
  bpfDisableGROForIfaces: string(),
  bpfDisableUnprivileged: bool(),
  bpfEnabled: bool(),
  bpfEnforceRPF: ciEnum('Disabled', 'Strict', 'Loose'),
  bpfExcludeCIDRsFromNAT: list(string()),
  bpfExportBufferSizeMB: int(),
  bpfExtToServiceConnmark: int(),
  bpfExternalServiceMode: ciEnum('Tunnel', 'DSR'),
  bpfForceTrackPacketsFromIfaces: list(string()),
  bpfHostConntrackBypass: bool(),
  bpfHostNetworkedNATWithoutCTLB: enumOf('Enabled', 'Disabled'),
  bpfIPFragTimeout: duration(),
  bpfIPFragmentReassemblyEnabled: bool(),
  bpfJITHardening: enumOf('Auto', 'Strict'),
  bpfKubeProxyHealthzPort: int(),
  bpfKubeProxyIptablesCleanupEnabled: bool(),
  bpfKubeProxyMinSyncPeriod: duration(),
  bpfL3IfacePattern: string(),
  bpfLogFilters: openObject(),
  bpfLogLevel: ciEnum('Off', 'Info', 'Debug'),
  bpfMaglevMaxEndpointsPerService: int(),
  bpfMaglevMaxServices: int(),
  bpfMapSizeConntrack: int(),
  bpfMapSizeConntrackCleanupQueue: int(),
  bpfMapSizeConntrackScaling: ciEnum('Disabled', 'DoubleIfFull'),
  bpfMapSizeIPSets: int(),
  bpfMapSizeIfState: int(),
  bpfMapSizeNATAffinity: int(),
  bpfMapSizeNATBackend: int(),
  bpfMapSizeNATFrontend: int(),
  bpfMapSizePerCpuConntrack: int(),
  bpfMapSizeRoute: int(),
  bpfOverlayHostSourceIP: enumOf('TunnelAddress', 'HostAddress'),
  bpfPSNATPorts: intOrString(),
  bpfPolicyDebugEnabled: bool(),
  bpfProfiling: enumOf('Enabled', 'Disabled'),
  bpfRedirectToPeer: enumOf('Enabled', 'Disabled'),
  cgroupV2Path: string(),
  chainInsertMode: ciEnum('Insert', 'Append'),
  dataplaneDriver: string(),
  dataplaneWatchdogTimeout: string(),
  debugDisableLogDropping: bool(),
  debugHost: string(),
  debugMemoryProfilePath: string(),
  debugPort: int(),
  debugSimulateCalcGraphHangAfter: duration(),
  debugSimulateDataplaneApplyDelay: duration(),
  debugSimulateDataplaneHangAfter: duration(),
  defaultEndpointToHostAction: ciEnum('Drop', 'Accept', 'Return'),
  deviceRouteProtocol: int(),
  deviceRouteSourceAddress: string(),
  deviceRouteSourceAddressIPv6: string(),
  disableConntrackInvalidCheck: bool(),
  endpointReportingDelay: duration(),
  endpointReportingEnabled: bool(),
  endpointStatusPathPrefix: string(),
  externalNodesList: list(string()),
  failsafeInboundHostPorts: list(protoPort),
  failsafeOutboundHostPorts: list(protoPort),
  featureDetectOverride: string(),
  featureGates: string(),
  floatingIPs: enumOf('Enabled', 'Disabled'),
  flowLogsCollectorDebugTrace: bool(),
  flowLogsFlushInterval: duration(),
  flowLogsGoldmaneServer: string(),
  flowLogsLocalReporter: enumOf('Disabled', 'Enabled'),
  flowLogsPolicyEvaluationMode: enumOf('None', 'Continuous'),
  genericXDPEnabled: bool(),
  goGCThreshold: int(),
  goMaxProcs: int(),
  goMemoryLimitMB: int(),
  healthEnabled: bool(),
  healthHost: string(),
  healthPort: int(),
  healthTimeoutOverrides: list(openObject()),
  interfaceExclude: string(),
  interfacePrefix: string(),
  interfaceRefreshInterval: duration(),
  ipForwarding: enumOf('Enabled', 'Disabled'),
  ipipEnabled: bool(),
  ipipMTU: int(),
  ipsetsRefreshInterval: duration(),
  iptablesBackend: enumOf('Legacy', 'NFT', 'Auto'),
  iptablesFilterAllowAction: ciEnum('Accept', 'Return'),
  iptablesFilterDenyAction: ciEnum('Drop', 'Reject'),
  iptablesLockProbeInterval: duration(),
  iptablesMangleAllowAction: ciEnum('Accept', 'Return'),
  iptablesMarkMask: int(),
  iptablesNATOutgoingInterfaceFilter: string(),
  iptablesPostWriteCheckInterval: duration(),
  iptablesRefreshInterval: duration(),
  ipv4ElevatedRoutePriority: int(),
  ipv4NormalRoutePriority: int(),
  ipv6ElevatedRoutePriority: int(),
  ipv6NormalRoutePriority: int(),
  ipv6Support: bool(),
  istioAmbientMode: enumOf('Enabled', 'Disabled'),
  istioDSCPMark: intOrString(),
  kubeNodePortRanges: list(intOrString()),
  liveMigrationRouteConvergenceTime: duration(),
  localSubnetL2Reachability: enumOf('Disabled', 'PodsAndLoadBalancers'),
  localSubnetL2ReachabilityRefreshInterval: string(),
  logActionRateLimit: string(),
  logActionRateLimitBurst: int(),
  logDebugFilenameRegex: string(),
  logFilePath: string(),
  logPrefix: string(),
  logSeverityFile: ciEnum('Trace', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'),
  logSeverityScreen: ciEnum('Trace', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'),
  logSeveritySys: ciEnum('Trace', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'),
  maxIpsetSize: int(),
  metadataAddr: string(),
  metadataPort: int(),
  mtuIfacePattern: string(),
  natOutgoingAddress: string(),
  natOutgoingExclusions: enumOf('IPPoolsOnly', 'IPPoolsAndHostIPs'),
  natPortRange: intOrString(),
  netlinkTimeout: duration(),
  nftablesFilterAllowAction: ciEnum('Accept', 'Return'),
  nftablesFilterDenyAction: ciEnum('Drop', 'Reject'),
  nftablesFlowTableDataIfacePattern: string(),
  nftablesFlowTableOffload: enumOf('All', 'Disabled'),
  nftablesMangleAllowAction: ciEnum('Accept', 'Return'),
  nftablesMarkMask: int(),
  nftablesMode: enumOf('Disabled', 'Enabled', 'Auto'),
  nftablesRefreshInterval: string(),
  nodeSelector: string(),
  openstackRegion: string(),
  policySyncPathPrefix: string(),
  programClusterRoutes: enumOf('Enabled', 'Disabled', 'EnabledIPIPOnly', 'EnabledNoEncapOnly'),
  prometheusGoMetricsEnabled: bool(),
  prometheusMetricsCAFile: string(),
  prometheusMetricsCertFile: string(),
  prometheusMetricsClientAuth: enumOf(
    'RequireAndVerifyClientCert',
    'RequireAnyClientCert',
    'VerifyClientCertIfGiven',
    'NoClientCert',
  ),
  prometheusMetricsEnabled: bool(),
  prometheusMetricsHost: string(),
  prometheusMetricsKeyFile: string(),
  prometheusMetricsPort: int(),
  prometheusProcessMetricsEnabled: bool(),
  prometheusWireGuardMetricsEnabled: bool(),
  removeExternalRoutes: bool(),
  reportingInterval: duration(),
  reportingTTL: duration(),
  requireMTUFile: bool(),
  routeRefreshInterval: duration(),
  routeSource: ciEnum('WorkloadIPs', 'CalicoIPAM'),
  routeSyncDisabled: bool(),
  routeTableRange: object({ min: int(0), max: int(0) }, { required: ['min', 'max'] }),
  routeTableRanges: list(openObject()),
  serviceLoopPrevention: ciEnum('Drop', 'Reject', 'Disabled'),
  sidecarAccelerationEnabled: bool(),
  usageReportingEnabled: bool(),
  usageReportingInitialDelay: duration(),
  usageReportingInterval: duration(),
  useInternalDataplaneDriver: bool(),
  vxlanEnabled: bool(),
  vxlanMTU: int(),
  vxlanMTUV6: int(),
  vxlanPort: int(),
  vxlanVNI: int(),
  windowsManageFirewallRules: enumOf('Enabled', 'Disabled'),
  wireguardEnabled: bool(),
  wireguardEnabledV6: bool(),
  wireguardHostEncryptionEnabled: bool(),
  wireguardInterfaceName: string(),
  wireguardInterfaceNameV6: string(),
  wireguardKeepAlive: duration(),
  wireguardListeningPort: int(),
  wireguardListeningPortV6: int(),
  wireguardMTU: int(),
  wireguardMTUV6: int(),
  wireguardRoutingRulePriority: int(),
  wireguardThreadingEnabled: bool(),
  workloadSourceSpoofing: ciEnum('Disabled', 'Any'),
  xdpEnabled: bool(),
  xdpRefreshInterval: duration(),
})

const controllerPeriod = object({ reconcilerPeriod: duration() })

const kccSpec = object(
  {
    logSeverityScreen: enumOf('None', 'Debug', 'Info', 'Warning', 'Error', 'Fatal', 'Panic'),
    healthChecks: enabledDisabled(),
    etcdV3CompactionPeriod: duration(),
    prometheusMetricsPort: int(0, 65535),
    debugProfilePort: int(0, 65535),
    controllers: object({
      node: object({
        reconcilerPeriod: duration(),
        syncLabels: enabledDisabled(),
        hostEndpoint: object({
          autoCreate: enabledDisabled(),
          createDefaultHostEndpoint: enabledDisabled(),
          templates: list(openObject()),
        }),
        leakGracePeriod: duration(),
      }),
      policy: controllerPeriod,
      workloadEndpoint: controllerPeriod,
      serviceAccount: controllerPeriod,
      namespace: controllerPeriod,
      loadBalancer: openObject(),
      migration: openObject(),
    }),
  },
  { required: ['controllers'] },
)

export const felixKinds: Readonly<Record<string, KindDef>> = Object.freeze({
  'projectcalico.org/FelixConfiguration': { root: object({ spec: felixSpec }) },
  'projectcalico.org/KubeControllersConfiguration': { root: object({ spec: kccSpec, status: openObject() }) },
} satisfies Record<string, KindDef>)
