/**
 * The forwarder: one interface, two implementations. `InlineForwarder` runs the fast path on the
 * calling thread; `WorkerForwarder` sends batches to a piscina pool. Both take the same
 * versioned snapshot; `publish` serializes it once per change.
 */
import { Piscina } from 'piscina'
import { FastPath } from './fastpath.ts'
import type { BatchRequest, BatchResponse, FwdResult, Snapshot, WorkerError } from './messages.ts'
import { encodeSnapshot } from './snapshot.ts'

export interface Forwarder {
  /** Installs the tables packets are processed against (called once per change). */
  publish(s: Snapshot): void
  /** Processes a batch; results in packet order. */
  process(packets: Uint8Array[]): Promise<FwdResult[]>
  close(): Promise<void>
}

export class InlineForwarder implements Forwarder {
  private fp: FastPath | undefined

  publish(s: Snapshot): void {
    this.fp = new FastPath(s)
  }

  processSync(packets: Uint8Array[]): FwdResult[] {
    const fp = this.fp
    if (!fp) return packets.map(() => ({ action: 'slow' }))
    const out: FwdResult[] = new Array(packets.length)
    for (let i = 0; i < packets.length; i++) out[i] = fp.process(packets[i]!)
    return out
  }

  process(packets: Uint8Array[]): Promise<FwdResult[]> {
    return Promise.resolve(this.processSync(packets))
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

export interface WorkerForwarderOptions {
  threads?: number
}

export class WorkerForwarder implements Forwarder {
  private readonly pool: Piscina
  private snap: { version: number; buf: SharedArrayBuffer; len: number } | undefined

  constructor(o: WorkerForwarderOptions = {}) {
    const threads = o.threads ?? 2
    this.pool = new Piscina({
      filename: new URL('./worker.ts', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      execArgv: ['--import', 'tsx'],
    })
  }

  publish(s: Snapshot): void {
    const { buf, len } = encodeSnapshot(s)
    this.snap = { version: s.version, buf, len }
  }

  async process(packets: Uint8Array[]): Promise<FwdResult[]> {
    const s = this.snap
    if (!s) return packets.map(() => ({ action: 'slow' }))
    const req: BatchRequest = { type: 'batch', version: s.version, snapshot: s.buf, snapshotLen: s.len, packets }
    const res = (await this.pool.run(req)) as BatchResponse | WorkerError
    if (res.type === 'error') throw new Error(`${res.code}: ${res.message}`)
    return res.results
  }

  close(): Promise<void> {
    return this.pool.destroy()
  }
}
