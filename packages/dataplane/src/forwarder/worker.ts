/** Piscina worker: runs batches through the fast path, caching the decoded snapshot by version. */
import { FastPath } from './fastpath.ts'
import type { BatchRequest, BatchResponse, FwdResult, WorkerError } from './messages.ts'
import { decodeSnapshot } from './snapshot.ts'

let cached: FastPath | undefined

export default function run(req: BatchRequest): BatchResponse | WorkerError {
  if (req.type !== 'batch') return { type: 'error', code: 'FWD_BAD_MESSAGE', message: `unexpected ${String(req.type)}` }
  if (!cached || cached.version !== req.version) cached = new FastPath(decodeSnapshot(req.snapshot, req.snapshotLen))
  const results: FwdResult[] = new Array(req.packets.length)
  for (let i = 0; i < req.packets.length; i++) results[i] = cached.process(req.packets[i]!)
  return { type: 'results', version: req.version, results }
}
