import { createHash } from 'node:crypto'
import { canonicalJson } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import type { SyncerUpdate } from './types.ts'

/**
 * The agent-side cache behind both syncer implementations: applies updates, and during a
 * (re)sync remembers which keys the new snapshot held so that `endResync` can delete the rest.
 * Every method returns only what actually changed, ready for `SyncerCallbacks.onUpdates`.
 */
export class SyncerView {
  readonly cache = new Map<string, KubeObject>()
  private seen: Set<string> | undefined

  get resyncing(): boolean {
    return this.seen !== undefined
  }

  beginResync(): void {
    this.seen = new Set()
  }

  /** Snapshot items (during a resync) or live updates. */
  apply(updates: readonly SyncerUpdate[]): SyncerUpdate[] {
    const out: SyncerUpdate[] = []
    for (const u of updates) {
      const cur = this.cache.get(u.key)
      if (u.value === null) {
        this.seen?.delete(u.key)
        if (cur === undefined) continue
        this.cache.delete(u.key)
        out.push(u)
        continue
      }
      this.seen?.add(u.key)
      if (cur !== undefined && sameObject(cur, u.value)) continue
      this.cache.set(u.key, u.value)
      out.push(u)
    }
    return out
  }

  /** The connection died mid-snapshot: keep what was applied, delete nothing. */
  abortResync(): void {
    this.seen = undefined
  }

  /** End of the snapshot: delete every key it did not hold. */
  endResync(): SyncerUpdate[] {
    const seen = this.seen
    this.seen = undefined
    if (!seen) return []
    const out: SyncerUpdate[] = []
    for (const key of [...this.cache.keys()]) {
      if (!seen.has(key)) {
        this.cache.delete(key)
        out.push({ key, value: null })
      }
    }
    return out
  }
}

function sameObject(a: KubeObject, b: KubeObject): boolean {
  const ra = a.metadata.resourceVersion
  const rb = b.metadata.resourceVersion
  if (ra && rb && ra !== rb) return false
  if (ra && rb && a.metadata.uid === b.metadata.uid) return true
  return canonicalJson(a) === canonicalJson(b)
}

/**
 * A hash of a whole key -> value state (sorted keys, canonical JSON values), for convergence
 * tests: every agent's cache hash must equal the hash of the API server's state.
 */
export function syncerCacheHash(cache: ReadonlyMap<string, unknown> | Iterable<readonly [string, unknown]>): string {
  const entries = [...(cache instanceof Map ? cache.entries() : cache)] as [string, unknown][]
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const h = createHash('sha256')
  for (const [k, v] of entries) {
    h.update(k)
    h.update('\0')
    h.update(canonicalJson(v))
    h.update('\n')
  }
  return h.digest('hex')
}
