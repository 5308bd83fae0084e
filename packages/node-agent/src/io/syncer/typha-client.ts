import net from 'node:net'
import tls from 'node:tls'
import { type Clock, type Logger, type Rng, systemClock, type Timer } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import {
  encodeFrame,
  Framer,
  isProtoError,
  parseTyphaServerMessage,
  type SyncerType,
  TYPHA_PROTOCOL_VERSION,
  type TyphaClientMessage,
} from '@calilab/proto'
import { SyncerView } from './syncer-view.ts'
import type { SyncerCallbacks, SyncerClient, SyncerStatus } from './types.ts'

export interface TyphaAddress {
  host: string
  port: number
}

export interface TyphaClientTls {
  cert: string | Buffer
  key: string | Buffer
  ca: string | Buffer
  /** Required Subject CN of Typha's certificate (Calico: TyphaCN, operator: `typha-server`). */
  serverCN?: string
}

export interface TyphaClientInit {
  /** Typha replicas; one is picked at random, the next one on failure. `host:port` or objects. */
  addresses: readonly (TyphaAddress | string)[]
  nodeName: string
  syncerType: SyncerType
  callbacks: SyncerCallbacks
  log: Logger
  rng: Rng
  clock?: Clock
  tls?: TyphaClientTls
  /** Send a ping this often (default 10 s). */
  pingIntervalMs?: number
  /** Nothing received for this long: reconnect elsewhere (default 30 s). */
  readTimeoutMs?: number
  /** First reconnect delay after every replica failed, doubling to 5 s (default 100 ms). */
  reconnectMs?: number
  /** Largest frame accepted (default 64 MiB). */
  maxFrameBytes?: number
  /** Overrides the version sent in hello (tests). */
  protocolVersion?: number
}

export interface TyphaClientStats {
  connects: number
  failures: number
  resyncs: number
  framesIn: number
  bytesIn: number
}

export interface TyphaSyncerClient extends SyncerClient {
  /** `host:port` of the replica currently connected, if any. */
  readonly connectedTo: string | undefined
  readonly serverId: string | undefined
  readonly stats: Readonly<TyphaClientStats>
}

/** Connect to one of several Typhas; delivers snapshot, in-sync and deltas through `callbacks`. */
export function connectTypha(init: TyphaClientInit): TyphaSyncerClient {
  return new TyphaClient(init)
}

export function parseTyphaAddress(a: TyphaAddress | string): TyphaAddress {
  if (typeof a !== 'string') return a
  const i = a.lastIndexOf(':')
  const port = Number(a.slice(i + 1))
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`bad Typha address ${JSON.stringify(a)}: expected host:port`)
  }
  return { host: a.slice(0, i), port }
}

class TyphaClient implements TyphaSyncerClient {
  readonly syncerType: SyncerType
  readonly stats: TyphaClientStats = { connects: 0, failures: 0, resyncs: 0, framesIn: 0, bytesIn: 0 }
  private readonly init: TyphaClientInit
  private readonly log: Logger
  private readonly clock: Clock
  private readonly order: TyphaAddress[]
  private readonly view = new SyncerView()
  private idx: number
  private tried = 0
  private delay: number
  private sock: net.Socket | undefined
  private st: SyncerStatus = 'disconnected'
  private rev = 0
  private closed = false
  private server: string | undefined
  private id: string | undefined
  private lastRecv = 0
  private timer: Timer | undefined
  private reconnectTimer: Timer | undefined
  private inSnapshot = false

  constructor(init: TyphaClientInit) {
    if (init.addresses.length === 0) throw new Error('connectTypha: no Typha addresses given')
    this.init = init
    this.syncerType = init.syncerType
    this.log = init.log
    this.clock = init.clock ?? systemClock()
    this.order = init.addresses.map(parseTyphaAddress)
    this.idx = init.rng.int(this.order.length)
    this.delay = init.reconnectMs ?? 100
    this.connect()
  }

  get status(): SyncerStatus {
    return this.st
  }
  get cache(): ReadonlyMap<string, KubeObject> {
    return this.view.cache
  }
  get revision(): number {
    return this.rev
  }
  get connectedTo(): string | undefined {
    return this.server
  }
  get serverId(): string | undefined {
    return this.id
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.timer?.cancel()
    this.reconnectTimer?.cancel()
    this.sock?.destroy()
    this.setStatus('disconnected')
  }

  private setStatus(s: SyncerStatus): void {
    if (this.st === s) return
    this.st = s
    this.init.callbacks.onStatus?.(s)
  }

  private connect(): void {
    if (this.closed) return
    const addr = this.order[this.idx % this.order.length] as TyphaAddress
    const where = `${addr.host}:${addr.port}`
    this.setStatus('connecting')
    this.log.debug({ typha: where }, 'connecting to typha')
    const t = this.init.tls
    const sock: net.Socket = t
      ? tls.connect({
          host: addr.host,
          port: addr.port,
          cert: t.cert,
          key: t.key,
          ca: t.ca,
          checkServerIdentity: (_host, cert) =>
            t.serverCN !== undefined && cert.subject?.CN !== t.serverCN
              ? new Error(
                  `Typha certificate CN ${JSON.stringify(cert.subject?.CN)} is not ${JSON.stringify(t.serverCN)}`,
                )
              : undefined,
        })
      : net.connect({ host: addr.host, port: addr.port })
    this.sock = sock
    const framer = new Framer({ maxFrameBytes: this.init.maxFrameBytes ?? 64 * 1024 * 1024 })
    let failed = false
    const fail = (why: string, err?: unknown) => {
      if (failed) return
      failed = true
      sock.destroy()
      this.onFailure(where, why, err)
    }
    sock.once(t ? 'secureConnect' : 'connect', () => {
      sock.setNoDelay(true)
      this.stats.connects++
      this.server = where
      this.lastRecv = this.clock.monotonic()
      this.inSnapshot = false
      const hello: TyphaClientMessage = {
        type: 'hello',
        version: this.init.protocolVersion ?? TYPHA_PROTOCOL_VERSION,
        nodeName: this.init.nodeName,
        syncerType: this.init.syncerType,
        compression: 'none',
      }
      sock.write(encodeFrame(hello))
      this.startTimer(sock, fail)
    })
    sock.on('data', (d: Buffer) => {
      if (failed) return
      this.lastRecv = this.clock.monotonic()
      this.stats.bytesIn += d.length
      const { messages, error } = framer.push(d)
      for (const raw of messages) {
        if (failed) return
        this.stats.framesIn++
        const why = this.onMessage(sock, raw)
        if (why) {
          fail(why)
          return
        }
      }
      if (error) fail(`bad frame from typha: ${error.message}`)
    })
    sock.on('error', (err) => fail('socket error', err))
    sock.on('close', () => fail('connection closed'))
  }

  /** Handle one message; a string return is a reason to drop the connection. */
  private onMessage(sock: net.Socket, raw: unknown): string | undefined {
    const msg = parseTyphaServerMessage(raw)
    if (isProtoError(msg)) return `bad message from typha: ${msg.message}`
    switch (msg.type) {
      case 'hello':
        if (msg.syncerType !== this.syncerType) return `typha answered for syncer ${msg.syncerType}`
        this.id = msg.serverId
        this.log.info({ typha: this.server, serverId: msg.serverId }, 'connected to typha')
        return undefined
      case 'snapshot': {
        if (!this.inSnapshot) {
          this.inSnapshot = true
          this.stats.resyncs++
          this.view.beginResync()
          this.setStatus('resyncing')
        }
        const changed = this.view.apply(msg.kvs)
        if (changed.length > 0) this.init.callbacks.onUpdates(changed)
        return undefined
      }
      case 'in-sync': {
        if (!this.inSnapshot) return 'in-sync without a snapshot'
        this.inSnapshot = false
        const gone = this.view.endResync()
        if (gone.length > 0) this.init.callbacks.onUpdates(gone)
        this.rev = msg.revision
        this.tried = 0
        this.delay = this.init.reconnectMs ?? 100
        this.setStatus('in-sync')
        this.init.callbacks.onInSync(msg.revision)
        return undefined
      }
      case 'deltas': {
        if (this.inSnapshot) return 'deltas before in-sync'
        const changed = this.view.apply(msg.updates)
        this.rev = msg.revision
        if (changed.length > 0) this.init.callbacks.onUpdates(changed)
        return undefined
      }
      case 'ping':
        sock.write(encodeFrame({ type: 'pong', t: msg.t } satisfies TyphaClientMessage))
        return undefined
      case 'pong':
        return undefined
      case 'error':
        return `typha error ${msg.code}: ${msg.message}`
    }
  }

  private startTimer(sock: net.Socket, fail: (why: string) => void): void {
    this.timer?.cancel()
    const ping = this.init.pingIntervalMs ?? 10_000
    const readTimeout = this.init.readTimeoutMs ?? 30_000
    let lastPing = this.clock.monotonic()
    this.timer = this.clock.setInterval(
      () => {
        if (this.sock !== sock) return
        const now = this.clock.monotonic()
        if (now - this.lastRecv > readTimeout) {
          fail('read timeout')
          return
        }
        if (now - lastPing >= ping) {
          lastPing = now
          sock.write(encodeFrame({ type: 'ping', t: this.clock.now() } satisfies TyphaClientMessage))
        }
      },
      Math.min(1000, ping),
    )
  }

  private onFailure(where: string, why: string, err?: unknown): void {
    this.timer?.cancel()
    this.server = undefined
    this.id = undefined
    this.inSnapshot = false
    this.view.abortResync() // a half-received snapshot decides no deletions; the next one will
    if (this.closed) return
    this.stats.failures++
    this.log.warn(
      { typha: where, reason: why, err: err instanceof Error ? err.message : undefined },
      'typha connection lost',
    )
    this.setStatus('disconnected')
    // Move to another replica; back off only once every replica has failed in a row.
    this.idx = (this.idx + 1) % this.order.length
    this.tried++
    let wait = 0
    if (this.tried >= this.order.length) {
      wait = this.delay
      this.delay = Math.min(this.delay * 2, 5000)
      this.tried = 0
    }
    this.reconnectTimer = this.clock.setTimeout(() => this.connect(), wait)
  }
}
