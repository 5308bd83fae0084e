import { cidrContains, type IPPool, parseIPv4 } from '@calilab/model'
import fc from 'fast-check'
import t from 'tap'
import {
  assignIP,
  autoAssign,
  emptyIpamState,
  type IpamState,
  type PoolInfo,
  poolFromResource,
  releaseByHandle,
  releaseIP,
  releaseNode,
} from '../src/core/ipam/index.ts'

const pool = (name: string, spec: IPPool['spec']): PoolInfo =>
  poolFromResource({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec })

// Small pools so exhaustion, borrowing and block limits all happen.
const POOLS = [
  pool('a', { cidr: '10.0.0.0/27', blockSize: 29 }),
  pool('b', { cidr: '10.1.0.0/28', blockSize: 30 }),
  pool('c', { cidr: '10.2.0.0/29', blockSize: 29 }),
]
const NODES = ['n1', 'n2', 'n3']

type Op =
  | { t: 'auto'; node: number; pools: number[]; handle: number; num: number }
  | { t: 'assign'; node: number; ip: number; handle: number }
  | { t: 'relHandle'; handle: number }
  | { t: 'relIP'; ip: number }
  | { t: 'relNode'; node: number }

const ALL_IPS = POOLS.flatMap((p) => {
  const base = parseIPv4(p.cidr.split('/')[0] as string)
  const size = 2 ** (32 - Number(p.cidr.split('/')[1]))
  return Array.from({ length: size }, (_, i) => base + i)
})
const fmt = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('auto' as const),
      node: fc.nat(2),
      pools: fc.subarray([0, 1, 2], { minLength: 1 }),
      handle: fc.nat(11),
      num: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('assign' as const),
      node: fc.nat(2),
      ip: fc.nat(ALL_IPS.length - 1),
      handle: fc.nat(11),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('relHandle' as const), handle: fc.nat(11) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('relIP' as const), ip: fc.nat(ALL_IPS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('relNode' as const), node: fc.nat(2) }) },
)

/** Structural invariants of every block and handle. */
function checkInvariants(s: IpamState): string | undefined {
  const counts = new Map<string, number>()
  for (const [cidr, { spec: b }] of s.blocks) {
    if (!POOLS.some((p) => cidrContains(p.cidr, cidr))) return `block ${cidr} outside every pool`
    const free = new Set(b.unallocated)
    if (free.size !== b.unallocated.length) return `duplicate in free list of ${cidr}`
    for (let o = 0; o < b.allocations.length; o++) {
      const a = b.allocations[o]
      if ((a === null) !== free.has(o)) return `ordinal ${o} of ${cidr} both/neither free and allocated`
      if (a !== null && a !== undefined) {
        const attr = b.attributes[a]
        if (!attr) return `dangling attribute index in ${cidr}`
        const k = `${attr.handle_id}|${cidr}`
        counts.set(k, (counts.get(k) ?? 0) + 1)
      }
    }
    const used = new Set(b.allocations.filter((x) => x !== null))
    if (used.size !== b.attributes.length) return `unused attributes left in ${cidr}`
  }
  for (const [id, { spec: h }] of s.handles) {
    for (const [cidr, n] of Object.entries(h.block)) {
      if (counts.get(`${id}|${cidr}`) !== n)
        return `handle ${id} counts ${n} in ${cidr}, block has ${counts.get(`${id}|${cidr}`)}`
      counts.delete(`${id}|${cidr}`)
    }
  }
  if (counts.size > 0) return `allocations without handle records: ${[...counts.keys()].join(',')}`
  for (const { spec: a } of s.affinities.values()) {
    if (s.blocks.get(a.cidr)?.spec.affinity !== `host:${a.node}`)
      return `affinity ${a.node}/${a.cidr} without its block`
  }
  return undefined
}

t.test('property: no address is ever handed out twice; every allocation lies in an allowed pool', async (t) => {
  const seed = Date.now() % 100000
  t.comment(`fast-check seed ${seed}`)
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => {
      let s = emptyIpamState({ maxBlocksPerHost: 2 })
      const live = new Map<string, string>() // ip -> handle
      for (const op of ops) {
        if (op.t === 'auto') {
          const pools = op.pools.map((i) => POOLS[i] as PoolInfo)
          const handle = `h${op.handle}`
          const r = autoAssign(s, {
            node: NODES[op.node] as string,
            handle,
            attrs: { node: NODES[op.node] as string },
            pools,
            num: op.num,
          })
          if (!r.ok) continue
          if (r.ips.length !== op.num) throw new Error('short allocation reported as success')
          for (const ip of r.ips) {
            if (live.has(ip)) throw new Error(`${ip} handed out twice`)
            if (!pools.some((p) => cidrContains(p.cidr, ip))) throw new Error(`${ip} outside the requested pools`)
            live.set(ip, handle)
          }
          s = r.state
        } else if (op.t === 'assign') {
          const ip = fmt(ALL_IPS[op.ip] as number)
          const r = assignIP(s, {
            ip,
            node: NODES[op.node] as string,
            handle: `h${op.handle}`,
            attrs: { node: NODES[op.node] as string },
            pools: POOLS,
          })
          if (r.ok !== !live.has(ip)) throw new Error(`assignIP ${ip}: ok=${r.ok} but live=${live.has(ip)}`)
          if (r.ok) {
            live.set(ip, `h${op.handle}`)
            s = r.state
          }
        } else if (op.t === 'relHandle') {
          const r = releaseByHandle(s, `h${op.handle}`)
          if (!r.ok) throw new Error('release failed')
          const expected = [...live].filter(([, h]) => h === `h${op.handle}`).map(([ip]) => ip)
          if (expected.sort().join() !== [...r.released].sort().join())
            throw new Error(`released ${r.released} expected ${expected}`)
          for (const ip of r.released) live.delete(ip)
          s = r.state
        } else if (op.t === 'relIP') {
          const ip = fmt(ALL_IPS[op.ip] as number)
          const r = releaseIP(s, ip)
          if (!r.ok) throw new Error('release failed')
          if ((r.released.length === 1) !== live.has(ip)) throw new Error(`releaseIP ${ip} mismatch`)
          live.delete(ip)
          s = r.state
        } else {
          const r = releaseNode(s, NODES[op.node] as string)
          if (!r.ok) throw new Error('release failed')
          for (const ip of r.released) live.delete(ip)
          s = r.state
        }
        const bad = checkInvariants(s)
        if (bad) throw new Error(bad)
      }
      // the state agrees with the model about what is live
      let allocated = 0
      for (const { spec: b } of s.blocks.values()) allocated += b.allocations.filter((a) => a !== null).length
      if (allocated !== live.size) throw new Error(`state has ${allocated} allocations, model ${live.size}`)
    }),
    { seed, numRuns: 300 },
  )
  t.pass('held for 300 random sequences')
})
