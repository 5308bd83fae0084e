import t from 'tap'
import {
  baseProtocols,
  birdTime,
  calicoPeerOf,
  formatNodeStatus,
  formatShowProtocols,
  formatShowProtocolsAll,
  formatShowRoute,
  type PeerStatus,
  type ViewPeer,
  viewPeersFromStatus,
} from '../src/index.ts'

const at = (h: number, m: number, s: number, ms = 0) => Date.UTC(2026, 0, 1, h, m, s, ms)
const clock = { now: at(10, 30, 0) }

const up = (name: string, since: number): ViewPeer => ({ name, protoState: 'up', state: 'Established', since })

t.test('birdTime: today as HH:MM:SS[.mmm], older as a date', async (t) => {
  t.equal(birdTime(at(5, 31, 7, 123), clock, true), '05:31:07.123')
  t.equal(birdTime(at(5, 31, 7, 123), clock, false), '05:31:07')
  t.equal(birdTime(Date.UTC(2025, 11, 30, 9), clock, false), '2025-12-30')
  t.equal(birdTime(at(5, 31, 7), { ...clock, utcOffsetMinutes: 60 }, false), '06:31:07')
})

t.test('calicoctl node status (v3.21 layout)', async (t) => {
  const peers: ViewPeer[] = [
    up('Mesh_198_19_0_1', at(10, 2, 11)),
    up('Mesh_198_19_0_3', at(10, 2, 12)),
    up('Global_198_19_15_254', at(10, 20, 45)),
  ]
  t.equal(
    formatNodeStatus(peers, clock),
    `Calico process is running.

IPv4 BGP status
+---------------+-------------------+-------+----------+-------------+
| PEER ADDRESS  |     PEER TYPE     | STATE |  SINCE   |    INFO     |
+---------------+-------------------+-------+----------+-------------+
| 198.19.0.1    | node-to-node mesh | up    | 10:02:11 | Established |
| 198.19.0.3    | node-to-node mesh | up    | 10:02:12 | Established |
| 198.19.15.254 | global            | up    | 10:20:45 | Established |
+---------------+-------------------+-------+----------+-------------+

IPv6 BGP status
No IPv6 peers found.

`,
  )
  // before the BGPPeer: narrower first column; a peer that is down shows start / Active + error
  const early: ViewPeer[] = [
    up('Mesh_198_19_0_1', at(10, 2, 11)),
    {
      name: 'Node_198_19_0_9',
      protoState: 'start',
      state: 'Active',
      since: Date.UTC(2025, 11, 31, 8),
      lastError: 'Socket: Connection refused',
    },
    { name: 'Mesh_198_19_0_3', protoState: 'start', state: 'Active', since: at(10, 3, 0), passive: true },
    up('kernel1', at(10, 0, 0)),
  ]
  t.equal(
    formatNodeStatus(early, clock),
    `Calico process is running.

IPv4 BGP status
+--------------+-------------------+-------+------------+-----------------------------------+
| PEER ADDRESS |     PEER TYPE     | STATE |   SINCE    |               INFO                |
+--------------+-------------------+-------+------------+-----------------------------------+
| 198.19.0.1   | node-to-node mesh | up    | 10:02:11   | Established                       |
| 198.19.0.9   | node specific     | start | 2025-12-31 | Active Socket: Connection refused |
| 198.19.0.3   | node-to-node mesh | start | 10:03:00   | Passive                           |
+--------------+-------------------+-------+------------+-----------------------------------+

IPv6 BGP status
No IPv6 peers found.

`,
  )
  t.equal(
    formatNodeStatus([], clock),
    'Calico process is running.\n\nIPv4 BGP status\nNo IPv4 peers found.\n\nIPv6 BGP status\nNo IPv6 peers found.\n\n',
  )
  t.equal(formatNodeStatus([], clock, { running: false }), 'Calico process is not running.\n')
  t.same(calicoPeerOf('Global_127_0_0_5_port_1791'), { address: '127.0.0.5:1791', type: 'global' })
  t.equal(calicoPeerOf('control'), undefined)
})

t.test('birdc show protocols (BIRD 2)', async (t) => {
  const peers: ViewPeer[] = [
    up('Mesh_198_19_0_3', at(5, 31, 7, 123)),
    {
      name: 'Global_198_19_15_254',
      protoState: 'start',
      state: 'Active',
      since: at(5, 31, 6),
      lastError: 'Socket: Connection refused',
    },
  ]
  t.equal(
    formatShowProtocols(baseProtocols(at(5, 31, 5), 'calico'), peers, clock),
    `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     05:31:05.000
direct1    Direct     ---        up     05:31:05.000
kernel1    Kernel     master4    up     05:31:05.000
static1    Static     master4    up     05:31:05.000
Mesh_198_19_0_3 BGP        ---        up     05:31:07.123  Established
Global_198_19_15_254 BGP        ---        start  05:31:06.000  Active        Socket: Connection refused
`,
  )
})

t.test('birdc show protocols all NAME', async (t) => {
  const p: ViewPeer = {
    ...up('node1', at(10, 20, 45, 500)),
    description: 'Connection to node1',
    address: '198.19.0.2',
    asNumber: 64512,
    localAs: 64512,
    peerRouterId: '198.19.0.2',
    sourceAddress: '198.19.15.254',
    holdTime: 240,
    keepaliveTime: 80,
    importFilter: 'bgp_allow',
    exportFilter: 'REJECT',
    routes: { imported: 2, exported: 0, preferred: 1 },
  }
  t.equal(
    formatShowProtocolsAll(p, clock, { banner: false }),
    `Name       Proto      Table      State  Since         Info
node1      BGP        ---        up     10:20:45.500  Established
  Description:    Connection to node1
  BGP state:          Established
    Neighbor address: 198.19.0.2
    Neighbor AS:      64512
    Local AS:         64512
    Neighbor ID:      198.19.0.2
    Session:          internal multihop AS4
    Source address:   198.19.15.254
    Hold time:        240
    Keepalive time:   80
  Channel ipv4
    State:          UP
    Table:          master4
    Preference:     100
    Input filter:   bgp_allow
    Output filter:  REJECT
    Routes:         2 imported, 0 exported, 1 preferred

`,
  )
  t.match(
    formatShowProtocolsAll(
      { ...p, state: 'Active', protoState: 'start', lastError: 'Socket: Connection closed' },
      clock,
    ),
    /BGP state: {10}Active\n.*\n.*\n.*\n {4}Last error: {7}Socket: Connection closed\n/,
  )
  t.equal(formatShowProtocolsAll(undefined, clock), 'BIRD 2.0.12 ready.\nNo protocols match\n')
})

t.test('birdc show route (BIRD 2)', async (t) => {
  const attrs = { origin: 0, asPath: [] }
  t.equal(
    formatShowRoute(
      [
        {
          prefix: '198.19.16.64/26',
          paths: [{ peer: 'Mesh_198_19_0_3', nextHop: '198.19.0.3', since: at(5, 31, 8), primary: true, attrs }],
        },
        {
          prefix: '198.19.32.0/20',
          paths: [
            { peer: 'control', nextHop: '198.19.0.1', since: at(5, 31, 8, 250), primary: true, attrs },
            {
              peer: 'node1',
              nextHop: '198.19.0.2',
              since: at(5, 31, 9),
              primary: false,
              attrs: { origin: 2, asPath: [{ type: 2, asns: [65000, 65001] }] },
              from: '198.19.0.9',
            },
          ],
        },
      ],
      clock,
    ),
    `BIRD 2.0.12 ready.
Table master4:
198.19.16.64/26      unicast [Mesh_198_19_0_3 05:31:08.000] * (100/0) [i]
\tvia 198.19.0.3 on eth0
198.19.32.0/20       unicast [control 05:31:08.250] * (100/0) [i]
\tvia 198.19.0.1 on eth0
                     unicast [node1 05:31:09.000 from 198.19.0.9] (100/0) [AS65001?]
\tvia 198.19.0.2 on eth0
`,
  )
})

t.test('view peers from speaker status map endpoints to node IPs', async (t) => {
  const st: PeerStatus[] = [
    {
      name: 'Mesh_198_19_0_3',
      address: '127.0.1.3',
      port: 1790,
      asNumber: 64512,
      state: 'Active',
      protoState: 'start',
      since: at(1, 0, 0),
      info: 'Active',
      holdTime: 240,
      keepaliveTime: 80,
      routesImported: 0,
      routesExported: 0,
    },
  ]
  const v = viewPeersFromStatus(st, {
    addressOf: (h) => (h === '127.0.1.3' ? '198.19.0.3' : undefined),
    passive: () => true,
  })
  t.equal(v[0]?.address, '198.19.0.3')
  t.match(formatNodeStatus(v, clock), /\| 198\.19\.0\.3 +\| node-to-node mesh \| start \| 01:00:00 \| Passive \|/)
})
