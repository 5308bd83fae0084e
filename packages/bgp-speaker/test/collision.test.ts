/**
 * Connection collisions on real sockets (RFC 4271 §6.8): a scripted raw peer opens the connections
 * in exactly the order under test.
 * - same side twice (the peer's connect retry fired while its first connect + OPEN were in
 *   flight): the later connection supersedes the earlier one, which gets Cease 6/7; the session on
 *   the later connection comes up with no error and no error wait;
 * - opposite sides: the connection initiated by the higher BGP identifier survives, the other one
 *   gets Cease 6/7, whichever order the OPENs arrive in.
 */
import * as net from 'node:net'
import t, { type Test } from 'tap'
import {
  type BgpMessage,
  decodeMessage,
  defaultCapabilities,
  encodeMessage,
  Framer,
  openMessage,
} from '../src/index.ts'
import { eventually, listeningSpeaker } from './bird-helper.ts'

const RAW = '127.0.3.9'
const AS = 64512

/** One raw BGP connection: records what it receives, sends what the test says. */
class RawConn {
  readonly got: BgpMessage[] = []
  closed = false
  private readonly framer = new Framer()
  readonly sock: net.Socket
  constructor(sock: net.Socket) {
    this.sock = sock
    sock.on('data', (c: Buffer) => {
      for (const f of this.framer.push(c)) {
        if (!f.ok) continue
        const d = decodeMessage(f.bytes, { as4: true })
        if (d.ok) this.got.push(d.msg)
      }
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      this.closed = true
    })
  }
  open(bgpId: number): void {
    const o = openMessage({ asn: AS, holdTime: 90, bgpId, capabilities: defaultCapabilities(AS) })
    this.sock.write(encodeMessage(o, { as4: true }))
  }
  keepalive(): void {
    this.sock.write(encodeMessage({ type: 'KEEPALIVE' }, { as4: true }))
  }
  has(type: BgpMessage['type']): boolean {
    return this.got.some((m) => m.type === type)
  }
  cease(): [number, number] | undefined {
    const n = this.got.find((m) => m.type === 'NOTIFICATION')
    return n && n.type === 'NOTIFICATION' ? [n.code, n.subcode] : undefined
  }
}

function dial(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.3.1', port, localAddress: RAW })
    sock.once('connect', () => resolve(new RawConn(sock)))
    sock.once('error', reject)
  })
}

async function rawListener(t: Test): Promise<{ port: number; accepted: RawConn[] }> {
  const accepted: RawConn[] = []
  const server = net.createServer((s) => accepted.push(new RawConn(s)))
  await new Promise<void>((r) => server.listen({ host: RAW, port: 0 }, () => r()))
  t.teardown(() => {
    for (const c of accepted) c.sock.destroy()
    server.close()
  })
  return { port: (server.address() as net.AddressInfo).port, accepted }
}

t.test('same side twice: the later connection supersedes the earlier, no penalty', async (t) => {
  const { speaker: sp, port } = await listeningSpeaker(t, { routerId: '198.19.0.1', asNumber: AS, host: '127.0.3.1' })
  sp.addPeer({ name: 'raw', address: RAW, port: 1, asNumber: AS, passive: true })
  const c1 = await dial(port)
  t.teardown(() => c1.sock.destroy())
  t.ok(await eventually(() => c1.has('OPEN')), 'first connection gets the OPEN')
  c1.open(0x0a000009) // its OPEN is in flight when the peer gives up on it and dials again
  const c2 = await dial(port)
  t.teardown(() => c2.sock.destroy())
  t.ok(await eventually(() => c2.has('OPEN')), 'second connection gets an OPEN')
  t.ok(await eventually(() => c1.closed), 'first connection is closed')
  t.same(c1.cease(), [6, 7], 'with Cease 6/7 (Connection Collision Resolution)')
  c2.open(0x0a000009)
  t.ok(await eventually(() => c2.has('KEEPALIVE')), 'OPEN accepted on the second')
  c2.keepalive()
  t.ok(await eventually(() => sp.status()[0]?.state === 'Established'), 'Established on the second connection')
  const st = sp.status()[0]
  t.equal(st?.lastError, undefined, 'no error recorded')
  t.equal(c2.cease(), undefined, 'the surviving connection got no NOTIFICATION')
  t.notOk(c2.closed)
})

for (const [name, peerId, keep] of [
  ['peer id higher: the connection the peer opened survives', 0xc6130003, 'inbound'],
  ['peer id lower: the connection we opened survives', 0x01010101, 'outbound'],
] as const) {
  t.test(`opposite sides, ${name}`, async (t) => {
    const { speaker: sp, port } = await listeningSpeaker(t, {
      routerId: '198.19.0.2',
      asNumber: AS,
      host: '127.0.3.1',
    })
    const raw = await rawListener(t)
    sp.addPeer({ name: 'raw', address: RAW, port: raw.port, asNumber: AS, localAddress: '127.0.3.1' })
    t.ok(await eventually(() => raw.accepted.length === 1 && (raw.accepted[0] as RawConn).has('OPEN')), 'speaker dials')
    const out = raw.accepted[0] as RawConn
    const inb = await dial(port)
    t.teardown(() => inb.sock.destroy())
    t.ok(await eventually(() => inb.has('OPEN')), 'speaker answers the peer dial with an OPEN too')
    // OPENs on both: the speaker now knows the peer's identifier and resolves.
    inb.open(peerId)
    out.open(peerId)
    const [winner, loser] = keep === 'inbound' ? [inb, out] : [out, inb]
    t.ok(await eventually(() => loser.cease() !== undefined), 'loser told')
    t.same(loser.cease(), [6, 7], 'Cease 6/7 on the losing connection')
    t.ok(await eventually(() => winner.has('KEEPALIVE')), 'winner in OpenConfirm')
    winner.keepalive()
    t.ok(await eventually(() => sp.status()[0]?.state === 'Established'), 'Established')
    t.equal(winner.cease(), undefined, 'winner got no NOTIFICATION')
    t.equal(sp.status()[0]?.lastError, undefined)
    t.equal(raw.accepted.length, 1, 'no further dial while the session is up')
  })
}

t.test('a peer that resolved a collision against our dial: we wait for its connection', async (t) => {
  const { speaker: sp, port } = await listeningSpeaker(t, { routerId: '198.19.0.2', asNumber: AS, host: '127.0.3.1' })
  const raw = await rawListener(t)
  sp.addPeer({ name: 'raw', address: RAW, port: raw.port, asNumber: AS, localAddress: '127.0.3.1' })
  t.ok(await eventually(() => raw.accepted.length === 1 && (raw.accepted[0] as RawConn).has('OPEN')))
  const out = raw.accepted[0] as RawConn
  // The peer (higher id) dumps our connection before we have seen its own.
  out.sock.end(encodeMessage({ type: 'NOTIFICATION', code: 6, subcode: 7, data: new Uint8Array(0) }, { as4: true }))
  t.ok(await eventually(() => sp.status()[0]?.state === 'Active'), 'Active, not Idle (no error wait)')
  const inb = await dial(port)
  t.teardown(() => inb.sock.destroy())
  t.ok(await eventually(() => inb.has('OPEN')), 'its connection is accepted')
  inb.open(0xc6130003)
  t.ok(await eventually(() => inb.has('KEEPALIVE')))
  inb.keepalive()
  t.ok(await eventually(() => sp.status()[0]?.state === 'Established'), 'Established on the peer connection')
  t.equal(inb.cease(), undefined)
})
