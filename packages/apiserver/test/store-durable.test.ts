import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isCodedError, silentLogger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import pino from 'pino'
import t from 'tap'
import { type DurableStoreInit, openDurableStore } from '../src/io/store/durable-store.ts'
import type { StoreEvent } from '../src/io/store/types.ts'

const cm = (name: string, v: string, ns = 'default'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns },
  data: { v },
})
const key = (name: string, ns = 'default') => `/core/configmaps/${ns}/${name}`

function tmp(t: Tap): string {
  const dir = mkdtempSync(join(tmpdir(), 'calilab-store-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
type Tap = { teardown(fn: () => unknown): void }

async function open(t: Tap, dir: string, extra: Partial<DurableStoreInit> = {}) {
  const s = await openDurableStore({ dir, log: silentLogger(), fsync: false, ...extra })
  t.teardown(() => s.close())
  return s
}

/** A logger whose warn lines we can read. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) })
  return { log, lines }
}

function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e) => (isCodedError(e) ? e.code : `untyped: ${e}`),
  )
}

t.test('CRUD, revisions and resourceVersion', async (t) => {
  const s = await open(t, tmp(t), { fsync: true })
  t.equal(s.revision, 0)
  const [added] = await s.commit([{ op: 'create', key: key('a'), object: cm('a', '1') }])
  t.equal(added?.type, 'ADDED')
  t.equal(added?.revision, 1)
  t.equal(s.get(key('a'))?.metadata.resourceVersion, '1')
  const [mod] = await s.commit([{ op: 'update', key: key('a'), object: cm('a', '2'), expectRevision: 1 }])
  t.equal(mod?.type, 'MODIFIED')
  t.same((s.get(key('a')) as KubeObject & { data: unknown }).data, { v: '2' })
  await s.commit([{ op: 'create', key: key('b'), object: cm('b', '1') }])
  const l = s.list('/core/configmaps/default/')
  t.same(
    l.items.map((o) => o.metadata.name),
    ['a', 'b'],
  )
  t.same(l.keys, [key('a'), key('b')])
  t.equal(l.revision, 3)
  const [del] = await s.commit([{ op: 'delete', key: key('a') }])
  t.equal(del?.type, 'DELETED')
  t.equal(del?.object.metadata.resourceVersion, '4')
  t.equal(s.get(key('a')), undefined)
  t.equal(s.stats().commits, 4)
})

t.test('preconditions and all-or-nothing commits', async (t) => {
  const s = await open(t, tmp(t))
  await s.commit([{ op: 'create', key: key('a'), object: cm('a', '1') }])
  t.equal(await codeOf(s.commit([{ op: 'create', key: key('a'), object: cm('a', 'x') }])), 'STORE_EXISTS')
  t.equal(await codeOf(s.commit([{ op: 'update', key: key('zz'), object: cm('zz', 'x') }])), 'STORE_NOT_FOUND')
  t.equal(await codeOf(s.commit([{ op: 'delete', key: key('zz') }])), 'STORE_NOT_FOUND')
  t.equal(
    await codeOf(s.commit([{ op: 'update', key: key('a'), object: cm('a', 'x'), expectRevision: 7 }])),
    'STORE_CONFLICT',
  )
  // The second op fails: the first must not be applied or logged.
  t.equal(
    await codeOf(
      s.commit([
        { op: 'create', key: key('b'), object: cm('b', '1') },
        { op: 'update', key: key('a'), object: cm('a', 'x'), expectRevision: 99 },
      ]),
    ),
    'STORE_CONFLICT',
  )
  t.equal(s.get(key('b')), undefined)
  t.equal(s.revision, 1)
  // Several ops on one key in one commit: create then update then delete.
  const evs = await s.commit([
    { op: 'create', key: key('c'), object: cm('c', '1') },
    { op: 'update', key: key('c'), object: cm('c', '2') },
    { op: 'delete', key: key('c') },
  ])
  t.same(
    evs.map((e) => [e.type, e.revision]),
    [
      ['ADDED', 2],
      ['MODIFIED', 3],
      ['DELETED', 4],
    ],
  )
})

t.test('preconditions see commits in flight; writes are visible only once durable', async (t) => {
  const s = await open(t, tmp(t), { fsync: true })
  const p1 = s.commit([{ op: 'create', key: key('a'), object: cm('a', '1') }])
  // Not yet durable: invisible to readers, but a second create of the same key already conflicts.
  t.equal(s.get(key('a')), undefined)
  t.equal(s.revision, 0)
  const p2 = s.commit([{ op: 'create', key: key('a'), object: cm('a', '2') }])
  const p3 = s.commit([{ op: 'update', key: key('a'), object: cm('a', '3'), expectRevision: 1 }])
  const p4 = s.commit([{ op: 'update', key: key('a'), object: cm('a', '4'), expectRevision: 1 }])
  const p5 = s.commit([{ op: 'delete', key: key('a'), expectRevision: 2 }])
  const p6 = s.commit([{ op: 'update', key: key('a'), object: cm('a', '6') }])
  t.same(await Promise.all([codeOf(p1), codeOf(p2), codeOf(p3), codeOf(p4), codeOf(p5), codeOf(p6)]), [
    'resolved',
    'STORE_EXISTS',
    'resolved',
    'STORE_CONFLICT',
    'resolved',
    'STORE_NOT_FOUND',
  ])
  t.equal(s.revision, 3)
  t.equal(s.get(key('a')), undefined)
})

t.test('group commit batches concurrent committers', async (t) => {
  const s = await open(t, tmp(t), { fsync: true })
  await Promise.all(
    Array.from({ length: 64 }, (_, i) => s.commit([{ op: 'create', key: key(`k${i}`), object: cm(`k${i}`, '1') }])),
  )
  const st = s.stats()
  t.equal(st.commits, 64)
  t.ok(st.batches < 64, `64 commits in ${st.batches} syncs`)
  // Every revision 1..64 used exactly once, in key-creation order.
  t.same(
    Array.from({ length: 64 }, (_, i) => s.get(key(`k${i}`))?.metadata.resourceVersion),
    Array.from({ length: 64 }, (_, i) => String(i + 1)),
  )
})

t.test('watch: history then live, prefix filter, STORE_GONE', async (t) => {
  const s = await open(t, tmp(t), { historySize: 5 })
  for (let i = 1; i <= 4; i++) await s.commit([{ op: 'create', key: key(`k${i}`), object: cm(`k${i}`, '1') }])
  await s.commit([{ op: 'create', key: key('x', 'other'), object: cm('x', '1', 'other') }])
  const got: StoreEvent[] = []
  const h = s.watch('/core/configmaps/default/', 2, (evs) => got.push(...evs))
  t.same(
    got.map((e) => e.revision),
    [3, 4],
  )
  await s.commit([{ op: 'update', key: key('k1'), object: cm('k1', '2') }])
  await s.commit([{ op: 'update', key: key('x', 'other'), object: cm('x', '2', 'other') }])
  t.same(
    got.map((e) => [e.type, e.revision]),
    [
      ['ADDED', 3],
      ['ADDED', 4],
      ['MODIFIED', 6],
    ],
  )
  h.cancel()
  // history keeps 5 events: revisions 3..7; resuming after 1 would miss revision 2
  t.equal(s.oldestRevision, 3)
  t.throws(() => s.watch('/', 1, () => {}), { code: 'STORE_GONE' })
  t.doesNotThrow(() => s.watch('/', 2, () => {}).cancel())
})

t.test('reopen restores objects, revision and watch history; revisions stay monotonic', async (t) => {
  const dir = tmp(t)
  const s1 = await openDurableStore({ dir, log: silentLogger() })
  await s1.commit([{ op: 'create', key: key('a'), object: cm('a', '1') }])
  await s1.commit([
    { op: 'create', key: key('b'), object: cm('b', '1') },
    { op: 'update', key: key('a'), object: cm('a', '2') },
  ])
  await s1.commit([{ op: 'delete', key: key('b') }])
  await s1.close()
  t.equal(await codeOf(s1.commit([{ op: 'delete', key: key('a') }])), 'STORE_CLOSED')

  const s2 = await open(t, dir)
  t.equal(s2.revision, 4)
  t.same(s2.get(key('a')), { ...cm('a', '2'), metadata: { ...cm('a', '2').metadata, resourceVersion: '3' } })
  t.equal(s2.get(key('b')), undefined)
  const got: StoreEvent[] = []
  s2.watch('/', 0, (e) => got.push(...e)).cancel()
  t.same(
    got.map((e) => `${e.type}@${e.revision}`),
    ['ADDED@1', 'ADDED@2', 'MODIFIED@3', 'DELETED@4'],
  )
  const [e] = await s2.commit([{ op: 'create', key: key('c'), object: cm('c', '1') }])
  t.equal(e?.revision, 5)
})

t.test('snapshot rotates the WAL and reopen loads it', async (t) => {
  const dir = tmp(t)
  const s1 = await openDurableStore({ dir, log: silentLogger(), snapshotEveryOps: 10 })
  for (let i = 0; i < 25; i++) await s1.commit([{ op: 'create', key: key(`k${i}`), object: cm(`k${i}`, `${i}`) }])
  await s1.commit([{ op: 'delete', key: key('k3') }])
  await s1.snapshot()
  const st = s1.stats()
  t.ok(st.snapshots >= 3, `${st.snapshots} snapshots`)
  t.equal(st.snapshotRevision, 26)
  const files = readdirSync(dir).sort()
  t.same(files, ['snapshot.bin', `wal-${String(st.walSegment).padStart(12, '0')}.log`], 'old segments deleted')
  await s1.commit([{ op: 'update', key: key('k4'), object: cm('k4', 'new') }])
  await s1.close()
  const s2 = await open(t, dir)
  t.equal(s2.revision, 27)
  t.equal(s2.list('/').items.length, 24)
  t.equal(s2.get(key('k4'))?.metadata.resourceVersion, '27')
  t.equal(s2.stats().replayedRecords, 1)
  // history starts after the snapshot: older revisions are gone, newer ones resume
  t.throws(() => s2.watch('/', 20, () => {}), { code: 'STORE_GONE' })
  const got: StoreEvent[] = []
  s2.watch('/', 26, (e) => got.push(...e)).cancel()
  t.same(
    got.map((e) => e.revision),
    [27],
  )
})

t.test('torn tail is truncated with a warning; nothing half-applied', async (t) => {
  const dir = tmp(t)
  const s1 = await openDurableStore({ dir, log: silentLogger() })
  await s1.commit([{ op: 'create', key: key('a'), object: cm('a', '1') }])
  await s1.commit([
    { op: 'create', key: key('b'), object: cm('b', '1') },
    { op: 'create', key: key('c'), object: cm('c', '1') },
  ])
  await s1.close()
  const wal = join(dir, readdirSync(dir).find((n) => n.startsWith('wal-')) as string)
  const full = readFileSync(wal)
  const goodLen = full.length

  // 1. the last record cut in the middle of its payload
  writeFileSync(wal, full.subarray(0, goodLen - 7))
  let c = capturingLogger()
  let s = await openDurableStore({ dir, log: c.log })
  t.equal(s.revision, 1, 'the two-op commit is dropped whole')
  t.equal(s.get(key('b')), undefined)
  t.equal(s.get(key('c')), undefined)
  t.match(c.lines, [{ msg: 'torn WAL tail dropped', file: wal }])
  t.ok(statSync(wal).size < goodLen - 7, 'file truncated')
  const [e] = await s.commit([{ op: 'create', key: key('d'), object: cm('d', '1') }])
  t.equal(e?.revision, 2)
  await s.close()
  const afterD = readFileSync(wal)

  // 2. garbage appended / a short header
  for (const garbage of [
    Buffer.from([1, 2, 3]),
    Buffer.from('deadbeef-not-a-record-at-all-0123456789'),
    Buffer.alloc(4096),
  ]) {
    writeFileSync(wal, afterD)
    appendFileSync(wal, garbage)
    c = capturingLogger()
    s = await openDurableStore({ dir, log: c.log })
    t.equal(s.revision, 2)
    t.equal(s.get(key('d'))?.metadata.resourceVersion, '2')
    t.equal(c.lines.length, 1, 'one warning')
    t.equal(statSync(wal).size, afterD.length)
    await s.close()
  }

  // 3. a bad crc in the last record (payload flipped, length intact)
  const flipped = Buffer.from(afterD)
  flipped[flipped.length - 2] = (flipped[flipped.length - 2] as number) ^ 0xff
  writeFileSync(wal, flipped)
  s = await openDurableStore({ dir, log: silentLogger() })
  t.equal(s.revision, 1)
  await s.close()
})

t.test('corruption in the middle of the WAL is an error naming file and offset', async (t) => {
  const dir = tmp(t)
  const s1 = await openDurableStore({ dir, log: silentLogger() })
  for (let i = 0; i < 3; i++) await s1.commit([{ op: 'create', key: key(`k${i}`), object: cm(`k${i}`, 'v') }])
  await s1.close()
  const wal = join(dir, readdirSync(dir).find((n) => n.startsWith('wal-')) as string)
  const buf = readFileSync(wal)
  const firstLen = buf.readUInt32BE(0)
  buf[8 + firstLen + 12] = (buf[8 + firstLen + 12] as number) ^ 0x55 // inside the second record's payload
  writeFileSync(wal, buf)
  await t.rejects(openDurableStore({ dir, log: silentLogger() }), {
    code: 'STORE_IO',
    message: new RegExp(`${wal}.*offset ${8 + firstLen}`),
  })
})
