import type { SchemaSource } from './schema.ts'

/** k8s.io/api core/v1 objects besides the pod tree. */
export const CORE_MESSAGES: SchemaSource = {
  Namespace: '1:metadata:ObjectMeta 2:spec:NamespaceSpec 3:status:NamespaceStatus',
  NamespaceSpec: '1:finalizers:[s]',
  NamespaceStatus: '1:phase 2:conditions:[NamespaceCondition]',
  NamespaceCondition: '1:type 2:status 4:lastTransitionTime:Time 5:reason 6:message',
  ConfigMap: '1:metadata:ObjectMeta 4:immutable:b? 2:data:{s} 3:binaryData:{by}',
  Secret: '1:metadata:ObjectMeta 5:immutable:b? 2:data:{by} 4:stringData:{s} 3:type',
  ServiceAccount: `1:metadata:ObjectMeta 2:secrets:[ObjectReference] 3:imagePullSecrets:[LocalObjectReference]
    4:automountServiceAccountToken:b?`,
  ObjectReference: '1:kind 2:namespace 3:name 4:uid 5:apiVersion 6:resourceVersion 7:fieldPath',
  Service: '1:metadata:ObjectMeta 2:spec:ServiceSpec 3:status:ServiceStatus',
  ServiceSpec: `1:ports:[ServicePort] 2:selector:{s} 3:clusterIP 18:clusterIPs:[s] 4:type 5:externalIPs:[s]
    7:sessionAffinity 8:loadBalancerIP 9:loadBalancerSourceRanges:[s] 10:externalName 11:externalTrafficPolicy
    12:healthCheckNodePort:i32 13:publishNotReadyAddresses:b 14:sessionAffinityConfig:SessionAffinityConfig
    19:ipFamilies:[s] 17:ipFamilyPolicy:s? 20:allocateLoadBalancerNodePorts:b? 21:loadBalancerClass:s?
    22:internalTrafficPolicy:s? 23:trafficDistribution:s?`,
  ServicePort: '1:name 2:protocol 6:appProtocol:s? 3:port:i32? 4:targetPort:IntOrString 5:nodePort:i32',
  SessionAffinityConfig: '1:clientIP:ClientIPConfig',
  ClientIPConfig: '1:timeoutSeconds:i32?',
  ServiceStatus: '1:loadBalancer:LoadBalancerStatus 2:conditions:[Condition]',
  LoadBalancerStatus: '1:ingress:[LoadBalancerIngress]',
  LoadBalancerIngress: '1:ip 2:hostname 3:ipMode:s? 4:ports:[PortStatus]',
  PortStatus: '1:port:i32? 2:protocol 3:error:s?',
  Endpoints: '1:metadata:ObjectMeta 2:subsets:[EndpointSubset]',
  EndpointSubset: '1:addresses:[EndpointAddress] 2:notReadyAddresses:[EndpointAddress] 3:ports:[EndpointPort]',
  EndpointAddress: '1:ip 3:hostname 4:nodeName:s? 2:targetRef:ObjectReference',
  EndpointPort: '1:name 2:port:i32? 3:protocol 4:appProtocol:s?',
  ResourceQuota: '1:metadata:ObjectMeta 2:spec:ResourceQuotaSpec 3:status:ResourceQuotaStatus',
  ResourceQuotaSpec: '1:hard:{Quantity} 2:scopes:[s] 3:scopeSelector:ScopeSelector',
  ScopeSelector: '1:matchExpressions:[ScopedResourceSelectorRequirement]',
  ScopedResourceSelectorRequirement: '1:scopeName 2:operator 3:values:[s]',
  ResourceQuotaStatus: '1:hard:{Quantity} 2:used:{Quantity}',
  LimitRange: '1:metadata:ObjectMeta 2:spec:LimitRangeSpec',
  LimitRangeSpec: '1:limits:[LimitRangeItem]',
  LimitRangeItem: `1:type 2:max:{Quantity} 3:min:{Quantity} 4:default:{Quantity} 5:defaultRequest:{Quantity}
    6:maxLimitRequestRatio:{Quantity}`,
  PersistentVolumeClaim: '1:metadata:ObjectMeta 2:spec:PersistentVolumeClaimSpec 3:status:PersistentVolumeClaimStatus',
  PersistentVolumeClaimSpec: `1:accessModes:[s] 4:selector:LabelSelector 2:resources:VolumeResourceRequirements
    3:volumeName 5:storageClassName:s? 6:volumeMode:s? 7:dataSource:TypedLocalObjectReference
    8:dataSourceRef:TypedObjectReference 9:volumeAttributesClassName:s?`,
  VolumeResourceRequirements: '1:limits:{Quantity} 2:requests:{Quantity}',
  TypedLocalObjectReference: '1:apiGroup:s? 2:kind 3:name',
  TypedObjectReference: '1:apiGroup:s? 2:kind 3:name 4:namespace:s?',
  PersistentVolumeClaimStatus: `1:phase 2:accessModes:[s] 3:capacity:{Quantity} 4:conditions:[PersistentVolumeClaimCondition]
    5:allocatedResources:{Quantity} 7:allocatedResourceStatuses:{s} 8:currentVolumeAttributesClassName:s?`,
  PersistentVolumeClaimCondition: '1:type 2:status 3:lastProbeTime:Time 4:lastTransitionTime:Time 5:reason 6:message',
  ReplicationController: `1:metadata:ObjectMeta 2:spec:ReplicationControllerSpec
    3:status:ReplicationControllerStatus`,
  ReplicationControllerSpec: '1:replicas:i32? 4:minReadySeconds:i32 2:selector:{s} 3:template:PodTemplateSpec',
  ReplicationControllerStatus: `1:replicas:i32? 2:fullyLabeledReplicas:i32 4:readyReplicas:i32 5:availableReplicas:i32
    3:observedGeneration:i64 6:conditions:[WorkloadCondition]`,
}

/** apps/v1, batch/v1, autoscaling/v1. */
export const WORKLOAD_MESSAGES: SchemaSource = {
  /** DeploymentCondition differs (lastUpdateTime); ReplicaSet, DaemonSet, StatefulSet and RC conditions share this. */
  WorkloadCondition: '1:type 2:status 3:lastTransitionTime:Time 4:reason 5:message',
  Deployment: '1:metadata:ObjectMeta 2:spec:DeploymentSpec 3:status:DeploymentStatus',
  DeploymentSpec: `1:replicas:i32? 2:selector:LabelSelector 3:template:PodTemplateSpec 4:strategy:DeploymentStrategy
    5:minReadySeconds:i32 6:revisionHistoryLimit:i32? 7:paused:b 9:progressDeadlineSeconds:i32?`,
  DeploymentStrategy: '1:type 2:rollingUpdate:RollingUpdate',
  RollingUpdate: '1:maxUnavailable:IntOrString 2:maxSurge:IntOrString',
  DeploymentStatus: `1:observedGeneration:i64 2:replicas:i32 3:updatedReplicas:i32 7:readyReplicas:i32
    4:availableReplicas:i32 5:unavailableReplicas:i32 9:terminatingReplicas:i32? 6:conditions:[DeploymentCondition]
    8:collisionCount:i32?`,
  DeploymentCondition: '1:type 2:status 6:lastUpdateTime:Time 7:lastTransitionTime:Time 4:reason 5:message',
  ReplicaSet: '1:metadata:ObjectMeta 2:spec:ReplicaSetSpec 3:status:ReplicaSetStatus',
  ReplicaSetSpec: '1:replicas:i32? 4:minReadySeconds:i32 2:selector:LabelSelector 3:template:PodTemplateSpec',
  ReplicaSetStatus: `1:replicas:i32? 2:fullyLabeledReplicas:i32 4:readyReplicas:i32 5:availableReplicas:i32
    7:terminatingReplicas:i32? 3:observedGeneration:i64 6:conditions:[WorkloadCondition]`,
  DaemonSet: '1:metadata:ObjectMeta 2:spec:DaemonSetSpec 3:status:DaemonSetStatus',
  DaemonSetSpec: `1:selector:LabelSelector 2:template:PodTemplateSpec 3:updateStrategy:DaemonSetUpdateStrategy
    4:minReadySeconds:i32 6:revisionHistoryLimit:i32?`,
  DaemonSetUpdateStrategy: '1:type 2:rollingUpdate:RollingUpdate',
  DaemonSetStatus: `1:currentNumberScheduled:i32? 2:numberMisscheduled:i32? 3:desiredNumberScheduled:i32?
    4:numberReady:i32? 5:observedGeneration:i64 6:updatedNumberScheduled:i32 7:numberAvailable:i32
    8:numberUnavailable:i32 9:collisionCount:i32? 10:conditions:[WorkloadCondition]`,
  StatefulSet: '1:metadata:ObjectMeta 2:spec:StatefulSetSpec 3:status:StatefulSetStatus',
  StatefulSetSpec: `1:replicas:i32? 2:selector:LabelSelector 3:template:PodTemplateSpec
    4:volumeClaimTemplates:[PersistentVolumeClaim] 5:serviceName 6:podManagementPolicy
    7:updateStrategy:StatefulSetUpdateStrategy 8:revisionHistoryLimit:i32? 9:minReadySeconds:i32
    10:persistentVolumeClaimRetentionPolicy:StatefulSetPersistentVolumeClaimRetentionPolicy
    11:ordinals:StatefulSetOrdinals`,
  StatefulSetUpdateStrategy: '1:type 2:rollingUpdate:RollingUpdateStatefulSetStrategy',
  RollingUpdateStatefulSetStrategy: '1:partition:i32? 2:maxUnavailable:IntOrString',
  StatefulSetPersistentVolumeClaimRetentionPolicy: '1:whenDeleted 2:whenScaled',
  StatefulSetOrdinals: '1:start:i32?',
  StatefulSetStatus: `1:observedGeneration:i64 2:replicas:i32? 3:readyReplicas:i32 4:currentReplicas:i32
    5:updatedReplicas:i32 6:currentRevision 7:updateRevision 9:collisionCount:i32? 10:conditions:[WorkloadCondition]
    11:availableReplicas:i32?`,
  Job: '1:metadata:ObjectMeta 2:spec:JobSpec 3:status:JobStatus',
  JobTemplateSpec: '1:metadata:ObjectMeta 2:spec:JobSpec',
  JobSpec: `1:parallelism:i32? 2:completions:i32? 3:activeDeadlineSeconds:i64? 11:podFailurePolicy:PodFailurePolicy
    16:successPolicy:SuccessPolicy 7:backoffLimit:i32? 12:backoffLimitPerIndex:i32? 13:maxFailedIndexes:i32?
    4:selector:LabelSelector 5:manualSelector:b? 6:template:PodTemplateSpec 8:ttlSecondsAfterFinished:i32?
    9:completionMode:s? 10:suspend:b? 14:podReplacementPolicy:s? 15:managedBy:s?`,
  PodFailurePolicy: '1:rules:[PodFailurePolicyRule]',
  PodFailurePolicyRule: `1:action 2:onExitCodes:PodFailurePolicyOnExitCodesRequirement
    3:onPodConditions:[PodFailurePolicyOnPodConditionsPattern]`,
  PodFailurePolicyOnExitCodesRequirement: '1:containerName:s? 2:operator 3:values:[i32]',
  PodFailurePolicyOnPodConditionsPattern: '1:type 2:status',
  SuccessPolicy: '1:rules:[SuccessPolicyRule]',
  SuccessPolicyRule: '1:succeededIndexes:s? 2:succeededCount:i32?',
  JobStatus: `1:conditions:[JobCondition] 2:startTime:Time 3:completionTime:Time 4:active:i32 5:succeeded:i32
    6:failed:i32 11:terminating:i32? 7:completedIndexes 10:failedIndexes:s?
    8:uncountedTerminatedPods:UncountedTerminatedPods 9:ready:i32?`,
  JobCondition: '1:type 2:status 3:lastProbeTime:Time 4:lastTransitionTime:Time 5:reason 6:message',
  UncountedTerminatedPods: '1:succeeded:[s] 2:failed:[s]',
  CronJob: '1:metadata:ObjectMeta 2:spec:CronJobSpec 3:status:CronJobStatus',
  CronJobSpec: `1:schedule 8:timeZone:s? 2:startingDeadlineSeconds:i64? 3:concurrencyPolicy 4:suspend:b?
    5:jobTemplate:JobTemplateSpec 6:successfulJobsHistoryLimit:i32? 7:failedJobsHistoryLimit:i32?`,
  CronJobStatus: '1:active:[ObjectReference] 4:lastScheduleTime:Time 5:lastSuccessfulTime:Time',
  /** `replicas` has no omitempty effect worth keeping: `kubectl scale --replicas=0` must stay 0. */
  Scale: '1:metadata:ObjectMeta 2:spec:ScaleSpec 3:status:ScaleStatus',
  ScaleSpec: '1:replicas:i32?',
  ScaleStatus: '1:replicas:i32? 2:selector',
  HorizontalPodAutoscaler: `1:metadata:ObjectMeta 2:spec:HorizontalPodAutoscalerSpec
    3:status:HorizontalPodAutoscalerStatus`,
  HorizontalPodAutoscalerSpec: `1:scaleTargetRef:CrossVersionObjectReference 2:minReplicas:i32? 3:maxReplicas:i32?
    4:targetCPUUtilizationPercentage:i32?`,
  CrossVersionObjectReference: '1:kind 2:name 3:apiVersion',
  HorizontalPodAutoscalerStatus: `1:observedGeneration:i64? 2:lastScaleTime:Time 3:currentReplicas:i32?
    4:desiredReplicas:i32? 5:currentCPUUtilizationPercentage:i32?`,
  /** authentication.k8s.io/v1, what `kubectl create token` posts to serviceaccounts/NAME/token. */
  TokenRequest: '1:metadata:ObjectMeta 2:spec:TokenRequestSpec 3:status:TokenRequestStatus',
  TokenRequestSpec: '1:audiences:[s] 4:expirationSeconds:i64? 3:boundObjectRef:BoundObjectReference',
  BoundObjectReference: '1:kind 2:apiVersion 3:name 4:uid',
  TokenRequestStatus: '1:token 2:expirationTimestamp:Time',
}

/** rbac.authorization.k8s.io/v1, networking.k8s.io/v1, policy/v1, scheduling.k8s.io/v1. */
export const CLUSTER_MESSAGES: SchemaSource = {
  Role: '1:metadata:ObjectMeta 2:rules:[PolicyRule]',
  ClusterRole: '1:metadata:ObjectMeta 2:rules:[PolicyRule] 3:aggregationRule:AggregationRule',
  AggregationRule: '1:clusterRoleSelectors:[LabelSelector]',
  PolicyRule: '1:verbs:[s] 2:apiGroups:[s] 3:resources:[s] 4:resourceNames:[s] 5:nonResourceURLs:[s]',
  RoleBinding: '1:metadata:ObjectMeta 2:subjects:[Subject] 3:roleRef:RoleRef',
  ClusterRoleBinding: '1:metadata:ObjectMeta 2:subjects:[Subject] 3:roleRef:RoleRef',
  Subject: '1:kind 2:apiGroup 3:name 4:namespace',
  RoleRef: '1:apiGroup 2:kind 3:name',
  Ingress: '1:metadata:ObjectMeta 2:spec:IngressSpec 3:status:IngressStatus',
  IngressSpec: '4:ingressClassName:s? 1:defaultBackend:IngressBackend 2:tls:[IngressTLS] 3:rules:[IngressRule]',
  IngressBackend: '4:service:IngressServiceBackend 3:resource:TypedLocalObjectReference',
  IngressServiceBackend: '1:name 2:port:ServiceBackendPort',
  ServiceBackendPort: '1:name 2:number:i32',
  IngressTLS: '1:hosts:[s] 2:secretName',
  IngressRule: '1:host 2:*:IngressRuleValue',
  IngressRuleValue: '1:http:HTTPIngressRuleValue',
  HTTPIngressRuleValue: '1:paths:[HTTPIngressPath]',
  HTTPIngressPath: '1:path 3:pathType:s? 2:backend:IngressBackend',
  IngressStatus: '1:loadBalancer:IngressLoadBalancerStatus',
  IngressLoadBalancerStatus: '1:ingress:[IngressLoadBalancerIngress]',
  IngressLoadBalancerIngress: '1:ip 2:hostname 4:ports:[PortStatus]',
  NetworkPolicy: '1:metadata:ObjectMeta 2:spec:NetworkPolicySpec',
  NetworkPolicySpec: `1:podSelector:LabelSelector 2:ingress:[NetworkPolicyIngressRule] 3:egress:[NetworkPolicyEgressRule]
    4:policyTypes:[s]`,
  NetworkPolicyIngressRule: '1:ports:[NetworkPolicyPort] 2:from:[NetworkPolicyPeer]',
  NetworkPolicyEgressRule: '1:ports:[NetworkPolicyPort] 2:to:[NetworkPolicyPeer]',
  NetworkPolicyPeer: '1:podSelector:LabelSelector 2:namespaceSelector:LabelSelector 3:ipBlock:IPBlock',
  NetworkPolicyPort: '1:protocol:s? 2:port:IntOrString 3:endPort:i32?',
  IPBlock: '1:cidr 2:except:[s]',
  PodDisruptionBudget: '1:metadata:ObjectMeta 2:spec:PodDisruptionBudgetSpec 3:status:PodDisruptionBudgetStatus',
  PodDisruptionBudgetSpec: `1:minAvailable:IntOrString 2:selector:LabelSelector 3:maxUnavailable:IntOrString
    4:unhealthyPodEvictionPolicy:s?`,
  PodDisruptionBudgetStatus: `1:observedGeneration:i64 2:disruptedPods:{Time} 3:disruptionsAllowed:i32?
    4:currentHealthy:i32? 5:desiredHealthy:i32? 6:expectedPods:i32? 7:conditions:[Condition]`,
  PriorityClass: '1:metadata:ObjectMeta 2:value:i32? 3:globalDefault:b 4:description 5:preemptionPolicy:s?',
}

/** `apiVersion/kind` of each object a client may send -> its message. */
export const KINDS: Record<string, string> = {
  'v1/Namespace': 'Namespace',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Secret': 'Secret',
  'v1/ServiceAccount': 'ServiceAccount',
  'v1/Service': 'Service',
  'v1/Endpoints': 'Endpoints',
  'v1/Pod': 'Pod',
  'v1/ResourceQuota': 'ResourceQuota',
  'v1/LimitRange': 'LimitRange',
  'v1/PersistentVolumeClaim': 'PersistentVolumeClaim',
  'v1/ReplicationController': 'ReplicationController',
  'v1/DeleteOptions': 'DeleteOptions',
  'meta.k8s.io/v1/DeleteOptions': 'DeleteOptions',
  'apps/v1/Deployment': 'Deployment',
  'apps/v1/ReplicaSet': 'ReplicaSet',
  'apps/v1/DaemonSet': 'DaemonSet',
  'apps/v1/StatefulSet': 'StatefulSet',
  'batch/v1/Job': 'Job',
  'batch/v1/CronJob': 'CronJob',
  'autoscaling/v1/Scale': 'Scale',
  'autoscaling/v1/HorizontalPodAutoscaler': 'HorizontalPodAutoscaler',
  'authentication.k8s.io/v1/TokenRequest': 'TokenRequest',
  'rbac.authorization.k8s.io/v1/Role': 'Role',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'ClusterRole',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'RoleBinding',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'ClusterRoleBinding',
  'networking.k8s.io/v1/Ingress': 'Ingress',
  'networking.k8s.io/v1/NetworkPolicy': 'NetworkPolicy',
  'policy/v1/PodDisruptionBudget': 'PodDisruptionBudget',
  'scheduling.k8s.io/v1/PriorityClass': 'PriorityClass',
}
