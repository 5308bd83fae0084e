/**
 * BGP finite-state machine (RFC 4271 §8) for one TCP connection to one peer. Pure: `step(state,
 * event)` returns the next state, the actions the shell carries out (connect, send, timers) and a
 * reason. Timers are actions with durations; the shell runs them on an injected Clock.
 *
 * Defaults are BIRD 2's as Calico's bird.cfg uses them: hold 240 s (keepalive = hold/3 = 80 s),
 * `connect retry time 5`, `error wait time 5,30` (idle hold after an error, doubling to 30 s).
 * While OpenSent the hold timer runs at 240 s (RFC 4271 "large value", 4 minutes).
 */
import { type Capability, defaultCapabilities } from './codec/capabilities.ts'
import { type BgpDecodeError, CEASE_SUB, describeNotification, ERR } from './codec/errors.ts'
import type { BgpMessage } from './codec/message.ts'
import { notification } from './codec/notification.ts'
import { checkOpen, negotiatedAs4, type OpenMessage, openMessage } from './codec/open.ts'
import type { UpdateMessage } from './codec/update.ts'
import type { KeyedUpdate } from './codec/update-keys.ts'

export type FsmStateName = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established'
export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold'

export const FSM_DEFAULTS = {
  holdTime: 240,
  connectRetryTime: 5,
  errorWaitMin: 5,
  errorWaitMax: 30,
  openSentHoldTime: 240,
  minHoldTime: 3,
  connectRetryFirst: 0.25,
} as const

export interface FsmConfig {
  localAs: number
  routerId: number
  /** Expected peer AS; undefined accepts any (checked against the OPEN). */
  peerAs?: number
  /** Never connect out; wait for the peer (BIRD `passive on`). */
  passive: boolean
  /** Seconds; 0 disables keepalives and the hold timer. */
  holdTime: number
  /** Seconds; default holdTime / 3. */
  keepaliveTime?: number
  connectRetryTime: number
  /**
   * Seconds before the first retry after a refused/failed dial; each further failure doubles it up
   * to `connectRetryTime` (0 = always `connectRetryTime`, BIRD's behaviour). A peer that is not
   * listening yet (processes starting together) is dialled again quickly instead of 5 s later.
   */
  connectRetryFirst: number
  errorWaitMin: number
  errorWaitMax: number
  capabilities: Capability[]
}

export function fsmConfig(init: Partial<FsmConfig> & { localAs: number; routerId: number }): FsmConfig {
  return {
    passive: false,
    holdTime: FSM_DEFAULTS.holdTime,
    connectRetryTime: FSM_DEFAULTS.connectRetryTime,
    connectRetryFirst: FSM_DEFAULTS.connectRetryFirst,
    errorWaitMin: FSM_DEFAULTS.errorWaitMin,
    errorWaitMax: FSM_DEFAULTS.errorWaitMax,
    capabilities: defaultCapabilities(init.localAs),
    ...init,
  }
}

export interface FsmState {
  state: FsmStateName
  config: FsmConfig
  connectRetryCounter: number
  /** Dials that failed since the last start or Established (paces the connect retry timer). */
  connectFailures: number
  /** Negotiated hold time (s) once the peer's OPEN is in. */
  holdTime: number
  keepaliveTime: number
  localOpen: OpenMessage
  peerOpen?: OpenMessage
  /** Both sides speak 4-byte AS. */
  as4: boolean
  /** Last error, BIRD-style ("Received: OPEN message error: Bad peer AS"). */
  lastError?: string
}

export type FsmEvent =
  | { type: 'ManualStart' }
  /** RFC 4271 event 4 (ManualStart_with_PassiveTcpEstablishment): wait for the peer, do not dial now. */
  | { type: 'ManualStartPassive' }
  /** `subcode`: the Cease subcode sent from an open session (default 2, Administrative Shutdown). */
  | { type: 'ManualStop'; subcode?: number }
  | { type: 'IdleHoldTimerExpires' }
  /** `inFlight`: our previous dial has neither completed nor failed yet (the shell knows). */
  | { type: 'ConnectRetryTimerExpires'; inFlight?: boolean }
  | { type: 'HoldTimerExpires' }
  | { type: 'KeepaliveTimerExpires' }
  /** Our outgoing connection completed (RFC Tcp_CR_Acked). */
  | { type: 'TcpCrAcked' }
  /** The peer's connection was accepted. */
  | { type: 'TcpConnectionConfirmed' }
  | { type: 'TcpConnectionFails' }
  | { type: 'BGPOpen'; open: OpenMessage }
  | { type: 'BGPHeaderErr'; error: BgpDecodeError }
  | { type: 'BGPOpenMsgErr'; error: BgpDecodeError }
  | { type: 'UpdateMsgErr'; error: BgpDecodeError }
  | { type: 'NotifMsg'; code: number; subcode: number }
  | { type: 'KeepAliveMsg' }
  | { type: 'UpdateMsg'; update: UpdateMessage | KeyedUpdate }
  | { type: 'RouteRefreshMsg' }
  | { type: 'OpenCollisionDump' }

export type FsmAction =
  | { type: 'connect' }
  | { type: 'disconnect' }
  | { type: 'send'; msg: BgpMessage }
  | { type: 'startTimer'; timer: TimerName; ms: number }
  | { type: 'stopTimer'; timer: TimerName }
  /** Session came up: advertise the Adj-RIB-Out. */
  | { type: 'established' }
  /** Session went down from Established: flush this peer's Adj-RIB-In. */
  | { type: 'down' }
  | { type: 'deliverUpdate'; update: UpdateMessage | KeyedUpdate }
  | { type: 'deliverRouteRefresh' }

export interface FsmStep {
  next: FsmState
  actions: FsmAction[]
  reason: string
}

export function initialFsm(config: FsmConfig): FsmState {
  return {
    state: 'Idle',
    config,
    connectRetryCounter: 0,
    connectFailures: 0,
    holdTime: config.holdTime,
    keepaliveTime: keepaliveFor(config.holdTime, config.keepaliveTime),
    localOpen: openMessage({
      asn: config.localAs,
      holdTime: config.holdTime,
      bgpId: config.routerId,
      capabilities: config.capabilities,
    }),
    as4: false,
  }
}

/** Keepalive interval for a hold time: the configured one capped at hold/3, or hold/3 (0 = none). */
export function keepaliveFor(hold: number, configured?: number): number {
  if (hold === 0) return 0
  const third = Math.max(1, Math.floor(hold / 3))
  return configured === undefined ? third : Math.min(configured, third)
}

const sec = (s: number) => s * 1000

/** Connect retry period after `failures` failed dials: short first, doubling up to the configured time. */
export function connectRetryMs(c: FsmConfig, failures: number): number {
  if (c.connectRetryFirst <= 0 || c.connectRetryFirst >= c.connectRetryTime) return sec(c.connectRetryTime)
  if (failures <= 0) return sec(c.connectRetryTime)
  return sec(Math.min(c.connectRetryTime, c.connectRetryFirst * 2 ** (failures - 1)))
}
const ALL_TIMERS: TimerName[] = ['connectRetry', 'hold', 'keepalive']

function to(s: FsmState, state: FsmStateName, patch: Partial<FsmState> = {}): FsmState {
  return { ...s, ...patch, state }
}

/** Leaves for Idle: stop timers, drop TCP, tell the RIB if we were up, schedule automatic restart. */
function idle(
  s: FsmState,
  reason: string,
  opts: { notify?: BgpMessage; automaticRestart: boolean; lastError?: string; noPenalty?: boolean },
): FsmStep {
  const actions: FsmAction[] = []
  if (opts.notify) actions.push({ type: 'send', msg: opts.notify })
  actions.push({ type: 'disconnect' })
  for (const timer of ALL_TIMERS) actions.push({ type: 'stopTimer', timer })
  if (s.state === 'Established') actions.push({ type: 'down' })
  const counter = !opts.automaticRestart ? 0 : opts.noPenalty ? s.connectRetryCounter : s.connectRetryCounter + 1
  const failures = s.connectFailures + 1
  if (opts.automaticRestart && opts.noPenalty) {
    // A Cease from the peer is no error of ours (BIRD adds no startup delay for it): come back
    // paced like a failed dial, not after the error wait.
    actions.push({ type: 'startTimer', timer: 'idleHold', ms: connectRetryMs(s.config, failures) })
  } else if (opts.automaticRestart) {
    const wait = Math.min(s.config.errorWaitMax, s.config.errorWaitMin * 2 ** Math.max(0, counter - 1))
    actions.push({ type: 'startTimer', timer: 'idleHold', ms: sec(wait) })
  } else actions.push({ type: 'stopTimer', timer: 'idleHold' })
  const patch: Partial<FsmState> = {
    connectRetryCounter: counter,
    connectFailures: opts.noPenalty ? failures : s.connectFailures,
  }
  const next = to(s, 'Idle', patch)
  delete next.peerOpen
  if (opts.lastError !== undefined) next.lastError = opts.lastError
  return { next, actions, reason }
}

function notifyFromError(e: BgpDecodeError): BgpMessage {
  return notification(e.code, e.subcode, e.data)
}

function fsmError(s: FsmState, ev: FsmEvent): FsmStep {
  // RFC 6608 subcodes: 1 unexpected in OpenSent, 2 in OpenConfirm, 3 in Established.
  const sub = s.state === 'OpenSent' ? 1 : s.state === 'OpenConfirm' ? 2 : s.state === 'Established' ? 3 : 0
  const msg = notification(ERR.FSM, sub)
  return idle(s, `FsmError:${ev.type}`, {
    notify: msg,
    automaticRestart: true,
    lastError: `Error: ${describeNotification(ERR.FSM, sub)}`,
  })
}

function openSent(s: FsmState, reason: string): FsmStep {
  return {
    next: to(s, 'OpenSent'),
    actions: [
      { type: 'stopTimer', timer: 'connectRetry' },
      { type: 'send', msg: s.localOpen },
      { type: 'startTimer', timer: 'hold', ms: sec(FSM_DEFAULTS.openSentHoldTime) },
    ],
    reason,
  }
}

function start(s: FsmState, reason: string, passive = s.config.passive): FsmStep {
  const actions: FsmAction[] = [{ type: 'startTimer', timer: 'connectRetry', ms: sec(s.config.connectRetryTime) }]
  if (passive) return { next: to(s, 'Active'), actions, reason }
  actions.push({ type: 'connect' })
  return { next: to(s, 'Connect'), actions, reason }
}

/** Our dial failed (refused, reset, timed out): Active, retry after the paced connect retry time. */
function dialFailed(s: FsmState, extra: FsmAction[] = []): FsmStep {
  const failures = s.connectFailures + 1
  return {
    next: to(s, 'Active', { connectFailures: failures }),
    actions: [
      ...extra,
      { type: 'startTimer', timer: 'connectRetry', ms: connectRetryMs(s.config, s.config.passive ? 0 : failures) },
    ],
    reason: 'TcpConnectionFails',
  }
}

function onOpen(s: FsmState, open: OpenMessage): FsmStep {
  const c = s.config
  const bad = checkOpen(open, {
    localAs: c.localAs,
    localBgpId: c.routerId,
    minHoldTime: FSM_DEFAULTS.minHoldTime,
    ...(c.peerAs !== undefined ? { peerAs: c.peerAs } : {}),
  })
  if (bad) {
    return idle(s, `BGPOpenMsgErr:${bad.kind}`, {
      notify: notifyFromError(bad),
      automaticRestart: true,
      lastError: `Error: ${describeNotification(bad.code, bad.subcode)}`,
    })
  }
  const hold = Math.min(c.holdTime, open.holdTime)
  const ka = keepaliveFor(hold, c.keepaliveTime)
  const actions: FsmAction[] = [
    { type: 'stopTimer', timer: 'connectRetry' },
    { type: 'send', msg: { type: 'KEEPALIVE' } },
  ]
  if (hold > 0) {
    actions.push(
      { type: 'startTimer', timer: 'keepalive', ms: sec(ka) },
      { type: 'startTimer', timer: 'hold', ms: sec(hold) },
    )
  } else actions.push({ type: 'stopTimer', timer: 'hold' })
  const next = to(s, 'OpenConfirm', {
    peerOpen: open,
    holdTime: hold,
    keepaliveTime: ka,
    as4: negotiatedAs4(s.localOpen, open),
  })
  return { next, actions, reason: 'BGPOpen' }
}

function restartHold(s: FsmState): FsmAction[] {
  return s.holdTime > 0 ? [{ type: 'startTimer', timer: 'hold', ms: sec(s.holdTime) }] : []
}

function keepaliveTick(s: FsmState): FsmStep {
  const actions: FsmAction[] = [{ type: 'send', msg: { type: 'KEEPALIVE' } }]
  if (s.keepaliveTime > 0) actions.push({ type: 'startTimer', timer: 'keepalive', ms: sec(s.keepaliveTime) })
  return { next: s, actions, reason: 'KeepaliveTimerExpires' }
}

/** Events that close the session the same way in OpenSent, OpenConfirm and Established. */
function common(s: FsmState, ev: FsmEvent): FsmStep | undefined {
  switch (ev.type) {
    case 'ManualStop':
      return idle(s, 'ManualStop', {
        notify: notification(ERR.CEASE, ev.subcode ?? CEASE_SUB.ADMIN_SHUTDOWN),
        automaticRestart: false,
      })
    case 'HoldTimerExpires':
      return idle(s, 'HoldTimerExpires', {
        notify: notification(ERR.HOLD_TIMER_EXPIRED, 0),
        automaticRestart: true,
        lastError: 'Error: Hold timer expired',
      })
    case 'BGPHeaderErr':
    case 'BGPOpenMsgErr':
    case 'UpdateMsgErr':
      return idle(s, `${ev.type}:${ev.error.kind}`, {
        notify: notifyFromError(ev.error),
        automaticRestart: true,
        lastError: `Error: ${describeNotification(ev.error.code, ev.error.subcode)}`,
      })
    case 'NotifMsg':
      if (ev.code === ERR.CEASE && ev.subcode === CEASE_SUB.CONNECTION_COLLISION && s.state !== 'Established') {
        // The peer resolved a collision against this connection (RFC 4271 §6.8): the other
        // connection carries the session. No error wait, no penalty: wait (Active) as after a
        // failed dial, so the surviving connection is accepted.
        const r = dialFailed({ ...s, connectFailures: 0 }, [
          { type: 'disconnect' },
          { type: 'stopTimer', timer: 'hold' },
          { type: 'stopTimer', timer: 'keepalive' },
        ])
        r.next.lastError = `Received: ${describeNotification(ev.code, ev.subcode)}`
        delete r.next.peerOpen
        return { ...r, reason: 'NotifMsg:CollisionResolution' }
      }
      return idle(s, 'NotifMsg', {
        automaticRestart: true,
        noPenalty: ev.code === ERR.CEASE,
        lastError: `Received: ${describeNotification(ev.code, ev.subcode)}`,
      })
    case 'TcpConnectionFails':
      return idle(s, 'TcpConnectionFails', { automaticRestart: true, lastError: 'Socket: Connection closed' })
    case 'OpenCollisionDump':
      return idle(s, 'OpenCollisionDump', {
        notify: notification(ERR.CEASE, CEASE_SUB.CONNECTION_COLLISION),
        automaticRestart: false,
      })
    default:
      return undefined
  }
}

export function step(s: FsmState, ev: FsmEvent): FsmStep {
  switch (s.state) {
    case 'Idle':
      if (ev.type === 'ManualStart')
        return start(to(s, 'Idle', { connectRetryCounter: 0, connectFailures: 0 }), 'ManualStart')
      if (ev.type === 'ManualStartPassive')
        return start(to(s, 'Idle', { connectRetryCounter: 0, connectFailures: 0 }), 'ManualStartPassive', true)
      if (ev.type === 'IdleHoldTimerExpires') return start(s, 'AutomaticStart')
      return { next: s, actions: [], reason: `ignored:${ev.type}` }

    case 'Connect':
    case 'Active':
      switch (ev.type) {
        case 'ManualStart':
        case 'ManualStartPassive':
          return { next: s, actions: [], reason: `ignored:${ev.type}` }
        case 'ManualStop':
          return idle(s, 'ManualStop', { automaticRestart: false })
        case 'ConnectRetryTimerExpires': {
          const actions: FsmAction[] = [
            { type: 'startTimer', timer: 'connectRetry', ms: sec(s.config.connectRetryTime) },
          ]
          if (s.config.passive) return { next: s, actions, reason: 'ConnectRetryTimerExpires' }
          // One outbound connection at a time: a dial still in flight (SYN unanswered, or its
          // completion not yet processed on a busy event loop) is kept rather than replaced by a
          // second one the peer would see as a same-side collision. The shell bounds its lifetime.
          if (ev.inFlight === true && s.state === 'Connect')
            return { next: s, actions, reason: 'ConnectRetryTimerExpires:dialInFlight' }
          return {
            next: to(s, 'Connect'),
            actions: [{ type: 'disconnect' }, ...actions, { type: 'connect' }],
            reason: 'ConnectRetryTimerExpires',
          }
        }
        case 'TcpCrAcked':
        case 'TcpConnectionConfirmed':
          return openSent(s, ev.type)
        case 'TcpConnectionFails':
          if (s.state === 'Connect') return dialFailed(s)
          return idle(s, 'TcpConnectionFails', { automaticRestart: true, lastError: 'Socket: Connection closed' })
        default:
          return idle(s, `unexpected:${ev.type}`, { automaticRestart: true })
      }

    case 'OpenSent': {
      if (ev.type === 'BGPOpen') return onOpen(s, ev.open)
      if (ev.type === 'TcpConnectionFails')
        return dialFailed(s, [{ type: 'disconnect' }, { type: 'stopTimer', timer: 'hold' }])
      if (ev.type === 'ManualStart' || ev.type === 'ManualStartPassive')
        return { next: s, actions: [], reason: `ignored:${ev.type}` }
      return common(s, ev) ?? fsmError(s, ev)
    }

    case 'OpenConfirm':
      switch (ev.type) {
        case 'KeepAliveMsg':
          return {
            next: to(s, 'Established', { connectRetryCounter: 0, connectFailures: 0 }),
            actions: [...restartHold(s), { type: 'established' }],
            reason: 'KeepAliveMsg',
          }
        case 'KeepaliveTimerExpires':
          return keepaliveTick(s)
        case 'ManualStart':
        case 'ManualStartPassive':
          return { next: s, actions: [], reason: `ignored:${ev.type}` }
        default:
          return common(s, ev) ?? fsmError(s, ev)
      }

    case 'Established':
      switch (ev.type) {
        case 'KeepAliveMsg':
          return { next: s, actions: restartHold(s), reason: 'KeepAliveMsg' }
        case 'UpdateMsg':
          return {
            next: s,
            actions: [...restartHold(s), { type: 'deliverUpdate', update: ev.update }],
            reason: 'UpdateMsg',
          }
        case 'RouteRefreshMsg':
          return { next: s, actions: [...restartHold(s), { type: 'deliverRouteRefresh' }], reason: 'RouteRefreshMsg' }
        case 'KeepaliveTimerExpires':
          return keepaliveTick(s)
        case 'ManualStart':
        case 'ManualStartPassive':
          return { next: s, actions: [], reason: `ignored:${ev.type}` }
        default:
          return common(s, ev) ?? fsmError(s, ev)
      }
  }
}

/**
 * RFC 4271 §6.8 collision resolution: with two connections to one peer, the one initiated by the
 * speaker with the higher BGP identifier survives. Returns whether the connection that *we*
 * initiated is the one to keep.
 */
export function keepLocallyInitiated(localId: number, remoteId: number): boolean {
  return localId >>> 0 > remoteId >>> 0
}
