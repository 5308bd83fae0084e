import type { Clock, Logger } from '@calilab/kit'
import type { InternalStreamHandler, SyncerType } from '@calilab/proto'
import type { RevisionedCache } from '../core/cache.ts'
import type { TyphaMetrics } from '../metrics.ts'

/** Something that feeds the cache: in production connectInternalStream to the API server. */
export type UpstreamFactory = (handler: InternalStreamHandler) => { close(): void }

export interface TyphaTlsInit {
  cert: string | Buffer
  key: string | Buffer
  ca: string | Buffer
  /** Required Subject CN of client certificates (Calico: ClientCN, operator: `typha-client`). */
  clientCN?: string
}

export interface TyphaServerInit {
  log: Logger
  upstream: UpstreamFactory
  host?: string
  port?: number
  clock?: Clock
  metrics?: TyphaMetrics
  tls?: TyphaTlsInit
  serverId?: string
  /** Bytes a live client may have queued in the process before it is cut (default 8 MiB). */
  maxQueueBytes?: number
  /** Revisions a live client may fall behind before it is cut (default 100 000). */
  maxLagRevisions?: number
  pingIntervalMs?: number
  /** No message from the client for this long: disconnect (default 60 s). */
  pongTimeoutMs?: number
  handshakeTimeoutMs?: number
  snapshotChunk?: number
  /** Largest frame accepted from a client (default 64 KiB: clients send only small messages). */
  maxClientFrameBytes?: number
  /** Coalesce upstream batches arriving within one turn into one delta frame (default true). */
  coalesce?: boolean
  /**
   * Fan-out pacing (with `coalesce`): while updates keep coming, successive delta fan-outs are at
   * least `live clients x flushGapPerClientUs` apart (default 100 µs per client), capped at
   * `maxFlushGapMs` (default 20 ms); updates arriving meanwhile join the next frame, and an update
   * after a quiet spell goes out at once. A fan-out costs one socket write per client here (~20 µs
   * on loopback) and a socket read per client on the agents' side, so without a floor on the gap
   * that cost grows with the update rate times N until it starves the rest of the pipeline (at
   * N = 200, 1,000 one-update frames/s would be 4 cores of writes alone); with it Typha's writes
   * stay near 0.2 cores whatever the rate.
   */
  flushGapPerClientUs?: number
  maxFlushGapMs?: number
  /**
   * How long encoded snapshot frames are reused for new clients while the cache moves on (they
   * get the snapshot, then the delta frames flushed since it; Calico: BinarySnapshotTimeout, 1 s).
   */
  snapshotMaxAgeMs?: number
  /** Delta bytes a reused snapshot may trail before it is encoded afresh (default 4 MiB). */
  snapshotMaxTailBytes?: number
}

export type DisconnectReason =
  | 'client-closed'
  | 'malformed'
  | 'version'
  | 'unexpected'
  | 'handshake-timeout'
  | 'pong-timeout'
  | 'lag-bytes'
  | 'lag-revisions'
  | 'tls-rejected'
  | 'socket-error'
  | 'shutdown'

export interface TyphaClientInfo {
  id: number
  nodeName: string | undefined
  syncerType: SyncerType | undefined
  state: ConnState
  remote: string
  lagRevisions: number
  queuedBytes: number
  bytesWritten: number
}

export interface TyphaServer {
  readonly port: number
  readonly host: string
  readonly serverId: string
  readonly cache: RevisionedCache
  readonly inSync: boolean
  clients(): TyphaClientInfo[]
  close(): Promise<void>
}

export type ConnState = 'handshake' | 'waiting' | 'live' | 'closed'

/** Defaults of the optional `TyphaServerInit` limits and periods. */
export const SERVER_DEFAULTS = {
  maxQueueBytes: 8 * 1024 * 1024,
  maxLagRevisions: 100_000,
  pingIntervalMs: 10_000,
  pongTimeoutMs: 60_000,
  handshakeTimeoutMs: 10_000,
  maxClientFrameBytes: 64 * 1024,
  snapshotMaxAgeMs: 1000,
  snapshotMaxTailBytes: 4 * 1024 * 1024,
  flushGapPerClientUs: 100,
  maxFlushGapMs: 20,
}
