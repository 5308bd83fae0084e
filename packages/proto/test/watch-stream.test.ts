import t from 'tap'
import { ProtoError } from '../src/core/errors.ts'
import {
  matchesPrefixes,
  parseWatchClientMessage,
  parseWatchServerMessage,
  snapshotMessages,
  WATCH_STREAM_VERSION,
} from '../src/core/watch-stream.ts'

const obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'default' } }

t.test('client messages: valid ones parse', async (t) => {
  t.same(parseWatchClientMessage({ type: 'hello', version: 1, fromRevision: 0 }), {
    type: 'hello',
    version: 1,
    fromRevision: 0,
  })
  t.same(parseWatchClientMessage({ type: 'hello', version: 1, fromRevision: 9, prefixes: ['/a/', '/b/'], extra: 1 }), {
    type: 'hello',
    version: 1,
    fromRevision: 9,
    prefixes: ['/a/', '/b/'],
  })
  t.same(parseWatchClientMessage({ type: 'ping', t: 5 }), { type: 'ping', t: 5 })
  t.same(parseWatchClientMessage({ type: 'pong', t: 5 }), { type: 'pong', t: 5 })
})

t.test('client messages: malformed ones are coded errors', async (t) => {
  const cases: Array<[unknown, string]> = [
    [null, 'PROTO_BAD_MESSAGE'],
    [42, 'PROTO_BAD_MESSAGE'],
    [[], 'PROTO_BAD_MESSAGE'],
    [{ type: 'nope' }, 'PROTO_BAD_MESSAGE'],
    [{ type: 'hello', fromRevision: 0 }, 'PROTO_BAD_MESSAGE'],
    [{ type: 'hello', version: 2, fromRevision: 0 }, 'PROTO_VERSION'],
    [{ type: 'hello', version: 1, fromRevision: -1 }, 'PROTO_BAD_MESSAGE'],
    [{ type: 'hello', version: 1, fromRevision: 1.5 }, 'PROTO_BAD_MESSAGE'],
    [{ type: 'hello', version: 1, fromRevision: 0, prefixes: '/a/' }, 'PROTO_BAD_MESSAGE'],
    [{ type: 'hello', version: 1, fromRevision: 0, prefixes: [1] }, 'PROTO_BAD_MESSAGE'],
    [{ type: 'ping' }, 'PROTO_BAD_MESSAGE'],
  ]
  for (const [msg, code] of cases) {
    const r = parseWatchClientMessage(msg)
    t.ok(r instanceof ProtoError, JSON.stringify(msg))
    t.equal((r as ProtoError).code, code, JSON.stringify(msg))
  }
})

t.test('server messages: every type validates', async (t) => {
  const good: unknown[] = [
    { type: 'hello', version: WATCH_STREAM_VERSION, revision: 3 },
    { type: 'snapshot', items: [{ key: '/core/pods/default/a', object: obj }] },
    { type: 'synced', revision: 3 },
    { type: 'events', events: [{ type: 'DELETED', key: '/core/pods/default/a', object: obj, revision: 4 }] },
    { type: 'gone', message: 'compacted' },
    { type: 'error', code: 'PROTO_VERSION', message: 'no' },
    { type: 'ping', t: 1 },
    { type: 'pong', t: 1 },
  ]
  for (const m of good) t.same(parseWatchServerMessage(m), m)
  const badOnes: unknown[] = [
    { type: 'hello', version: 2, revision: 3 },
    { type: 'snapshot', items: [{ key: 1, object: obj }] },
    { type: 'snapshot', items: [{ key: 'k', object: { kind: 'Pod' } }] },
    { type: 'synced' },
    { type: 'events', events: [{ type: 'UPSERT', key: 'k', object: obj, revision: 1 }] },
    { type: 'events', events: [{ type: 'ADDED', key: 'k', object: obj }] },
    { type: 'gone' },
    { type: 'error', code: 1, message: 'x' },
    {},
  ]
  for (const m of badOnes) t.ok(parseWatchServerMessage(m) instanceof ProtoError, JSON.stringify(m))
  t.equal((parseWatchServerMessage(badOnes[0]) as ProtoError).code, 'PROTO_VERSION')
})

t.test('prefix matching and snapshot chunking', async (t) => {
  t.ok(matchesPrefixes('/a/b', undefined))
  t.ok(matchesPrefixes('/a/b', []))
  t.ok(matchesPrefixes('/a/b', ['/x/', '/a/']))
  t.notOk(matchesPrefixes('/a/b', ['/x/']))
  const items = Array.from({ length: 2500 }, (_, i) => ({ key: `/k/${i}`, object: obj }))
  t.same(
    snapshotMessages(items).map((m) => m.items.length),
    [1000, 1000, 500],
  )
  t.same(snapshotMessages([]), [{ type: 'snapshot', items: [] }])
})
