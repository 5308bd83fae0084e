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
export { runNode } from './run-node.ts'
