export * from './apps/index.ts'
export * from './core/calc/index.ts'
export * from './core/cni/index.ts'
export * from './core/ipam/index.ts'
export * from './core/kubeproxy/index.ts'
export * as policy from './core/policy/index.ts'
export * from './dataplane/index.ts'
export * from './exec/index.ts'
export { type FelixAgent, type FelixInit, type FelixSource, type FelixStatus, startFelix } from './felix/agent.ts'
export * from './io/syncer/index.ts'
export * from './ipam/index.ts'
export { type NodeInit, type RunningNode, startNode } from './kubelet/agent.ts'
export {
  BlockAllocator,
  creatingPodStatus,
  NOT_READY_MESSAGE,
  nodeObject,
  nodeStatus,
  runningPodStatus,
  startupLogLines,
} from './kubelet/core.ts'
export { ContainerLogs } from './kubelet/logs.ts'
export * from './router-host/index.ts'
export { runNode } from './run-node.ts'
export * from './tools/index.ts'
