export { connectDirect, type DirectClientInit } from './direct-client.ts'
export { SyncerView, syncerCacheHash } from './syncer-view.ts'
export type { SyncerCallbacks, SyncerClient, SyncerStatus, SyncerUpdate } from './types.ts'
export {
  connectTypha,
  parseTyphaAddress,
  type TyphaAddress,
  type TyphaClientInit,
  type TyphaClientStats,
  type TyphaClientTls,
  type TyphaSyncerClient,
} from './typha-client.ts'
