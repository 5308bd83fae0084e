import type { Logger } from 'pino'
import WebSocket from 'ws'
import { ProtoError } from '../core/errors.ts'
import { packMessage, unpackMessage } from '../core/frame.ts'
import {
  type ClientHello,
  parseWatchServerMessage,
  WATCH_STREAM_VERSION,
  type WatchEvent,
  type WatchItem,
} from '../core/watch-stream.ts'

export type InternalStreamState = 'connecting' | 'syncing' | 'in-sync' | 'disconnected'

export interface InternalStreamHandler {
  /**
   * The complete state under the prefixes at `revision`. Called on the first sync and again after
   * every resync (the server compacted our revision): replace everything held with these items.
   */
  onSnapshot(items: WatchItem[], revision: number): void
  /** Changes after the last snapshot/events, in revision order. */
  onEvents(events: WatchEvent[]): void
  /** The stream caught up with the server (after a snapshot or a resume backlog). */
  onSynced?(revision: number): void
  onState?(s: InternalStreamState): void
}

export interface InternalStreamClientInit {
  /** ws://host:port/internal/watch */
  url: string
  prefixes?: string[]
  log: Logger
  handler: InternalStreamHandler
  /** First reconnect delay; doubles on each failure up to 30x (default 250 ms). */
  reconnectMs?: number
  /** The connection is dropped if the server sends nothing (not even a ping) for this long. */
  idleTimeoutMs?: number
  /** Send an application ping this often (default 10 s). */
  pingMs?: number
}

export interface InternalStreamClient {
  /** The revision the client has fully seen (0 before the first sync). */
  readonly revision: number
  readonly state: InternalStreamState
  close(): void
}

/**
 * Connect to the API server's internal watch stream and keep the connection up: reconnects with
 * backoff, resumes from the last revision seen (no snapshot), resyncs from 0 when told 'gone'.
 */
export function connectInternalStream(init: InternalStreamClientInit): InternalStreamClient {
  return new StreamClient(init)
}

class StreamClient implements InternalStreamClient {
  private readonly init: InternalStreamClientInit
  private readonly log: Logger
  private readonly baseDelay: number
  private ws: WebSocket | undefined
  private rev = 0
  private st: InternalStreamState = 'disconnected'
  private closed = false
  private failures = 0
  private reconnectTimer: NodeJS.Timeout | undefined
  private pingTimer: NodeJS.Timeout | undefined
  private idleTimer: NodeJS.Timeout | undefined
  /** Snapshot chunks collected until 'synced'. */
  private snapshot: WatchItem[] | undefined
  private resyncNow = false

  constructor(init: InternalStreamClientInit) {
    this.init = init
    this.log = init.log
    this.baseDelay = init.reconnectMs ?? 250
    this.connect()
  }

  get revision(): number {
    return this.rev
  }

  get state(): InternalStreamState {
    return this.st
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.stopTimers()
    const ws = this.ws
    this.ws = undefined
    if (ws) {
      ws.removeAllListeners()
      ws.on('error', () => {})
      ws.terminate()
    }
    this.setState('disconnected')
  }

  private setState(s: InternalStreamState): void {
    if (s === this.st) return
    this.st = s
    this.init.handler.onState?.(s)
  }

  private connect(): void {
    if (this.closed) return
    this.setState('connecting')
    const ws = new WebSocket(this.init.url, { perMessageDeflate: false })
    ws.binaryType = 'nodebuffer'
    this.ws = ws
    ws.on('open', () => {
      const hello: ClientHello = { type: 'hello', version: WATCH_STREAM_VERSION, fromRevision: this.rev }
      if (this.init.prefixes?.length) hello.prefixes = this.init.prefixes
      this.snapshot = this.rev === 0 ? [] : undefined
      this.setState('syncing')
      ws.send(packMessage(hello))
      this.armIdle()
      const pingMs = this.init.pingMs ?? 10_000
      this.pingTimer = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(packMessage({ type: 'ping', t: Date.now() }))
      }, pingMs)
      this.pingTimer.unref()
    })
    ws.on('ping', () => this.armIdle())
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.armIdle()
      if (!isBinary) return this.drop(ws, 'text message on a binary stream')
      const raw = unpackMessage(data)
      const msg = raw instanceof ProtoError ? raw : parseWatchServerMessage(raw)
      if (msg instanceof ProtoError) {
        this.log.warn({ err: msg, code: msg.code }, 'bad message from watch server')
        return this.drop(ws, msg.code)
      }
      switch (msg.type) {
        case 'hello':
          this.log.debug({ revision: msg.revision, fromRevision: this.rev }, 'watch stream hello')
          return
        case 'snapshot':
          if (!this.snapshot) return this.drop(ws, 'snapshot while resuming')
          for (const it of msg.items) this.snapshot.push(it)
          return
        case 'synced': {
          const snap = this.snapshot
          this.snapshot = undefined
          if (snap) this.init.handler.onSnapshot(snap, msg.revision)
          if (msg.revision > this.rev) this.rev = msg.revision
          this.failures = 0
          this.setState('in-sync')
          this.init.handler.onSynced?.(msg.revision)
          return
        }
        case 'events': {
          if (this.snapshot) return this.drop(ws, 'events during snapshot')
          if (msg.events.length === 0) return
          this.init.handler.onEvents(msg.events)
          const last = msg.events[msg.events.length - 1] as WatchEvent
          if (last.revision > this.rev) this.rev = last.revision
          return
        }
        case 'gone':
          this.log.info({ revision: this.rev, reason: msg.message }, 'watch revision compacted, resyncing')
          this.rev = 0
          this.resyncNow = true
          return this.drop(ws, 'gone')
        case 'error':
          this.log.warn({ code: msg.code, reason: msg.message }, 'watch server error')
          return this.drop(ws, msg.code)
        case 'ping':
          ws.send(packMessage({ type: 'pong', t: msg.t }))
          return
        case 'pong':
          return
      }
    })
    ws.on('error', (err) => {
      this.log.debug({ err }, 'watch stream socket error')
    })
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return
      this.ws = undefined
      this.stopTimers()
      this.snapshot = undefined
      if (this.closed) return
      this.setState('disconnected')
      const delay = this.resyncNow ? 0 : this.nextDelay()
      this.resyncNow = false
      this.log.info(
        { code, reason: reason.toString(), delayMs: delay, revision: this.rev },
        'watch stream disconnected',
      )
      this.reconnectTimer = setTimeout(() => this.connect(), delay)
      this.reconnectTimer.unref()
    })
  }

  private nextDelay(): number {
    const d = Math.min(this.baseDelay * 2 ** this.failures, this.baseDelay * 30)
    this.failures++
    return d
  }

  private drop(ws: WebSocket, reason: string): void {
    this.log.debug({ reason }, 'dropping watch connection')
    ws.terminate()
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer)
    const ms = this.init.idleTimeoutMs ?? 45_000
    const ws = this.ws
    this.idleTimer = setTimeout(() => {
      if (ws && this.ws === ws) {
        this.log.warn({ idleMs: ms }, 'watch server silent, reconnecting')
        ws.terminate()
      }
    }, ms)
    this.idleTimer.unref()
  }

  private stopTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer)
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.pingTimer = undefined
    this.idleTimer = undefined
  }
}
