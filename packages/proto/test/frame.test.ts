import t from 'tap'
import { ProtoError } from '../src/core/errors.ts'
import { encodeFrame, encodeOnce, Framer, packMessage, unpackMessage } from '../src/core/frame.ts'

/** Small seeded PRNG (proto may not import kit). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const samples: unknown[] = [
  { type: 'hello', version: 1, fromRevision: 0, prefixes: ['/projectcalico.org/ippools/'] },
  { type: 'events', events: [{ type: 'ADDED', key: '/core/pods/default/a', revision: 7, object: { kind: 'Pod' } }] },
  { type: 'ping', t: 1234567890123 },
  { nested: { deep: [1, 2.5, -3, null, true, 'x'.repeat(70_000)] }, bin: new Uint8Array([1, 2, 3]) },
  [],
  'just a string',
]

t.test('round trip, whole and split at every byte', async (t) => {
  const stream = Buffer.concat(samples.map(encodeFrame))
  const whole = new Framer().push(stream)
  t.equal(whole.error, undefined)
  t.same(whole.messages, samples)
  for (const step of [1, 3, 7, 4096]) {
    const f = new Framer()
    const got: unknown[] = []
    let errors = 0
    for (let i = 0; i < stream.length; i += step) {
      const r = f.push(stream.subarray(i, i + step))
      if (r.error) errors++
      got.push(...r.messages)
    }
    t.equal(errors, 0)
    t.same(got, samples, `chunks of ${step}`)
    t.equal(f.pendingBytes, 0)
  }
})

t.test('frame layout: u32 BE length then msgpack payload', async (t) => {
  const f = encodeFrame({ a: 1 })
  t.equal(f.readUInt32BE(0), f.length - 4)
  t.same(unpackMessage(f.subarray(4)), { a: 1 })
  t.same(unpackMessage(packMessage({ a: 1 })), { a: 1 })
})

t.test('encode once, decode by many framers', async (t) => {
  const frame = encodeOnce({ type: 'events', events: [] })
  const framers = [new Framer(), new Framer(), new Framer()]
  for (const f of framers) t.same(f.push(frame).messages, [{ type: 'events', events: [] }])
  // encoding more frames afterwards does not disturb the first buffer
  for (let i = 0; i < 1000; i++) encodeFrame({ i, pad: 'y'.repeat(i) })
  t.same(new Framer().push(frame).messages, [{ type: 'events', events: [] }])
})

t.test('frame too large is a typed error, before buffering it', async (t) => {
  const f = new Framer({ maxFrameBytes: 1024 })
  const ok = encodeFrame({ small: true })
  const big = encodeFrame({ big: 'z'.repeat(2000) })
  const r = f.push(Buffer.concat([ok, big.subarray(0, 10)]))
  t.same(r.messages, [{ small: true }])
  t.ok(r.error instanceof ProtoError)
  t.equal(r.error?.code, 'PROTO_FRAME_TOO_LARGE')
  t.equal(f.pendingBytes, 0)
  t.equal(f.push(ok).error?.code, 'PROTO_FRAME_TOO_LARGE', 'stays failed')
  t.equal(
    new Framer().push(Buffer.from([0xff, 0xff, 0xff, 0xff])).error?.code,
    'PROTO_FRAME_TOO_LARGE',
    '64 MiB default',
  )
})

t.test('undecodable payload is a typed error', async (t) => {
  for (const bytes of [[0xc1], [0x92, 0x01], [0x01, 0x02], [], [0xd4, 0x01, 0x00]]) {
    const payload = Buffer.from(bytes)
    const len = Buffer.alloc(4)
    len.writeUInt32BE(payload.length)
    const r = new Framer().push(Buffer.concat([encodeFrame(1), len, payload, encodeFrame(2)]))
    t.same(r.messages, [1], `payload ${bytes}`)
    t.equal(r.error?.code, 'PROTO_UNDECODABLE', `payload ${bytes}`)
    t.equal((unpackMessage(payload) as ProtoError).code, 'PROTO_UNDECODABLE')
  }
})

t.test('fuzz: garbage never throws', async (t) => {
  const seed = Number(process.env.CALILAB_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed}`)
  const rand = prng(seed)
  let errors = 0
  let messages = 0
  let untyped = 0
  for (let i = 0; i < 3000; i++) {
    const f = new Framer({ maxFrameBytes: 1 << 16 })
    const len = Math.floor(rand() * 200)
    const buf = Buffer.alloc(len)
    for (let j = 0; j < len; j++) buf[j] = Math.floor(rand() * 256)
    // half of the cases: a plausible small length prefix over random bytes
    if (len > 4 && rand() < 0.5) buf.writeUInt32BE(len - 4, 0)
    const r = f.push(buf)
    messages += r.messages.length
    if (r.error) {
      errors++
      if (!(r.error instanceof ProtoError)) untyped++
    }
  }
  t.equal(untyped, 0, 'every error is a ProtoError')
  t.ok(errors > 0 && messages > 0, `${errors} errors, ${messages} messages decoded from garbage`)
})
