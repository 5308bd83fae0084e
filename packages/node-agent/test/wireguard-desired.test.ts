import type { KubeObject } from '@calilab/model'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { desiredWireguard, wireguardSettings } from '../src/dataplane/wireguard-desired.ts'

const fc = (name: string, spec: Record<string, unknown>): [string, KubeObject] => [
  `/projectcalico.org/felixconfigurations/${name}`,
  { apiVersion: 'projectcalico.org/v3', kind: 'FelixConfiguration', metadata: { name }, spec },
]
const node = (name: string, ip: string, key?: string, wg?: string): [string, KubeObject] => [
  `/projectcalico.org/nodes/${name}`,
  {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Node',
    metadata: { name },
    spec: { bgp: { ipv4Address: `${ip}/20` }, ...(wg ? { wireguard: { interfaceIPv4Address: wg } } : {}) },
    ...(key ? { status: { wireguardPublicKey: key } } : {}),
  },
]
const block = (cidr: string, host: string): [string, KubeObject] => [
  `/projectcalico.org/ipamblocks/${cidr.replace('/', '-')}`,
  {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPAMBlock',
    metadata: { name: cidr },
    spec: { cidr, affinity: `host:${host}` },
  },
]
const KEY2 = Buffer.alloc(32, 2).toString('base64')

t.test('settings: node.<name> over default, default off', async (t) => {
  t.equal(wireguardSettings(new Map(), 'node1').wireguardEnabled, false)
  const on = new Map([fc('default', { wireguardEnabled: true, wireguardListeningPort: 51821 })])
  t.same(wireguardSettings(on, 'node1'), { wireguardEnabled: true, wireguardListeningPort: 51821 })
  const perNode = new Map([
    fc('default', { wireguardEnabled: true }),
    fc('node.node1', { wireguardEnabled: false, wireguardMTU: 1400 }),
  ])
  t.same(wireguardSettings(perNode, 'node1'), { wireguardEnabled: false, wireguardMTU: 1400 })
  t.equal(wireguardSettings(perNode, 'node2').wireguardEnabled, true)
})

t.test('peers: other nodes with a key; allowed IPs = affine blocks + WireGuard IP', async (t) => {
  const d = desiredWireguard(
    {
      felixConfigs: new Map([fc('default', { wireguardEnabled: true })]),
      calicoNodes: new Map([
        node('node1', '198.19.0.2', 'OWNKEY', '198.19.21.1'),
        node('node2', '198.19.0.3', KEY2, '198.19.22.129'),
        node('control', '198.19.0.1'),
      ]),
      blocks: new Map([
        block('198.19.21.0/26', 'node1'),
        block('198.19.22.128/26', 'node2'),
        block('198.19.23.0/26', 'control'),
      ]),
    },
    'node1',
  )
  t.equal(d.enabled, true)
  t.equal(d.iface, 'wireguard.cali')
  t.equal(d.port, 51820)
  t.same(d.own, { publicKey: 'OWNKEY', address: '198.19.21.1' })
  t.equal(d.peers.length, 1, 'control has no key: no peer (its traffic stays plain)')
  t.same(d.peers[0], {
    node: 'node2',
    publicKey: KEY2,
    nodeIp: parseIPv4('198.19.0.3'),
    allowed: [
      { ip: parseIPv4('198.19.22.128'), prefix: 26 },
      { ip: parseIPv4('198.19.22.129'), prefix: 32 },
    ],
  })
})
