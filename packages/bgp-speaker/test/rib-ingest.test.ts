/**
 * The RIB's bulk path (prefixes nobody announced yet, one attribute set per UPDATE): the same
 * changes, exports and counts as prefix-by-prefix announcement, including when an UPDATE mixes
 * new prefixes with known ones or repeats a prefix.
 */
import t from 'tap'
import { type PathAttributes, type Prefix, prefixKey, SEG } from '../src/core/codec/index.ts'
import type { KeyedUpdate } from '../src/core/codec/update-keys.ts'
import { type PeerInfo, Rib, type RibConfig } from '../src/core/rib.ts'

const ip = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0)
const LOCAL_AS = 64512
const cfg: RibConfig = { localAs: LOCAL_AS, routerId: ip('198.19.0.1') }
const peer = (n: number, asn = LOCAL_AS): PeerInfo => ({
  id: `p${n}`,
  address: ip(`198.19.0.${n}`),
  asn,
  routerId: ip(`198.19.0.${n}`),
  localAddress: ip('198.19.0.1'),
})
const attrs = (a: Partial<PathAttributes> = {}): PathAttributes => ({
  origin: 0,
  asPath: [],
  nextHop: ip('198.19.0.99'),
  ...a,
})
const keyed = (nlri: Prefix[], a: PathAttributes, withdrawn: Prefix[] = []): KeyedUpdate => ({
  type: 'UPDATE',
  keyed: true,
  nlriKeys: nlri.map(prefixKey),
  withdrawnKeys: withdrawn.map(prefixKey),
  attrs: a,
})
const p24 = (i: number): Prefix => ({ addr: (0x0a000000 + i * 256) >>> 0, len: 24 })
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => p24(from + i))
const exported = (r: ReturnType<Rib['applyUpdate']>, id: string) =>
  r.out
    .filter((o) => o.peerId === id)
    .flatMap((o) => o.announce.flatMap((g) => g.prefixes))
    .map(prefixKey)

t.test('new prefixes: every one is a change with the shared path, exported where allowed', (t) => {
  const rib = new Rib(cfg)
  rib.peerUp(peer(2, 65001))
  rib.peerUp(peer(3))
  rib.peerUp(peer(4))
  const ps = range(0, 300)
  const r = rib.applyUpdate('p2', keyed(ps, attrs({ asPath: [{ type: SEG.AS_SEQUENCE, asns: [65001] }] })))
  t.equal(r.changed, 300)
  t.same(
    r.changes.map((c) => prefixKey(c.prefix)),
    ps.map(prefixKey),
  )
  const best = rib.best(p24(0))
  t.ok(best)
  t.ok(
    r.changes.every((c) => c.best === best && c.paths.length === 1 && c.paths[0] === best),
    'one shared path',
  )
  t.same(exported(r, 'p3'), ps.map(prefixKey), 'eBGP-learned: exported to the iBGP peers')
  t.same(exported(r, 'p4'), ps.map(prefixKey))
  t.same(exported(r, 'p2'), [], 'never back to the source')
  t.equal(rib.adjInCount('p2'), 300)
  t.equal(rib.adjOutCount('p3'), 300)
  // iBGP-learned, no route reflection: to the eBGP peer only, not to the other iBGP peer.
  const r2 = rib.applyUpdate('p3', keyed(range(1000, 50), attrs()))
  t.equal(r2.changed, 50)
  t.same(
    r2.out.map((o) => o.peerId),
    ['p2'],
  )
  t.same(exported(r2, 'p2'), range(1000, 50).map(prefixKey))
  t.equal(rib.size, 350)
  t.end()
})

t.test('an UPDATE mixing new and known prefixes, and a repeated prefix', (t) => {
  const rib = new Rib(cfg)
  rib.peerUp(peer(2))
  rib.peerUp(peer(3))
  const a = attrs()
  rib.applyUpdate('p2', keyed(range(10, 5), a))
  // 0..9 new, 10..14 already p2's with the same path (no change), 15..19 new, 0 again.
  const r = rib.applyUpdate('p2', keyed([...range(0, 20), p24(0)], a))
  t.same(
    r.changes.map((c) => prefixKey(c.prefix)),
    [...range(0, 10), ...range(15, 5)].map(prefixKey),
  )
  t.equal(rib.adjInCount('p2'), 20)
  t.equal(rib.size, 20)
  // Another peer's better path for known prefixes plus new ones: entries where there are two.
  const better = attrs({ localPref: 200, nextHop: ip('198.19.0.3') })
  const r2 = rib.applyUpdate('p3', keyed(range(18, 4), better))
  t.same(
    r2.changes.map((c) => [prefixKey(c.prefix), c.best?.peer?.id]),
    range(18, 4).map((p) => [prefixKey(p), 'p3']),
  )
  t.equal(rib.candidates(p24(19)).length, 2)
  t.equal(rib.candidates(p24(21)).length, 1)
  t.equal(rib.adjInCount('p3'), 4)
  t.equal(rib.size, 22)
  // Withdrawals and new prefixes in one UPDATE.
  const r3 = rib.applyUpdate('p2', keyed(range(30, 2), a, range(0, 2)))
  t.same(
    r3.changes.map((c) => [prefixKey(c.prefix), c.best?.peer?.id]),
    [
      [prefixKey(p24(0)), undefined],
      [prefixKey(p24(1)), undefined],
      [prefixKey(p24(30)), 'p2'],
      [prefixKey(p24(31)), 'p2'],
    ],
  )
  t.equal(rib.adjInCount('p2'), 20)
  t.end()
})

t.test('bulk then peer down and up again: the table follows', (t) => {
  const rib = new Rib(cfg)
  rib.peerUp(peer(2))
  rib.peerUp(peer(5, 65005))
  const r = rib.applyUpdate('p2', keyed(range(0, 1000), attrs()))
  t.equal(exported(r, 'p5').length, 1000, 'iBGP-learned: exported to the eBGP peer')
  const down = rib.peerDown('p2')
  t.equal(down.changed, 1000)
  t.ok(down.changes.every((c) => c.best === undefined))
  t.equal(rib.size, 0)
  t.equal(rib.adjOutCount('p5'), 0)
  rib.peerUp(peer(2))
  t.equal(rib.applyUpdate('p2', keyed(range(0, 1000), attrs())).changed, 1000)
  t.equal(rib.size, 1000)
  t.end()
})
