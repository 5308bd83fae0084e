import type { Clock, Logger, Rng } from '@calilab/kit'
import { connectDirect } from '../io/syncer/direct-client.ts'
import { syncerCacheHash } from '../io/syncer/syncer-view.ts'
import type { SyncerClient, SyncerStatus, SyncerUpdate } from '../io/syncer/types.ts'
import { connectTypha } from '../io/syncer/typha-client.ts'
import { parseStoreKeyLike } from './keys.ts'

/** Where the Felix-like agent takes its state from: Typha (default when Typha runs) or the API server. */
export type FelixSource = { kind: 'typha'; addresses: string[] } | { kind: 'direct'; url: string }

export interface FelixInit {
  nodeName: string
  source: FelixSource
  log: Logger
  rng: Rng
  clock: Clock
  /** Called with every batch of changes the syncer delivers (the calculation graph hangs here). */
  onUpdates?: (updates: SyncerUpdate[]) => void
  /** Called each time the view is complete (first sync and after every resync). */
  onInSync?: () => void
}

export interface FelixStatus {
  node: string
  source: 'typha' | 'direct'
  /** The Typha replica in use (typha source only). */
  typha?: string
  status: SyncerStatus
  inSync: boolean
  revision: number
  entries: number
  /** Entries per kind (`pods`, `ippools`, ...). */
  kinds: Record<string, number>
  updates: number
  resyncs: number
  /** Hash of the whole view, comparable with the API server's state. */
  hash: string
}

export interface FelixAgent {
  status(): FelixStatus
  close(): void
}

/**
 * The Felix-like agent's syncer end: one client (Typha or direct), one view of the datastore.
 * The calculation graph and dataplane managers consume `onUpdates`; this keeps the counters an
 * operator looks at (`/felix/status` on the node's kubelet endpoint).
 */
export function startFelix(init: FelixInit): FelixAgent {
  const log = init.log.child({ component: 'felix', node: init.nodeName })
  let updates = 0
  let resyncs = 0
  let inSync = false
  const callbacks = {
    onUpdates(batch: SyncerUpdate[]) {
      updates += batch.length
      init.onUpdates?.(batch)
    },
    onInSync(revision: number) {
      if (!inSync) log.info({ revision, entries: client.cache.size }, 'in sync with the datastore')
      else resyncs++
      inSync = true
      init.onInSync?.()
    },
    onStatus(s: SyncerStatus) {
      if (s !== 'in-sync') log.debug({ status: s }, 'syncer status')
    },
  }
  const typha =
    init.source.kind === 'typha'
      ? connectTypha({
          addresses: init.source.addresses,
          nodeName: init.nodeName,
          syncerType: 'felix',
          callbacks,
          log: log.child({ component: 'felix.syncer' }),
          rng: init.rng,
          clock: init.clock,
        })
      : undefined
  const client: SyncerClient =
    typha ??
    connectDirect({
      url: (init.source as { url: string }).url,
      syncerType: 'felix',
      callbacks,
      log: log.child({ component: 'felix.syncer' }),
    })
  log.info({ source: init.source.kind }, 'felix syncer started')
  return {
    status() {
      const kinds: Record<string, number> = {}
      for (const key of client.cache.keys()) {
        const k = parseStoreKeyLike(key)
        kinds[k] = (kinds[k] ?? 0) + 1
      }
      const s: FelixStatus = {
        node: init.nodeName,
        source: init.source.kind,
        status: client.status,
        inSync,
        revision: client.revision,
        entries: client.cache.size,
        kinds,
        updates,
        resyncs,
        hash: syncerCacheHash(client.cache),
      }
      if (typha?.connectedTo) s.typha = typha.connectedTo
      return s
    },
    close: () => client.close(),
  }
}
