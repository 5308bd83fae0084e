import type { KubeObject } from '@calilab/model'

/**
 * The API server's store contract. Keys look like `/<group|core>/<plural>/<namespace|_>/<name>`
 * (see keys.ts). Every committed op gets the next revision (a single monotonic counter, like
 * etcd's); the store writes it into the stored object's `metadata.resourceVersion`.
 *
 * Durability: `commit` resolves only once its ops are on disk (fdatasync'd, group-committed with
 * concurrent commits). A write becomes visible to get/list/watch only once durable, so nothing a
 * reader or watcher saw can be lost by a crash. Preconditions are checked at commit time against
 * the newest state including commits still in flight. A commit is all-or-nothing.
 *
 * Objects handed out are shared and must be treated as read-only (clone before changing).
 */
export type StoreOp =
  /** Fails with STORE_EXISTS if the key exists. */
  | { op: 'create'; key: string; object: KubeObject }
  /** Fails with STORE_NOT_FOUND if missing, STORE_CONFLICT if `expectRevision` differs. */
  | { op: 'update'; key: string; object: KubeObject; expectRevision?: number }
  /** Fails with STORE_NOT_FOUND if missing, STORE_CONFLICT if `expectRevision` differs. */
  | { op: 'delete'; key: string; expectRevision?: number }

export type StoreEventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface StoreEvent {
  type: StoreEventType
  key: string
  /** For DELETED: the last stored value, with resourceVersion set to the deletion revision. */
  object: KubeObject
  revision: number
}

export interface WatchHandle {
  cancel(): void
}

export interface Store {
  /** Last durable revision. */
  readonly revision: number
  /** Watches can resume from any revision >= this; older ones get STORE_GONE. */
  readonly oldestRevision: number
  get(key: string): KubeObject | undefined
  /**
   * Every object whose key starts with prefix, in key order, and the revision they reflect.
   * `keys[i]` is the store key of `items[i]` (MemoryStore and the durable store always fill it;
   * the internal watch stream needs it).
   */
  list(prefix: string): { items: KubeObject[]; revision: number; keys?: string[] }
  commit(ops: StoreOp[]): Promise<StoreEvent[]>
  /**
   * Events for keys under prefix with revision > afterRevision, first the retained history then
   * live, in revision order, delivered in batches. Throws STORE_GONE (a StoreError) when
   * afterRevision < oldestRevision - 1 (compacted away).
   */
  watch(prefix: string, afterRevision: number, onEvents: (events: StoreEvent[]) => void): WatchHandle
  close(): Promise<void>
}

export type StoreErrorCode =
  | 'STORE_EXISTS'
  | 'STORE_NOT_FOUND'
  | 'STORE_CONFLICT'
  | 'STORE_GONE'
  | 'STORE_CLOSED'
  | 'STORE_IO'
