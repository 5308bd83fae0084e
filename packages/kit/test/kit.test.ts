import t from 'tap'
import { CodedError, FakeClock, loadConfig, parseReadyLine, readyLine, seededRng } from '../src/index.ts'

t.test('FakeClock fires timers in order only when advanced', (t) => {
  const c = new FakeClock(1000)
  const fired: string[] = []
  c.setTimeout(() => fired.push('b'), 20)
  c.setTimeout(() => fired.push('a'), 10)
  const iv = c.setInterval(() => fired.push('i'), 15)
  c.advance(9)
  t.same(fired, [])
  c.advance(21)
  t.same(fired, ['a', 'i', 'b', 'i'])
  t.equal(c.now(), 1030)
  iv.cancel()
  c.advance(100)
  t.same(fired, ['a', 'i', 'b', 'i'])
  t.end()
})

t.test('seeded rng replays', (t) => {
  const a = seededRng(42)
  const b = seededRng(42)
  const xs = Array.from({ length: 5 }, () => a.int(1000))
  t.same(
    Array.from({ length: 5 }, () => b.int(1000)),
    xs,
  )
  t.match(seededRng(1).suffix(5), /^[bcdfghjklmnpqrstvwxz2456789]{5}$/)
  t.end()
})

t.test('config precedence: defaults < file < env < flags', (t) => {
  const defaults = { port: 6443, dataDir: '.calilab/data', pretty: false }
  const c = loadConfig({
    defaults,
    file: { port: 7000 },
    env: { CALILAB_DATA_DIR: '/x', CALILAB_PRETTY: 'true' },
    flags: { port: 8000 },
  })
  t.same(c, { port: 8000, dataDir: '/x', pretty: true })
  t.ok(Object.isFrozen(c))
  t.throws(() => loadConfig({ defaults, env: { CALILAB_PORT: 'abc' } }), /CALILAB_PORT: "abc" is not a number/)
  t.throws(() => loadConfig({ defaults, file: { nope: 1 } as never }), /unknown key "nope"/)
  t.end()
})

t.test('coded errors cross boundaries as plain objects', (t) => {
  const e = new CodedError({ code: 'X_BAD', message: 'bad thing', field: 'spec.cidr' })
  const plain = JSON.parse(JSON.stringify(e))
  t.same(plain, { field: 'spec.cidr', code: 'X_BAD', message: 'bad thing' })
  const back = CodedError.from(plain)
  t.equal(back.code, 'X_BAD')
  t.equal(back.details.field, 'spec.cidr')
  t.end()
})

t.test('ready lines round-trip', (t) => {
  t.same(parseReadyLine(readyLine({ component: 'apiserver', port: 6443 })), { component: 'apiserver', port: 6443 })
  t.equal(parseReadyLine('other'), undefined)
  t.end()
})
