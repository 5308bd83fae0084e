import t from 'tap'
import { SnapshotStore } from '../src/core/snapshot-store.ts'

const buf = (n: number) => Buffer.alloc(n)

t.test('a stored snapshot is fresh at its revision, or within the age limit; its tail follows', async (t) => {
  const s = new SnapshotStore({ maxAgeMs: 1000, maxTailBytes: 100 })
  t.equal(s.fresh('felix', 5, 0), undefined, 'nothing stored')
  const snap = s.put('felix', 5, [buf(10), buf(2)], 3, 1000)
  t.equal(snap.bytes, 12)
  t.equal(s.fresh('felix', 5, 99_999), snap, 'same revision: fresh whatever its age')
  t.equal(s.fresh('felix', 9, 2000), snap, 'the cache moved on, within the age limit')
  t.equal(s.fresh('felix', 9, 2001), undefined, 'too old')
  t.equal(s.fresh('bgp', 5, 1000), undefined, 'per syncer type')
  s.appendTail('felix', buf(40), 6)
  s.appendTail('felix', buf(40), 7)
  s.appendTail('bgp', buf(40), 7)
  t.same(
    s.fresh('felix', 7, 1500)?.tail.map((x) => x.revision),
    [6, 7],
  )
  s.appendTail('felix', buf(40), 8)
  t.equal(s.fresh('felix', 8, 1500), undefined, 'tail over the byte limit: dropped')
})
