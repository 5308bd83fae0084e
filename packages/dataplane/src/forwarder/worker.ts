/** Piscina worker: runs batches through the fast path, caching the decoded snapshot by version. */
import { move, transferableSymbol, valueSymbol } from 'piscina'
import { BATCH_NO_SNAPSHOT, BATCH_OK, FWD_SLOW, PacketBatch } from './batch.ts'
import { FastPath } from './fastpath.ts'
import type { BatchRequest, BatchResponse, WorkerError } from './messages.ts'
import { decodeSnapshot } from './snapshot.ts'

let cached: FastPath | undefined

export default function run(req: BatchRequest): unknown {
  if (req.type !== 'batch')
    return { type: 'error', code: 'FWD_BAD_MESSAGE', message: `unexpected ${String(req.type)}` } satisfies WorkerError
  const b = new PacketBatch(req.batch)
  const t0 = performance.now()
  if (!cached || cached.version !== req.version)
    cached = req.snapshotLen > 0 ? new FastPath(decodeSnapshot(req.snapshot, req.snapshotLen)) : undefined
  if (cached && cached.version === req.version) {
    cached.runBatch(b)
    b.status = BATCH_OK
  } else {
    for (let i = 0; i < b.count; i++) b.setResult(i, FWD_SLOW, 0, 0)
    b.status = BATCH_NO_SNAPSHOT
  }
  b.workerMs = performance.now() - t0
  const res: BatchResponse = { type: 'results', version: req.version, batch: req.batch }
  // Transfer the buffer back (no copy).
  return move({
    get [transferableSymbol]() {
      return [req.batch]
    },
    get [valueSymbol]() {
      return res
    },
  } as never)
}
