import type { KubeObject } from '@calilab/model'
import { StoreError } from './errors.ts'
import type { Store, StoreEvent, StoreOp, WatchHandle } from './types.ts'

interface Watcher {
  prefix: string
  onEvents: (events: StoreEvent[]) => void
  cancelled: boolean
}

export interface MemoryStoreInit {
  /** How many past events to keep for watch resume. */
  historySize?: number
  /** Initial state (used by the durable store after replay). */
  initial?: { objects: Map<string, KubeObject>; revision: number }
  /**
   * Called when a watcher's callback throws. Every other watcher is still notified. Without it the
   * first such error is rethrown to the committer once all watchers have been called.
   */
  onWatcherError?: (err: unknown) => void
}

/**
 * The in-memory state machine of the store: objects by key, a revision counter, a bounded event
 * history and watchers. `apply` is synchronous; durability is added by a wrapper that logs ops
 * before calling it.
 */
export class MemoryStore implements Store {
  private readonly objects: Map<string, KubeObject>
  private sortedKeys: string[] | undefined
  private readonly history: StoreEvent[] = []
  private readonly historySize: number
  private readonly watchers = new Set<Watcher>()
  private rev: number
  private closed = false
  private readonly onWatcherError: ((err: unknown) => void) | undefined

  constructor(init: MemoryStoreInit = {}) {
    this.onWatcherError = init.onWatcherError
    this.objects = init.initial?.objects ?? new Map()
    this.rev = init.initial?.revision ?? 0
    this.historySize = init.historySize ?? 100_000
  }

  get revision(): number {
    return this.rev
  }

  get oldestRevision(): number {
    return this.history[0]?.revision ?? this.rev + 1
  }

  get(key: string): KubeObject | undefined {
    return this.objects.get(key)
  }

  list(prefix: string): { items: KubeObject[]; revision: number; keys: string[] } {
    const keys = this.keys()
    let lo = 0
    let hi = keys.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((keys[mid] as string) < prefix) lo = mid + 1
      else hi = mid
    }
    const items: KubeObject[] = []
    let hi2 = lo
    while (hi2 < keys.length && (keys[hi2] as string).startsWith(prefix)) {
      items.push(this.objects.get(keys[hi2] as string) as KubeObject)
      hi2++
    }
    return { items, revision: this.rev, keys: keys.slice(lo, hi2) }
  }

  /** Throws StoreError if a precondition fails; changes nothing in that case. */
  check(ops: StoreOp[]): void {
    if (this.closed) throw new StoreError({ code: 'STORE_CLOSED', message: 'store is closed' })
    const seen = new Map<string, boolean>()
    for (const op of ops) {
      const exists = seen.has(op.key) ? (seen.get(op.key) as boolean) : this.objects.has(op.key)
      if (op.op === 'create') {
        if (exists) throw new StoreError({ code: 'STORE_EXISTS', message: `${op.key} already exists`, key: op.key })
        seen.set(op.key, true)
      } else {
        if (!exists) throw new StoreError({ code: 'STORE_NOT_FOUND', message: `${op.key} not found`, key: op.key })
        const cur = this.objects.get(op.key)
        if (
          op.expectRevision !== undefined &&
          !seen.has(op.key) &&
          cur?.metadata.resourceVersion !== String(op.expectRevision)
        ) {
          throw new StoreError({
            code: 'STORE_CONFLICT',
            message: `${op.key} has resourceVersion ${cur?.metadata.resourceVersion}, expected ${op.expectRevision}`,
            key: op.key,
          })
        }
        seen.set(op.key, op.op === 'update')
      }
    }
  }

  /** Apply checked ops: assign revisions, update state, record history, notify watchers. */
  apply(ops: StoreOp[]): StoreEvent[] {
    const events: StoreEvent[] = []
    for (const op of ops) {
      const revision = ++this.rev
      if (op.op === 'delete') {
        const prev = this.objects.get(op.key) as KubeObject
        this.objects.delete(op.key)
        this.sortedKeys = undefined
        const object = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(revision) } }
        events.push({ type: 'DELETED', key: op.key, object, revision })
      } else {
        const existed = this.objects.has(op.key)
        const object = { ...op.object, metadata: { ...op.object.metadata, resourceVersion: String(revision) } }
        this.objects.set(op.key, object)
        if (!existed) this.sortedKeys = undefined
        events.push({ type: existed ? 'MODIFIED' : 'ADDED', key: op.key, object, revision })
      }
    }
    for (const e of events) this.history.push(e)
    if (this.history.length > this.historySize) this.history.splice(0, this.history.length - this.historySize)
    this.notify(events)
    return events
  }

  async commit(ops: StoreOp[]): Promise<StoreEvent[]> {
    this.check(ops)
    return this.apply(ops)
  }

  watch(prefix: string, afterRevision: number, onEvents: (events: StoreEvent[]) => void): WatchHandle {
    if (afterRevision < this.rev && afterRevision < this.oldestRevision - 1) {
      throw new StoreError({
        code: 'STORE_GONE',
        message: `revision ${afterRevision} has been compacted (oldest kept: ${this.oldestRevision})`,
      })
    }
    const w: Watcher = { prefix, onEvents, cancelled: false }
    const backlog = this.history.filter((e) => e.revision > afterRevision && e.key.startsWith(prefix))
    if (backlog.length) onEvents(backlog)
    this.watchers.add(w)
    return {
      cancel: () => {
        w.cancelled = true
        this.watchers.delete(w)
      },
    }
  }

  async close(): Promise<void> {
    this.closed = true
    this.watchers.clear()
  }

  /** Every object and the revision, for snapshots. */
  entries(): { objects: Map<string, KubeObject>; revision: number } {
    return { objects: this.objects, revision: this.rev }
  }

  private keys(): string[] {
    if (!this.sortedKeys) this.sortedKeys = [...this.objects.keys()].sort()
    return this.sortedKeys
  }

  private notify(events: StoreEvent[]): void {
    let failure: { err: unknown } | undefined
    for (const w of this.watchers) {
      if (w.cancelled) continue
      const mine = w.prefix === '/' ? events : events.filter((e) => e.key.startsWith(w.prefix))
      if (!mine.length) continue
      try {
        w.onEvents(mine)
      } catch (err) {
        if (this.onWatcherError) this.onWatcherError(err)
        else failure ??= { err }
      }
    }
    if (failure) throw failure.err
  }
}
