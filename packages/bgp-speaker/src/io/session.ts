/**
 * One BGP connection to one peer: owns the socket, the framer and the timers, and carries out
 * what the pure FSM decides. Everything protocol-related is in core; this file only does I/O.
 */
import * as net from 'node:net'
import type { Clock, Logger, Timer } from '@calilab/kit'
import type { BgpDecodeError } from '../core/codec/errors.ts'
import { Framer } from '../core/codec/framer.ts'
import { MSG } from '../core/codec/header.ts'
import { type BgpMessage, decodeMessage, encodeMessage } from '../core/codec/message.ts'
import type { UpdateMessage } from '../core/codec/update.ts'
import { AttrCache, decodeUpdateFrame, type KeyedUpdate } from '../core/codec/update-keys.ts'
import {
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmState,
  initialFsm,
  step,
  type TimerName,
} from '../core/fsm.ts'

export interface SessionHooks {
  onEstablished(s: Session): void
  onDown(s: Session): void
  onUpdate(s: Session, u: UpdateMessage | KeyedUpdate): void
  onRouteRefresh(s: Session): void
  /** Called after the peer's OPEN was accepted (collision detection point). */
  onOpenConfirm(s: Session): void
  /** After any state change (the FSM's actions are carried out). */
  onStateChange?(s: Session, from: FsmState['state']): void
}

export interface SessionInit {
  peerName: string
  remote: { host: string; port: number }
  localAddress?: string
  /** Created for an accepted connection (a collision's second session); starts passive. */
  inbound: boolean
  fsm: FsmConfig
}

const TIMER_EVENT: Record<TimerName, FsmEvent['type']> = {
  connectRetry: 'ConnectRetryTimerExpires',
  hold: 'HoldTimerExpires',
  keepalive: 'KeepaliveTimerExpires',
  idleHold: 'IdleHoldTimerExpires',
}

/** A running FSM timer: `at` is when its clock timer fires (monotonic ms), `due` when it expires. */
interface TimerSlot {
  due: number
  at: number
  timer: Timer
}

const NO_TIMER: Timer = { cancel: () => {} }

export class Session {
  fsm: FsmState
  /** When the FSM last changed state (clock.now()). */
  since: number
  /** The current (or last) connection was initiated by the peer. */
  connInbound: boolean
  lastReason = ''
  messagesIn = 0
  messagesOut = 0
  private socket: net.Socket | undefined
  private framer = new Framer()
  /** Decoded attribute sections of this connection, by their bytes (UPDATEs repeat them). */
  private attrCache = new AttrCache()
  private readonly timers = new Map<TimerName, TimerSlot>()
  private readonly clock: Clock
  private readonly log: Logger
  private readonly hooks: SessionHooks
  private readonly init: SessionInit
  private closed = false

  constructor(c: { clock: Clock; log: Logger }, init: SessionInit, hooks: SessionHooks) {
    this.clock = c.clock
    this.log = c.log
    this.hooks = hooks
    this.init = init
    this.connInbound = init.inbound
    this.fsm = initialFsm(init.fsm)
    this.since = c.clock.now()
  }

  get state(): FsmState['state'] {
    return this.fsm.state
  }

  get hasSocket(): boolean {
    return this.socket !== undefined
  }

  /** Our dial has neither completed nor failed. */
  get dialling(): boolean {
    return this.socket !== undefined && !this.connInbound && this.socket.connecting
  }

  /** Feeds one event through the FSM and carries out the actions. */
  event(ev: FsmEvent): void {
    if (this.closed) return
    const from = this.fsm.state
    const r = step(this.fsm, ev)
    this.fsm = r.next
    this.lastReason = r.reason
    if (from !== r.next.state) {
      this.since = this.clock.now()
      const lvl = r.next.state === 'Established' || from === 'Established' ? 'info' : 'debug'
      this.log[lvl]({ from, to: r.next.state, reason: r.reason }, 'fsm transition')
    }
    for (const a of r.actions) this.act(a)
    if (from !== 'OpenConfirm' && r.next.state === 'OpenConfirm') this.hooks.onOpenConfirm(this)
    if (from !== r.next.state) this.hooks.onStateChange?.(this, from)
  }

  /** Gives the session an accepted inbound socket. */
  attach(sock: net.Socket, confirmed: FsmEvent['type'] = 'TcpConnectionConfirmed'): void {
    this.bind(sock, true)
    this.event({ type: confirmed } as FsmEvent)
  }

  /** Stops for good: no timers, no socket, no more events. */
  close(): void {
    for (const t of this.timers.values()) t.timer.cancel()
    this.timers.clear()
    this.dropSocket()
    this.closed = true
  }

  send(bytes: Uint8Array): void {
    if (!this.socket || this.fsm.state !== 'Established') return
    this.socket.write(bytes)
    this.messagesOut++
  }

  private bind(sock: net.Socket, inbound: boolean): void {
    this.dropSocket()
    this.socket = sock
    this.connInbound = inbound
    this.framer = new Framer()
    this.attrCache = new AttrCache()
    sock.setNoDelay(true)
    sock.on('data', (chunk: Buffer) => {
      if (this.socket === sock) this.onData(chunk)
    })
    const gone = () => {
      if (this.socket !== sock) return
      this.socket = undefined
      this.event({ type: 'TcpConnectionFails' })
    }
    sock.on('error', (err) => {
      this.log.debug({ err }, 'socket error')
      gone()
    })
    sock.on('close', gone)
  }

  private dropSocket(): void {
    const s = this.socket
    if (!s) return
    this.socket = undefined
    if (s.connecting) {
      // A dial still in flight: abort it (no FIN after a late connect the peer would accept).
      s.destroy()
      return
    }
    s.end()
    // Give a queued NOTIFICATION a moment to leave, then make sure the socket is gone.
    const t = this.clock.setTimeout(() => s.destroy(), 1000)
    s.once('close', () => t.cancel())
  }

  private connect(): void {
    const { host, port } = this.init.remote
    const opts: net.NetConnectOpts = { host, port }
    if (this.init.localAddress !== undefined) opts.localAddress = this.init.localAddress
    const sock = net.connect(opts)
    this.bind(sock, false)
    // Bound the life of a dial the connect retry timer lets run (FSM: one dial at a time).
    const limit = Math.max(2 * this.init.fsm.connectRetryTime, 10) * 1000
    const t = this.clock.setTimeout(() => {
      if (this.socket === sock && sock.connecting) sock.destroy(new Error('connect timed out'))
    }, limit)
    sock.once('connect', () => {
      t.cancel()
      if (this.socket === sock) this.event({ type: 'TcpCrAcked' })
    })
    sock.once('close', () => t.cancel())
  }

  private act(a: FsmAction): void {
    switch (a.type) {
      case 'connect':
        this.connect()
        return
      case 'disconnect':
        this.dropSocket()
        return
      case 'send':
        this.write(a.msg)
        return
      case 'startTimer': {
        const due = this.clock.monotonic() + a.ms
        const cur = this.timers.get(a.timer)
        // Restarted to fire no earlier (the hold timer, on every UPDATE and KEEPALIVE): keep the
        // scheduled timer and move only the deadline; when it fires it waits out the rest.
        if (cur && due >= cur.at) {
          cur.due = due
          return
        }
        cur?.timer.cancel()
        this.arm(a.timer, { due, at: due, timer: NO_TIMER }, a.ms)
        return
      }
      case 'stopTimer':
        this.timers.get(a.timer)?.timer.cancel()
        this.timers.delete(a.timer)
        return
      case 'established':
        this.hooks.onEstablished(this)
        return
      case 'down':
        this.hooks.onDown(this)
        return
      case 'deliverUpdate':
        this.hooks.onUpdate(this, a.update)
        return
      case 'deliverRouteRefresh':
        this.hooks.onRouteRefresh(this)
        return
    }
  }

  private arm(name: TimerName, slot: TimerSlot, ms: number): void {
    this.timers.set(name, slot)
    slot.timer = this.clock.setTimeout(() => {
      if (this.timers.get(name) !== slot) return
      if (slot.due > slot.at) {
        // Restarted since it was scheduled: fire at the new deadline instead.
        const rest = slot.due - slot.at
        slot.at = slot.due
        this.arm(name, slot, rest)
        return
      }
      this.timers.delete(name)
      if (name === 'connectRetry') this.event({ type: 'ConnectRetryTimerExpires', inFlight: this.dialling })
      else this.event({ type: TIMER_EVENT[name] } as FsmEvent)
    }, ms)
  }

  private write(m: BgpMessage): void {
    if (!this.socket) return
    if (m.type === 'NOTIFICATION') this.log.info({ code: m.code, subcode: m.subcode }, 'sending notification')
    this.socket.write(encodeMessage(m, { as4: this.fsm.as4 }))
    this.messagesOut++
  }

  private onUpdateMsg(m: UpdateMessage | KeyedUpdate): void {
    if (m.treatAsWithdraw)
      this.log.warn(
        { err: m.treatAsWithdraw.message, code: m.treatAsWithdraw.kind },
        'malformed UPDATE treated as withdraw',
      )
    for (const d2 of m.discarded ?? []) this.log.warn({ err: d2.message, code: d2.kind }, 'attribute discarded')
    this.event({ type: 'UpdateMsg', update: m })
  }

  private onData(chunk: Uint8Array): void {
    for (const f of this.framer.push(chunk)) {
      if (this.fsm.state === 'Idle' || this.closed) return
      if (!f.ok) {
        this.event({ type: 'BGPHeaderErr', error: f.error })
        return
      }
      this.messagesIn++
      if (f.type === MSG.UPDATE) {
        // The receive path: prefixes as keys, attribute sets decoded once per distinct bytes.
        const u = decodeUpdateFrame(f.bytes, { as4: this.fsm.as4 }, this.attrCache)
        if (!u.ok) this.event(errorEvent(f.type, u.error))
        else this.onUpdateMsg(u.msg)
        continue
      }
      const d = decodeMessage(f.bytes, { as4: this.fsm.as4 })
      if (!d.ok) {
        this.event(errorEvent(f.type, d.error))
        continue
      }
      const m = d.msg
      switch (m.type) {
        case 'OPEN':
          this.event({ type: 'BGPOpen', open: m })
          break
        case 'UPDATE':
          this.onUpdateMsg(m)
          break
        case 'KEEPALIVE':
          this.event({ type: 'KeepAliveMsg' })
          break
        case 'NOTIFICATION':
          this.log.info({ code: m.code, subcode: m.subcode }, 'received notification')
          this.event({ type: 'NotifMsg', code: m.code, subcode: m.subcode })
          break
        case 'ROUTE_REFRESH':
          this.event({ type: 'RouteRefreshMsg' })
          break
      }
    }
  }
}

function errorEvent(type: number, error: BgpDecodeError): FsmEvent {
  if (error.code === 1) return { type: 'BGPHeaderErr', error }
  if (type === MSG.OPEN) return { type: 'BGPOpenMsgErr', error }
  if (type === MSG.UPDATE) return { type: 'UpdateMsgErr', error }
  return { type: 'BGPHeaderErr', error }
}
