import {
  allSyncerPrefixes,
  encodeFrame,
  Framer,
  isProtoError,
  parseTyphaClientMessage,
  parseTyphaServerMessage,
  syncerWants,
  TYPHA_PROTOCOL_VERSION,
  type TyphaServerMessage,
} from '@calilab/proto'
import fc from 'fast-check'
import t from 'tap'
import { obj } from './helpers.ts'

t.test('every server message round-trips through a frame', async (t) => {
  const msgs: TyphaServerMessage[] = [
    { type: 'hello', version: TYPHA_PROTOCOL_VERSION, syncerType: 'bgp', serverId: 'abc', compression: 'none' },
    { type: 'snapshot', revision: 3, kvs: [{ key: '/core/pods/ns/a', value: obj('Pod', 'a', 3) }] },
    { type: 'in-sync', revision: 3 },
    { type: 'deltas', revision: 4, updates: [{ key: '/core/pods/ns/a', value: null }] },
    { type: 'ping', t: 1 },
    { type: 'pong', t: 2 },
    { type: 'error', code: 'TYPHA_VERSION', message: 'no' },
  ]
  const f = new Framer()
  const all = Buffer.concat(msgs.map((m) => encodeFrame(m)))
  // fed one byte at a time, the framer still yields every message
  const got: unknown[] = []
  for (const b of all) got.push(...f.push(Buffer.from([b])).messages)
  t.same(
    got.map((m) => parseTyphaServerMessage(m)),
    msgs,
  )
})

t.test('client messages are validated', async (t) => {
  t.same(
    parseTyphaClientMessage({ type: 'hello', version: TYPHA_PROTOCOL_VERSION, nodeName: 'n1', syncerType: 'felix' }),
    {
      type: 'hello',
      version: TYPHA_PROTOCOL_VERSION,
      nodeName: 'n1',
      syncerType: 'felix',
    },
  )
  const v = parseTyphaClientMessage({ type: 'hello', version: 99, nodeName: 'n1', syncerType: 'felix' })
  t.ok(isProtoError(v, 'PROTO_VERSION'))
  for (const bad of [
    null,
    42,
    [],
    { type: 'hello', version: 1, nodeName: '', syncerType: 'felix' },
    { type: 'hello', version: 1, nodeName: 'n', syncerType: 'tunnel' },
    { type: 'hello', version: 1, nodeName: 'n', syncerType: 'felix', compression: 'snappy' },
    { type: 'ping' },
    { type: 'deltas', revision: 1, updates: [] },
  ]) {
    t.ok(isProtoError(parseTyphaClientMessage(bad), 'PROTO_BAD_MESSAGE'), JSON.stringify(bad))
  }
  t.ok(isProtoError(parseTyphaServerMessage({ type: 'deltas', revision: 1, updates: [{ key: 1 }] })))
  t.ok(isProtoError(parseTyphaServerMessage({ type: 'snapshot', revision: -1, kvs: [] })))
})

t.test('parsers never throw on garbage (fuzz)', async (t) => {
  fc.assert(
    fc.property(fc.anything(), (x) => {
      parseTyphaClientMessage(x)
      parseTyphaServerMessage(x)
      return true
    }),
    { numRuns: 2000 },
  )
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const f = new Framer({ maxFrameBytes: 1024 })
      const r = f.push(bytes)
      for (const m of r.messages) parseTyphaClientMessage(m)
      return true
    }),
    { numRuns: 2000 },
  )
  t.pass('no throw')
})

t.test('each syncer type gets only its kinds', async (t) => {
  t.ok(syncerWants('felix', '/core/pods/yaobank/customer'))
  t.notOk(syncerWants('bgp', '/core/pods/yaobank/customer'))
  t.ok(syncerWants('bgp', '/projectcalico.org/ipamblocks/_/198-19-16-0-26'))
  t.notOk(syncerWants('felix', '/projectcalico.org/ipamblocks/_/198-19-16-0-26'))
  t.ok(syncerWants('bgp', '/projectcalico.org/bgppeers/_/p'))
  t.ok(syncerWants('felix', '/networking.k8s.io/networkpolicies/ns/p'))
  t.notOk(syncerWants('felix', '/core/secrets/ns/s'))
  t.notOk(syncerWants('felix', '/core/podtemplates/ns/s'), 'prefix ends in / so /core/pods does not match podtemplates')
  const all = allSyncerPrefixes()
  t.ok(all.includes('/core/pods/') && all.includes('/projectcalico.org/bgppeers/'))
  t.equal(new Set(all).size, all.length)
})
