import fc from 'fast-check'
import t, { type Test } from 'tap'
import {
  AS_TRANS,
  ATTR,
  type BgpMessage,
  type CodecContext,
  checkOpen,
  decodeMessage,
  defaultCapabilities,
  describeNotification,
  encodeAnnouncements,
  encodeMessage,
  encodeUpdate,
  encodeWithdrawals,
  Framer,
  isEndOfRib,
  notification,
  openMessage,
  type PathAttributes,
  type Prefix,
  SEG,
} from '../src/core/codec/index.ts'

const AS4: CodecContext = { as4: true }
const AS2: CodecContext = { as4: false }
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (x) => Number.parseInt(x, 16))
const MARKER = 'ffffffffffffffffffffffffffffffff'
const ip = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0)
const pfx = (s: string): Prefix => {
  const [a, l] = s.split('/')
  return { addr: ip(a ?? ''), len: Number(l) }
}

function roundTrip(t: Test, m: BgpMessage, ctx: CodecContext) {
  const bytes = encodeMessage(m, ctx)
  const d = decodeMessage(bytes, ctx)
  t.ok(d.ok, `${m.type} decodes`)
  if (d.ok) t.same(d.msg, m, `${m.type} round-trips`)
  return bytes
}

const fullAttrs: PathAttributes = {
  origin: 0,
  asPath: [
    { type: SEG.AS_SEQUENCE, asns: [64512, 4200000001] },
    { type: SEG.AS_SET, asns: [65001, 65002] },
  ],
  nextHop: ip('198.19.0.2'),
  med: 50,
  localPref: 200,
  atomicAggregate: true,
  aggregator: { asn: 4200000001, addr: ip('198.19.0.9') },
  communities: [((64512 << 16) | 100) >>> 0, 0xffffff01],
  originatorId: ip('198.19.0.3'),
  clusterList: [ip('1.2.3.4'), ip('5.6.7.8')],
}

t.test('round-trips every message kind', (t) => {
  const open = openMessage({
    asn: 4200000001,
    holdTime: 90,
    bgpId: ip('198.19.0.1'),
    capabilities: defaultCapabilities(4200000001),
  })
  t.equal(open.myAsField, AS_TRANS, '4-byte AS goes out as AS_TRANS')
  roundTrip(t, open, AS4)
  roundTrip(t, openMessage({ asn: 64512, holdTime: 0, bgpId: 1, capabilities: [] }), AS4)
  roundTrip(t, { type: 'KEEPALIVE' }, AS4)
  roundTrip(t, notification(2, 2, Uint8Array.of(0xfc, 0)), AS4)
  roundTrip(t, { type: 'ROUTE_REFRESH', afi: 1, safi: 1, subtype: 0 }, AS4)
  roundTrip(t, { type: 'UPDATE', withdrawn: [pfx('10.0.0.0/8'), pfx('0.0.0.0/0')], nlri: [] }, AS4)
  roundTrip(
    t,
    {
      type: 'UPDATE',
      withdrawn: [],
      attrs: fullAttrs,
      nlri: [pfx('198.19.16.0/26'), pfx('198.19.16.7/32'), pfx('198.0.0.0/7')],
    },
    AS4,
  )
  // 2-byte session: big ASes travel as AS_TRANS + AS4_PATH / AS4_AGGREGATOR and are rebuilt.
  roundTrip(t, { type: 'UPDATE', withdrawn: [], attrs: fullAttrs, nlri: [pfx('198.19.16.0/26')] }, AS2)
  t.end()
})

t.test('hand-built fixtures decode to the expected values', (t) => {
  const keep = decodeMessage(hex(`${MARKER}0013 04`), AS4)
  t.same(keep, { ok: true, msg: { type: 'KEEPALIVE' } })
  // OPEN as BIRD 2 sends it: AS 64512, hold 90, id 127.0.1.200, caps 1,2,64,65,70,71 in one parameter.
  const open = hex(`${MARKER}0040 01 04 fc00 005a 7f0001c8 23 02 21
    01 04 0001 00 01   02 00   40 06 0078 0001 01 00   41 04 0000fc00   46 00   47 07 0001 01 00 000000`)
  const d = decodeMessage(open, AS4)
  t.ok(d.ok)
  if (d.ok && d.msg.type === 'OPEN') {
    t.equal(d.msg.asn, 64512)
    t.equal(d.msg.holdTime, 90)
    t.equal(d.msg.bgpId, ip('127.0.1.200'))
    t.same(
      d.msg.capabilities.map((c) => c.code),
      [1, 2, 64, 65, 70, 71],
    )
    t.same(d.msg.capabilities[2], {
      code: 64,
      restarting: false,
      restartTime: 120,
      families: [{ afi: 1, safi: 1, forwarding: false }],
    })
  }
  // UPDATE: ORIGIN IGP, AS_PATH [64512] (4-byte), NEXT_HOP 127.0.1.200, NLRI 198.19.48.0/20.
  const upd = hex(`${MARKER}002f 02 0000 0014 40 01 01 00 40 02 06 02 01 0000fc00 40 03 04 7f0001c8 14 c6 13 30`)
  const u = decodeMessage(upd, AS4)
  t.same(u, {
    ok: true,
    msg: {
      type: 'UPDATE',
      withdrawn: [],
      nlri: [pfx('198.19.48.0/20')],
      attrs: { origin: 0, asPath: [{ type: 2, asns: [64512] }], nextHop: ip('127.0.1.200') },
    },
  })
  // End-of-RIB.
  const eor = decodeMessage(hex(`${MARKER}0017 02 0000 0000`), AS4)
  t.ok(eor.ok && eor.msg.type === 'UPDATE' && isEndOfRib(eor.msg))
  t.end()
})

function err(bytes: Uint8Array, ctx = AS4) {
  const d = decodeMessage(bytes, ctx)
  return d.ok ? undefined : [d.error.code, d.error.subcode]
}

t.test('header errors map to NOTIFICATION 1/x', (t) => {
  t.same(err(hex(`${MARKER.replace(/^ff/, 'fe')}0013 04`)), [1, 1], 'bad marker')
  t.same(err(hex(`${MARKER}0012 04`)), [1, 2], 'length < 19')
  t.same(err(hex(`${MARKER}0014 04 00`)), [1, 2], 'KEEPALIVE with body')
  t.same(err(hex(`${MARKER}0013 09`)), [1, 3], 'unknown type')
  const f = new Framer()
  const r = f.push(hex(`${MARKER}1001 04`))
  t.equal(r.length, 1)
  t.same(
    r[0]?.ok === false && [r[0].error.code, r[0].error.subcode, [...r[0].error.data]],
    [1, 2, [0x10, 0x01]],
    'length 4097 with data',
  )
  t.end()
})

t.test('OPEN errors map to NOTIFICATION 2/x', (t) => {
  const base = (v: string, hold = '005a', id = '7f0001c8', opt = '00') =>
    hex(
      `${MARKER}${(29 + opt.replace(/ /g, '').length / 2 - 1).toString(16).padStart(4, '0')} 01 ${v} fc00 ${hold} ${id} ${opt}`,
    )
  const v3 = decodeMessage(base('03'), AS4)
  t.same(
    !v3.ok && [v3.error.code, v3.error.subcode, [...v3.error.data]],
    [2, 1, [0, 4]],
    'version 3 -> 2/1 with data 4',
  )
  t.same(err(base('04', '0002')), [2, 6], 'hold 2')
  t.same(err(base('04', '005a', '00000000')), [2, 3], 'id 0')
  t.same(err(base('04', '005a', '7f0001c8', '04 03 02 0000')), [2, 4], 'optional parameter 3')
  const good = openMessage({
    asn: 64512,
    holdTime: 90,
    bgpId: ip('127.0.1.1'),
    capabilities: defaultCapabilities(64512),
  })
  const bad = checkOpen(good, { peerAs: 64513, localAs: 64513, localBgpId: ip('127.0.1.2') })
  t.same(bad && [bad.code, bad.subcode, [...bad.data]], [2, 2, [0xfc, 0]], 'wrong AS -> 2/2')
  t.same(
    checkOpen(good, { peerAs: 64512, localAs: 64512, localBgpId: ip('127.0.1.1') })?.subcode,
    3,
    'same id iBGP -> 2/3',
  )
  const v6only = { ...good, capabilities: [{ code: 1 as const, afi: 2, safi: 1 }] }
  t.same(checkOpen(v6only, { localAs: 1, localBgpId: 2 })?.subcode, 7, 'no common family -> 2/7')
  t.equal(checkOpen(good, { peerAs: 64512, localAs: 64512, localBgpId: ip('127.0.1.2') }), undefined)
  t.equal(describeNotification(2, 2), 'OPEN message error: Bad peer AS')
  t.end()
})

/** UPDATE with raw attribute bytes and one NLRI (10.0.0.0/8). */
function upd(attrs: string, nlri = '08 0a', withdrawn = '') {
  const a = hex(attrs)
  const n = hex(nlri)
  const w = hex(withdrawn)
  const body = new Uint8Array(4 + w.length + a.length + n.length)
  body[1] = w.length
  body.set(w, 2)
  body[2 + w.length] = a.length >> 8
  body[3 + w.length] = a.length & 255
  body.set(a, 4 + w.length)
  body.set(n, 4 + w.length + a.length)
  const out = new Uint8Array(19 + body.length)
  out.fill(255, 0, 16)
  out[16] = out.length >> 8
  out[17] = out.length & 255
  out[18] = 2
  out.set(body, 19)
  return out
}
const ORIGIN = '40 01 01 00'
const PATH = '40 02 06 02 01 0000fc00'
const NH = '40 03 04 c6130002'

function outcome(bytes: Uint8Array, ctx = AS4) {
  const d = decodeMessage(bytes, ctx)
  if (!d.ok) return { reset: [d.error.code, d.error.subcode] }
  if (d.msg.type !== 'UPDATE') return {}
  return {
    withdraw: d.msg.treatAsWithdraw ? [d.msg.treatAsWithdraw.code, d.msg.treatAsWithdraw.subcode] : undefined,
    discarded: d.msg.discarded?.map((e) => e.subcode),
    attrs: d.msg.attrs,
  }
}

t.test('UPDATE errors follow RFC 7606', (t) => {
  t.ok(outcome(upd(`${ORIGIN} ${PATH} ${NH}`)).attrs, 'valid')
  t.same(outcome(upd(`40 01 01 07 ${PATH} ${NH}`)).withdraw, [3, 6], 'bad ORIGIN value -> treat-as-withdraw 3/6')
  t.same(outcome(upd(`40 01 02 0000 ${PATH} ${NH}`)).withdraw, [3, 5], 'ORIGIN length -> treat-as-withdraw 3/5')
  t.same(outcome(upd(`${ORIGIN} 40 02 03 02 05 00 ${NH}`)).withdraw, [3, 11], 'AS_PATH overrun -> 3/11')
  t.same(outcome(upd(`${ORIGIN} 40 02 06 07 01 0000fc00 ${NH}`)).withdraw, [3, 11], 'AS_PATH bad segment type')
  t.same(outcome(upd(`${ORIGIN} ${PATH} 40 03 04 00000000`)).withdraw, [3, 8], 'NEXT_HOP 0.0.0.0 -> 3/8')
  t.same(outcome(upd(`${ORIGIN} ${PATH} 40 03 04 e0000001`)).withdraw, [3, 8], 'multicast NEXT_HOP')
  t.same(outcome(upd(`${ORIGIN} ${PATH} 40 03 03 c61300`)).withdraw, [3, 5], 'NEXT_HOP length')
  t.same(outcome(upd(`${ORIGIN} ${PATH}`)).withdraw, [3, 3], 'missing NEXT_HOP -> 3/3 treat-as-withdraw')
  t.same(outcome(upd(`${PATH} ${NH}`)).withdraw, [3, 3], 'missing ORIGIN')
  t.same(outcome(upd(`c0 01 01 00 ${PATH} ${NH}`)).withdraw, [3, 4], 'ORIGIN flagged optional -> 3/4')
  t.same(outcome(upd(`${ORIGIN} ${PATH} ${NH} 80 04 02 0001`)).withdraw, [3, 5], 'MED length')
  t.same(outcome(upd(`${ORIGIN} ${PATH} ${NH} 40 05 03 000001`)).withdraw, [3, 5], 'LOCAL_PREF length')
  t.same(outcome(upd(`${ORIGIN} ${PATH} ${NH} c0 08 03 000001`)).withdraw, [3, 5], 'COMMUNITIES length')
  t.same(outcome(upd(`${ORIGIN} ${PATH} ${NH} 80 0a 03 000001`)).withdraw, [3, 5], 'CLUSTER_LIST length')
  t.same(outcome(upd(`${ORIGIN} ${PATH} ${NH} 80 09 02 0001`)).withdraw, [3, 5], 'ORIGINATOR_ID length')
  const agg = outcome(upd(`${ORIGIN} ${PATH} ${NH} c0 07 03 000001`))
  t.same([agg.withdraw, agg.discarded], [undefined, [5]], 'AGGREGATOR length -> attribute discard')
  t.ok(agg.attrs && agg.attrs.aggregator === undefined)
  const atom = outcome(upd(`${ORIGIN} ${PATH} ${NH} 40 06 01 00`))
  t.same([atom.withdraw, atom.discarded], [undefined, [5]], 'ATOMIC_AGGREGATE length -> discard')
  const dup = outcome(upd(`${ORIGIN} 40 01 01 02 ${PATH} ${NH}`))
  t.same([dup.attrs?.origin, dup.discarded], [0, [1]], 'duplicate attribute: first kept')
  t.same(outcome(upd(`${ORIGIN} ${PATH} ${NH} 40 63 01 00`)).reset, [3, 2], 'unknown well-known -> reset 3/2')
  const opt = outcome(upd(`${ORIGIN} ${PATH} ${NH} c0 63 02 abcd 80 64 01 01`))
  t.same(
    opt.attrs?.unknown,
    [{ flags: 0xe0, type: 0x63, value: hex('abcd') }],
    'unknown optional transitive kept (partial), non-transitive dropped',
  )
  t.same(
    outcome(upd(`${ORIGIN} ${PATH} ${NH} 40 05 09 01`)).withdraw,
    [3, 5],
    'attribute overruns section -> treat-as-withdraw',
  )
  t.same(outcome(upd(`${ORIGIN} ${PATH} ${NH}`, '21 0a000000 00')).reset, [3, 10], 'prefix length 33 -> reset 3/10')
  t.same(outcome(upd(`${ORIGIN} ${PATH} ${NH}`, '18 0a')).reset, [3, 10], 'NLRI overrun -> 3/10')
  t.same(outcome(upd('', '', '20 0a')).reset, [3, 10], 'withdrawn overrun -> 3/10')
  const asPath2 = outcome(upd(`${ORIGIN} 40 02 06 02 02 fc00 5ba0 ${NH} c0 11 0a 02 02 0000fc00 fa56ea01`), AS2)
  t.same(asPath2.attrs?.asPath, [{ type: 2, asns: [64512, 4200000001] }], 'AS4_PATH merged on 2-byte session')
  const bad4 = outcome(upd(`${ORIGIN} 40 02 04 02 01 fc00 ${NH} c0 11 03 02 05 00`), AS2)
  t.same(
    [bad4.withdraw, bad4.discarded, bad4.attrs?.asPath],
    [undefined, [11], [{ type: 2, asns: [64512] }]],
    'malformed AS4_PATH -> discard',
  )
  // total attribute length overruns message -> reset 3/1
  t.same(err(hex(`${MARKER}0018 02 0000 00ff 00`)), [3, 1])
  t.end()
})

t.test('packing: announcements and withdrawals split into <= 4096-byte UPDATEs', (t) => {
  const ps: Prefix[] = Array.from({ length: 5000 }, (_, i) => ({ addr: (0x0a000000 + i * 256) >>> 0, len: 24 }))
  const msgs = encodeAnnouncements(fullAttrs, ps, AS4)
  t.ok(msgs.every((m) => m.length <= 4096))
  const got: Prefix[] = []
  for (const m of msgs) {
    const d = decodeMessage(m, AS4)
    if (d.ok && d.msg.type === 'UPDATE') got.push(...d.msg.nlri)
  }
  t.same(got, ps)
  const ws = encodeWithdrawals(ps, AS4)
  t.ok(ws.length > 1 && ws.every((m) => m.length <= 4096))
  t.end()
})

t.test('framer cuts a stream at any chunk boundary', (t) => {
  const msgs = [
    encodeMessage({ type: 'KEEPALIVE' }, AS4),
    encodeUpdate({ attrs: fullAttrs, nlri: [pfx('10.0.0.0/8')] }, AS4),
    encodeMessage(notification(6, 2), AS4),
  ]
  const all = Uint8Array.from(msgs.flatMap((m) => [...m]))
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: all.length }), { maxLength: 6 }), (cuts) => {
      const f = new Framer()
      const pts = [...new Set(cuts)].sort((a, b) => a - b)
      const out: Uint8Array[] = []
      let prev = 0
      for (const c of [...pts, all.length]) {
        for (const fr of f.push(all.slice(prev, c))) if (fr.ok) out.push(fr.bytes.slice())
        prev = c
      }
      return (
        out.length === 3 && out.every((m, i) => m.length === msgs[i]?.length && m.every((b, j) => b === msgs[i]?.[j]))
      )
    }),
  )
  t.pass('every cut yields the same three messages')
  t.end()
})

t.test('fuzz: the decoder never throws on random or mutated input', (t) => {
  const seed = Date.now() % 100000
  t.comment(`fast-check seed ${seed}`)
  const valid = [
    encodeMessage(openMessage({ asn: 64512, holdTime: 90, bgpId: 1, capabilities: defaultCapabilities(64512) }), AS4),
    encodeUpdate({ withdrawn: [pfx('10.1.0.0/16')], attrs: fullAttrs, nlri: [pfx('198.19.16.0/26')] }, AS4),
    encodeUpdate({ attrs: fullAttrs, nlri: [pfx('198.19.16.0/26')] }, AS2),
    encodeMessage(notification(3, 1, Uint8Array.of(1, 2)), AS4),
    encodeMessage({ type: 'ROUTE_REFRESH', afi: 1, safi: 1, subtype: 0 }, AS4),
  ]
  const decodeAll = (b: Uint8Array) => {
    for (const ctx of [AS4, AS2]) {
      decodeMessage(b, ctx)
      new Framer().push(b)
    }
    return true
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => decodeAll(b)),
    { seed, numRuns: 2000 },
  )
  fc.assert(
    fc.property(
      fc.nat(valid.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }),
      (i, muts) => {
        const b = (valid[i] ?? new Uint8Array()).slice()
        for (const [pos, val] of muts) {
          const at = 16 + (pos % Math.max(1, b.length - 16))
          if (at >= 18) b[at] = val // keep marker and length so the body parsers are exercised
        }
        return decodeAll(b)
      },
    ),
    { seed, numRuns: 5000 },
  )
  // Bodies with a correct header around random bytes, every type.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ minLength: 0, maxLength: 200 }), (type, body) => {
      const b = new Uint8Array(19 + body.length)
      b.fill(255, 0, 16)
      b[16] = b.length >> 8
      b[17] = b.length & 255
      b[18] = type
      b.set(body, 19)
      return decodeAll(b)
    }),
    { seed, numRuns: 5000 },
  )
  t.pass('12,000 inputs decoded without an exception')
  t.end()
})

t.test('attribute constants', (t) => {
  t.equal(ATTR.CLUSTER_LIST, 10)
  t.end()
})
