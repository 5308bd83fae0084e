/**
 * What the node agent's dataplane managers (routes/kube-proxy, eBPF, WireGuard) share in following
 * the datastore: keyed views of the kinds they read, and one apply per burst of updates.
 */
import type { KubeObject } from '@calilab/model'
import type { SyncerUpdate } from '../io/syncer/types.ts'

/** `group/plural` of a datastore key (`/core/nodes/_/node1` -> `core/nodes`). */
export function kindOf(key: string): string {
  const parts = key.split('/')
  return `${parts[1] ?? ''}/${parts[2] ?? ''}`
}

/**
 * Applies the updates of the kinds `views` holds (by `group/plural`) to those maps, keyed by the
 * datastore key; returns whether any of them changed.
 */
export function applyToViews(
  batch: readonly SyncerUpdate[],
  views: Readonly<Record<string, Map<string, KubeObject>>>,
): boolean {
  let dirty = false
  for (const u of batch) {
    const m = views[kindOf(u.key)]
    if (m === undefined) continue
    if (u.value === null) m.delete(u.key)
    else m.set(u.key, u.value)
    dirty = true
  }
  return dirty
}

/** Runs `run` once, in a microtask, however many times `schedule()` is called before it runs. */
export class ApplySoon {
  private scheduled = false
  private readonly run: () => void

  constructor(run: () => void) {
    this.run = run
  }

  schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.run()
    })
  }
}
