import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { isCodedError, type Logger } from '@calilab/kit'
import {
  type ClientHello,
  matchesPrefixes,
  ProtoError,
  packMessage,
  parseWatchClientMessage,
  snapshotMessages,
  unpackMessage,
  WATCH_STREAM_VERSION,
  type WatchEvent,
  type WatchItem,
  type WatchServerMessage,
} from '@calilab/proto'
import { type WebSocket, WebSocketServer } from 'ws'
import type { Store, StoreEvent, WatchHandle } from './store/types.ts'

/**
 * The API server's internal watch stream (docs/protocols.md): Typha replicas and node agents
 * connect over WebSocket, say hello, get a snapshot or a resume backlog, then live events.
 */
export interface InternalStreamInit {
  server: Server
  /** Upgrade path served (default '/internal/watch'); other upgrade paths are left alone. */
  path?: string
  store: Store
  log: Logger
  /** A client whose send buffer grows past this is disconnected (it resumes or resyncs). Default 8 MiB. */
  maxBufferedBytes?: number
  /** Events per events message (default 1000). */
  maxEventsPerMessage?: number
  /** Protocol-level ping period; a client that misses a whole period is dropped. Default 15 s. */
  pingIntervalMs?: number
  /** Time a new connection has to send its hello. Default 10 s. */
  helloTimeoutMs?: number
}

export interface InternalStream {
  close(): void
  clients(): number
}

type Phase = 'hello' | 'snapshot' | 'live' | 'closed'

interface Conn {
  ws: WebSocket
  id: number
  log: Logger
  phase: Phase
  prefixes: string[] | undefined
  watch: WatchHandle | undefined
  /** Events waiting to be sent (during the snapshot, or until the next flush). */
  pending: WatchEvent[]
  flushScheduled: boolean
  alive: boolean
  helloTimer: NodeJS.Timeout | undefined
}

/** Events queued behind a snapshot before the client is judged too slow. */
const MAX_PENDING_EVENTS = 200_000

export function attachInternalStream(init: InternalStreamInit): InternalStream {
  const path = init.path ?? '/internal/watch'
  const maxBuffered = init.maxBufferedBytes ?? 8 * 1024 * 1024
  const maxEvents = init.maxEventsPerMessage ?? 1000
  const log = init.log
  const store = init.store
  const conns = new Set<Conn>()
  let nextId = 1
  let closed = false

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false })

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let pathname: string
    try {
      pathname = new URL(req.url ?? '/', 'http://internal').pathname
    } catch {
      return
    }
    if (pathname !== path) return
    if (closed) {
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req))
  }
  init.server.on('upgrade', onUpgrade)

  const pingTimer = setInterval(() => {
    for (const c of conns) {
      if (!c.alive) {
        c.log.warn({}, 'internal watch client missed a ping, dropping')
        drop(c)
        continue
      }
      c.alive = false
      c.ws.ping()
    }
  }, init.pingIntervalMs ?? 15_000)
  pingTimer.unref()

  function accept(ws: WebSocket, req: IncomingMessage): void {
    const id = nextId++
    const c: Conn = {
      ws,
      id,
      log: log.child({ conn: id, remote: `${req.socket.remoteAddress}:${req.socket.remotePort}` }),
      phase: 'hello',
      prefixes: undefined,
      watch: undefined,
      pending: [],
      flushScheduled: false,
      alive: true,
      helloTimer: undefined,
    }
    conns.add(c)
    c.log.debug({}, 'internal watch client connected')
    c.helloTimer = setTimeout(
      () => reject(c, 'PROTO_UNEXPECTED', 'no hello received in time'),
      init.helloTimeoutMs ?? 10_000,
    )
    c.helloTimer.unref()
    ws.on('pong', () => {
      c.alive = true
    })
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      c.alive = true
      if (!isBinary) return reject(c, 'PROTO_BAD_MESSAGE', 'expected binary msgpack messages')
      const raw = unpackMessage(data)
      const msg = raw instanceof ProtoError ? raw : parseWatchClientMessage(raw)
      if (msg instanceof ProtoError) return reject(c, msg.code, msg.message)
      switch (msg.type) {
        case 'hello':
          if (c.phase !== 'hello') return reject(c, 'PROTO_UNEXPECTED', 'second hello on one connection')
          if (c.helloTimer) clearTimeout(c.helloTimer)
          try {
            return start(c, msg)
          } catch (err) {
            c.log.error({ err }, 'internal watch start failed')
            return reject(c, 'INTERNAL', 'cannot start the watch')
          }
        case 'ping':
          return send(c, { type: 'pong', t: msg.t })
        case 'pong':
          return
      }
    })
    ws.on('error', (err) => c.log.debug({ err }, 'internal watch socket error'))
    ws.on('close', () => cleanup(c))
  }

  function start(c: Conn, hello: ClientHello): void {
    c.prefixes = hello.prefixes?.length ? hello.prefixes : undefined
    const onEvents = (events: StoreEvent[]) => enqueue(c, events)
    const revision = store.revision
    c.log.info({ fromRevision: hello.fromRevision, revision, prefixes: c.prefixes }, 'internal watch client hello')
    if (hello.fromRevision === 0) {
      const items = snapshotItems(c.prefixes)
      c.phase = 'snapshot'
      send(c, { type: 'hello', version: WATCH_STREAM_VERSION, revision })
      c.watch = store.watch('/', revision, onEvents)
      void sendSnapshot(c, items, revision)
      return
    }
    if (hello.fromRevision > revision) {
      gone(c, `revision ${hello.fromRevision} is newer than the server's ${revision} (server restarted?)`)
      return
    }
    send(c, { type: 'hello', version: WATCH_STREAM_VERSION, revision })
    c.phase = 'snapshot' // hold live events until the backlog is queued
    try {
      c.watch = store.watch('/', hello.fromRevision, onEvents)
    } catch (err) {
      if (isCodedError(err, 'STORE_GONE')) gone(c, err.message)
      else {
        c.log.error({ err }, 'internal watch failed')
        reject(c, 'INTERNAL', 'watch failed')
      }
      return
    }
    c.phase = 'live'
    flush(c)
    if (c.phase === 'live') send(c, { type: 'synced', revision })
  }

  function snapshotItems(prefixes: string[] | undefined): WatchItem[] {
    const out: WatchItem[] = []
    const seen = new Set<string>()
    for (const p of prefixes ?? ['/']) {
      const { items, keys } = store.list(p)
      if (!keys) throw new Error('store.list must return keys for the internal watch stream')
      for (const [i, object] of items.entries()) {
        const key = keys[i] as string
        if (seen.has(key)) continue
        seen.add(key)
        out.push({ key, object })
      }
    }
    if (prefixes && prefixes.length > 1) out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return out
  }

  async function sendSnapshot(c: Conn, items: WatchItem[], revision: number): Promise<void> {
    let written: Promise<boolean> | undefined
    for (const msg of snapshotMessages(items)) {
      if (c.phase !== 'snapshot') return
      // Pace the snapshot on the socket rather than buffering all of it: when the socket holds
      // more than half the limit, wait until the previous chunk has been written out.
      if (written && c.ws.bufferedAmount > maxBuffered / 2) {
        const ok = await written
        if (!ok || c.phase !== 'snapshot') return
      }
      written = sendPaced(c, msg)
    }
    if (c.phase !== 'snapshot') return
    send(c, { type: 'synced', revision })
    c.phase = 'live'
    flush(c)
  }

  /** Send without the slow-client check; resolves once written to the socket (false: connection gone). */
  function sendPaced(c: Conn, msg: WatchServerMessage): Promise<boolean> {
    return new Promise((resolve) => {
      if (c.phase === 'closed' || c.ws.readyState !== c.ws.OPEN) return resolve(false)
      c.ws.send(packMessage(msg), (err) => resolve(!err))
    })
  }

  function enqueue(c: Conn, events: StoreEvent[]): void {
    if (c.phase === 'closed') return
    for (const e of events) {
      if (!matchesPrefixes(e.key, c.prefixes)) continue
      c.pending.push({ type: e.type, key: e.key, object: e.object, revision: e.revision })
    }
    if (c.pending.length > MAX_PENDING_EVENTS) {
      c.log.warn({ pending: c.pending.length }, 'internal watch client too slow (queue), dropping')
      drop(c)
      return
    }
    if (c.phase === 'live' && !c.flushScheduled && c.pending.length) {
      c.flushScheduled = true
      setImmediate(() => {
        c.flushScheduled = false
        flush(c)
      })
    }
  }

  function flush(c: Conn): void {
    if (c.phase !== 'live') return
    while (c.pending.length) {
      const events = c.pending.splice(0, maxEvents)
      send(c, { type: 'events', events })
      if (c.phase !== 'live') return
    }
  }

  function send(c: Conn, msg: WatchServerMessage): void {
    if (c.phase === 'closed' || c.ws.readyState !== c.ws.OPEN) return
    c.ws.send(packMessage(msg))
    if (c.ws.bufferedAmount > maxBuffered) {
      c.log.warn({ buffered: c.ws.bufferedAmount, max: maxBuffered }, 'internal watch client too slow, dropping')
      drop(c)
    }
  }

  function gone(c: Conn, message: string): void {
    c.log.info({ reason: message }, 'internal watch client must resync')
    send(c, { type: 'gone', message })
    closeConn(c, 4410, 'gone')
  }

  function reject(c: Conn, code: string, message: string): void {
    c.log.warn({ code, reason: message }, 'internal watch client rejected')
    send(c, { type: 'error', code, message })
    closeConn(c, code === 'PROTO_VERSION' ? 4426 : 4400, code)
  }

  function closeConn(c: Conn, code: number, reason: string): void {
    cleanup(c)
    c.ws.close(code, reason)
    const t = setTimeout(() => c.ws.terminate(), 2000)
    t.unref()
  }

  function drop(c: Conn): void {
    cleanup(c)
    c.ws.terminate()
  }

  function cleanup(c: Conn): void {
    if (c.phase === 'closed') return
    c.phase = 'closed'
    c.pending = []
    c.watch?.cancel()
    c.watch = undefined
    if (c.helloTimer) clearTimeout(c.helloTimer)
    conns.delete(c)
    c.log.debug({}, 'internal watch client gone')
  }

  return {
    clients: () => conns.size,
    close() {
      if (closed) return
      closed = true
      clearInterval(pingTimer)
      init.server.off('upgrade', onUpgrade)
      for (const c of [...conns]) closeConn(c, 1001, 'server shutting down')
      wss.close()
    },
  }
}
