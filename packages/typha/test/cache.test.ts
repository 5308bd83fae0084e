import t from 'tap'
import { RevisionedCache, SendLedger, snapshotChunks } from '../src/index.ts'
import { obj } from './helpers.ts'

t.test('apply returns only effective changes and tracks the revision', async (t) => {
  const c = new RevisionedCache()
  const a1 = obj('Pod', 'a', 1)
  t.same(c.apply([{ key: '/core/pods/ns/a', value: a1, revision: 1 }]), [{ key: '/core/pods/ns/a', value: a1 }])
  t.equal(c.revision, 1)
  // a replay of the same revision (resume after reconnect) is dropped
  t.same(c.apply([{ key: '/core/pods/ns/a', value: a1, revision: 1 }]), [])
  // deleting a missing key is dropped, but the revision still advances
  t.same(c.apply([{ key: '/core/pods/ns/zz', value: null, revision: 2 }]), [])
  t.equal(c.revision, 2)
  const a3 = obj('Pod', 'a', 3, { spec: { x: 1 } })
  t.same(c.apply([{ key: '/core/pods/ns/a', value: a3, revision: 3 }]), [{ key: '/core/pods/ns/a', value: a3 }])
  t.same(c.apply([{ key: '/core/pods/ns/a', value: null, revision: 4 }]), [{ key: '/core/pods/ns/a', value: null }])
  t.equal(c.size, 0)
})

t.test('replace diffs the new full state against the old', async (t) => {
  const c = new RevisionedCache()
  c.apply([
    { key: '/k/a', value: obj('Pod', 'a', 1), revision: 1 },
    { key: '/k/b', value: obj('Pod', 'b', 2), revision: 2 },
    { key: '/k/c', value: obj('Pod', 'c', 3), revision: 3 },
  ])
  const diff = c.replace(
    [
      { key: '/k/a', value: obj('Pod', 'a', 1) },
      { key: '/k/b', value: obj('Pod', 'b', 7) },
      { key: '/k/d', value: obj('Pod', 'd', 8) },
    ],
    9,
  )
  t.same(
    diff.map((u) => [u.key, u.value?.metadata.resourceVersion ?? null]),
    [
      ['/k/b', '7'],
      ['/k/d', '8'],
      ['/k/c', null],
    ],
  )
  t.equal(c.revision, 9)
  t.same(
    c.snapshot().map((u) => u.key),
    ['/k/a', '/k/b', '/k/d'],
  )
  t.same(
    c.snapshot((k) => k !== '/k/b').map((u) => u.key),
    ['/k/a', '/k/d'],
  )
})

t.test('snapshotChunks', async (t) => {
  t.same(snapshotChunks([], 3), [[]])
  const kvs = [1, 2, 3, 4, 5, 6, 7].map((i) => ({ key: `/k/${i}`, value: null }))
  t.same(
    snapshotChunks(kvs, 3).map((c) => c.length),
    [3, 3, 1],
  )
})

t.test('SendLedger tracks the delivered revision and lag', async (t) => {
  const l = new SendLedger()
  t.equal(l.lag(10), 0, 'nothing pending: no lag')
  l.onWrite(100, 5)
  l.onWrite(50, 6)
  l.onWrite(10, 9)
  l.flushed(160) // nothing flushed yet
  t.equal(l.deliveredRevision, 0)
  t.equal(l.lag(9), 9)
  l.flushed(60) // first write out
  t.equal(l.deliveredRevision, 5)
  t.equal(l.lag(9), 4)
  l.flushed(0)
  t.equal(l.deliveredRevision, 9)
  t.equal(l.lag(12), 0)
  t.equal(l.bytesWritten, 160)
  // many writes: internal compaction keeps working
  for (let i = 0; i < 5000; i++) l.onWrite(1, 10 + i)
  l.flushed(2500)
  t.equal(l.deliveredRevision, 10 + 2499)
  l.flushed(0)
  t.equal(l.deliveredRevision, 10 + 4999)
})
