import type { KubeObject } from '@calilab/model'
import type { SyncerType } from '@calilab/proto'

/** One key's new value as the agent sees it; `value: null` = deleted. */
export interface SyncerUpdate {
  key: string
  value: KubeObject | null
}

export type SyncerStatus = 'connecting' | 'resyncing' | 'in-sync' | 'disconnected'

/**
 * What a syncer delivers to the agent, whichever source it reads (Typha or the API server's
 * internal stream). The stream of updates is minimal and self-consistent: after a reconnect the
 * syncer reconciles the new snapshot against what it already delivered and passes on only the
 * differences (including deletions of keys that vanished while it was away).
 */
export interface SyncerCallbacks {
  onUpdates(updates: SyncerUpdate[]): void
  /** The view is complete at `revision` (first sync, and again after every resync). */
  onInSync(revision: number): void
  onStatus?(status: SyncerStatus): void
}

/** A running syncer (either implementation). */
export interface SyncerClient {
  readonly syncerType: SyncerType
  readonly status: SyncerStatus
  /** Everything delivered so far: key -> value. */
  readonly cache: ReadonlyMap<string, KubeObject>
  /** Newest revision applied. */
  readonly revision: number
  close(): void
}
