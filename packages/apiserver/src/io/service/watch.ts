import type { Clock, Logger } from '@calilab/kit'
import { apiVersionOf, type KubeObject, type ResourceInfo } from '@calilab/model'
import type { ApiWatch, ApiWatchEvent, WatchOptions } from '../../api.ts'
import { apiErrors } from '../../core/status.ts'
import { StoreError } from '../store/errors.ts'
import { storePrefix } from '../store/keys.ts'
import type { Store, StoreEvent } from '../store/types.ts'
import { compileFilter } from './selectors.ts'

export const BOOKMARK_INTERVAL_MS = 30_000

/**
 * A watch over one kind (optionally one namespace): the current state as ADDED when starting
 * from '0'/absent, else the store's history after the revision; then live events. Selectors are
 * applied per event; an object that stops matching is sent as DELETED, one that starts as ADDED.
 */
export function startWatch(
  c: { store: Store; clock: Clock; log: Logger },
  r: ResourceInfo,
  namespace: string | undefined,
  opts: WatchOptions,
  onEvent: (e: ApiWatchEvent) => void,
): ApiWatch {
  const filter = compileFilter(r, opts.labelSelector, opts.fieldSelector)
  const prefix = r.namespaced && namespace !== undefined ? storePrefix(r, namespace) : storePrefix(r)
  const matches = (o: KubeObject) => (filter ? filter(o) : true)
  const rvOpt = opts.resourceVersion
  let after: number
  const matching = new Set<string>()
  let cancelled = false
  let lastRev = 0
  const initial: ApiWatchEvent[] = []
  const current = c.store.list(prefix)
  for (const o of current.items) {
    if (!matches(o)) continue
    matching.add(`${o.metadata.namespace ?? ''}/${o.metadata.name}`)
    initial.push({ type: 'ADDED', object: o })
  }
  if (rvOpt === undefined || rvOpt === '' || rvOpt === '0') {
    after = current.revision
  } else {
    after = Number(rvOpt)
    if (!Number.isInteger(after) || after < 0) throw apiErrors.badRequest(`invalid resource version: "${rvOpt}"`)
    if (after > c.store.revision) after = c.store.revision
    initial.length = 0
  }
  lastRev = after

  const deliver = (events: StoreEvent[]) => {
    for (const ev of events) {
      if (cancelled) return
      lastRev = ev.revision
      const key = `${ev.object.metadata.namespace ?? ''}/${ev.object.metadata.name}`
      const was = matching.has(key)
      if (ev.type === 'DELETED') {
        matching.delete(key)
        if (was || matches(ev.object)) onEvent({ type: 'DELETED', object: ev.object })
        continue
      }
      const now = matches(ev.object)
      if (now) matching.add(key)
      else matching.delete(key)
      if (now && (was || ev.type === 'ADDED')) onEvent({ type: ev.type, object: ev.object })
      else if (now) onEvent({ type: 'ADDED', object: ev.object })
      else if (was) onEvent({ type: 'DELETED', object: ev.object })
    }
  }

  let handle: { cancel(): void }
  // Events that arrive synchronously from the store's backlog are delivered after the initial state.
  for (const e of initial) onEvent(e)
  try {
    handle = c.store.watch(prefix, after, deliver)
  } catch (e) {
    if (e instanceof StoreError && e.code === 'STORE_GONE') {
      throw apiErrors.gone(`too old resource version: ${after} (${c.store.oldestRevision - 1})`)
    }
    throw e
  }
  const timer = opts.allowWatchBookmarks
    ? c.clock.setInterval(() => {
        if (cancelled) return
        onEvent({
          type: 'BOOKMARK',
          object: { apiVersion: apiVersionOf(r), kind: r.kind, metadata: { resourceVersion: String(lastRev) } },
        })
      }, BOOKMARK_INTERVAL_MS)
    : undefined
  return {
    cancel() {
      if (cancelled) return
      cancelled = true
      timer?.cancel()
      handle.cancel()
    },
  }
}
