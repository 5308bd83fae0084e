import t from 'tap'
import {
  encodeFrame,
  encodeRecordsFrame,
  FRAME_HEADER_BYTES,
  FrameCutter,
  Framer,
  parseTyphaServerMessage,
  peekTyphaFrame,
  unpackMessage,
} from '../src/index.ts'

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

function pod(i: number, labels: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: 'ns', labels, resourceVersion: String(100 + i), uid: `u-${i}` },
    spec: { nodeName: `node-${i % 7}`, containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 80 }] }] },
  }
}

/** Objects of many shapes: random label key sets, optional fields, nested arrays. */
function corpus(seed: number, n: number) {
  const r = prng(seed)
  const keys = ['app', 'tier', 'team', 'env', 'version', 'zone', 'pod-template-hash', 'a.b/c']
  return Array.from({ length: n }, (_, i) => {
    const labels: Record<string, string> = {}
    for (const k of keys) if (r() < 0.4) labels[k] = `v${Math.floor(r() * 5)}`
    const o = pod(i, labels) as Record<string, unknown>
    if (r() < 0.3) o['status'] = { phase: r() < 0.5 ? 'Running' : 'Pending', podIP: `10.0.0.${i % 250}` }
    if (r() < 0.1)
      (o['metadata'] as Record<string, unknown>)['annotations'] = { note: 'x'.repeat(Math.floor(r() * 300)) }
    return { key: `/core/pods/ns/pod-${i}`, value: r() < 0.05 ? null : o }
  })
}

t.test('records frames: same content as plain frames, fewer bytes, decoded by the ordinary Framer', async (t) => {
  for (const seed of [1, 2, 3]) {
    t.comment(`seed ${seed}`)
    const kvs = corpus(seed, 700)
    const msg = { type: 'snapshot', revision: 42, kvs }
    const plain = encodeFrame(msg)
    const rec = encodeRecordsFrame(msg)
    t.ok(rec.length < plain.length, `records smaller (${rec.length} < ${plain.length})`)
    // interleave with plain frames and other records frames on one decoder, split at odd sizes
    const other = { type: 'deltas', revision: 43, updates: corpus(seed + 10, 150) }
    const stream = Buffer.concat([rec, encodeFrame({ type: 'ping', t: 1 }), encodeRecordsFrame(other), plain, rec])
    const f = new Framer()
    const got: unknown[] = []
    for (let i = 0; i < stream.length; i += 977) {
      const r = f.push(stream.subarray(i, i + 977))
      t.equal(r.error, undefined)
      got.push(...r.messages)
    }
    t.same(got, [msg, { type: 'ping', t: 1 }, other, msg, msg])
    const parsed = parseTyphaServerMessage(got[0])
    t.equal(parsed instanceof Error, false, 'a records snapshot passes validation')
  }
})

t.test('records frames carry no state between messages: the same bytes decode anywhere, in any order', async (t) => {
  const a = encodeRecordsFrame({ type: 'snapshot', revision: 1, kvs: corpus(5, 200) })
  const b = encodeRecordsFrame({ type: 'snapshot', revision: 1, kvs: corpus(6, 200) })
  const b2 = encodeRecordsFrame({ type: 'snapshot', revision: 1, kvs: corpus(6, 200) })
  t.ok(b.equals(b2), 'encoding is deterministic (no stream state leaks into the bytes)')
  const dec = (x: Buffer) => unpackMessage(x.subarray(FRAME_HEADER_BYTES))
  t.same(dec(b), { type: 'snapshot', revision: 1, kvs: corpus(6, 200) })
  t.same(dec(a), { type: 'snapshot', revision: 1, kvs: corpus(5, 200) })
  t.same(dec(b), dec(b2))
})

t.test('peekTyphaFrame reads type and revision of every server message without decoding it', async (t) => {
  const msgs = [
    { type: 'hello', version: 1, syncerType: 'felix', serverId: 'abc', compression: 'none' },
    { type: 'snapshot', revision: 7, kvs: corpus(1, 3) },
    { type: 'in-sync', revision: 300 },
    { type: 'deltas', revision: 70_000, updates: [] },
    { type: 'deltas', revision: 5_000_000_000, updates: [] },
    { type: 'ping', t: 1764000000000 },
    { type: 'error', code: 'TYPHA_VERSION', message: 'x' },
  ]
  for (const m of msgs) {
    for (const enc of [encodeFrame, encodeRecordsFrame]) {
      const h = peekTyphaFrame(enc(m).subarray(FRAME_HEADER_BYTES))
      t.same(h, { type: m.type, revision: 'revision' in m ? m.revision : undefined }, `${m.type} ${enc.name}`)
    }
  }
  // big maps (map16) and str8 types
  const big: Record<string, unknown> = { type: 'x'.repeat(40), revision: 3 }
  for (let i = 0; i < 20; i++) big[`k${i}`] = i
  t.same(peekTyphaFrame(encodeFrame(big).subarray(FRAME_HEADER_BYTES)), { type: 'x'.repeat(40), revision: 3 })
  t.equal(peekTyphaFrame(encodeFrame({ revision: 1, type: 'deltas' }).subarray(4)), undefined, 'type not first')
  t.equal(peekTyphaFrame(encodeFrame([1, 2]).subarray(4)), undefined, 'not a map')
  t.equal(peekTyphaFrame(Buffer.alloc(0)), undefined, 'empty')
  const r = prng(9)
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256)))
    if (r() < 0.5) junk[0] = 0x83
    t.doesNotThrow(() => peekTyphaFrame(junk))
  }
  // truncated frames never read past the end
  const full = encodeFrame({ type: 'deltas', revision: 123456, updates: [] }).subarray(4)
  for (let n = 0; n < full.length; n++) {
    const h = peekTyphaFrame(full.subarray(0, n))
    t.ok(h === undefined || h.revision === undefined || h.revision === 123456)
  }
})

t.test('FrameCutter cuts frames without decoding; payloads inside one chunk are views, not copies', async (t) => {
  const frames = [encodeFrame({ type: 'ping', t: 1 }), encodeFrame({ a: 'x'.repeat(5000) }), encodeFrame(7)]
  const stream = Buffer.concat(frames)
  const c = new FrameCutter()
  const whole = c.push(stream)
  t.equal(whole.payloads.length, 3)
  t.equal(whole.payloads[0]?.buffer, stream.buffer, 'a view of the chunk')
  for (const [i, p] of whole.payloads.entries()) t.ok(p.equals((frames[i] as Buffer).subarray(4)))
  for (const step of [1, 5, 333]) {
    const cc = new FrameCutter()
    const got: Buffer[] = []
    for (let i = 0; i < stream.length; i += step) got.push(...cc.push(stream.subarray(i, i + step)).payloads)
    t.same(
      got.map((p) => unpackMessage(p)),
      [{ type: 'ping', t: 1 }, { a: 'x'.repeat(5000) }, 7],
    )
    t.equal(cc.pendingBytes, 0)
  }
  const small = new FrameCutter({ maxFrameBytes: 10 })
  const r = small.push(encodeFrame({ a: 'x'.repeat(50) }))
  t.equal(r.error?.code, 'PROTO_FRAME_TOO_LARGE')
  t.equal(small.push(Buffer.from([0])).error?.code, 'PROTO_FRAME_TOO_LARGE', 'stays failed')
})
