export { type CacheChange, RevisionedCache, snapshotChunks } from './core/cache.ts'
export { SendLedger } from './core/send-ledger.ts'
export { type MetricsHttp, startMetricsHttp } from './io/metrics-http.ts'
export {
  type DisconnectReason,
  startTyphaServer,
  type TyphaClientInfo,
  type TyphaServer,
  type TyphaServerInit,
  type TyphaTlsInit,
  type UpstreamFactory,
} from './io/server.ts'
export { internalStreamUrl, runTypha, startTypha, type TyphaMainOptions, type TyphaProcess } from './main.ts'
export { createTyphaMetrics, type TyphaMetrics } from './metrics.ts'
