import type { SchemaSource } from './schema.ts'

/** k8s.io/apimachinery meta/v1 (Time, Quantity, IntOrString are builtins: see schema.ts). */
export const META_MESSAGES: SchemaSource = {
  ObjectMeta: `1:name 2:generateName 3:namespace 4:selfLink 5:uid 6:resourceVersion 7:generation:i64
    8:creationTimestamp:Time 9:deletionTimestamp:Time 10:deletionGracePeriodSeconds:i64? 11:labels:{s}
    12:annotations:{s} 13:ownerReferences:[OwnerReference] 14:finalizers:[s] 17:managedFields:[ManagedFieldsEntry]`,
  OwnerReference: '5:apiVersion 1:kind 3:name 4:uid 6:controller:b? 7:blockOwnerDeletion:b?',
  ManagedFieldsEntry: '1:manager 2:operation 3:apiVersion 4:time:Time 6:fieldsType 7:fieldsV1:FieldsV1 8:subresource',
  LabelSelector: '1:matchLabels:{s} 2:matchExpressions:[LabelSelectorRequirement]',
  LabelSelectorRequirement: '1:key 2:operator 3:values:[s]',
  Condition: '1:type 2:status 3:observedGeneration:i64 4:lastTransitionTime:Time 5:reason 6:message',
  DeleteOptions: `1:gracePeriodSeconds:i64? 2:preconditions:Preconditions 3:orphanDependents:b? 4:propagationPolicy:s?
    5:dryRun:[s] 6:ignoreStoreReadErrorWithClusterBreakingPotential:b?`,
  Preconditions: '1:uid:s? 2:resourceVersion:s?',
}

/** runtime.Unknown, the envelope after the `k8s\0` magic, and the TypeMeta inside it. */
export const ENVELOPE_MESSAGES: SchemaSource = {
  Unknown: '1:typeMeta:TypeMeta 2:raw:by 3:contentEncoding 4:contentType',
  TypeMeta: '1:apiVersion 2:kind',
}
