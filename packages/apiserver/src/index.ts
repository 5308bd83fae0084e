export type * from './api.ts'
export { type ControllersInit, startControllers } from './controllers/index.ts'
export * from './core/index.ts'
export { ApiError, apiErrors, isApiError, type K8sStatus } from './core/status.ts'
export { attachExecProxy } from './io/http/exec.ts'
export { KUBELET_ENDPOINT_ANNOTATION } from './io/http/logs.ts'
export { attachInternalStream, type InternalStream, type InternalStreamInit } from './io/internal-stream.ts'
export {
  type ApiInit,
  BUILTIN_NAMESPACES,
  createApi,
  DEFAULT_SERVICE_CIDR,
  type ServiceApi,
} from './io/service/api.ts'
export {
  type DurableStore,
  type DurableStoreInit,
  type DurableStoreStats,
  openDurableStore,
} from './io/store/durable-store.ts'
export { StoreError } from './io/store/errors.ts'
export { parseStoreKey, storeKey, storePrefix } from './io/store/keys.ts'
export { MemoryStore } from './io/store/memory-store.ts'
export type * from './io/store/types.ts'
export { type ApiServerConfig, runApiServer } from './main.ts'
export { type ApiServerMetrics, createApiServerMetrics } from './metrics.ts'
export { type ApiServerInit, type RunningApiServer, startApiServer } from './server.ts'
