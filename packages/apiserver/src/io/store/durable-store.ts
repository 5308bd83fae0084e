import { type FileHandle, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import { Packr } from 'msgpackr'
import { StoreError } from './errors.ts'
import { MemoryStore } from './memory-store.ts'
import type { Store, StoreEvent, StoreOp, WatchHandle } from './types.ts'
import { encodeRecord, readRecord } from './wal-record.ts'

/**
 * The API server's embedded durable store: a MemoryStore (the visible, durable state) behind a
 * write-ahead log with group commit, plus periodic snapshots.
 *
 * Files in `dir`:
 * - `wal-<seq>.log`: WAL segments, records `[u32 BE len][u32 BE crc32][msgpack {r, ops}]`, one
 *   record per commit (`r` = revision of its first op). A new segment starts at each snapshot.
 * - `snapshot.bin`: one record whose payload is msgpack `{v: 1, revision, objects: [key, obj][]}`;
 *   written as `snapshot.tmp`, fsynced, renamed; then the segments it covers are deleted.
 *
 * Commit path: preconditions are checked against the durable state plus an overlay of commits in
 * flight, revisions are assigned, the record is queued; one writer appends every queued record in
 * one write + one fdatasync, then applies the batch to the MemoryStore (now visible to
 * get/list/watch) and acknowledges it.
 */
export interface DurableStoreInit {
  dir: string
  log: Logger
  /** fdatasync each group commit (default true). Off only for tests and throwaway runs. */
  fsync?: boolean
  /** Take a snapshot (and start a new WAL segment) after this many ops (default 50,000; 0 = never). */
  snapshotEveryOps?: number
  /** Events kept for watch resume (default 100,000). */
  historySize?: number
}

export interface DurableStoreStats {
  revision: number
  oldestRevision: number
  /** Revision covered by the newest durable snapshot (0 if none). */
  snapshotRevision: number
  snapshots: number
  walSegment: number
  walBytes: number
  /** Acknowledged commits and ops since open. */
  commits: number
  ops: number
  /** Group commits (one write + one fdatasync each). */
  batches: number
  /** Commits waiting for or in the current write. */
  pending: number
  /** Recovery: records replayed from the WAL at open, bytes dropped from a torn tail. */
  replayedRecords: number
  truncatedBytes: number
}

export interface DurableStore extends Store {
  /** Write a snapshot now (waits for one in progress first); resolves once it is durable. */
  snapshot(): Promise<void>
  stats(): DurableStoreStats
}

export async function openDurableStore(init: DurableStoreInit): Promise<DurableStore> {
  const store = new WalStore(init)
  await store.open()
  return store
}

interface WalPayload {
  r: number
  ops: StoreOp[]
}

interface SnapshotPayload {
  v: 1
  revision: number
  objects: [string, KubeObject][]
}

interface PendingCommit {
  ops: StoreOp[]
  first: number
  record: Buffer
  resolve: (events: StoreEvent[]) => void
  reject: (err: unknown) => void
}

/** What a key looks like once every commit in flight lands. */
interface OverlayEntry {
  exists: boolean
  resourceVersion: string | undefined
  /** Revision of the op that set this entry. */
  rev: number
}

const SNAPSHOT_FILE = 'snapshot.bin'
const SNAPSHOT_TMP = 'snapshot.tmp'
const SEGMENT_RE = /^wal-(\d{12})\.log$/
const segmentName = (seq: number) => `wal-${String(seq).padStart(12, '0')}.log`
/** Most bytes written in one group commit. */
const MAX_BATCH_BYTES = 16 * 1024 * 1024

class WalStore implements DurableStore {
  private readonly dir: string
  private readonly log: Logger
  private readonly fsync: boolean
  private readonly snapshotEveryOps: number
  private readonly historySize: number
  private readonly packr = new Packr({ useRecords: false })
  private mem: MemoryStore
  private readonly overlay = new Map<string, OverlayEntry>()
  /** Highest revision handed out (>= mem.revision). */
  private assigned = 0
  private queue: PendingCommit[] = []
  private inWrite = 0
  private drainPromise: Promise<void> | undefined
  private fh: FileHandle | undefined
  private segment = 0
  private walOffset = 0
  private closed = false
  private failed: StoreError | undefined
  private opsSinceSnapshot = 0
  private snapshotRequested: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  private snapshotInFlight: Promise<void> | undefined
  private readonly counters = {
    snapshotRevision: 0,
    snapshots: 0,
    commits: 0,
    ops: 0,
    batches: 0,
    replayedRecords: 0,
    truncatedBytes: 0,
  }

  constructor(init: DurableStoreInit) {
    this.dir = init.dir
    this.log = init.log
    this.fsync = init.fsync ?? true
    this.snapshotEveryOps = init.snapshotEveryOps ?? 50_000
    this.historySize = init.historySize ?? 100_000
    this.mem = this.newMem()
  }

  private newMem(initial?: { objects: Map<string, KubeObject>; revision: number }): MemoryStore {
    return new MemoryStore({
      historySize: this.historySize,
      ...(initial ? { initial } : {}),
      onWatcherError: (err) => this.log.error({ err }, 'store watcher threw'),
    })
  }

  // ---- open / recovery --------------------------------------------------------------------------

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await rm(join(this.dir, SNAPSHOT_TMP), { force: true })
    await this.loadSnapshot()
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_RE.test(n)).sort()
    for (const [i, name] of names.entries()) {
      const valid = await this.replaySegment(name, i === names.length - 1)
      if (i === names.length - 1) {
        this.segment = Number(SEGMENT_RE.exec(name)?.[1])
        this.walOffset = valid
      }
    }
    if (names.length === 0) {
      this.segment = 1
      this.walOffset = 0
      this.fh = await open(join(this.dir, segmentName(this.segment)), 'w')
      await this.syncDir()
    } else {
      this.fh = await open(join(this.dir, segmentName(this.segment)), 'r+')
    }
    this.assigned = this.mem.revision
    this.log.info(
      {
        dir: this.dir,
        revision: this.mem.revision,
        snapshotRevision: this.counters.snapshotRevision,
        segments: names.length,
        replayedRecords: this.counters.replayedRecords,
      },
      'store opened',
    )
  }

  private async loadSnapshot(): Promise<void> {
    const file = join(this.dir, SNAPSHOT_FILE)
    let buf: Buffer
    try {
      buf = await readFile(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw ioError(`cannot read ${file}`, err, { file })
    }
    const rec = readRecord(buf, 0)
    if (rec.kind !== 'record' || rec.next !== buf.length) {
      throw new StoreError({
        code: 'STORE_IO',
        message: `snapshot ${file} is corrupt at offset ${rec.offset}: ${rec.kind === 'record' ? 'trailing bytes' : rec.kind === 'end' ? 'empty' : rec.reason}`,
        file,
        offset: rec.offset,
      })
    }
    let snap: SnapshotPayload
    try {
      snap = this.packr.unpack(rec.payload) as SnapshotPayload
    } catch (err) {
      throw ioError(`snapshot ${file} is undecodable`, err, { file, offset: 0 })
    }
    if (snap?.v !== 1 || typeof snap.revision !== 'number' || !Array.isArray(snap.objects)) {
      throw new StoreError({ code: 'STORE_IO', message: `snapshot ${file} has an unknown format`, file, offset: 0 })
    }
    this.mem = this.newMem({ objects: new Map(snap.objects), revision: snap.revision })
    this.counters.snapshotRevision = snap.revision
  }

  /** Replays one segment; returns the length of its valid prefix (the torn tail of the last is cut). */
  private async replaySegment(name: string, last: boolean): Promise<number> {
    const file = join(this.dir, name)
    const buf = await readFile(file)
    let off = 0
    for (;;) {
      const rec = readRecord(buf, off)
      if (rec.kind === 'end') return off
      if (rec.kind === 'torn' && last) {
        this.log.warn(
          { file, offset: rec.offset, reason: rec.reason, droppedBytes: buf.length - rec.offset },
          'torn WAL tail dropped',
        )
        const fh = await open(file, 'r+')
        try {
          await fh.truncate(rec.offset)
          await fh.sync()
        } finally {
          await fh.close()
        }
        this.counters.truncatedBytes += buf.length - rec.offset
        return rec.offset
      }
      if (rec.kind !== 'record') {
        throw new StoreError({
          code: 'STORE_IO',
          message: `WAL ${file} is corrupt at offset ${rec.offset}: ${rec.reason}${last ? '' : ' (not the last segment)'}`,
          file,
          offset: rec.offset,
        })
      }
      this.replayRecord(rec.payload, file, rec.offset)
      off = rec.next
    }
  }

  private replayRecord(payload: Buffer, file: string, offset: number): void {
    const corrupt = (why: string, cause?: unknown) =>
      new StoreError(
        { code: 'STORE_IO', message: `WAL ${file} record at offset ${offset}: ${why}`, file, offset },
        cause === undefined ? undefined : { cause },
      )
    let rec: WalPayload
    try {
      rec = this.packr.unpack(payload) as WalPayload
    } catch (err) {
      throw corrupt('undecodable payload', err)
    }
    if (typeof rec?.r !== 'number' || !Array.isArray(rec.ops) || rec.ops.length === 0) throw corrupt('bad format')
    const lastRev = rec.r + rec.ops.length - 1
    const rev = this.mem.revision
    if (lastRev <= rev) return // already in the snapshot
    if (rec.r !== rev + 1) throw corrupt(`revision ${rec.r} does not follow ${rev}`)
    try {
      this.mem.check(rec.ops.map(withoutExpectation))
    } catch (err) {
      throw corrupt('ops do not apply to the recovered state', err)
    }
    this.mem.apply(rec.ops)
    this.counters.replayedRecords++
  }

  // ---- Store ------------------------------------------------------------------------------------

  get revision(): number {
    return this.mem.revision
  }

  get oldestRevision(): number {
    return this.mem.oldestRevision
  }

  get(key: string): KubeObject | undefined {
    return this.mem.get(key)
  }

  list(prefix: string): { items: KubeObject[]; revision: number; keys: string[] } {
    return this.mem.list(prefix)
  }

  watch(prefix: string, afterRevision: number, onEvents: (events: StoreEvent[]) => void): WatchHandle {
    return this.mem.watch(prefix, afterRevision, onEvents)
  }

  commit(ops: StoreOp[]): Promise<StoreEvent[]> {
    if (this.closed) return Promise.reject(new StoreError({ code: 'STORE_CLOSED', message: 'store is closed' }))
    if (this.failed) return Promise.reject(this.failed)
    if (ops.length === 0) return Promise.resolve([])
    let changes: Map<string, OverlayEntry>
    let record: Buffer
    const first = this.assigned + 1
    try {
      changes = this.checkAgainstOverlay(ops, first)
      record = encodeRecord(this.packr.pack({ r: first, ops } satisfies WalPayload))
    } catch (err) {
      return Promise.reject(err)
    }
    this.assigned += ops.length
    for (const [k, e] of changes) this.overlay.set(k, e)
    return new Promise<StoreEvent[]>((resolve, reject) => {
      this.queue.push({ ops, first, record, resolve, reject })
      this.kick()
    })
  }

  /** MemoryStore.check's rules, against the durable state plus commits in flight. */
  private checkAgainstOverlay(ops: StoreOp[], first: number): Map<string, OverlayEntry> {
    const seen = new Map<string, OverlayEntry>()
    let rev = first
    for (const op of ops) {
      const cur = seen.get(op.key) ?? this.overlay.get(op.key) ?? this.durableEntry(op.key)
      if (op.op === 'create') {
        if (cur.exists) throw new StoreError({ code: 'STORE_EXISTS', message: `${op.key} already exists`, key: op.key })
      } else {
        if (!cur.exists) throw new StoreError({ code: 'STORE_NOT_FOUND', message: `${op.key} not found`, key: op.key })
        if (op.expectRevision !== undefined && !seen.has(op.key) && cur.resourceVersion !== String(op.expectRevision)) {
          throw new StoreError({
            code: 'STORE_CONFLICT',
            message: `${op.key} has resourceVersion ${cur.resourceVersion}, expected ${op.expectRevision}`,
            key: op.key,
          })
        }
      }
      const exists = op.op !== 'delete'
      seen.set(op.key, { exists, resourceVersion: exists ? String(rev) : undefined, rev })
      rev++
    }
    return seen
  }

  private durableEntry(key: string): OverlayEntry {
    const o = this.mem.get(key)
    return { exists: o !== undefined, resourceVersion: o?.metadata.resourceVersion, rev: 0 }
  }

  // ---- group commit -----------------------------------------------------------------------------

  private kick(): void {
    if (!this.drainPromise) {
      this.drainPromise = this.drain().finally(() => {
        this.drainPromise = undefined
        if ((this.queue.length || this.snapshotRequested.length) && !this.failed) this.kick()
      })
    }
  }

  private async drain(): Promise<void> {
    while (!this.failed && (this.queue.length || this.snapshotRequested.length)) {
      if (this.queue.length) await this.writeBatch()
      const due = this.snapshotEveryOps > 0 && this.opsSinceSnapshot >= this.snapshotEveryOps
      if (!this.failed && (this.snapshotRequested.length || (due && !this.snapshotInFlight))) {
        if (this.snapshotInFlight) await this.snapshotInFlight.catch(() => {})
        await this.beginSnapshot()
      }
    }
  }

  private async writeBatch(): Promise<void> {
    let bytes = 0
    let n = 0
    while (
      n < this.queue.length &&
      (n === 0 || bytes + (this.queue[n] as PendingCommit).record.length <= MAX_BATCH_BYTES)
    ) {
      bytes += (this.queue[n] as PendingCommit).record.length
      n++
    }
    const batch = this.queue.splice(0, n)
    this.inWrite = batch.length
    const buf =
      batch.length === 1
        ? (batch[0] as PendingCommit).record
        : Buffer.concat(
            batch.map((c) => c.record),
            bytes,
          )
    const fh = this.fh as FileHandle
    try {
      let done = 0
      while (done < buf.length) {
        const { bytesWritten } = await fh.write(buf, done, buf.length - done, this.walOffset + done)
        done += bytesWritten
      }
      if (this.fsync) await fh.datasync()
    } catch (err) {
      this.inWrite = 0
      await this.fail(err, batch)
      return
    }
    this.inWrite = 0
    this.walOffset += buf.length
    this.counters.batches++
    for (const c of batch) {
      let events: StoreEvent[]
      try {
        if (c.first !== this.mem.revision + 1) throw new Error(`revision ${c.first} after ${this.mem.revision}`)
        events = this.mem.apply(c.ops)
      } catch (err) {
        // Cannot happen unless the overlay logic is wrong; the WAL and memory may now disagree.
        await this.fail(err, [c])
        return
      }
      for (const op of c.ops) {
        const e = this.overlay.get(op.key)
        if (e && e.rev < c.first + c.ops.length) this.overlay.delete(op.key)
      }
      this.counters.commits++
      this.counters.ops += c.ops.length
      this.opsSinceSnapshot += c.ops.length
      c.resolve(events)
    }
  }

  private async fail(err: unknown, batch: PendingCommit[]): Promise<void> {
    this.failed = ioError(`WAL write failed in ${join(this.dir, segmentName(this.segment))}`, err, {
      file: join(this.dir, segmentName(this.segment)),
      offset: this.walOffset,
    })
    this.log.error(
      { err, file: segmentName(this.segment), offset: this.walOffset },
      'WAL write failed, store is read-only',
    )
    const rest = [...batch, ...this.queue]
    this.queue = []
    this.overlay.clear()
    this.assigned = this.mem.revision
    for (const c of rest) c.reject(this.failed)
    for (const w of this.snapshotRequested.splice(0)) w.reject(this.failed)
    try {
      await this.fh?.truncate(this.walOffset)
    } catch {
      // the record is unacknowledged either way; recovery drops or replays it whole
    }
  }

  // ---- snapshots --------------------------------------------------------------------------------

  snapshot(): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError({ code: 'STORE_CLOSED', message: 'store is closed' }))
    if (this.failed) return Promise.reject(this.failed)
    return new Promise<void>((resolve, reject) => {
      this.snapshotRequested.push({ resolve, reject })
      this.kick()
    })
  }

  /** Runs inside the writer loop (no write in flight): rotate the WAL, capture, write in background. */
  private async beginSnapshot(): Promise<void> {
    const waiters = this.snapshotRequested.splice(0)
    this.opsSinceSnapshot = 0
    const oldSegment = this.segment
    try {
      const next = oldSegment + 1
      const fh = await open(join(this.dir, segmentName(next)), 'w')
      await this.syncDir()
      await this.fh?.close()
      this.fh = fh
      this.segment = next
      this.walOffset = 0
    } catch (err) {
      this.log.error({ err }, 'cannot start a new WAL segment; snapshot skipped')
      for (const w of waiters) w.reject(ioError('cannot start a new WAL segment', err, {}))
      return
    }
    const { objects, revision } = this.mem.entries()
    const payload: SnapshotPayload = { v: 1, revision, objects: [...objects] }
    const record = encodeRecord(this.packr.pack(payload))
    const p = this.writeSnapshot(record, revision, oldSegment)
    this.snapshotInFlight = p
    p.then(
      () => {
        for (const w of waiters) w.resolve()
      },
      (err) => {
        this.log.error({ err }, 'snapshot failed; the WAL still holds everything')
        for (const w of waiters) w.reject(err)
      },
    ).finally(() => {
      if (this.snapshotInFlight === p) this.snapshotInFlight = undefined
    })
  }

  private async writeSnapshot(record: Buffer, revision: number, coveredUpTo: number): Promise<void> {
    const started = performance.now()
    const tmp = join(this.dir, SNAPSHOT_TMP)
    const fh = await open(tmp, 'w')
    try {
      await fh.write(record, 0, record.length, 0)
      if (this.fsync) await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, join(this.dir, SNAPSHOT_FILE))
    await this.syncDir()
    this.counters.snapshotRevision = revision
    this.counters.snapshots++
    for (const name of await readdir(this.dir)) {
      const m = SEGMENT_RE.exec(name)
      if (m && Number(m[1]) <= coveredUpTo) await rm(join(this.dir, name), { force: true })
    }
    this.log.info(
      { revision, bytes: record.length, ms: Math.round(performance.now() - started) },
      'store snapshot written',
    )
  }

  private async syncDir(): Promise<void> {
    if (!this.fsync) return
    const d = await open(this.dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  stats(): DurableStoreStats {
    return {
      ...this.counters,
      revision: this.mem.revision,
      oldestRevision: this.mem.oldestRevision,
      walSegment: this.segment,
      walBytes: this.walOffset,
      pending: this.queue.length + this.inWrite,
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    while (this.drainPromise) await this.drainPromise
    while (this.snapshotInFlight) await this.snapshotInFlight.catch(() => {})
    await this.fh?.close()
    this.fh = undefined
    await this.mem.close()
  }
}

function ioError(message: string, cause: unknown, detail: Record<string, unknown>): StoreError {
  const m = cause instanceof Error ? `${message}: ${cause.message}` : message
  return new StoreError({ code: 'STORE_IO', message: m, ...detail }, { cause })
}

/** Replay re-checks existence only: the revision preconditions held when the op was committed. */
function withoutExpectation(op: StoreOp): StoreOp {
  if (op.op === 'create') return op
  if (op.op === 'update') return { op: 'update', key: op.key, object: op.object }
  return { op: 'delete', key: op.key }
}
