export { defaultTopology, generateTopology, MAX_GENERATED_NODES } from './defaults.ts'
export type {
  HostRole,
  Topology,
  TopologyApiServer,
  TopologyHost,
  TopologyPools,
  TopologyPorts,
  TopologyTypha,
} from './types.ts'
export { HOST_ROLES } from './types.ts'
export {
  clusterNodes,
  formatTopologyIssues,
  type TopologyIssue,
  type TopologyResult,
  validateTopology,
} from './validate.ts'
