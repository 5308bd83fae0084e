/**
 * The typed message map between the node thread and forwarder workers: plain, cloneable data
 * (numbers, strings, arrays, ArrayBuffer (transferred), SharedArrayBuffer), no functions.
 */

/** A route as the fast path needs it. */
export interface SnapRoute {
  dst: number
  prefix: number
  /** 'unicast' | 'blackhole' | 'local' | ... */
  type: string
  nexthops: { dev: string; via?: number; weight: number }[]
}

/** An established conntrack flow, one per direction: match tuple -> rewrite. */
export interface SnapFlow {
  proto: number
  src: number
  dst: number
  sport: number
  dport: number
  /** The tuple the packet leaves with (equal to the match when the flow has no NAT). */
  toSrc: number
  toDst: number
  toSport: number
  toDport: number
}

/** The tables of one namespace, serialized once per change. */
export interface Snapshot {
  version: number
  ns: string
  local: number[]
  routes: SnapRoute[]
  flows: SnapFlow[]
}

/** One packet's result. 'slow': not an established flow; the caller runs the full pipeline. */
export type FwdResult =
  | { action: 'local'; bytes: Uint8Array }
  | { action: 'forward'; dev: string; via?: number; bytes: Uint8Array }
  | { action: 'drop'; reason: string }
  | { action: 'slow' }

export interface BatchRequest {
  type: 'batch'
  version: number
  /** The snapshot bytes (JSON, UTF-8) in shared memory: sent by reference, decoded once per version per worker. */
  snapshot: SharedArrayBuffer
  snapshotLen: number
  /** A PacketBatch's buffer (batch.ts layout), transferred: packets laid out with offsets and lengths. */
  batch: ArrayBuffer
}

export interface BatchResponse {
  type: 'results'
  version: number
  /** The same buffer transferred back: action codes in the meta words, packets rewritten in place. */
  batch: ArrayBuffer
}

export interface WorkerError {
  type: 'error'
  code: string
  message: string
}

/** Every message that crosses the worker boundary, by type. */
export interface ForwarderMessages {
  batch: BatchRequest
  results: BatchResponse
  error: WorkerError
}

export type ForwarderMessage = ForwarderMessages[keyof ForwarderMessages]
