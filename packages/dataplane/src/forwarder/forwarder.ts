/**
 * The forwarder: one interface, two implementations. `InlineForwarder` runs the fast path on the
 * calling thread; `WorkerForwarder` sends batches to a piscina pool. Both take the same
 * versioned snapshot; `publish` serializes it once per change.
 *
 * The fast API is `processBatch(PacketBatch)`: one ArrayBuffer per batch, transferred to the
 * worker and back (no per-packet objects or copies at the boundary). `process(Uint8Array[])` is
 * the convenient form (it builds a batch and result objects).
 *
 * piscina (and worker_threads under it) loads only when a `WorkerForwarder` is made: a node
 * process forwards inline (live.ts) and would carry it for nothing (~1 MiB RSS).
 */
import { createRequire } from 'node:module'
import type { Piscina } from 'piscina'
import { BATCH_NO_SNAPSHOT, FWD_SLOW, PacketBatch } from './batch.ts'
import { deviceTable, FastPath, toResult } from './fastpath.ts'
import type { BatchRequest, BatchResponse, FwdResult, Snapshot, WorkerError } from './messages.ts'
import { encodeSnapshot } from './snapshot.ts'

export interface Forwarder {
  /** Installs the tables packets are processed against (called once per change). */
  publish(s: Snapshot): void
  /**
   * Processes a batch in place: packets rewritten, an action per packet (batch.ts FWD_*).
   * Resolves to the same batch object once its buffer is back.
   */
  processBatch(b: PacketBatch): Promise<PacketBatch>
  /** The egress device names of a snapshot version (`arg` of FWD_FORWARD* indexes it). */
  devices(version: number): readonly string[]
  /** Processes packets (copied into a batch); results in packet order. */
  process(packets: Uint8Array[]): Promise<FwdResult[]>
  close(): Promise<void>
}

/** Packs packets into batches and reads the results back as objects (the convenient form). */
async function processVia(f: Forwarder, packets: Uint8Array[]): Promise<FwdResult[]> {
  const out: FwdResult[] = []
  let i = 0
  while (i < packets.length) {
    let bytes = 0
    let n = 0
    while (i + n < packets.length && n < 1024) bytes += (packets[i + n++]!.length + 3) & ~3
    const b = PacketBatch.create(n, bytes)
    for (let k = 0; k < n; k++) b.push(packets[i + k]!)
    await f.processBatch(b)
    const devs = f.devices(b.version)
    for (let k = 0; k < n; k++) {
      const bytesK = b.packet(k).slice()
      out.push(toResult(b.action(k), b.arg(k), b.via(k), devs, bytesK))
    }
    i += n
  }
  return out
}

export class InlineForwarder implements Forwarder {
  private fp: FastPath | undefined

  publish(s: Snapshot): void {
    this.fp = new FastPath(s)
  }

  devices(version: number): readonly string[] {
    return this.fp && this.fp.version === version ? this.fp.devs : []
  }

  processBatchSync(b: PacketBatch): PacketBatch {
    const fp = this.fp
    if (!fp) {
      for (let i = 0; i < b.count; i++) b.setResult(i, FWD_SLOW, 0, 0)
      b.status = BATCH_NO_SNAPSHOT
      return b
    }
    b.version = fp.version
    fp.runBatch(b)
    return b
  }

  processBatch(b: PacketBatch): Promise<PacketBatch> {
    return Promise.resolve(this.processBatchSync(b))
  }

  /** Processes packets in place (no copy); results in packet order. */
  processSync(packets: Uint8Array[]): FwdResult[] {
    const fp = this.fp
    if (!fp) return packets.map(() => ({ action: 'slow' }))
    const out: FwdResult[] = new Array(packets.length)
    for (let i = 0; i < packets.length; i++) out[i] = fp.process(packets[i]!)
    return out
  }

  process(packets: Uint8Array[]): Promise<FwdResult[]> {
    return processVia(this, packets)
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

export interface WorkerForwarderOptions {
  threads?: number
}

/** piscina's constructor, loaded on first use (CommonJS, so `require` keeps the constructor synchronous). */
function piscina(): typeof Piscina {
  const load = createRequire(import.meta.url)
  return (load('piscina') as typeof import('piscina')).Piscina
}

export class WorkerForwarder implements Forwarder {
  private readonly pool: Piscina
  private snap: { version: number; buf: SharedArrayBuffer; len: number } | undefined
  /** Device tables of recent versions (batches in flight may carry an older one). */
  private readonly devs = new Map<number, string[]>()

  constructor(o: WorkerForwarderOptions = {}) {
    const threads = o.threads ?? 2
    const Pool = piscina()
    this.pool = new Pool({
      filename: new URL('./worker.ts', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      execArgv: ['--import', 'tsx'],
    })
  }

  get threads(): number {
    return this.pool.threads.length
  }

  publish(s: Snapshot): void {
    const { buf, len } = encodeSnapshot(s)
    this.snap = { version: s.version, buf, len }
    this.devs.set(s.version, deviceTable(s))
    for (const v of this.devs.keys()) if (this.devs.size > 8 && v !== s.version) this.devs.delete(v)
  }

  devices(version: number): readonly string[] {
    return this.devs.get(version) ?? []
  }

  async processBatch(b: PacketBatch): Promise<PacketBatch> {
    const s = this.snap
    if (!s) {
      for (let i = 0; i < b.count; i++) b.setResult(i, FWD_SLOW, 0, 0)
      b.status = BATCH_NO_SNAPSHOT
      return b
    }
    b.version = s.version
    const buf = b.buf
    const req: BatchRequest = { type: 'batch', version: s.version, snapshot: s.buf, snapshotLen: s.len, batch: buf }
    const slots = b.capacity
    const dataBytes = buf.byteLength - PacketBatch.dataOffset(slots)
    let res: BatchResponse | WorkerError
    try {
      res = (await this.pool.run(req, { transferList: [buf] })) as BatchResponse | WorkerError
    } catch (err) {
      // The buffer went to the worker and is not coming back: give the batch a fresh, empty one.
      b.attach(PacketBatch.create(slots, dataBytes).buf)
      throw err
    }
    if (res.type === 'error') {
      b.attach(PacketBatch.create(slots, dataBytes).buf)
      throw new Error(`${res.code}: ${res.message}`)
    }
    b.attach(res.batch)
    return b
  }

  process(packets: Uint8Array[]): Promise<FwdResult[]> {
    if (!this.snap) return Promise.resolve(packets.map(() => ({ action: 'slow' })))
    return processVia(this, packets)
  }

  close(): Promise<void> {
    return this.pool.destroy()
  }
}
