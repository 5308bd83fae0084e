import { randomBytes } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { type Clock, type Logger, systemClock, type Timer } from '@calilab/kit'
import {
  encodeFrame,
  encodeRecordsFrame,
  Framer,
  type InternalStreamState,
  isProtoError,
  parseTyphaClientMessage,
  SYNCER_TYPES,
  type SyncerType,
  syncerWants,
  TYPHA_ERROR,
  TYPHA_PROTOCOL_VERSION,
  TYPHA_SNAPSHOT_CHUNK,
  type TyphaServerMessage,
  type TyphaUpdate,
  type WatchEvent,
  type WatchItem,
} from '@calilab/proto'
import { RevisionedCache, snapshotChunks } from '../core/cache.ts'
import { SendLedger } from '../core/send-ledger.ts'
import { type SnapshotFrames, SnapshotStore } from '../core/snapshot-store.ts'
import type { TyphaMetrics } from '../metrics.ts'
import {
  type ConnState,
  type DisconnectReason,
  SERVER_DEFAULTS,
  type TyphaClientInfo,
  type TyphaServer,
  type TyphaServerInit,
  type TyphaTlsInit,
} from './server-types.ts'

export type {
  DisconnectReason,
  TyphaClientInfo,
  TyphaServer,
  TyphaServerInit,
  TyphaTlsInit,
  UpstreamFactory,
} from './server-types.ts'

interface Conn {
  id: number
  socket: net.Socket
  framer: Framer
  state: ConnState
  nodeName?: string
  syncer?: SyncerType
  ledger: SendLedger
  lastRecv: number
  openedAt: number
  helloAt: number
  /** Offset (in ledger bytes) where the snapshot + in-sync end; 0 once flushed. */
  snapshotEnd: number
  handshakeTimer: Timer | undefined
  /** Corked for the rest of this tick: every frame written until then leaves in one writev. */
  corked: boolean
  /** Bytes written this tick (added to the metrics at the uncork). */
  tickBytes: number
}

/**
 * Frames with at least this many updates are written as self-contained msgpackr records (about
 * half the bytes and a faster decode for many same-shaped objects; see proto's encodeFrame).
 */
const RECORDS_MIN = 100

/** Start a Typha: one upstream watch, a revisioned cache, TCP (or mutual TLS) fan-out. */
export async function startTyphaServer(init: TyphaServerInit): Promise<TyphaServer> {
  const s = new Server(init)
  await s.listen()
  return s
}

class Server implements TyphaServer {
  readonly cache = new RevisionedCache()
  readonly serverId: string
  host: string
  port = 0
  private readonly init: TyphaServerInit
  private readonly log: Logger
  private readonly clock: Clock
  private readonly m: TyphaMetrics | undefined
  private readonly maxQueueBytes: number
  private readonly maxLagRevisions: number
  private readonly pingIntervalMs: number
  private readonly pongTimeoutMs: number
  private readonly handshakeTimeoutMs: number
  private readonly chunk: number
  private readonly srv: net.Server
  private readonly conns = new Set<Conn>()
  private readonly sockets = new Set<net.Socket>()
  private readonly snapshots: SnapshotStore
  private upstream: { close(): void } | undefined
  private synced = false
  private nextId = 1
  private pending: TyphaUpdate[] = []
  private flushScheduled = false
  private flushTimer: Timer | undefined
  /** When the last delta fan-out went out (monotonic ms), for the pacing gap. */
  private lastFanoutAt = Number.NEGATIVE_INFINITY
  private liveClients = 0
  private readonly flushGapPerClientMs: number
  private readonly maxFlushGapMs: number
  private tick: Timer | undefined
  private lastPing = 0
  private closed = false
  /** Clients corked in this tick, uncorked together on the next process tick. */
  private corkedConns: Conn[] = []

  constructor(init: TyphaServerInit) {
    this.init = init
    this.log = init.log
    this.clock = init.clock ?? systemClock()
    this.m = init.metrics
    this.serverId = init.serverId ?? randomBytes(6).toString('hex')
    this.host = init.host ?? '127.0.0.1'
    this.maxQueueBytes = init.maxQueueBytes ?? SERVER_DEFAULTS.maxQueueBytes
    this.maxLagRevisions = init.maxLagRevisions ?? SERVER_DEFAULTS.maxLagRevisions
    this.pingIntervalMs = init.pingIntervalMs ?? SERVER_DEFAULTS.pingIntervalMs
    this.pongTimeoutMs = init.pongTimeoutMs ?? SERVER_DEFAULTS.pongTimeoutMs
    this.handshakeTimeoutMs = init.handshakeTimeoutMs ?? SERVER_DEFAULTS.handshakeTimeoutMs
    this.chunk = init.snapshotChunk ?? TYPHA_SNAPSHOT_CHUNK
    this.flushGapPerClientMs = (init.flushGapPerClientUs ?? SERVER_DEFAULTS.flushGapPerClientUs) / 1000
    this.maxFlushGapMs = init.maxFlushGapMs ?? SERVER_DEFAULTS.maxFlushGapMs
    this.snapshots = new SnapshotStore({
      maxAgeMs: init.snapshotMaxAgeMs ?? SERVER_DEFAULTS.snapshotMaxAgeMs,
      maxTailBytes: init.snapshotMaxTailBytes ?? SERVER_DEFAULTS.snapshotMaxTailBytes,
    })
    if (init.tls) {
      const t = init.tls
      this.srv = tls.createServer({ cert: t.cert, key: t.key, ca: t.ca, requestCert: true, rejectUnauthorized: true })
      this.srv.on('secureConnection', (sock: tls.TLSSocket) => this.onTlsSocket(sock, t))
      this.srv.on('tlsClientError', (err) => {
        this.m?.disconnectsTotal.inc({ reason: 'tls-rejected' })
        this.log.warn({ err: err.message }, 'tls handshake failed')
      })
    } else {
      this.srv = net.createServer((sock) => this.onSocket(sock))
    }
    this.srv.on('error', (err) => this.log.error({ err }, 'listener error'))
    // Every raw socket (TLS ones included, rejected ones too) so that close() leaves none behind.
    this.srv.on('connection', (sock: net.Socket) => {
      this.sockets.add(sock)
      sock.once('close', () => this.sockets.delete(sock))
    })
  }

  get inSync(): boolean {
    return this.synced
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.srv.once('error', reject)
      this.srv.listen(this.init.port ?? 0, this.host, () => {
        this.srv.off('error', reject)
        resolve()
      })
    })
    const addr = this.srv.address() as net.AddressInfo
    this.port = addr.port
    this.tick = this.clock.setInterval(() => this.housekeeping(), Math.min(1000, this.pingIntervalMs))
    this.upstream = this.init.upstream({
      onSnapshot: (items, revision) => this.onUpstreamSnapshot(items, revision),
      onEvents: (events) => this.onUpstreamEvents(events),
      onSynced: (revision) => this.onUpstreamSynced(revision),
      onState: (st) => this.onUpstreamState(st),
    })
    this.log.info({ port: this.port, tls: this.init.tls !== undefined, serverId: this.serverId }, 'typha listening')
  }

  clients(): TyphaClientInfo[] {
    return [...this.conns].map((c) => ({
      id: c.id,
      nodeName: c.nodeName,
      syncerType: c.syncer,
      state: c.state,
      remote: `${c.socket.remoteAddress}:${c.socket.remotePort}`,
      lagRevisions: c.ledger.lag(this.cache.revision),
      queuedBytes: c.socket.writableLength,
      bytesWritten: c.ledger.bytesWritten,
    }))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.tick?.cancel()
    this.flushTimer?.cancel()
    this.upstream?.close()
    for (const c of [...this.conns]) this.drop(c, 'shutdown')
    for (const sock of this.sockets) sock.destroy()
    await new Promise<void>((resolve) => this.srv.close(() => resolve()))
  }

  // ---- upstream -------------------------------------------------------------------------------

  private onUpstreamSnapshot(items: WatchItem[], revision: number): void {
    const diff = this.cache.replace(
      items.map((i) => ({ key: i.key, value: i.object })),
      revision,
    )
    this.m?.cacheSize.set(this.cache.size)
    this.m?.cacheRevision.set(this.cache.revision)
    this.log.info({ items: items.length, revision, changed: diff.length }, 'upstream snapshot')
    if (this.synced && diff.length > 0) this.enqueue(diff)
  }

  private onUpstreamEvents(events: WatchEvent[]): void {
    const changes = this.cache.apply(
      events.map((e) => ({ key: e.key, value: e.type === 'DELETED' ? null : e.object, revision: e.revision })),
    )
    this.m?.cacheSize.set(this.cache.size)
    this.m?.cacheRevision.set(this.cache.revision)
    if (this.synced && changes.length > 0) this.enqueue(changes)
  }

  private onUpstreamSynced(revision: number): void {
    if (this.synced) return
    this.synced = true
    this.m?.upstreamInSync.set(1)
    this.log.info({ revision, entries: this.cache.size }, 'upstream in sync')
    for (const c of this.conns) if (c.state === 'waiting') this.sendSnapshot(c)
  }

  private onUpstreamState(st: InternalStreamState): void {
    this.log.info({ state: st }, 'upstream state')
  }

  private enqueue(updates: TyphaUpdate[]): void {
    for (const u of updates) this.pending.push(u)
    if (this.init.coalesce === false || this.pending.length >= 1000) {
      this.flush()
      return
    }
    if (this.flushScheduled) return
    this.flushScheduled = true
    const gap = Math.min(this.maxFlushGapMs, this.liveClients * this.flushGapPerClientMs)
    const wait = this.lastFanoutAt + gap - this.clock.monotonic()
    if (wait < 1) {
      setImmediate(() => this.scheduledFlush())
    } else {
      this.flushTimer = this.clock.setTimeout(() => this.scheduledFlush(), wait)
    }
  }

  private scheduledFlush(): void {
    this.flushScheduled = false
    this.flushTimer = undefined
    this.flush()
  }

  /** Fan out pending updates: one encoded frame per syncer type, the same bytes to every client. */
  private flush(): void {
    if (this.pending.length === 0 || this.closed) return
    const updates = this.pending
    this.pending = []
    this.lastFanoutAt = this.clock.monotonic()
    const revision = this.cache.revision
    for (const t of SYNCER_TYPES) {
      const mine = updates.filter((u) => syncerWants(t, u.key))
      if (mine.length === 0) continue
      const frame = this.encode({ type: 'deltas', revision, updates: mine }, 'deltas', mine.length >= RECORDS_MIN)
      this.m?.deltaUpdatesTotal.inc({ syncer: t }, mine.length)
      this.m?.deltaFramesTotal.inc({ syncer: t })
      this.snapshots.appendTail(t, frame, revision)
      for (const c of this.conns) if (c.state === 'live' && c.syncer === t) this.write(c, frame, revision)
    }
  }

  private encode(msg: TyphaServerMessage, kind: string, records = false): Buffer {
    this.m?.encodesTotal.inc({ kind })
    return records ? encodeRecordsFrame(msg) : encodeFrame(msg)
  }

  private snapshotFor(t: SyncerType): SnapshotFrames {
    const now = this.clock.monotonic()
    const cached = this.snapshots.fresh(t, this.cache.revision, now)
    if (cached) {
      this.m?.snapshotReusesTotal.inc({ syncer: t })
      return cached
    }
    // Fan out what is pending first: the new snapshot then holds exactly what has been flushed,
    // and every delta frame after it (its tail, then live) carries only later changes.
    this.flush()
    const revision = this.cache.revision
    const kvs = this.cache.snapshot((k) => syncerWants(t, k))
    const frames = snapshotChunks(kvs, this.chunk).map((c) =>
      this.encode({ type: 'snapshot', revision, kvs: c }, 'snapshot', c.length >= RECORDS_MIN),
    )
    frames.push(this.encode({ type: 'in-sync', revision }, 'snapshot'))
    this.m?.snapshotEncodeSeconds.set({ syncer: t }, (this.clock.monotonic() - now) / 1000)
    return this.snapshots.put(t, revision, frames, kvs.length, now)
  }

  // ---- connections ----------------------------------------------------------------------------

  private onTlsSocket(sock: tls.TLSSocket, t: TyphaTlsInit): void {
    if (t.clientCN !== undefined) {
      const cn = sock.getPeerCertificate()?.subject?.CN
      if (cn !== t.clientCN) {
        this.log.warn({ cn, want: t.clientCN }, 'client certificate CN rejected')
        this.m?.disconnectsTotal.inc({ reason: 'tls-rejected' })
        sock.on('error', () => {})
        this.clock.setTimeout(() => sock.destroy(), 1000)
        sock.end(
          encodeFrame({
            type: 'error',
            code: TYPHA_ERROR.TLS_CLIENT_REJECTED,
            message: `client certificate CN ${JSON.stringify(cn)} is not ${JSON.stringify(t.clientCN)}`,
          }),
        )
        return
      }
    }
    this.onSocket(sock)
  }

  private onSocket(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy()
      return
    }
    socket.setNoDelay(true)
    const now = this.clock.monotonic()
    const c: Conn = {
      id: this.nextId++,
      socket,
      framer: new Framer({ maxFrameBytes: this.init.maxClientFrameBytes ?? SERVER_DEFAULTS.maxClientFrameBytes }),
      state: 'handshake',
      ledger: new SendLedger(),
      lastRecv: now,
      openedAt: now,
      helloAt: now,
      snapshotEnd: 0,
      handshakeTimer: undefined,
      corked: false,
      tickBytes: 0,
    }
    c.handshakeTimer = this.clock.setTimeout(() => {
      if (c.state === 'handshake') this.fail(c, 'handshake-timeout', TYPHA_ERROR.HANDSHAKE_TIMEOUT, 'no hello in time')
    }, this.handshakeTimeoutMs)
    this.conns.add(c)
    this.m?.connections.inc({ syncer: 'pending' })
    socket.on('data', (d: Buffer) => this.onData(c, d))
    socket.on('drain', () => this.onDrain(c))
    socket.on('error', (err) => {
      if (c.state !== 'closed') this.log.debug({ conn: c.id, err: err.message }, 'socket error')
      this.drop(c, 'socket-error')
    })
    socket.on('close', () => this.drop(c, 'client-closed'))
  }

  private onData(c: Conn, d: Buffer): void {
    if (c.state === 'closed') return
    c.lastRecv = this.clock.monotonic()
    const { messages, error } = c.framer.push(d)
    for (const raw of messages) {
      if (isClosed(c)) return
      const msg = parseTyphaClientMessage(raw)
      if (isProtoError(msg)) {
        const version = msg.code === 'PROTO_VERSION'
        this.fail(
          c,
          version ? 'version' : 'malformed',
          version ? TYPHA_ERROR.VERSION : TYPHA_ERROR.MALFORMED,
          msg.message,
        )
        return
      }
      switch (msg.type) {
        case 'hello':
          if (c.state !== 'handshake') {
            this.fail(c, 'unexpected', TYPHA_ERROR.UNEXPECTED, 'hello sent twice')
            return
          }
          c.handshakeTimer?.cancel()
          c.nodeName = msg.nodeName
          c.syncer = msg.syncerType
          c.helloAt = this.clock.monotonic()
          this.m?.connections.dec({ syncer: 'pending' })
          this.m?.connections.inc({ syncer: msg.syncerType })
          this.log.info({ conn: c.id, node: msg.nodeName, syncer: msg.syncerType }, 'client connected')
          this.write(
            c,
            this.encode(
              {
                type: 'hello',
                version: TYPHA_PROTOCOL_VERSION,
                syncerType: msg.syncerType,
                serverId: this.serverId,
                compression: 'none',
              },
              'control',
            ),
            0,
          )
          if (this.synced) this.sendSnapshot(c)
          else c.state = 'waiting'
          break
        case 'ping':
          this.write(c, this.encode({ type: 'pong', t: msg.t }, 'control'), c.ledger.deliveredRevision)
          break
        case 'pong':
          break
      }
    }
    if (error && !isClosed(c)) this.fail(c, 'malformed', TYPHA_ERROR.MALFORMED, error.message)
  }

  private sendSnapshot(c: Conn): void {
    const t = c.syncer as SyncerType
    const snap = this.snapshotFor(t)
    c.state = 'live'
    this.liveClients++
    for (const f of snap.frames) this.write(c, f, snap.revision)
    c.snapshotEnd = c.ledger.bytesWritten
    for (const d of snap.tail) this.write(c, d.frame, d.revision)
    this.m?.snapshotsTotal.inc({ syncer: t })
    this.m?.snapshotUpdates.set({ syncer: t }, snap.updates)
    this.m?.snapshotBytes.set({ syncer: t }, snap.bytes)
  }

  /**
   * Queue a frame (the shared Buffer itself, never a copy). The socket is corked on the first
   * write of a tick and uncorked on the next process tick, so whatever a client is sent within
   * one tick (snapshot chunks, a delta and a ping, ...) leaves in ONE writev, in order. The
   * ledger and the slow-client checks run after the uncork, on what is really still queued.
   */
  private write(c: Conn, frame: Buffer, revision: number): void {
    if (c.state === 'closed') return
    if (!c.corked) {
      c.corked = true
      c.socket.cork()
      if (this.corkedConns.push(c) === 1) process.nextTick(() => this.uncorkAll())
    }
    c.socket.write(frame)
    c.ledger.onWrite(frame.length, revision)
    c.tickBytes += frame.length
  }

  private uncorkAll(): void {
    const conns = this.corkedConns
    this.corkedConns = []
    // Metrics once per syncer type per tick, not per client (label lookups cost as much as a write).
    const bytes = new Map<string, number>()
    const writes = new Map<string, number>()
    for (const c of conns) {
      c.corked = false
      const syncer = c.syncer ?? 'pending'
      bytes.set(syncer, (bytes.get(syncer) ?? 0) + c.tickBytes)
      c.tickBytes = 0
      if (c.state === 'closed') continue
      c.socket.uncork()
      writes.set(syncer, (writes.get(syncer) ?? 0) + 1)
      this.checkFlushed(c)
    }
    if (this.m) {
      for (const [syncer, n] of bytes) this.m.bytesOutTotal.inc({ syncer }, n)
      for (const [syncer, n] of writes) this.m.socketWritesTotal.inc({ syncer }, n)
    }
  }

  private onDrain(c: Conn): void {
    this.checkFlushed(c)
  }

  /** Update the ledger and cut the client if it is too far behind. */
  private checkFlushed(c: Conn): void {
    if (c.state === 'closed') return
    const queued = c.socket.writableLength
    c.ledger.flushed(queued)
    if (c.snapshotEnd > 0 && c.ledger.bytesWritten - queued >= c.snapshotEnd) {
      c.snapshotEnd = 0
      this.m?.snapshotSeconds.observe({ syncer: c.syncer ?? 'pending' }, (this.clock.monotonic() - c.helloAt) / 1000)
    }
    if (c.state !== 'live' || c.snapshotEnd > 0) return // the snapshot itself may exceed the queue
    if (queued > this.maxQueueBytes) {
      this.log.warn({ conn: c.id, node: c.nodeName, queued }, 'client fell behind (bytes); disconnecting')
      this.drop(c, 'lag-bytes')
      return
    }
    const lag = c.ledger.lag(this.cache.revision)
    if (lag > this.maxLagRevisions) {
      this.log.warn({ conn: c.id, node: c.nodeName, lag }, 'client fell behind (revisions); disconnecting')
      this.drop(c, 'lag-revisions')
    }
  }

  private housekeeping(): void {
    const now = this.clock.monotonic()
    const sendPing = now - this.lastPing >= this.pingIntervalMs
    const ping = sendPing ? this.encode({ type: 'ping', t: this.clock.now() }, 'ping') : undefined
    if (sendPing) this.lastPing = now
    const maxLag = new Map<SyncerType, number>()
    for (const c of [...this.conns]) {
      if (c.state === 'handshake' || c.state === 'closed') continue
      if (now - c.lastRecv > this.pongTimeoutMs) {
        this.fail(c, 'pong-timeout', TYPHA_ERROR.PONG_TIMEOUT, 'no message from the client in time')
        continue
      }
      this.checkFlushed(c)
      if (isClosed(c) || c.state !== 'live' || !c.syncer) continue
      const lag = c.ledger.lag(this.cache.revision)
      this.m?.clientLagRevisions.observe({ syncer: c.syncer }, lag)
      maxLag.set(c.syncer, Math.max(maxLag.get(c.syncer) ?? 0, lag))
      if (ping) this.write(c, ping, c.ledger.deliveredRevision)
    }
    for (const t of SYNCER_TYPES) this.m?.maxClientLagRevisions.set({ syncer: t }, maxLag.get(t) ?? 0)
  }

  /** Send an error frame, then close. */
  private fail(c: Conn, reason: DisconnectReason, code: string, message: string): void {
    if (c.state === 'closed') return
    this.log.warn({ conn: c.id, node: c.nodeName, reason, message }, 'closing client')
    try {
      c.socket.end(encodeFrame({ type: 'error', code, message }))
    } catch {
      // socket already gone
    }
    const sock = c.socket
    this.clock.setTimeout(() => sock.destroy(), 1000)
    this.drop(c, reason, false)
  }

  private drop(c: Conn, reason: DisconnectReason, destroy = true): void {
    if (c.state === 'closed') return
    c.handshakeTimer?.cancel()
    const wasHandshake = c.state === 'handshake'
    if (c.state === 'live') this.liveClients--
    c.state = 'closed'
    this.conns.delete(c)
    this.m?.connections.dec({ syncer: wasHandshake ? 'pending' : (c.syncer ?? 'pending') })
    this.m?.disconnectsTotal.inc({ reason })
    if (reason !== 'client-closed' && reason !== 'shutdown') {
      this.log.info({ conn: c.id, node: c.nodeName, reason }, 'client disconnected')
    }
    if (destroy) c.socket.destroy()
  }
}

/** A fresh read of the state (callbacks may have closed the connection since the last check). */
function isClosed(c: Conn): boolean {
  return c.state === 'closed'
}
