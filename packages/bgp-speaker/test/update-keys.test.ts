/**
 * The receive path's keyed UPDATE decoder agrees with the plain decoder on every input (valid,
 * RFC 7606 cases, garbage), and the attribute cache hands out one shared object per distinct
 * attribute section.
 */
import fc from 'fast-check'
import t, { type Test } from 'tap'
import {
  AttrCache,
  type CodecContext,
  decodeMessage,
  decodeUpdateFrame,
  encodeAnnouncements,
  encodeUpdate,
  type PathAttributes,
  type Prefix,
  prefixFromKey,
  prefixKey,
  readPrefixKeys,
} from '../src/core/codec/index.ts'

const AS4: CodecContext = { as4: true }
const AS2: CodecContext = { as4: false }
const attrs: PathAttributes = {
  origin: 0,
  asPath: [{ type: 2, asns: [65001, 4200000000] }],
  nextHop: 0xc6130002,
  med: 7,
}

function same(t: Test, frame: Uint8Array, ctx: CodecContext, cache?: AttrCache): void {
  const a = decodeMessage(frame, ctx)
  const b = decodeUpdateFrame(frame, ctx, cache)
  if (!a.ok || !b.ok) {
    t.same(b.ok ? undefined : [b.error.code, b.error.subcode], a.ok ? undefined : [a.error.code, a.error.subcode])
    return
  }
  if (a.msg.type !== 'UPDATE') throw new Error('not an UPDATE')
  t.same(b.msg.nlriKeys.map(prefixFromKey), a.msg.nlri)
  t.same(b.msg.withdrawnKeys.map(prefixFromKey), a.msg.withdrawn)
  t.same(b.msg.attrs, a.msg.attrs)
  t.same(b.msg.treatAsWithdraw?.kind, a.msg.treatAsWithdraw?.kind)
}

t.test('keys equal prefixKey of the decoded prefixes, all lengths', (t) => {
  const ps: Prefix[] = []
  for (let len = 0; len <= 32; len++)
    ps.push({ addr: len === 0 ? 0 : (0xc6131234 & (0xffffffff << (32 - len))) >>> 0, len })
  const m = encodeUpdate({ withdrawn: ps, attrs, nlri: ps }, AS4)
  same(t, m, AS4)
  const d = decodeUpdateFrame(m, AS4)
  t.same(d.ok && d.msg.nlriKeys, ps.map(prefixKey))
  // Host bits are cleared, as readPrefixes does.
  t.same(readPrefixKeys(Uint8Array.of(20, 10, 1, 0xff), 0, 4), [prefixKey({ addr: 0x0a01f000, len: 20 })])
  t.equal(readPrefixKeys(Uint8Array.of(33, 1, 2, 3, 4, 5), 0, 6), undefined, 'length > 32')
  t.equal(readPrefixKeys(Uint8Array.of(24, 10, 1), 0, 3), undefined, 'overrun')
  t.end()
})

t.test('same result as the plain decoder: 2- and 4-byte AS, RFC 7606 cases, garbage', (t) => {
  same(t, encodeUpdate({ attrs, nlri: [{ addr: 0x0a000000, len: 8 }] }, AS2), AS2)
  same(t, encodeUpdate({ withdrawn: [{ addr: 0x0a000000, len: 8 }] }, AS4), AS4)
  same(t, encodeUpdate({ attrs: { origin: 0, asPath: [] }, nlri: [{ addr: 0x0a000000, len: 8 }] }, AS4), AS4)
  const seed = Date.now() % 100000
  t.comment(`fast-check seed ${seed}`)
  const base = encodeUpdate({ attrs, nlri: [{ addr: 0x0a000000, len: 24 }] }, AS4)
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 19, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }))),
      (muts) => {
        const m = base.slice()
        for (const [i, v] of muts) m[i] = v
        // keep the header's length and type, as the framer guarantees
        m.set(base.subarray(16, 19), 16)
        const cache = new AttrCache()
        same(t, m, AS4, cache)
        same(t, m, AS4, cache) // and from the cache
        return true
      },
    ),
    { seed, numRuns: 200 },
  )
  t.end()
})

t.test('attribute cache: one shared object per attribute section, bounded', (t) => {
  const ps: Prefix[] = Array.from({ length: 3000 }, (_, i) => ({ addr: (0x0a000000 + i * 256) >>> 0, len: 24 }))
  const msgs = encodeAnnouncements(attrs, ps, AS4)
  t.ok(msgs.length >= 3)
  const cache = new AttrCache()
  const got = msgs.map((m) => decodeUpdateFrame(m, AS4, cache))
  const objs = new Set(got.map((d) => (d.ok ? d.msg.attrs : undefined)))
  t.equal(objs.size, 1, 'every UPDATE shares one attribute object')
  t.same([cache.misses, cache.hits], [1, msgs.length - 1])
  // The same bytes under the other AS context decode separately.
  const two = encodeAnnouncements(attrs, ps.slice(0, 10), AS2)[0] as Uint8Array
  decodeUpdateFrame(two, AS2, cache)
  t.equal(cache.size, 2)
  const small = new AttrCache(2)
  for (let i = 0; i < 5; i++)
    decodeUpdateFrame(encodeUpdate({ attrs: { ...attrs, med: i }, nlri: ps.slice(0, 1) }, AS4), AS4, small)
  t.ok(small.size <= 2, 'cleared when full')
  t.end()
})
