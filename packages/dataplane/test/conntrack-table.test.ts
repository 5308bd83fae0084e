/**
 * The conntrack table's own structure: bucket array growth (lookups keep working across
 * doublings, same-hash order kept), the intrusive list of confirmed entries (list and gc in
 * confirm order, removal during gc, flush).
 */
import t from 'tap'
import { Conntrack } from '../src/core/conntrack/index.ts'

const NOW = 1000

function fill(ct: Conntrack, n: number): ReturnType<Conntrack['create']>[] {
  const out = []
  for (let i = 0; i < n; i++) {
    const e = ct.create(6, 0x0a000001 + (i % 251), 0x0a640000 + i, 1024 + (i % 60000), 80, NOW)
    if (!ct.confirm(e)) throw new Error('confirm failed')
    out.push(e)
  }
  return out
}

t.test('lookups in both directions survive the bucket array doubling several times', async (t) => {
  const ct = new Conntrack()
  const es = fill(ct, 20000)
  t.equal(ct.count, 20000)
  let found = 0
  for (const e of es) {
    const o = e.orig
    const r = e.reply
    if (
      ct.lookup(6, o.src, o.dst, o.sport, o.dport, NOW) === o &&
      ct.lookup(6, r.src, r.dst, r.sport, r.dport, NOW) === r
    )
      found++
  }
  t.equal(found, 20000, 'every original and reply tuple is found, with its direction')
  t.equal(ct.lookup(6, 1, 2, 3, 4, NOW), undefined)
  const big = new Conntrack(262144, 262144)
  const bs = fill(big, 3000)
  t.equal(big.lookup(6, bs[7]!.orig.src, bs[7]!.orig.dst, bs[7]!.orig.sport, 80, NOW), bs[7]!.orig)
})

t.test('list and gc go in confirm order; removal in the middle of a gc is safe; flush empties', async (t) => {
  const ct = new Conntrack()
  const es = fill(ct, 3000)
  // Expire every third entry, and confirm order differs from creation order for two late ones.
  es.forEach((e, i) => {
    if (i % 3 === 0) e.expires = NOW + 1
  })
  const late1 = ct.create(17, 1, 2, 3, 4, NOW)
  const late0 = ct.create(17, 1, 2, 3, 5, NOW)
  ct.confirm(late0)
  ct.confirm(late1)
  const ids = ct.list(NOW).map((e) => e.id)
  t.same(ids.slice(0, 3), [es[0]!.id, es[1]!.id, es[2]!.id])
  t.same(ids.slice(-2), [late0.id, late1.id], 'confirm order, not creation order')
  t.equal(ct.gc(NOW + 2), 1000, 'one in three expired')
  t.equal(ct.count, 2002)
  t.equal(ct.list(NOW + 2).length, 2002)
  t.equal(ct.lookup(6, es[0]!.orig.src, es[0]!.orig.dst, es[0]!.orig.sport, 80, NOW + 2), undefined)
  t.equal(ct.lookup(6, es[1]!.orig.src, es[1]!.orig.dst, es[1]!.orig.sport, 80, NOW + 2), es[1]!.orig)
  t.equal(ct.delete(NOW + 2, { proto: 17 }), 2)
  ct.remove(late0)
  t.equal(ct.count, 2000, 'removing twice is a no-op')
  ct.flush()
  t.equal(ct.count, 0)
  t.same(ct.list(NOW), [])
  t.equal(ct.lookup(6, es[1]!.orig.src, es[1]!.orig.dst, es[1]!.orig.sport, 80, NOW), undefined)
  const again = fill(ct, 10)
  t.equal(ct.list(NOW).length, 10, 'usable after flush')
  t.equal(ct.lookup(6, again[3]!.orig.src, again[3]!.orig.dst, again[3]!.orig.sport, 80, NOW), again[3]!.orig)
})
