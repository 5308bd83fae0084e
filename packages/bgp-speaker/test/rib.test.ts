import fc from 'fast-check'
import t from 'tap'
import { type PathAttributes, type Prefix, prefixKey, SEG, type UpdateMessage } from '../src/core/codec/index.ts'
import { type PeerInfo, Rib, type RibConfig } from '../src/core/rib.ts'

const ip = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0)
const pfx = (s: string): Prefix => {
  const [a, l] = s.split('/')
  return { addr: ip(a ?? ''), len: Number(l) }
}
const LOCAL_AS = 64512
const cfg: RibConfig = { localAs: LOCAL_AS, routerId: ip('198.19.0.1') }

function peer(n: number, asn = LOCAL_AS, extra: Partial<PeerInfo> = {}): PeerInfo {
  return {
    id: `p${n}`,
    address: ip(`198.19.0.${n}`),
    asn,
    routerId: ip(`198.19.0.${n}`),
    localAddress: ip('198.19.0.1'),
    ...extra,
  }
}
function attrs(a: Partial<PathAttributes> = {}): PathAttributes {
  return { origin: 0, asPath: [], nextHop: ip('198.19.0.99'), ...a }
}
function upd(nlri: Prefix[], a: PathAttributes = attrs(), withdrawn: Prefix[] = []): UpdateMessage {
  return { type: 'UPDATE', withdrawn, nlri, attrs: a }
}
const seq = (...asns: number[]) => [{ type: SEG.AS_SEQUENCE, asns }]
const P = pfx('198.19.16.0/26')

t.test('best-path selection steps', (t) => {
  const cases: [string, PeerInfo, PathAttributes, PeerInfo, PathAttributes, string][] = [
    [
      'higher LOCAL_PREF',
      peer(2),
      attrs({ localPref: 200, asPath: seq(1, 2, 3) }),
      peer(3),
      attrs({ localPref: 100 }),
      'p2',
    ],
    [
      'shorter AS_PATH',
      peer(2, 65001),
      attrs({ asPath: seq(65001) }),
      peer(3, 65002),
      attrs({ asPath: seq(65002, 65003) }),
      'p2',
    ],
    [
      'AS_SET counts one',
      peer(2, 65001),
      attrs({
        asPath: [
          { type: 2, asns: [65001] },
          { type: 1, asns: [1, 2, 3] },
        ],
      }),
      peer(3, 65002),
      attrs({ asPath: seq(65002, 5, 6) }),
      'p2',
    ],
    ['lower ORIGIN', peer(2), attrs({ origin: 2 }), peer(3), attrs({ origin: 0 }), 'p3'],
    [
      'lower MED, same neighbour AS',
      peer(2, 65001),
      attrs({ asPath: seq(65001), med: 10 }),
      peer(3, 65001, { routerId: 1 }),
      attrs({ asPath: seq(65001), med: 20 }),
      'p2',
    ],
    [
      'MED ignored across neighbour ASes -> router id',
      peer(2, 65001),
      attrs({ asPath: seq(65001), med: 10 }),
      peer(3, 65002, { routerId: 1 }),
      attrs({ asPath: seq(65002), med: 20 }),
      'p3',
    ],
    ['eBGP over iBGP', peer(2), attrs({ asPath: seq(65009) }), peer(3, 65001), attrs({ asPath: seq(65001) }), 'p3'],
    [
      'lowest router id',
      peer(2, LOCAL_AS, { routerId: 9 }),
      attrs(),
      peer(3, LOCAL_AS, { routerId: 5 }),
      attrs(),
      'p3',
    ],
    [
      'ORIGINATOR_ID stands for router id',
      peer(2, LOCAL_AS, { routerId: 9 }),
      attrs({ originatorId: 1 }),
      peer(3, LOCAL_AS, { routerId: 5 }),
      attrs(),
      'p2',
    ],
    [
      'lowest peer address',
      peer(3, LOCAL_AS, { routerId: 5 }),
      attrs(),
      peer(2, LOCAL_AS, { routerId: 5 }),
      attrs(),
      'p2',
    ],
  ]
  for (const [name, pa, aa, pb, ab, want] of cases) {
    for (const order of [0, 1]) {
      const rib = new Rib({ ...cfg, multipath: false })
      rib.peerUp(pa)
      rib.peerUp(pb)
      const steps: [PeerInfo, PathAttributes][] =
        order === 0
          ? [
              [pa, aa],
              [pb, ab],
            ]
          : [
              [pb, ab],
              [pa, aa],
            ]
      for (const [p, a] of steps) rib.applyUpdate(p.id, upd([P], a))
      t.equal(rib.best(P)?.peer?.id, want, `${name} (order ${order})`)
    }
  }
  const rib = new Rib(cfg)
  rib.peerUp(peer(2))
  rib.applyUpdate('p2', upd([P], attrs({ localPref: 500 })))
  rib.originate(P)
  t.equal(rib.best(P)?.peer, undefined, 'locally originated wins')
  t.end()
})

t.test('ECMP: equal paths with different next hops form the set', (t) => {
  const rib = new Rib(cfg)
  const a = peer(2)
  const b = peer(3)
  const c = peer(4)
  for (const p of [a, b, c]) rib.peerUp(p)
  rib.applyUpdate('p2', upd([P], attrs({ nextHop: ip('198.19.0.2') })))
  const r = rib.applyUpdate('p3', upd([P], attrs({ nextHop: ip('198.19.0.3') })))
  t.same(
    r.changes[0]?.paths.map((x) => x.attrs.nextHop),
    [ip('198.19.0.2'), ip('198.19.0.3')],
  )
  rib.applyUpdate('p4', upd([P], attrs({ nextHop: ip('198.19.0.4'), asPath: seq(1) })))
  t.equal(rib.paths(P).length, 2, 'longer path is not in the set')
  const w = rib.applyUpdate('p2', { type: 'UPDATE', withdrawn: [P], nlri: [] })
  t.same(
    w.changes[0]?.paths.map((x) => x.peer?.id),
    ['p3'],
  )
  t.end()
})

t.test('treat-as-withdraw and withdrawals remove routes; last withdrawal empties the prefix', (t) => {
  const rib = new Rib(cfg)
  rib.peerUp(peer(2))
  rib.applyUpdate('p2', upd([P]))
  const r = rib.applyUpdate('p2', {
    type: 'UPDATE',
    withdrawn: [],
    nlri: [P],
    treatAsWithdraw: { kind: 'BGP_UPDATE_INVALID_ORIGIN', code: 3, subcode: 6, data: new Uint8Array(), message: '' },
  })
  t.same(r.changes, [{ prefix: P, paths: [] }])
  t.equal(rib.size, 0)
  t.end()
})

t.test('import loop checks', (t) => {
  const rib = new Rib({ ...cfg, clusterId: ip('1.1.1.1') })
  rib.peerUp(peer(2, 65001))
  rib.peerUp(peer(3))
  t.equal(rib.applyUpdate('p2', upd([P], attrs({ asPath: seq(65001, LOCAL_AS) }))).filtered, 1, 'own AS in eBGP path')
  t.equal(rib.applyUpdate('p3', upd([P], attrs({ originatorId: cfg.routerId }))).filtered, 1, 'own ORIGINATOR_ID')
  t.equal(rib.applyUpdate('p3', upd([P], attrs({ clusterList: [5, ip('1.1.1.1')] }))).filtered, 1, 'own cluster id')
  t.equal(rib.size, 0)
  rib.applyUpdate('p2', upd([P], attrs({ asPath: seq(65001), localPref: 999 })))
  t.equal(rib.best(P)?.attrs.localPref, undefined, 'LOCAL_PREF from eBGP ignored')
  t.end()
})

t.test('export: iBGP split horizon, eBGP transforms, next hop self', (t) => {
  const rib = new Rib(cfg)
  const i1 = peer(2)
  const i2 = peer(3)
  const e1 = peer(10, 65001, { localAddress: ip('198.19.0.1') })
  for (const p of [i1, i2, e1]) rib.peerUp(p)
  const r = rib.applyUpdate('p2', upd([P], attrs({ localPref: 150, med: 5 })))
  t.same(
    r.out.map((o) => o.peerId),
    ['p10'],
    'iBGP route goes to eBGP peers only',
  )
  const a = r.out[0]?.announce[0]?.attrs
  t.same(a?.asPath, seq(LOCAL_AS), 'AS prepended')
  t.equal(a?.nextHop, ip('198.19.0.1'), 'next hop self')
  t.equal(a?.localPref, undefined, 'no LOCAL_PREF to eBGP')
  t.equal(a?.med, undefined, 'MED from elsewhere not passed on')
  const q = pfx('10.0.0.0/8')
  const r2 = rib.applyUpdate('p10', upd([q], attrs({ asPath: seq(65001), nextHop: ip('198.19.15.254') })))
  t.same(r2.out.map((o) => o.peerId).sort(), ['p2', 'p3'], 'eBGP route goes to iBGP peers, not back')
  t.equal(r2.out[0]?.announce[0]?.attrs.localPref, 100)
  t.equal(r2.out[0]?.announce[0]?.attrs.nextHop, ip('198.19.15.254'), 'iBGP keeps next hop')
  const o = rib.originate(pfx('198.19.16.64/26'), { med: 7 })
  const toE = o.out.find((x) => x.peerId === 'p10')?.announce[0]?.attrs
  const toI = o.out.find((x) => x.peerId === 'p2')?.announce[0]?.attrs
  t.same([toE?.nextHop, toE?.med, toE?.asPath], [ip('198.19.0.1'), 7, seq(LOCAL_AS)])
  t.same([toI?.nextHop, toI?.localPref, toI?.asPath], [ip('198.19.0.1'), 100, []])
  const w = rib.withdrawLocal(pfx('198.19.16.64/26'))
  t.equal(w.out.length, 3)
  t.ok(w.out.every((x) => x.withdraw.length === 1 && x.announce.length === 0))
  const up = rib.peerUp(peer(4))
  t.same(
    up.out[0]?.announce.flatMap((g) => g.prefixes),
    [q],
    'a new iBGP peer gets the eBGP route only',
  )
  t.end()
})

t.test('route reflector: client/non-client rules, ORIGINATOR_ID and CLUSTER_LIST', (t) => {
  const CL = ip('224.0.0.1') >>> 0
  const rib = new Rib({ ...cfg, clusterId: CL })
  const c1 = peer(2, LOCAL_AS, { rrClient: true })
  const c2 = peer(3, LOCAL_AS, { rrClient: true })
  const n1 = peer(4)
  const n2 = peer(5)
  for (const p of [c1, c2, n1, n2]) rib.peerUp(p)
  const fromClient = rib.applyUpdate('p2', upd([P]))
  t.same(fromClient.out.map((o) => o.peerId).sort(), ['p3', 'p4', 'p5'], 'client route to everyone else')
  const a = fromClient.out[0]?.announce[0]?.attrs
  t.equal(a?.originatorId, c1.routerId)
  t.same(a?.clusterList, [CL])
  const q = pfx('10.9.0.0/16')
  const fromNon = rib.applyUpdate('p4', upd([q], attrs({ clusterList: [7] })))
  t.same(fromNon.out.map((o) => o.peerId).sort(), ['p2', 'p3'], 'non-client route to clients only')
  t.same(fromNon.out[0]?.announce[0]?.attrs.clusterList, [CL, 7], 'cluster id prepended')
  t.end()
})

t.test('peer down flushes its routes and withdraws them from others', (t) => {
  const rib = new Rib(cfg)
  rib.peerUp(peer(2, 65001))
  rib.peerUp(peer(3))
  rib.applyUpdate('p2', upd([P, pfx('10.0.0.0/8')], attrs({ asPath: seq(65001) })))
  t.equal(rib.adjOutCount('p3'), 2)
  const r = rib.peerDown('p2')
  t.equal(r.changes.length, 2)
  t.same(r.out[0]?.withdraw.length, 2)
  t.equal(rib.size, 0)
  t.end()
})

t.test('property: the Loc-RIB does not depend on the order updates arrive in', (t) => {
  const seed = Date.now() % 100000
  t.comment(`fast-check seed ${seed}`)
  const route = fc.record({
    peer: fc.integer({ min: 2, max: 6 }),
    prefix: fc.integer({ min: 0, max: 7 }),
    lp: fc.constantFrom(100, 200),
    pathLen: fc.integer({ min: 0, max: 3 }),
    origin: fc.integer({ min: 0, max: 2 }),
    med: fc.integer({ min: 0, max: 3 }),
  })
  fc.assert(
    fc.property(fc.array(route, { maxLength: 30 }), fc.integer(), (rs, shuffleSeed) => {
      const build = (list: typeof rs) => {
        const rib = new Rib(cfg)
        for (let n = 2; n <= 6; n++) rib.peerUp(peer(n, n % 2 === 0 ? LOCAL_AS : 65000 + n))
        for (const r of list) {
          const asn = r.peer % 2 === 0 ? LOCAL_AS : 65000 + r.peer
          const path = Array.from({ length: r.pathLen }, (_, i) => 65100 + i)
          const a = attrs({
            localPref: r.lp,
            origin: r.origin,
            med: r.med,
            asPath: seq(...(asn === LOCAL_AS ? path : [asn, ...path])),
            nextHop: ip(`198.19.0.${r.peer}`),
          })
          rib.applyUpdate(`p${r.peer}`, upd([{ addr: r.prefix << 8, len: 24 }], a))
        }
        return [...rib.routes()]
          .map((c) => `${c.prefix.addr}:${c.best?.peer?.id}:${c.paths.map((p) => p.peer?.id).sort()}`)
          .sort()
      }
      // Keep only the last announcement per (peer, prefix): that is the state either order ends in.
      const last = new Map<string, (typeof rs)[number]>()
      for (const r of rs) last.set(`${r.peer}/${r.prefix}`, r)
      const final = [...last.values()]
      let s = shuffleSeed
      const shuffled = [...final].sort(() => ((s = (s * 1103515245 + 12345) | 0) & 1 ? 1 : -1))
      const a = build(final)
      const b = build(shuffled)
      return a.length === b.length && a.every((x, i) => x === b[i])
    }),
    { seed, numRuns: 300 },
  )
  t.pass('same Loc-RIB for every order')
  t.end()
})

t.test('100k prefixes: ingest, export and withdraw stay fast', (t) => {
  const rib = new Rib(cfg)
  rib.peerUp(peer(2, 65001))
  rib.peerUp(peer(3))
  const a = attrs({ asPath: seq(65001) })
  const ps: Prefix[] = Array.from({ length: 100_000 }, (_, i) => ({ addr: (0x0a000000 + i * 256) >>> 0, len: 24 }))
  const t0 = performance.now()
  let out = 0
  for (let i = 0; i < ps.length; i += 800)
    out += rib
      .applyUpdate('p2', upd(ps.slice(i, i + 800), a))
      .out.reduce((n, o) => n + o.announce.reduce((m, g) => m + g.prefixes.length, 0), 0)
  const t1 = performance.now()
  t.equal(rib.size, 100_000)
  t.equal(out, 100_000, 'every prefix exported to the iBGP peer')
  rib.peerDown('p2')
  const t2 = performance.now()
  t.equal(rib.size, 0)
  t.comment(`ingest 100k: ${(t1 - t0).toFixed(0)} ms; flush: ${(t2 - t1).toFixed(0)} ms`)
  t.ok(t1 - t0 < 5000)
  t.end()
})

t.test('keyed UPDATEs (receive path): shared paths, counts, entries collapse back', (t) => {
  const rib = new Rib(cfg)
  rib.peerUp(peer(2))
  rib.peerUp(peer(3))
  const a = attrs()
  const Q = pfx('198.19.17.0/24')
  const keyed = (nlri: Prefix[], withdrawn: Prefix[] = [], at: PathAttributes | undefined = a) => ({
    type: 'UPDATE' as const,
    keyed: true as const,
    nlriKeys: nlri.map(prefixKey),
    withdrawnKeys: withdrawn.map(prefixKey),
    ...(at ? { attrs: at } : {}),
  })
  const r = rib.applyUpdate('p2', keyed([P, Q]))
  t.equal(r.changed, 2)
  t.equal(rib.best(P), rib.best(Q), 'one path object for both prefixes')
  t.equal(rib.adjInCount('p2'), 2)
  t.equal(rib.applyUpdate('p2', keyed([P])).changed, 0, 'same path again: no change')
  // A second candidate makes an entry; withdrawing it collapses back to the single path.
  const r2 = rib.applyUpdate('p3', keyed([P], [], attrs({ localPref: 200, nextHop: ip('198.19.0.3') })))
  t.equal(r2.changes[0]?.best?.peer?.id, 'p3')
  t.equal(rib.candidates(P).length, 2)
  const r3 = rib.applyUpdate('p3', keyed([], [P], undefined))
  t.same(
    r3.changes[0]?.paths.map((x) => x.peer?.id),
    ['p2'],
  )
  t.equal(rib.candidates(P).length, 1)
  t.equal(rib.adjInCount('p3'), 0)
  // Withdrawing what a peer never announced changes nothing.
  t.equal(rib.applyUpdate('p3', keyed([], [Q], undefined)).changed, 0)
  t.equal(rib.best(Q)?.peer?.id, 'p2')
  t.end()
})

t.test('peer up again without going down: its old routes go first', (t) => {
  const rib = new Rib(cfg)
  rib.peerUp(peer(2))
  rib.applyUpdate('p2', upd([P]))
  const r = rib.peerUp(peer(2))
  t.same(r.changes, [{ prefix: P, paths: [] }])
  t.equal(rib.size, 0)
  t.equal(rib.adjInCount('p2'), 0)
  t.end()
})
