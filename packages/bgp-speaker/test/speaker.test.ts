import * as net from 'node:net'
import t, { type Test } from 'tap'
import {
  decodeMessage,
  defaultCapabilities,
  encodeMessage,
  Framer,
  formatPrefix,
  openMessage,
  type Speaker,
} from '../src/index.ts'
import { eventually, listeningSpeaker } from './bird-helper.ts'

async function pair(t: Test, opts: { bAs?: number } = {}): Promise<[Speaker, Speaker]> {
  const { speaker: a, port: aPort } = await listeningSpeaker(t, {
    routerId: '198.19.0.1',
    asNumber: 64512,
    host: '127.0.3.1',
  })
  const { speaker: b, port: bPort } = await listeningSpeaker(t, {
    routerId: '198.19.0.2',
    asNumber: opts.bAs ?? 64512,
    host: '127.0.3.2',
  })
  a.addPeer({
    name: 'b',
    address: '127.0.3.2',
    port: bPort,
    asNumber: 64512,
    localAddress: '127.0.3.1',
    nextHopSelf: '198.19.0.1',
    connectRetryTime: 1,
  })
  b.addPeer({
    name: 'a',
    address: '127.0.3.1',
    port: aPort,
    asNumber: 64512,
    localAddress: '127.0.3.2',
    nextHopSelf: '198.19.0.2',
    passive: true,
  })
  return [a, b]
}

t.test('two speakers: Established, routes both ways, withdrawal, onRoutes', async (t) => {
  const [a, b] = await pair(t)
  const seen: string[] = []
  b.onRoutes((cs) => {
    for (const c of cs) seen.push(`${formatPrefix(c.prefix)} ${c.best ? 'up' : 'down'}`)
  })
  // The count-only listener: told how many prefixes changed, with the RIB already updated.
  const counts: string[] = []
  b.onRibChange((n) => counts.push(`${n} -> ${b.rib.size}`))
  t.ok(
    await eventually(() => a.status()[0]?.state === 'Established' && b.status()[0]?.state === 'Established'),
    'both Established',
  )
  a.originate('198.19.16.0/26')
  b.originate('198.19.17.0/26')
  t.ok(await eventually(() => b.rib.size === 2 && a.rib.size === 2), 'routes flow both ways')
  const r = b.rib.best({ addr: 0xc6131000, len: 26 })
  t.equal(r?.attrs.nextHop, 0xc6130001, 'next hop is the emulated node address')
  t.equal(r?.attrs.localPref, 100)
  a.withdraw('198.19.16.0/26')
  t.ok(await eventually(() => b.rib.size === 1), 'withdrawal propagates')
  t.same(
    seen.filter((s) => s.startsWith('198.19.16.0')),
    ['198.19.16.0/26 up', '198.19.16.0/26 down'],
  )
  t.same(counts.sort(), ['1 -> 1', '1 -> 1', '1 -> 2'], 'own route, learned route, withdrawal')
  const st = a.status()[0]
  t.equal(st?.protoState, 'up')
  t.equal(st?.holdTime, 240)
  t.equal(st?.peerRouterId, '198.19.0.2')
  t.equal(st?.routesImported, 1)
})

t.test('wrong AS: the peer gets NOTIFICATION 2/2 and both stay down', async (t) => {
  const [a, b] = await pair(t, { bAs: 65000 })
  t.ok(
    await eventually(() => (a.status()[0]?.lastError ?? '').includes('Bad peer AS')),
    `a: ${a.status()[0]?.lastError}`,
  )
  t.ok(
    await eventually(() => (b.status()[0]?.lastError ?? '').includes('Bad peer AS')),
    `b: ${b.status()[0]?.lastError}`,
  )
  t.not(a.status()[0]?.state, 'Established')
})

/** A raw client: OPEN, KEEPALIVE, then whatever bytes; returns the NOTIFICATION received. */
async function rawPeer(port: number, bad: Uint8Array): Promise<[number, number] | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.3.1', port, localAddress: '127.0.3.9' })
    const f = new Framer()
    let opened = false
    sock.on('connect', () => {
      sock.write(
        encodeMessage(
          openMessage({ asn: 64512, holdTime: 90, bgpId: 0x01020304, capabilities: defaultCapabilities(64512) }),
          { as4: true },
        ),
      )
    })
    sock.on('data', (c) => {
      for (const fr of f.push(c)) {
        if (!fr.ok) continue
        const d = decodeMessage(fr.bytes, { as4: true })
        if (!d.ok) continue
        if (d.msg.type === 'OPEN' && !opened) {
          opened = true
          sock.write(encodeMessage({ type: 'KEEPALIVE' }, { as4: true }))
        } else if (d.msg.type === 'KEEPALIVE' && opened) {
          sock.write(bad)
        } else if (d.msg.type === 'NOTIFICATION') {
          resolve([d.msg.code, d.msg.subcode])
          sock.destroy()
        }
      }
    })
    sock.on('error', () => resolve(undefined))
    sock.on('close', () => resolve(undefined))
  })
}

t.test('malformed input gets the right NOTIFICATION and never crashes the speaker', async (t) => {
  const { speaker: a, port } = await listeningSpeaker(t, { routerId: '198.19.0.1', asNumber: 64512, host: '127.0.3.1' })
  a.addPeer({ name: 'raw', address: '127.0.3.9', port: 1, asNumber: 64512, passive: true, connectRetryTime: 1 })
  const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (x) => Number.parseInt(x, 16))
  const M = 'ffffffffffffffffffffffffffffffff'
  const cases: [string, string, [number, number]][] = [
    ['bad marker', `${M.replace(/^ff/, '00')}0013 04`, [1, 1]],
    ['bad length', `${M}0012 04`, [1, 2]],
    ['bad type', `${M}0013 0b`, [1, 3]],
    ['invalid network field', `${M}001c 02 0000 0000 21 0a000000 00`.replace('001c', '001d'), [3, 10]],
    ['unrecognized well-known', `${M}001b 02 0000 0004 40 63 01 00`, [3, 2]],
  ]
  for (const [name, bytes, want] of cases) {
    await eventually(() => a.status()[0]?.state === 'Active', 15000)
    const got = await rawPeer(port, hex(bytes))
    t.same(got, want, name)
  }
  t.ok(await eventually(() => a.status()[0]?.state === 'Active', 15000), 'speaker still serves after errors')
})
