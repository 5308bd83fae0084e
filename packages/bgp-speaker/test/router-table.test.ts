import { FakeClock } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import {
  BgpRouter,
  filterAccepts,
  host1Filter,
  parseFilter,
  parsePeerSpec,
  type Route,
  type RouteChange,
  RouteTable,
} from '../src/index.ts'

const PEERS: Record<string, string> = { control: '198.19.0.1', node1: '198.19.0.2', node2: '198.19.0.3' }

function path(peer: string): Route {
  const ip = parseIPv4(PEERS[peer] as string)
  return {
    prefix: { addr: 0, len: 0 },
    attrs: { origin: 0, asPath: [], nextHop: ip, localPref: 100 },
    peer: { id: peer, address: ip, asn: 64512, routerId: ip, localAddress: parseIPv4('198.19.15.254') },
  }
}

function change(prefix: string, peers: string[]): RouteChange {
  const [ip = '', len = '0'] = prefix.split('/')
  const p = { addr: parseIPv4(ip), len: Number(len) }
  const paths = peers.map((n) => ({ ...path(n), prefix: p }))
  const c: RouteChange = { prefix: p, paths }
  if (paths[0]) c.best = paths[0]
  return c
}

t.test('host1 import filter (host1-bird.conf bgp_allow)', async (t) => {
  const f = host1Filter()
  t.equal(f.name, 'bgp_allow')
  const cases: [string, boolean][] = [
    ['198.19.48.0/20', true], // net = 198.19.48.0/20
    ['198.19.48.10/32', false], // exact only
    ['198.19.32.0/20', true], // 198.19.32.0/20+
    ['198.19.44.10/32', true],
    ['198.19.32.0/19', false], // shorter than /20
    ['198.19.24.0/21', true], // 198.19.24.0/21+
    ['198.19.24.208/29', true],
    ['198.19.16.0/26', false], // default pool blocks never reach host1
    ['198.19.22.128/26', false],
    ['10.0.0.0/8', false],
  ]
  for (const [p, want] of cases) t.equal(filterAccepts(f, p), want, p)
  const custom = parseFilter('!198.19.16.64/26,198.19.16.0/21+')
  t.equal(filterAccepts(custom, '198.19.16.64/26'), false)
  t.equal(filterAccepts(custom, '198.19.16.0/26'), true)
  t.equal(filterAccepts(parseFilter('all'), '10.0.0.0/8'), true)
  t.throws(() => parseFilter('198.19.0.0/33'), /import filter entry "198.19.0.0\/33"/)
})

t.test('router installs filtered best routes, ECMP, prints ip route', async (t) => {
  const clock = new FakeClock()
  const table = new RouteTable({ connected: [{ prefix: '198.19.0.0/20', src: '198.19.15.254' }] })
  const r = new BgpRouter({ filter: host1Filter(), sink: table, clock })
  r.apply([
    change('198.19.32.0/20', ['control', 'node1', 'node2']),
    change('198.19.24.208/29', ['node1']),
    change('198.19.22.128/26', ['node1']),
    change('198.19.48.0/20', ['node2', 'node1']),
  ])
  t.equal(r.filtered, 1)
  t.equal(
    table.format(),
    [
      '198.19.0.0/20 dev eth0 proto kernel scope link src 198.19.15.254',
      '198.19.24.208/29 via 198.19.0.2 dev eth0 proto bird metric 32',
      '198.19.32.0/20 proto bird metric 32',
      '\tnexthop via 198.19.0.1 dev eth0 weight 1',
      '\tnexthop via 198.19.0.2 dev eth0 weight 1',
      '\tnexthop via 198.19.0.3 dev eth0 weight 1',
      '198.19.48.0/20 proto bird metric 32',
      '\tnexthop via 198.19.0.2 dev eth0 weight 1',
      '\tnexthop via 198.19.0.3 dev eth0 weight 1',
      '',
    ].join('\n'),
  )
  t.same(r.countsFor('node1'), { imported: 3, preferred: 1 })
  t.same(r.countsFor('node2'), { imported: 2, preferred: 1 })
  // node2 goes away: its next hop leaves the ECMP set; a /32 route prints without /32
  const gone = change('198.19.32.0/20', ['control', 'node1'])
  const gone48: RouteChange = { prefix: change('198.19.48.0/20', []).prefix, paths: [] }
  r.apply([gone, gone48, change('198.19.44.10/32', ['node2'])])
  t.same(table.get('198.19.32.0/20')?.nexthops, ['198.19.0.1', '198.19.0.2'])
  t.equal(table.get('198.19.48.0/20'), undefined)
  t.match(table.format(), /^198\.19\.44\.10 via 198\.19\.0\.3 dev eth0 proto bird metric 32$/m)
  t.same(
    r.list().map((x) => x.prefix),
    ['198.19.24.208/29', '198.19.32.0/20', '198.19.44.10/32'],
  )
  // delete of an unknown or kernel route does nothing
  table.delete('198.19.0.0/20')
  t.ok(table.get('198.19.0.0/20'))
})

t.test('--peers entries', async (t) => {
  t.same(parsePeerSpec('node1=198.19.0.2@127.0.1.2:1790'), {
    host: '127.0.1.2',
    port: 1790,
    name: 'node1',
    nodeIP: '198.19.0.2',
  })
  t.same(parsePeerSpec('127.0.1.3:1790'), { host: '127.0.1.3', port: 1790 })
  t.throws(() => parsePeerSpec('127.0.1.3'), /must be \[NAME=\]\[NODEIP@\]HOST:PORT/)
})
