/**
 * Configuration changes without a restart (issue 5: "changes apply live; sessions they do not
 * touch stay up"): the local AS (BGPConfiguration asNumber / Node spec.bgp.asNumber) resets every
 * session of the speaker and they come back with the new AS; a peer's AS change resets only that
 * peer (the driver restarts it); a listen port change moves the listener while sessions stay.
 */
import * as net from 'node:net'
import type { BGPConfiguration, CalicoNode } from '@calilab/model'
import t, { type Test } from 'tap'
import { type BgpState, CalicoBgpDriver, desiredBgp, endpointResolver, type Speaker } from '../src/index.ts'
import { eventually, listeningSpeaker } from './bird-helper.ts'

const H = { a: '127.0.5.1', b: '127.0.5.2', c: '127.0.5.3' }

async function three(t: Test): Promise<Record<'a' | 'b' | 'c', { sp: Speaker; port: number }>> {
  const mk = async (host: string, id: string) => {
    const { speaker, port } = await listeningSpeaker(t, { routerId: id, asNumber: 64512, host })
    return { sp: speaker, port }
  }
  return { a: await mk(H.a, '198.19.0.1'), b: await mk(H.b, '198.19.0.2'), c: await mk(H.c, '198.19.0.3') }
}

const states = (sp: Speaker) => Object.fromEntries(sp.status().map((s) => [s.name, s.state]))
const allUp = (...sps: Speaker[]) => sps.every((s) => s.status().every((p) => p.state === 'Established'))

t.test('speaker: a local AS change resets its sessions, which come back with the new AS', async (t) => {
  const n = await three(t)
  const peer = (name: string, host: string, port: number, asNumber: number, local: string) => ({
    name,
    address: host,
    port,
    asNumber,
    localAddress: local,
    connectRetryTime: 1,
  })
  // a peers with b and c; b and c peer only with a.
  n.a.sp.addPeer(peer('b', H.b, n.b.port, 64512, H.a))
  n.a.sp.addPeer(peer('c', H.c, n.c.port, 64512, H.a))
  n.b.sp.addPeer({ ...peer('a', H.a, n.a.port, 64512, H.b), passive: true })
  n.c.sp.addPeer({ ...peer('a', H.a, n.a.port, 64512, H.c), passive: true })
  n.b.sp.originate('198.19.16.0/26')
  t.ok(await eventually(() => allUp(n.a.sp, n.b.sp, n.c.sp)), 'all up')
  t.ok(await eventually(() => n.a.sp.rib.size === 1), 'b route reaches a')
  const cSince = n.c.sp.status()[0]?.since
  // a moves to AS 65001: b follows (its peer config for a changes, as the driver would do), c does not.
  t.same(n.a.sp.setAsNumber(65001).sort(), ['b', 'c'], 'every session of a is reset')
  t.equal(n.a.sp.asNumber, 65001)
  t.same(n.a.sp.setAsNumber(65001), [], 'same AS: nothing to do')
  n.b.sp.removePeer('a')
  n.b.sp.addPeer({ ...peer('a', H.a, n.a.port, 65001, H.b), passive: true })
  t.ok(await eventually(() => states(n.a.sp)['b'] === 'Established', 15_000), 'a-b back up as eBGP 65001-64512')
  t.ok(await eventually(() => n.a.sp.rib.size === 1), 'b route learned again')
  const viaA = n.a.sp.rib.best({ addr: 0xc6131000, len: 26 })
  t.equal(viaA?.peer?.asn, 64512)
  // c still expects 64512 from a: its session stays down with Bad peer AS (the operator's change
  // was only half done); it was reset, not left up with a stale AS.
  t.ok(await eventually(() => /Bad peer AS/.test(n.c.sp.status()[0]?.info ?? '')), 'c sees the new AS (2/2)')
  t.not(n.c.sp.status()[0]?.since, cSince)
})

t.test('speaker: the listener moves; established sessions stay up', async (t) => {
  const n = await three(t)
  n.a.sp.addPeer({ name: 'b', address: H.b, port: n.b.port, asNumber: 64512, localAddress: H.a })
  n.b.sp.addPeer({ name: 'a', address: H.a, port: n.a.port, asNumber: 64512, passive: true })
  t.ok(await eventually(() => allUp(n.a.sp, n.b.sp)), 'a-b up')
  const since = n.b.sp.status()[0]?.since
  const oldPort = n.b.port
  const moved = await n.b.sp.setListen({ host: H.b, port: 0 })
  t.not(moved.port, oldPort, 'new port')
  t.equal(n.b.sp.address?.port, moved.port)
  // The old port refuses, the new one accepts.
  const tryConnect = (port: number) =>
    new Promise<boolean>((r) => {
      const s = net.connect({ host: H.b, port }, () => {
        s.destroy()
        r(true)
      })
      s.on('error', () => r(false))
    })
  t.equal(await tryConnect(oldPort), false, 'old port closed')
  t.equal(await tryConnect(moved.port), true, 'new port listens')
  t.equal(n.b.sp.status()[0]?.state, 'Established', 'session untouched')
  t.equal(n.b.sp.status()[0]?.since, since)
  // A port that cannot be bound keeps the old listener.
  const blocker = net.createServer()
  await new Promise<void>((r) => blocker.listen({ host: H.b, port: 0 }, () => r()))
  t.teardown(() => blocker.close())
  const taken = (blocker.address() as net.AddressInfo).port
  await t.rejects(n.b.sp.setListen({ host: H.b, port: taken }))
  t.equal(await tryConnect(moved.port), true, 'old listener kept after a failed move')
})

// ---- the Calico driver: which changes reset which sessions --------------------------------------

const cnode = (name: string, ip: string, asNumber?: number): CalicoNode =>
  ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'Node',
    metadata: { name },
    spec: { bgp: { ipv4Address: `${ip}/20`, ...(asNumber !== undefined ? { asNumber } : {}) } },
  }) as CalicoNode
const cfg = (spec: BGPConfiguration['spec']): BGPConfiguration =>
  ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec,
  }) as BGPConfiguration

function fakeSpeaker() {
  const calls: string[] = []
  let asn = 64512
  let peers: string[] = []
  return {
    calls,
    get asn() {
      return asn
    },
    addPeer: (c: { name?: string; asNumber: number }) => {
      peers.push(c.name ?? '')
      calls.push(`add ${c.name} as ${c.asNumber}`)
    },
    removePeer: (n: string) => {
      peers = peers.filter((p) => p !== n)
      calls.push(`remove ${n}`)
    },
    originate: (p: readonly string[]) => calls.push(`originate ${p.join(' ')}`),
    withdraw: (p: string) => calls.push(`withdraw ${p}`),
    setAsNumber: (a: number) => {
      if (a === asn) return []
      asn = a
      calls.push(`setAs ${a} resets ${peers.join(',')}`)
      return [...peers]
    },
  }
}

t.test('driver: global AS change resets every session; a peer node AS change resets only that peer', async (t) => {
  const nodes = [cnode('n1', '198.19.0.1'), cnode('n2', '198.19.0.2'), cnode('n3', '198.19.0.3')]
  const resolve = endpointResolver(
    new Map([
      ['198.19.0.1', H.a],
      ['198.19.0.2', H.b],
      ['198.19.0.3', H.c],
    ]),
    1790,
  )
  const st = (extra: Partial<BgpState>): BgpState => ({ nodes, ...extra })
  const sp = fakeSpeaker()
  const drv = new CalicoBgpDriver(sp, resolve, H.a)
  drv.apply(desiredBgp(st({}), 'n1'))
  t.same(sp.calls, ['add Mesh_198_19_0_2 as 64512', 'add Mesh_198_19_0_3 as 64512'], 'first apply: no reset')
  sp.calls.length = 0

  // Global asNumber 64512 -> 65000: n1's own AS and both peers' AS change.
  const r = drv.apply(desiredBgp(st({ bgpConfigurations: [cfg({ asNumber: 65000 })] }), 'n1'))
  t.same(r.asChanged, { from: 64512, to: 65000 })
  t.equal(sp.asn, 65000)
  t.same(sp.calls, [
    'remove Mesh_198_19_0_2',
    'remove Mesh_198_19_0_3',
    'setAs 65000 resets ',
    'add Mesh_198_19_0_2 as 65000',
    'add Mesh_198_19_0_3 as 65000',
  ])
  sp.calls.length = 0

  // n3 alone moves to AS 65003: on n1 only the session to n3 is reset; n1 keeps its AS.
  const n3own = [nodes[0], nodes[1], cnode('n3', '198.19.0.3', 65003)] as CalicoNode[]
  const r2 = drv.apply(desiredBgp({ nodes: n3own, bgpConfigurations: [cfg({ asNumber: 65000 })] }, 'n1'))
  t.equal(r2.asChanged, undefined)
  t.same(sp.calls, ['remove Mesh_198_19_0_3', 'add Mesh_198_19_0_3 as 65003'], 'only the n3 session')
  sp.calls.length = 0

  // On n3 itself every session resets (its local AS changed).
  const sp3 = fakeSpeaker()
  const drv3 = new CalicoBgpDriver(sp3, resolve, H.c)
  drv3.apply(desiredBgp({ nodes, bgpConfigurations: [cfg({ asNumber: 65000 })] }, 'n3'))
  sp3.calls.length = 0
  const r3 = drv3.apply(desiredBgp({ nodes: n3own, bgpConfigurations: [cfg({ asNumber: 65000 })] }, 'n3'))
  t.same(r3.asChanged, { from: 65000, to: 65003 })
  t.same(sp3.calls, ['setAs 65003 resets Mesh_198_19_0_1,Mesh_198_19_0_2'])
  t.same(r3.restarted.sort(), ['Mesh_198_19_0_1', 'Mesh_198_19_0_2'])

  // listenPort: peers dial the new port (the driver restarts those sessions); desired carries it.
  const lp = desiredBgp(st({ bgpConfigurations: [cfg({ asNumber: 65000, listenPort: 1791 })] }), 'n1')
  t.equal(lp?.listenPort, 1791)
  t.same(
    lp?.peers.map((p) => p.port),
    [1791, 1791],
  )
})
