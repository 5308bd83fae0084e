import { FakeClock, type Timer } from '@calilab/kit'
import t from 'tap'
import { type BgpMessage, defaultCapabilities, openMessage } from '../src/core/codec/index.ts'
import {
  connectRetryMs,
  type FsmAction,
  type FsmEvent,
  type FsmState,
  fsmConfig,
  initialFsm,
  keepaliveFor,
  keepLocallyInitiated,
  step,
  type TimerName,
} from '../src/core/fsm.ts'

const ID_LOCAL = 0x7f000101
const ID_PEER = 0x7f000102

/** Drives the pure FSM the way the shell does: timers on a fake clock feed events back in. */
class Harness {
  s: FsmState
  clock = new FakeClock()
  timers = new Map<TimerName, Timer>()
  sent: BgpMessage[] = []
  log: FsmAction['type'][] = []
  reasons: string[] = []

  constructor(cfg: Partial<Parameters<typeof fsmConfig>[0]> = {}) {
    this.s = initialFsm(fsmConfig({ localAs: 64512, routerId: ID_LOCAL, peerAs: 64512, ...cfg }))
  }

  ev(e: FsmEvent): this {
    const r = step(this.s, e)
    this.s = r.next
    this.reasons.push(r.reason)
    for (const a of r.actions) {
      this.log.push(a.type)
      if (a.type === 'send') this.sent.push(a.msg)
      else if (a.type === 'startTimer') {
        this.timers.get(a.timer)?.cancel()
        const name = a.timer
        this.timers.set(
          name,
          this.clock.setTimeout(() => {
            this.timers.delete(name)
            const map: Record<TimerName, FsmEvent['type']> = {
              connectRetry: 'ConnectRetryTimerExpires',
              hold: 'HoldTimerExpires',
              keepalive: 'KeepaliveTimerExpires',
              idleHold: 'IdleHoldTimerExpires',
            }
            this.ev({ type: map[name] } as FsmEvent)
          }, a.ms),
        )
      } else if (a.type === 'stopTimer') {
        this.timers.get(a.timer)?.cancel()
        this.timers.delete(a.timer)
      }
    }
    return this
  }

  established(peerHold = 90): this {
    this.ev({ type: 'ManualStart' }).ev({ type: 'TcpCrAcked' })
    this.ev({ type: 'BGPOpen', open: peerOpen(peerHold) }).ev({ type: 'KeepAliveMsg' })
    return this
  }

  lastSent(): BgpMessage | undefined {
    return this.sent[this.sent.length - 1]
  }
}

function peerOpen(hold = 90, asn = 64512, id = ID_PEER) {
  return openMessage({ asn, holdTime: hold, bgpId: id, capabilities: defaultCapabilities(asn) })
}

t.test('active open: Idle -> Connect -> OpenSent -> OpenConfirm -> Established', (t) => {
  const h = new Harness({ holdTime: 240 })
  h.ev({ type: 'ManualStart' })
  t.equal(h.s.state, 'Connect')
  t.ok(h.log.includes('connect'))
  h.ev({ type: 'TcpCrAcked' })
  t.equal(h.s.state, 'OpenSent')
  t.equal(h.lastSent()?.type, 'OPEN')
  h.ev({ type: 'BGPOpen', open: peerOpen(90) })
  t.equal(h.s.state, 'OpenConfirm')
  t.equal(h.s.holdTime, 90, 'hold time is the smaller of both')
  t.equal(h.s.keepaliveTime, 30)
  t.ok(h.s.as4)
  t.equal(h.lastSent()?.type, 'KEEPALIVE')
  h.ev({ type: 'KeepAliveMsg' })
  t.equal(h.s.state, 'Established')
  t.ok(h.log.includes('established'))
  t.same(h.reasons, ['ManualStart', 'TcpCrAcked', 'BGPOpen', 'KeepAliveMsg'])
  t.end()
})

t.test('keepalives every hold/3; updates and keepalives restart the hold timer', (t) => {
  const h = new Harness().established(90)
  const before = h.sent.length
  h.clock.advance(30_000)
  t.equal(h.sent.length, before + 1)
  t.equal(h.lastSent()?.type, 'KEEPALIVE')
  h.clock.advance(60_000 - 1)
  t.equal(h.s.state, 'Established')
  h.ev({ type: 'KeepAliveMsg' })
  h.clock.advance(89_000)
  t.equal(h.s.state, 'Established', 'keepalive restarted the hold timer')
  h.ev({ type: 'UpdateMsg', update: { type: 'UPDATE', withdrawn: [], nlri: [] } })
  t.ok(h.log.includes('deliverUpdate'))
  h.clock.advance(89_000)
  t.equal(h.s.state, 'Established', 'update restarted the hold timer')
  t.end()
})

t.test('hold timer expiry sends NOTIFICATION 4/0 and goes Idle, then restarts after error wait', (t) => {
  const h = new Harness().established(90)
  h.clock.advance(90_000)
  t.equal(h.s.state, 'Idle')
  const n = h.sent.find((m) => m.type === 'NOTIFICATION')
  t.same(n && n.type === 'NOTIFICATION' && [n.code, n.subcode], [4, 0])
  t.ok(h.log.includes('down'), 'RIB told to flush')
  t.equal(h.s.lastError, 'Error: Hold timer expired')
  t.ok(h.reasons.includes('HoldTimerExpires'))
  h.clock.advance(5_000)
  t.equal(h.s.state, 'Connect', 'automatic restart after error wait 5 s')
  t.end()
})

t.test('hold time 0: no keepalives, no hold timer', (t) => {
  const h = new Harness({ holdTime: 0 }).established(90)
  t.equal(h.s.holdTime, 0)
  const n = h.sent.length
  h.clock.advance(3_600_000)
  t.equal(h.s.state, 'Established')
  t.equal(h.sent.length, n)
  t.equal(keepaliveFor(9), 3)
  t.equal(keepaliveFor(240, 30), 30)
  t.equal(keepaliveFor(0), 0)
  t.end()
})

t.test('passive peer waits in Active and never connects', (t) => {
  const h = new Harness({ passive: true })
  h.ev({ type: 'ManualStart' })
  t.equal(h.s.state, 'Active')
  h.clock.advance(60_000)
  t.equal(h.s.state, 'Active')
  t.notOk(h.log.includes('connect'))
  h.ev({ type: 'TcpConnectionConfirmed' })
  t.equal(h.s.state, 'OpenSent')
  t.end()
})

t.test('connect retry: Connect -> Active on failure, reconnects when the timer fires', (t) => {
  const h = new Harness()
  h.ev({ type: 'ManualStart' }).ev({ type: 'TcpConnectionFails' })
  t.equal(h.s.state, 'Active')
  const connects = h.log.filter((a) => a === 'connect').length
  h.clock.advance(5_000)
  t.equal(h.s.state, 'Connect')
  t.equal(h.log.filter((a) => a === 'connect').length, connects + 1)
  h.clock.advance(5_000)
  t.equal(h.s.state, 'Connect', 'retried again while connect hangs')
  t.end()
})

t.test('OPEN checks: bad peer AS -> 2/2, same router id -> 2/3', (t) => {
  const h = new Harness()
  h.ev({ type: 'ManualStart' })
    .ev({ type: 'TcpCrAcked' })
    .ev({ type: 'BGPOpen', open: peerOpen(90, 65000) })
  t.equal(h.s.state, 'Idle')
  const n = h.lastSent()
  t.same(n?.type === 'NOTIFICATION' && [n.code, n.subcode], [2, 2])
  t.equal(h.s.lastError, 'Error: OPEN message error: Bad peer AS')
  t.match(h.reasons.at(-1), /BGP_OPEN_BAD_PEER_AS/)
  const h2 = new Harness()
  h2.ev({ type: 'ManualStart' })
    .ev({ type: 'TcpCrAcked' })
    .ev({ type: 'BGPOpen', open: peerOpen(90, 64512, ID_LOCAL) })
  const n2 = h2.lastSent()
  t.same(n2?.type === 'NOTIFICATION' && [n2.code, n2.subcode], [2, 3])
  t.end()
})

t.test('errors from the codec become their NOTIFICATION', (t) => {
  const h = new Harness().established()
  h.ev({
    type: 'UpdateMsgErr',
    error: { kind: 'BGP_UPDATE_INVALID_NETWORK_FIELD', code: 3, subcode: 10, data: new Uint8Array(), message: '' },
  })
  const n = h.lastSent()
  t.same(n?.type === 'NOTIFICATION' && [n.code, n.subcode], [3, 10])
  t.equal(h.s.state, 'Idle')
  const h2 = new Harness()
  h2.ev({ type: 'ManualStart' }).ev({ type: 'TcpCrAcked' })
  h2.ev({
    type: 'BGPHeaderErr',
    error: { kind: 'BGP_HEADER_NOT_SYNCHRONIZED', code: 1, subcode: 1, data: new Uint8Array(), message: '' },
  })
  const n2 = h2.lastSent()
  t.same(n2?.type === 'NOTIFICATION' && [n2.code, n2.subcode], [1, 1])
  t.end()
})

t.test('unexpected messages are FSM errors (RFC 6608 subcodes)', (t) => {
  const h = new Harness()
  h.ev({ type: 'ManualStart' }).ev({ type: 'TcpCrAcked' }).ev({ type: 'KeepAliveMsg' })
  const n = h.lastSent()
  t.same(n?.type === 'NOTIFICATION' && [n.code, n.subcode], [5, 1])
  const h2 = new Harness().established()
  h2.ev({ type: 'BGPOpen', open: peerOpen() })
  const n2 = h2.lastSent()
  t.same(n2?.type === 'NOTIFICATION' && [n2.code, n2.subcode], [5, 3])
  t.end()
})

t.test('received NOTIFICATION, TCP loss and manual stop', (t) => {
  const h = new Harness().established()
  h.ev({ type: 'NotifMsg', code: 6, subcode: 2 })
  t.equal(h.s.state, 'Idle')
  t.equal(h.s.lastError, 'Received: Cease: Administrative shutdown')
  const h2 = new Harness().established()
  h2.ev({ type: 'TcpConnectionFails' })
  t.equal(h2.s.state, 'Idle')
  t.ok(h2.log.includes('down'))
  const h3 = new Harness().established()
  h3.ev({ type: 'ManualStop' })
  const n = h3.lastSent()
  t.same(n?.type === 'NOTIFICATION' && [n.code, n.subcode], [6, 2])
  h3.clock.advance(600_000)
  t.equal(h3.s.state, 'Idle', 'no automatic restart after a manual stop')
  t.equal(h3.clock.timerCount, 0, 'no timers left')
  t.end()
})

t.test('OpenSent: TCP failure -> Active; hold timer 240 s', (t) => {
  const h = new Harness()
  h.ev({ type: 'ManualStart' }).ev({ type: 'TcpCrAcked' }).ev({ type: 'TcpConnectionFails' })
  t.equal(h.s.state, 'Active')
  const h2 = new Harness()
  h2.ev({ type: 'ManualStart' }).ev({ type: 'TcpCrAcked' })
  h2.clock.advance(239_000)
  t.equal(h2.s.state, 'OpenSent')
  h2.clock.advance(1_000)
  t.equal(h2.s.state, 'Idle')
  t.end()
})

t.test('collision: connection dump sends Cease 6/7; the higher identifier initiator wins', (t) => {
  const h = new Harness()
  h.ev({ type: 'ManualStart' })
    .ev({ type: 'TcpCrAcked' })
    .ev({ type: 'BGPOpen', open: peerOpen() })
    .ev({ type: 'OpenCollisionDump' })
  const n = h.lastSent()
  t.same(n?.type === 'NOTIFICATION' && [n.code, n.subcode], [6, 7])
  t.equal(h.s.state, 'Idle')
  t.equal(keepLocallyInitiated(ID_PEER, ID_LOCAL), true)
  t.equal(keepLocallyInitiated(ID_LOCAL, ID_PEER), false)
  t.equal(keepLocallyInitiated(0xc6130001, 0x7f000001), true, 'compared unsigned')
  t.end()
})

t.test('connect retry pacing: short first retry after a failed dial, doubling up to ConnectRetry', (t) => {
  const h = new Harness()
  const dials = () => h.log.filter((a) => a === 'connect').length
  h.ev({ type: 'ManualStart' })
  const waits: number[] = []
  for (let i = 0; i < 7; i++) {
    h.ev({ type: 'TcpConnectionFails' })
    const before = dials()
    let ms = 0
    while (dials() === before && ms < 10_000) {
      h.clock.advance(50)
      ms += 50
    }
    waits.push(ms)
  }
  t.same(waits, [250, 500, 1000, 2000, 4000, 5000, 5000])
  t.equal(connectRetryMs(fsmConfig({ localAs: 1, routerId: 1, connectRetryFirst: 0 }), 1), 5000, '0 = BIRD pacing')
  // Established resets the pacing.
  h.ev({ type: 'TcpCrAcked' }).ev({ type: 'BGPOpen', open: peerOpen() }).ev({ type: 'KeepAliveMsg' })
  t.equal(h.s.connectFailures, 0)
  t.end()
})

t.test('connect retry with a dial in flight: no second connection', (t) => {
  const h = new Harness()
  h.ev({ type: 'ManualStart' })
  const dials = h.log.filter((a) => a === 'connect').length
  h.ev({ type: 'ConnectRetryTimerExpires', inFlight: true })
  t.equal(h.s.state, 'Connect')
  t.equal(h.log.filter((a) => a === 'connect').length, dials, 'the dial in flight is kept')
  t.equal(h.reasons.at(-1), 'ConnectRetryTimerExpires:dialInFlight')
  t.ok(h.timers.has('connectRetry'), 'timer restarted')
  h.ev({ type: 'TcpCrAcked' })
  t.equal(h.s.state, 'OpenSent', 'the late completion carries on')
  t.end()
})

t.test('Cease 6/7 received (collision lost): Active, no error wait, no penalty', (t) => {
  const h = new Harness()
  h.ev({ type: 'ManualStart' }).ev({ type: 'TcpCrAcked' })
  h.ev({ type: 'NotifMsg', code: 6, subcode: 7 })
  t.equal(h.s.state, 'Active')
  t.equal(h.s.connectRetryCounter, 0, 'no error counted')
  t.notOk(h.timers.has('idleHold'), 'no error wait')
  t.ok(h.timers.has('connectRetry'))
  t.match(h.s.lastError, /^Received: .*Connection collision resolution/)
  // Other Cease subcodes still go to Idle with the error wait.
  const h2 = new Harness()
  h2.ev({ type: 'ManualStart' }).ev({ type: 'TcpCrAcked' }).ev({ type: 'NotifMsg', code: 6, subcode: 5 })
  t.equal(h2.s.state, 'Idle')
  t.ok(h2.timers.has('idleHold'))
  t.end()
})

t.test('ManualStartPassive waits in Active; ManualStop with a Cease subcode', (t) => {
  const h = new Harness()
  h.ev({ type: 'ManualStartPassive' })
  t.equal(h.s.state, 'Active')
  t.notOk(h.log.includes('connect'))
  h.ev({ type: 'TcpConnectionConfirmed' })
  t.equal(h.s.state, 'OpenSent')
  const e = new Harness().established()
  e.ev({ type: 'ManualStop', subcode: 6 })
  const n = e.lastSent()
  t.same(n?.type === 'NOTIFICATION' && [n.code, n.subcode], [6, 6], 'Cease 6/6 Other Configuration Change')
  t.ok(e.log.includes('down'))
  t.end()
})
