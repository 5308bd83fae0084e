import type { Logger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import { connectInternalStream, SYNCER_PREFIXES, type SyncerType } from '@calilab/proto'
import { SyncerView } from './syncer-view.ts'
import type { SyncerCallbacks, SyncerClient, SyncerStatus } from './types.ts'

export interface DirectClientInit {
  /** ws://host:port/internal/watch */
  url: string
  syncerType: SyncerType
  callbacks: SyncerCallbacks
  log: Logger
  reconnectMs?: number
}

/**
 * The same `SyncerClient` as the Typha client, fed by the API server's internal watch stream
 * directly (one watch per agent: what Typha exists to avoid; kept to compare the two).
 */
export function connectDirect(init: DirectClientInit): SyncerClient {
  const view = new SyncerView()
  let status: SyncerStatus = 'connecting'
  let rev = 0
  const setStatus = (s: SyncerStatus) => {
    if (status === s) return
    status = s
    init.callbacks.onStatus?.(s)
  }
  const stream = connectInternalStream({
    url: init.url,
    prefixes: [...SYNCER_PREFIXES[init.syncerType]],
    log: init.log,
    ...(init.reconnectMs !== undefined ? { reconnectMs: init.reconnectMs } : {}),
    handler: {
      onSnapshot(items, revision) {
        setStatus('resyncing')
        view.beginResync()
        const changed = view.apply(items.map((i) => ({ key: i.key, value: i.object })))
        const gone = view.endResync()
        rev = revision
        const all = gone.length > 0 ? [...changed, ...gone] : changed
        if (all.length > 0) init.callbacks.onUpdates(all)
      },
      onEvents(events) {
        const changed = view.apply(events.map((e) => ({ key: e.key, value: e.type === 'DELETED' ? null : e.object })))
        const last = events[events.length - 1]
        if (last) rev = Math.max(rev, last.revision)
        if (changed.length > 0) init.callbacks.onUpdates(changed)
      },
      onSynced(revision) {
        rev = Math.max(rev, revision)
        const first = status !== 'in-sync'
        setStatus('in-sync')
        if (first) init.callbacks.onInSync(rev)
      },
      onState(s) {
        if (s === 'disconnected') setStatus('disconnected')
        else if (s === 'connecting' && status !== 'in-sync') setStatus('connecting')
      },
    },
  })
  return {
    syncerType: init.syncerType,
    get status() {
      return status
    },
    get cache(): ReadonlyMap<string, KubeObject> {
      return view.cache
    },
    get revision() {
      return rev
    },
    close() {
      stream.close()
      setStatus('disconnected')
    },
  }
}
