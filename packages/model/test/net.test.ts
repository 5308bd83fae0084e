import fc from 'fast-check'
import t from 'tap'
import {
  carveBlocks,
  cidrContains,
  cidrLast,
  cidrOverlaps,
  formatCidr,
  ipsInCidr,
  makeCidr,
  parseCidr,
  tryParseCidr,
} from '../src/net/cidr.ts'
import { formatIPv4, ipCompare, isValidIPv4, NetParseError, parseIPv4, tryParseIPv4 } from '../src/net/ipv4.ts'

t.test('parseIPv4 / formatIPv4 table', async (t) => {
  const good: [string, number][] = [
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['198.19.0.1', 0xc6130001],
    ['10.0.0.255', 0x0a0000ff],
    ['1.2.3.4', 0x01020304],
  ]
  for (const [s, n] of good) {
    t.equal(parseIPv4(s), n, s)
    t.equal(formatIPv4(n), s)
    t.ok(isValidIPv4(s))
  }
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '01.2.3.4',
    '1..2.3',
    '1.2.3.4 ',
    'a.b.c.d',
    '1.2.3.-4',
    '1.2.3.4/32',
    '1111.1.1.1',
  ]) {
    t.equal(tryParseIPv4(bad), undefined, JSON.stringify(bad))
    t.notOk(isValidIPv4(bad))
    t.throws(() => parseIPv4(bad), NetParseError)
  }
  try {
    parseIPv4('x')
  } catch (e) {
    t.equal((e as NetParseError).code, 'NET_BAD_IP')
  }
  t.ok(ipCompare(parseIPv4('10.0.0.2'), parseIPv4('10.0.0.10')) < 0)
  t.ok(ipCompare(parseIPv4('200.0.0.0'), parseIPv4('10.0.0.0')) > 0)
  t.equal(ipCompare(5, 5), 0)
})

t.test('parseCidr table', async (t) => {
  const c = parseCidr('198.19.16.5/21')
  t.same(c, { ip: parseIPv4('198.19.16.5'), prefix: 21, network: parseIPv4('198.19.16.0'), size: 2048 })
  t.equal(formatCidr(c), '198.19.16.0/21')
  t.equal(formatIPv4(cidrLast(c)), '198.19.23.255')
  t.same(parseCidr('0.0.0.0/0'), { ip: 0, prefix: 0, network: 0, size: 2 ** 32 })
  t.equal(parseCidr('1.2.3.4/32').size, 1)
  const errors: [string, string][] = [
    ['198.19.0.0/33', 'prefix length must be 0-32'],
    ['198.19.0.0/', 'prefix length must be 0-32'],
    ['198.19.0.0/-1', 'prefix length must be 0-32'],
    ['198.19.0.0/08', 'prefix length must be 0-32'],
    ['198.19.0.0', 'must be a CIDR (address/prefix length)'],
    ['198.19.0/16', 'invalid IPv4 address in CIDR'],
  ]
  for (const [s, msg] of errors) {
    const r = tryParseCidr(s)
    t.equal(r.ok, false, s)
    if (!r.ok) t.equal(r.error.message, msg, s)
    t.throws(() => parseCidr(s), { message: msg })
  }
  const strict = tryParseCidr('198.19.0.1/24', { strict: true })
  t.equal(strict.ok, false)
  if (!strict.ok) t.equal(strict.error.code, 'NET_HOST_BITS')
  t.ok(tryParseCidr('198.19.0.0/24', { strict: true }).ok)
})

t.test('contains / overlaps table', async (t) => {
  t.ok(cidrContains('198.19.16.0/20', '198.19.24.0/21'))
  t.notOk(cidrContains('198.19.24.0/21', '198.19.16.0/20'))
  t.ok(cidrContains('198.19.16.0/20', '198.19.31.255'))
  t.notOk(cidrContains('198.19.16.0/20', '198.19.32.0'))
  t.ok(cidrContains('0.0.0.0/0', parseIPv4('255.255.255.255')))
  t.ok(cidrOverlaps('198.19.16.0/20', '198.19.24.0/21'))
  t.ok(cidrOverlaps('198.19.24.0/21', '198.19.16.0/20'))
  t.notOk(cidrOverlaps('198.19.16.0/21', '198.19.24.0/21'))
  t.ok(cidrOverlaps('169.254.0.0/16', '169.0.0.0/8'))
  t.throws(() => cidrContains('10.0.0.0/8', '10.0.0'), NetParseError)
})

t.test('carveBlocks and ipsInCidr', async (t) => {
  const blocks = [...carveBlocks('198.19.16.0/21', 26)].map(formatCidr)
  t.equal(blocks.length, 32)
  t.equal(blocks[0], '198.19.16.0/26')
  t.equal(blocks[1], '198.19.16.64/26')
  t.equal(blocks[31], '198.19.23.192/26')
  t.same([...carveBlocks('198.19.24.0/29', 29)].map(formatCidr), ['198.19.24.0/29'])
  t.throws(() => [...carveBlocks('198.19.24.0/21', 20)])
  t.throws(() => [...carveBlocks('198.19.24.0/21', 33)])
  t.same([...ipsInCidr('10.0.0.4/30')].map(formatIPv4), ['10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7'])
  t.same([...ipsInCidr('255.255.255.255/32')], [0xffffffff])
  // whole /0 carving is lazy
  const it = carveBlocks('0.0.0.0/0', 32)[Symbol.iterator]()
  t.equal(it.next().value?.network, 0)
})

const arbIp = fc.integer({ min: 0, max: 0xffffffff })
const arbCidr = fc.tuple(arbIp, fc.integer({ min: 0, max: 32 })).map(([ip, p]) => makeCidr(ip, p))

t.test('property: format/parse round trip', async (t) => {
  const seed = Date.now() % 100000
  t.comment(`seed ${seed}`)
  fc.assert(
    fc.property(arbIp, (n) => parseIPv4(formatIPv4(n)) === n),
    { seed },
  )
  fc.assert(
    fc.property(arbCidr, (c) => {
      const back = parseCidr(formatCidr(c), { strict: true })
      return back.network === c.network && back.prefix === c.prefix && back.size === c.size
    }),
    { seed },
  )
  t.pass('round trips hold')
})

t.test('property: carveBlocks tiles the cidr exactly', async (t) => {
  const seed = Date.now() % 100000
  t.comment(`seed ${seed}`)
  const arb = fc
    .tuple(arbIp, fc.integer({ min: 12, max: 32 }), fc.integer({ min: 0, max: 10 }))
    .map(([ip, p, extra]) => ({ c: makeCidr(ip, p), block: Math.min(32, p + extra) }))
  fc.assert(
    fc.property(arb, ({ c, block }) => {
      const blocks = [...carveBlocks(c, block)]
      if (blocks.length !== c.size / 2 ** (32 - block)) return false
      let next = c.network
      for (const b of blocks) {
        if (b.network !== next || b.prefix !== block) return false
        if (!cidrContains(c, b)) return false
        next += b.size
      }
      return next === c.network + c.size
    }),
    { seed },
  )
  t.pass('tiling holds')
})

t.test('property: contains and overlaps are consistent', async (t) => {
  const seed = Date.now() % 100000
  t.comment(`seed ${seed}`)
  fc.assert(
    fc.property(arbCidr, arbCidr, arbIp, (a, b, ip) => {
      const overlap = cidrOverlaps(a, b)
      if (overlap !== cidrOverlaps(b, a)) return false
      // two CIDRs overlap exactly when one contains the other
      if (overlap !== (cidrContains(a, b) || cidrContains(b, a))) return false
      // interval definition
      const intervals = a.network <= cidrLast(b) && b.network <= cidrLast(a)
      if (overlap !== intervals) return false
      // an address in both means they overlap
      if (cidrContains(a, ip) && cidrContains(b, ip) && !overlap) return false
      // containment of an address matches the interval
      return cidrContains(a, ip) === (ip >= a.network && ip <= cidrLast(a))
    }),
    { seed },
  )
  t.pass('consistency holds')
})
