export { type IpSetCallbacks, IpSetIndex } from './ipset-index.ts'
export { LabelIndex, type LabelIndexCallbacks, type LabelIndexStats, type Labels } from './label-index.ts'
export {
  comparePolicies,
  type PolicyMeta,
  PolicyResolver,
  type PolicyResolverCallbacks,
  type TierPolicies,
} from './policy-sorter.ts'
export {
  namespaceProfileId,
  namespaceProfileLabels,
  podProfileIds,
  serviceAccountProfileId,
  serviceAccountProfileLabels,
} from './profiles.ts'
