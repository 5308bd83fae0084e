/**
 * The session's FSM timers on a fake clock over a real loopback connection: the hold timer is
 * restarted by every KEEPALIVE/UPDATE (the shell moves its deadline instead of rescheduling it)
 * and expires hold time after the last one, with NOTIFICATION 4/0.
 */
import * as net from 'node:net'
import { FakeClock, silentLogger } from '@calilab/kit'
import t from 'tap'
import {
  decodeMessage,
  defaultCapabilities,
  encodeAnnouncements,
  encodeKeepalive,
  encodeOpen,
  Framer,
  openMessage,
} from '../src/core/codec/index.ts'
import { fsmConfig } from '../src/core/fsm.ts'
import { Session } from '../src/io/session.ts'
import { eventually } from './bird-helper.ts'

const AS = 64512

t.test('hold timer: restarted by KEEPALIVE and UPDATE, expires hold time after the last', async (t) => {
  const clock = new FakeClock()
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r))
  const peer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  t.teardown(() => peer.destroy())
  const got: string[] = []
  const framer = new Framer()
  peer.on('data', (c: Buffer) => {
    for (const f of framer.push(c)) {
      if (!f.ok) continue
      const d = decodeMessage(f.bytes, { as4: true })
      if (d.ok) got.push(d.msg.type === 'NOTIFICATION' ? `NOTIFICATION ${d.msg.code}/${d.msg.subcode}` : d.msg.type)
    }
  })
  const updates: number[] = []
  const s = new Session(
    { clock, log: silentLogger() },
    {
      peerName: 'peer',
      remote: { host: '127.0.0.1', port: 1 },
      inbound: true,
      fsm: fsmConfig({ localAs: AS, routerId: 0xc6130001, peerAs: AS, passive: true, holdTime: 9 }),
    },
    {
      onEstablished: () => {},
      onDown: () => {},
      onUpdate: (_s, u) => updates.push('keyed' in u ? u.nlriKeys.length : u.nlri.length),
      onRouteRefresh: () => {},
      onOpenConfirm: () => {},
    },
  )
  t.teardown(() => s.close())
  s.event({ type: 'ManualStartPassive' })
  s.attach(await accepted)
  peer.write(
    encodeOpen(openMessage({ asn: AS, holdTime: 9, bgpId: 0x7f000002, capabilities: defaultCapabilities(AS) })),
  )
  peer.write(encodeKeepalive())
  t.ok(await eventually(() => s.state === 'Established'), 'Established')
  t.equal(s.fsm.holdTime, 9)

  // KEEPALIVE at 6 s: the hold timer now expires at 15 s, not 9 s.
  clock.advance(6000)
  peer.write(encodeKeepalive())
  const inAt = s.messagesIn
  t.ok(await eventually(() => s.messagesIn > inAt))
  clock.advance(6000)
  t.equal(s.state, 'Established', '12 s: still up')
  // An UPDATE at 12 s restarts it too: now 21 s.
  const upd = encodeAnnouncements({ origin: 0, asPath: [], nextHop: 0xc6130009 }, [{ addr: 0x0a000000, len: 24 }], {
    as4: true,
  })
  peer.write(upd[0] as Uint8Array)
  t.ok(await eventually(() => updates.length === 1), 'UPDATE delivered')
  clock.advance(8900)
  t.equal(s.state, 'Established', '20.9 s: still up')
  // Ours: one in OpenConfirm, then every 3 s (at 3, 6, ... 18 s).
  t.ok(await eventually(() => got.filter((m) => m === 'KEEPALIVE').length === 7), 'our KEEPALIVEs every 3 s')
  clock.advance(200)
  t.equal(s.state, 'Idle', '21.1 s: hold timer expired')
  t.ok(await eventually(() => got.includes('NOTIFICATION 4/0')), 'NOTIFICATION 4/0 (hold timer expired)')
  t.equal(s.lastReason, 'HoldTimerExpires')
})
