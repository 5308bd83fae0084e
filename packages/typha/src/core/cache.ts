import type { KubeObject } from '@calilab/model'
import type { TyphaUpdate } from '@calilab/proto'

/** One upstream change: `value: null` deletes `key`. */
export interface CacheChange {
  key: string
  value: KubeObject | null
  revision: number
}

interface Entry {
  value: KubeObject
  revision: number
}

/**
 * Typha's revisioned cache: key -> (value, revision), plus the revision of the newest change
 * seen. Pure: it takes changes and returns what actually changed (the deltas to fan out).
 *
 * - A change at or below a key's stored revision is a replay (resume after reconnect) and dropped.
 * - Deleting a missing key is dropped.
 * - `replace` (upstream resync after 'gone') diffs the new full state against the held one, so
 *   clients receive only the difference and need not resync themselves.
 */
export class RevisionedCache {
  private readonly entries = new Map<string, Entry>()
  private rev = 0

  get revision(): number {
    return this.rev
  }

  get size(): number {
    return this.entries.size
  }

  get(key: string): KubeObject | undefined {
    return this.entries.get(key)?.value
  }

  /** Apply changes in order; returns the effective updates (de-duplicated, in order). */
  apply(changes: readonly CacheChange[]): TyphaUpdate[] {
    const out: TyphaUpdate[] = []
    for (const c of changes) {
      if (c.revision > this.rev) this.rev = c.revision
      const cur = this.entries.get(c.key)
      if (cur && c.revision <= cur.revision) continue
      if (c.value === null) {
        if (!cur) continue
        this.entries.delete(c.key)
        out.push({ key: c.key, value: null })
      } else {
        this.entries.set(c.key, { value: c.value, revision: c.revision })
        out.push({ key: c.key, value: c.value })
      }
    }
    return out
  }

  /** Replace everything with a full state at `revision`; returns the difference as updates. */
  replace(items: readonly { key: string; value: KubeObject }[], revision: number): TyphaUpdate[] {
    const out: TyphaUpdate[] = []
    const seen = new Set<string>()
    for (const it of items) {
      seen.add(it.key)
      const cur = this.entries.get(it.key)
      if (!cur || !sameObject(cur.value, it.value)) out.push({ key: it.key, value: it.value })
      this.entries.set(it.key, { value: it.value, revision: revisionOf(it.value) ?? revision })
    }
    for (const key of [...this.entries.keys()]) {
      if (!seen.has(key)) {
        this.entries.delete(key)
        out.push({ key, value: null })
      }
    }
    this.rev = revision
    return out
  }

  /** Current state (optionally filtered by key), sorted by key. */
  snapshot(filter?: (key: string) => boolean): TyphaUpdate[] {
    const keys = [...this.entries.keys()].filter((k) => !filter || filter(k)).sort()
    return keys.map((key) => ({ key, value: (this.entries.get(key) as Entry).value }))
  }
}

function revisionOf(o: KubeObject): number | undefined {
  const rv = o.metadata.resourceVersion
  if (typeof rv !== 'string' || rv === '') return undefined
  const n = Number(rv)
  return Number.isSafeInteger(n) ? n : undefined
}

function sameObject(a: KubeObject, b: KubeObject): boolean {
  const ra = a.metadata.resourceVersion
  const rb = b.metadata.resourceVersion
  if (ra && rb && ra !== rb) return false
  return JSON.stringify(a) === JSON.stringify(b)
}

/** Split a snapshot into chunks of at most `chunk` updates (always at least one, maybe empty). */
export function snapshotChunks(kvs: readonly TyphaUpdate[], chunk: number): TyphaUpdate[][] {
  const out: TyphaUpdate[][] = []
  for (let i = 0; i < kvs.length; i += chunk) out.push(kvs.slice(i, i + chunk))
  if (out.length === 0) out.push([])
  return out
}
