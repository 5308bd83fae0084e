import t from 'tap'
import { formatPrefix } from '../src/index.ts'
import { eventually, freePort, haveBird, listeningSpeaker, startBird } from './bird-helper.ts'

if (!haveBird()) {
  t.test('real BIRD interop', { skip: '/usr/sbin/bird not installed (apt-get install bird2)' }, async () => {})
} else {
  t.test('real BIRD 2 peers with the speaker (iBGP, AS 64512)', async (t) => {
    const { speaker: sp, port: spPort } = await listeningSpeaker(t, {
      routerId: '198.19.0.2',
      asNumber: 64512,
      host: '127.0.4.2',
    })
    const birdPort = await freePort('127.0.4.1')
    const bird = await startBird({
      localAddr: '127.0.4.1',
      localPort: birdPort,
      localAs: 64512,
      peerAddr: '127.0.4.2',
      peerPort: spPort,
      peerAs: 64512,
      routes: ['198.19.48.0/20', '198.19.64.0/24'],
    })
    t.teardown(() => bird.stop())
    sp.originate('198.19.16.0/26')
    sp.addPeer({
      name: 'bird',
      address: '127.0.4.1',
      port: birdPort,
      asNumber: 64512,
      localAddress: '127.0.4.2',
      nextHopSelf: '198.19.0.2',
    })

    t.ok(
      await eventually(() => /peer1\s+BGP\s+---\s+up\s+.*Established/.test(bird.birdc('show protocols'))),
      'birdc show protocols: Established',
    )
    t.equal(sp.status()[0]?.state, 'Established')
    t.ok(await eventually(() => sp.rib.size === 3), 'BIRD static routes reach the speaker RIB')
    const got = [...sp.rib.routes()].map((r) => formatPrefix(r.prefix)).sort()
    t.same(got, ['198.19.16.0/26', '198.19.48.0/20', '198.19.64.0/24'])
    const fromBird = sp.rib.best({ addr: 0xc6133000, len: 20 })
    t.equal(fromBird?.attrs.nextHop, 0x7f000401, 'next hop self = BIRD local address')
    t.equal(fromBird?.attrs.localPref, 100)

    t.ok(await eventually(() => bird.birdc('show route').includes('198.19.16.0/26')), 'our prefix in birdc show route')
    const all = bird.birdc('show route all 198.19.16.0/26')
    t.match(all, /BGP.next_hop: 198\.19\.0\.2/, 'BIRD sees our next hop (emulated node IP)')
    t.match(all, /BGP.local_pref: 100/)

    sp.withdraw('198.19.16.0/26')
    t.ok(await eventually(() => !bird.birdc('show route').includes('198.19.16.0/26')), 'our withdrawal reaches BIRD')
    bird.birdc('disable out4')
    t.ok(await eventually(() => sp.rib.size === 0), "BIRD's withdrawal reaches the speaker")
    bird.birdc('enable out4')
    t.ok(await eventually(() => sp.rib.size === 2), 'and its routes come back')
  })

  t.test('wrong AS: BIRD answers NOTIFICATION 2/2 (Bad peer AS)', async (t) => {
    const { speaker: sp, port: spPort } = await listeningSpeaker(t, {
      routerId: '198.19.0.3',
      asNumber: 64512,
      host: '127.0.4.4',
    })
    const birdPort = await freePort('127.0.4.3')
    // BIRD expects AS 65001 on this neighbour; the speaker is AS 64512.
    const bird = await startBird({
      localAddr: '127.0.4.3',
      localPort: birdPort,
      localAs: 64512,
      peerAddr: '127.0.4.4',
      peerPort: spPort,
      peerAs: 65001,
      routes: [],
    })
    t.teardown(() => bird.stop())
    sp.addPeer({ name: 'bird', address: '127.0.4.3', port: birdPort, asNumber: 64512, localAddress: '127.0.4.4' })
    t.ok(
      await eventually(() => (sp.status()[0]?.lastError ?? '').includes('Bad peer AS')),
      `speaker: ${sp.status()[0]?.lastError}`,
    )
    t.equal(sp.status()[0]?.lastError, 'Received: OPEN message error: Bad peer AS')
    t.ok(await eventually(() => /Bad peer AS/.test(bird.birdc('show protocols all peer1'))), 'BIRD shows the error too')
    t.not(sp.status()[0]?.state, 'Established')
  })
}
