import type { SchemaSource } from './schema.ts'

/** Container and EphemeralContainerCommon share their field numbers. */
const CONTAINER = `1:name 2:image 3:command:[s] 4:args:[s] 5:workingDir 6:ports:[ContainerPort] 19:envFrom:[EnvFromSource]
    7:env:[EnvVar] 8:resources:ResourceRequirements 23:resizePolicy:[ContainerResizePolicy] 24:restartPolicy:s?
    25:restartPolicyRules:[ContainerRestartRule] 9:volumeMounts:[VolumeMount] 21:volumeDevices:[VolumeDevice]
    10:livenessProbe:Probe 11:readinessProbe:Probe 22:startupProbe:Probe 12:lifecycle:Lifecycle
    13:terminationMessagePath 20:terminationMessagePolicy 14:imagePullPolicy 15:securityContext:SecurityContext
    16:stdin:b 17:stdinOnce:b 18:tty:b`

/** k8s.io/api core/v1: the pod template and everything under it. */
export const POD_MESSAGES: SchemaSource = {
  Pod: '1:metadata:ObjectMeta 2:spec:PodSpec 3:status:PodStatus',
  PodTemplateSpec: '1:metadata:ObjectMeta 2:spec:PodSpec',
  PodSpec: `1:volumes:[Volume] 20:initContainers:[Container] 2:containers:[Container]
    34:ephemeralContainers:[EphemeralContainer] 3:restartPolicy 4:terminationGracePeriodSeconds:i64?
    5:activeDeadlineSeconds:i64? 6:dnsPolicy 7:nodeSelector:{s} 8:serviceAccountName 9:serviceAccount
    21:automountServiceAccountToken:b? 10:nodeName 11:hostNetwork:b 12:hostPID:b 13:hostIPC:b
    27:shareProcessNamespace:b? 14:securityContext:PodSecurityContext 15:imagePullSecrets:[LocalObjectReference]
    16:hostname 17:subdomain 18:affinity:Affinity 19:schedulerName 22:tolerations:[Toleration]
    23:hostAliases:[HostAlias] 24:priorityClassName 25:priority:i32? 26:dnsConfig:PodDNSConfig
    28:readinessGates:[PodReadinessGate] 29:runtimeClassName:s? 30:enableServiceLinks:b? 31:preemptionPolicy:s?
    32:overhead:{Quantity} 33:topologySpreadConstraints:[TopologySpreadConstraint] 35:setHostnameAsFQDN:b?
    36:os:PodOS 37:hostUsers:b? 38:schedulingGates:[PodSchedulingGate] 39:resourceClaims:[PodResourceClaim]
    40:resources:ResourceRequirements 41:hostnameOverride:s?`,
  PodStatus: `17:observedGeneration:i64 1:phase 2:conditions:[PodCondition] 3:message 4:reason 11:nominatedNodeName
    5:hostIP 16:hostIPs:[HostIP] 6:podIP 12:podIPs:[PodIP] 7:startTime:Time 9:qosClass`,
  PodCondition:
    '1:type 7:observedGeneration:i64 2:status 3:lastProbeTime:Time 4:lastTransitionTime:Time 5:reason 6:message',
  HostIP: '1:ip',
  PodIP: '1:ip',
  Container: CONTAINER,
  EphemeralContainerCommon: CONTAINER,
  EphemeralContainer: '1:*:EphemeralContainerCommon 2:targetContainerName',
  ContainerPort: '1:name 2:hostPort:i32 3:containerPort:i32 4:protocol 5:hostIP',
  EnvVar: '1:name 2:value 3:valueFrom:EnvVarSource',
  EnvVarSource: `1:fieldRef:ObjectFieldSelector 2:resourceFieldRef:ResourceFieldSelector
    3:configMapKeyRef:ConfigMapKeySelector 4:secretKeyRef:SecretKeySelector 5:fileKeyRef:FileKeySelector`,
  ConfigMapKeySelector: '1:*:LocalObjectReference 2:key 3:optional:b?',
  SecretKeySelector: '1:*:LocalObjectReference 2:key 3:optional:b?',
  ObjectFieldSelector: '1:apiVersion 2:fieldPath',
  ResourceFieldSelector: '1:containerName 2:resource 3:divisor:Quantity',
  FileKeySelector: '1:volumeName 2:path 3:key 4:optional:b?',
  EnvFromSource: '1:prefix 2:configMapRef:ConfigMapEnvSource 3:secretRef:SecretEnvSource',
  ConfigMapEnvSource: '1:*:LocalObjectReference 2:optional:b?',
  SecretEnvSource: '1:*:LocalObjectReference 2:optional:b?',
  LocalObjectReference: '1:name',
  ResourceRequirements: '1:limits:{Quantity} 2:requests:{Quantity} 3:claims:[ResourceClaim]',
  ResourceClaim: '1:name 2:request',
  ContainerResizePolicy: '1:resourceName 2:restartPolicy',
  ContainerRestartRule: '1:action 2:exitCodes:ContainerRestartRuleOnExitCodes',
  ContainerRestartRuleOnExitCodes: '1:operator 2:values:[i32]',
  VolumeMount: '1:name 2:readOnly:b 7:recursiveReadOnly:s? 3:mountPath 4:subPath 5:mountPropagation:s? 6:subPathExpr',
  VolumeDevice: '1:name 2:devicePath',
  Probe: `1:*:ProbeHandler 2:initialDelaySeconds:i32 3:timeoutSeconds:i32 4:periodSeconds:i32 5:successThreshold:i32
    6:failureThreshold:i32 7:terminationGracePeriodSeconds:i64?`,
  ProbeHandler: '1:exec:ExecAction 2:httpGet:HTTPGetAction 3:tcpSocket:TCPSocketAction 4:grpc:GRPCAction',
  ExecAction: '1:command:[s]',
  HTTPGetAction: '1:path 2:port:IntOrString 3:host 4:scheme 5:httpHeaders:[HTTPHeader] 6:protocol',
  HTTPHeader: '1:name 2:value',
  TCPSocketAction: '1:port:IntOrString 2:host',
  GRPCAction: '1:port:i32 2:service:s? 3:mode:s?',
  Lifecycle: '1:postStart:LifecycleHandler 2:preStop:LifecycleHandler 3:stopSignal:s?',
  LifecycleHandler: '1:exec:ExecAction 2:httpGet:HTTPGetAction 3:tcpSocket:TCPSocketAction 4:sleep:SleepAction',
  SleepAction: '1:seconds:i64',
  SecurityContext: `1:capabilities:Capabilities 2:privileged:b? 3:seLinuxOptions:SELinuxOptions
    10:windowsOptions:WindowsSecurityContextOptions 4:runAsUser:i64? 8:runAsGroup:i64? 5:runAsNonRoot:b?
    6:readOnlyRootFilesystem:b? 7:allowPrivilegeEscalation:b? 9:procMount:s? 11:seccompProfile:SeccompProfile
    12:appArmorProfile:AppArmorProfile`,
  Capabilities: '1:add:[s] 2:drop:[s]',
  SELinuxOptions: '1:user 2:role 3:type 4:level',
  SeccompProfile: '1:type 2:localhostProfile:s?',
  AppArmorProfile: '1:type 2:localhostProfile:s?',
  WindowsSecurityContextOptions:
    '1:gmsaCredentialSpecName:s? 2:gmsaCredentialSpec:s? 3:runAsUserName:s? 4:hostProcess:b?',
  PodSecurityContext: `1:seLinuxOptions:SELinuxOptions 8:windowsOptions:WindowsSecurityContextOptions 2:runAsUser:i64?
    6:runAsGroup:i64? 3:runAsNonRoot:b? 4:supplementalGroups:[i64] 12:supplementalGroupsPolicy:s? 5:fsGroup:i64?
    7:sysctls:[Sysctl] 9:fsGroupChangePolicy:s? 10:seccompProfile:SeccompProfile 11:appArmorProfile:AppArmorProfile
    13:seLinuxChangePolicy:s?`,
  Sysctl: '1:name 2:value',
  Volume: '1:name 2:*:VolumeSource',
  VolumeSource: `1:hostPath:HostPathVolumeSource 2:emptyDir:EmptyDirVolumeSource 6:secret:SecretVolumeSource
    7:nfs:NFSVolumeSource 10:persistentVolumeClaim:PersistentVolumeClaimVolumeSource
    16:downwardAPI:DownwardAPIVolumeSource 19:configMap:ConfigMapVolumeSource 26:projected:ProjectedVolumeSource
    28:csi:CSIVolumeSource 30:image:ImageVolumeSource`,
  HostPathVolumeSource: '1:path 2:type:s?',
  EmptyDirVolumeSource: '1:medium 2:sizeLimit:Quantity 3:mode:i32?',
  SecretVolumeSource: '1:secretName 2:items:[KeyToPath] 3:defaultMode:i32? 4:optional:b? 5:defaultUser:i64?',
  ConfigMapVolumeSource:
    '1:*:LocalObjectReference 2:items:[KeyToPath] 3:defaultMode:i32? 4:optional:b? 5:defaultUser:i64?',
  KeyToPath: '1:key 2:path 3:mode:i32? 4:user:i64?',
  NFSVolumeSource: '1:server 2:path 3:readOnly:b',
  PersistentVolumeClaimVolumeSource: '1:claimName 2:readOnly:b',
  DownwardAPIVolumeSource: '1:items:[DownwardAPIVolumeFile] 2:defaultMode:i32? 3:defaultUser:i64?',
  DownwardAPIVolumeFile:
    '1:path 2:fieldRef:ObjectFieldSelector 3:resourceFieldRef:ResourceFieldSelector 4:mode:i32? 5:user:i64?',
  ProjectedVolumeSource: '1:sources:[VolumeProjection] 2:defaultMode:i32? 3:defaultUser:i64?',
  VolumeProjection: `1:secret:SecretProjection 2:downwardAPI:DownwardAPIProjection 3:configMap:ConfigMapProjection
    4:serviceAccountToken:ServiceAccountTokenProjection`,
  SecretProjection: '1:*:LocalObjectReference 2:items:[KeyToPath] 4:optional:b?',
  ConfigMapProjection: '1:*:LocalObjectReference 2:items:[KeyToPath] 4:optional:b?',
  DownwardAPIProjection: '1:items:[DownwardAPIVolumeFile]',
  ServiceAccountTokenProjection: '1:audience 2:expirationSeconds:i64? 3:path 4:user:i64?',
  CSIVolumeSource:
    '1:driver 2:readOnly:b? 3:fsType:s? 4:volumeAttributes:{s} 5:nodePublishSecretRef:LocalObjectReference',
  ImageVolumeSource: '1:reference 2:pullPolicy',
  Toleration: '1:key 2:operator 3:value 4:effect 5:tolerationSeconds:i64?',
  Affinity: '1:nodeAffinity:NodeAffinity 2:podAffinity:PodAffinity 3:podAntiAffinity:PodAntiAffinity',
  NodeAffinity: `1:requiredDuringSchedulingIgnoredDuringExecution:NodeSelector
    2:preferredDuringSchedulingIgnoredDuringExecution:[PreferredSchedulingTerm]`,
  NodeSelector: '1:nodeSelectorTerms:[NodeSelectorTerm]',
  NodeSelectorTerm: '1:matchExpressions:[NodeSelectorRequirement] 2:matchFields:[NodeSelectorRequirement]',
  NodeSelectorRequirement: '1:key 2:operator 3:values:[s]',
  PreferredSchedulingTerm: '1:weight:i32 2:preference:NodeSelectorTerm',
  PodAffinity: `1:requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm]
    2:preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]`,
  PodAntiAffinity: `1:requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm]
    2:preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]`,
  PodAffinityTerm: `1:labelSelector:LabelSelector 2:namespaces:[s] 3:topologyKey 4:namespaceSelector:LabelSelector
    5:matchLabelKeys:[s] 6:mismatchLabelKeys:[s]`,
  WeightedPodAffinityTerm: '1:weight:i32 2:podAffinityTerm:PodAffinityTerm',
  HostAlias: '1:ip 2:hostnames:[s]',
  PodDNSConfig: '1:nameservers:[s] 2:searches:[s] 3:options:[PodDNSConfigOption]',
  PodDNSConfigOption: '1:name 2:value:s?',
  PodReadinessGate: '1:conditionType',
  TopologySpreadConstraint: `1:maxSkew:i32 2:topologyKey 3:whenUnsatisfiable 4:labelSelector:LabelSelector
    5:minDomains:i32? 6:nodeAffinityPolicy:s? 7:nodeTaintsPolicy:s? 8:matchLabelKeys:[s]`,
  PodOS: '1:name',
  PodSchedulingGate: '1:name',
  PodResourceClaim: '1:name 3:resourceClaimName:s? 4:resourceClaimTemplateName:s?',
}
