export { type BindUnderlayInit, bindUnderlay, parseEndpoint } from './bind-underlay.ts'
export {
  type DesiredNet,
  type DesiredRoute,
  desiredNet,
  type NetView,
  type NodeAddr,
  nodeAddresses,
  PROTO_VXLAN,
  UNDERLAY_ANNOTATION,
} from './desired.ts'
export {
  type DataplaneStatus,
  IPSET_ALL_POOLS,
  IPSET_MASQ_POOLS,
  NAT_OUTGOING_RESTORE,
  NodeDataplane,
  type NodeDataplaneInit,
} from './driver.ts'
export {
  type PodNetInfo,
  type PodNetwork,
  type PodRef,
  podNetnsName,
  setupPodNetwork,
  teardownPodNetwork,
} from './pod-network.ts'
