import type {
  BGPConfiguration,
  BGPPeer,
  CalicoNode,
  Endpoints,
  IPAMBlock,
  IPPool,
  KubeObject,
  Service,
} from '@calilab/model'
import t from 'tap'
import {
  type BgpState,
  CalicoBgpDriver,
  calicoNodeFromK8s,
  type DesiredBgp,
  desiredBgp,
  diffPeers,
  endpointResolver,
  nodeEndpoint,
  type PeerConfig,
  parsePeerIP,
} from '../src/index.ts'

const node = (name: string, ip: string, extra: Partial<NonNullable<CalicoNode['spec']['bgp']>> = {}, labels = {}) =>
  ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'Node',
    metadata: { name, labels },
    spec: { bgp: { ipv4Address: `${ip}/20`, ...extra } },
  }) as CalicoNode

const bgpConfig = (name: string, spec: BGPConfiguration['spec']) =>
  ({ apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name }, spec }) as BGPConfiguration
const bgpPeer = (name: string, spec: BGPPeer['spec']) =>
  ({ apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name }, spec }) as BGPPeer
const pool = (name: string, cidr: string, extra: Partial<IPPool['spec']> = {}) =>
  ({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec: { cidr, ...extra } }) as IPPool

/** An IPAM block with `used` ordinals allocated to pods on `podNode`. */
function block(cidr: string, affinity: string | undefined, size: number, used: [number, string][] = []): IPAMBlock {
  const allocations: (number | null)[] = new Array(size).fill(null)
  const attributes: IPAMBlock['spec']['attributes'] = []
  for (const [ord, podNode] of used) {
    allocations[ord] = attributes.length
    attributes.push({
      handle_id: `k8s-pod-network.${ord}`,
      secondary: { node: podNode, namespace: 'ns', pod: `p${ord}` },
    })
  }
  const spec: IPAMBlock['spec'] = { cidr, strictAffinity: false, allocations, unallocated: [], attributes }
  if (affinity !== undefined) spec.affinity = `host:${affinity}`
  return { apiVersion: 'projectcalico.org/v3', kind: 'IPAMBlock', metadata: { name: cidr.replace(/[./]/g, '-') }, spec }
}

const labNodes = [node('control', '198.19.0.1'), node('node1', '198.19.0.2'), node('node2', '198.19.0.3')]
const labBlocks = [
  block('198.19.16.0/26', 'control', 64, [[1, 'control']]),
  block('198.19.22.128/26', 'node1', 64, [
    [0, 'node1'],
    [5, 'node1'],
  ]),
  // node2's block, but one address in it was borrowed by a pod on node1.
  block('198.19.19.64/26', 'node2', 64, [
    [2, 'node2'],
    [7, 'node1'],
  ]),
  // external-pool /29 (nginx in external-ns) on node1.
  block('198.19.24.208/29', 'node1', 8, [[0, 'node1']]),
]
const labPools = [
  pool('default-ipv4-ippool', '198.19.16.0/21'),
  pool('external-pool', '198.19.24.0/21', { blockSize: 29 }),
]
const lab = (extra: Partial<BgpState> = {}): BgpState => ({
  nodes: labNodes,
  ipPools: labPools,
  blocks: labBlocks,
  ...extra,
})

const peerRows = (d: DesiredBgp | undefined) =>
  (d?.peers ?? []).map((p) => [p.name, p.address, p.port, p.asNumber, p.type, p.passive, p.rrClient])

t.test('lab: three nodes, full mesh, passivity by string comparison', async (t) => {
  const c = desiredBgp(lab(), 'control')
  t.same(c && [c.routerId, c.asNumber, c.listenPort], ['198.19.0.1', 64512, 179])
  t.same(peerRows(c), [
    ['Mesh_198_19_0_2', '198.19.0.2', 179, 64512, 'node-to-node mesh', true, false],
    ['Mesh_198_19_0_3', '198.19.0.3', 179, 64512, 'node-to-node mesh', true, false],
  ])
  t.same(peerRows(desiredBgp(lab(), 'node1')), [
    ['Mesh_198_19_0_1', '198.19.0.1', 179, 64512, 'node-to-node mesh', false, false],
    ['Mesh_198_19_0_3', '198.19.0.3', 179, 64512, 'node-to-node mesh', true, false],
  ])
  t.same(
    desiredBgp(lab(), 'node2')?.peers.map((p) => [p.name, p.passive, p.localAddress]),
    [
      ['Mesh_198_19_0_1', false, '198.19.0.3'],
      ['Mesh_198_19_0_2', false, '198.19.0.3'],
    ],
  )
  // "198.19.0.3" > "198.19.0.10" as strings, though 3 < 10 numerically: node .3 waits for nothing.
  const ten = desiredBgp({ nodes: [node('a', '198.19.0.3'), node('b', '198.19.0.10')] }, 'a')
  t.same(
    ten?.peers.map((p) => [p.name, p.passive]),
    [['Mesh_198_19_0_10', false]],
  )
  const tenB = desiredBgp({ nodes: [node('a', '198.19.0.3'), node('b', '198.19.0.10')] }, 'b')
  t.same(
    tenB?.peers.map((p) => [p.name, p.passive]),
    [['Mesh_198_19_0_3', true]],
  )
  // exports: own blocks as aggregates (local /32s hidden), the borrowed /32, nothing from others.
  t.same(desiredBgp(lab(), 'node1')?.exports, [
    { prefix: '198.19.22.128/26', kind: 'block' },
    { prefix: '198.19.24.208/29', kind: 'block' },
    { prefix: '198.19.19.71/32', kind: 'borrowed' },
  ])
  t.same(desiredBgp(lab(), 'node2')?.exports, [{ prefix: '198.19.19.64/26', kind: 'block' }])
  t.equal(desiredBgp(lab(), 'nope'), undefined)
})

t.test('lab step 7.4: global BGPPeer host1 on every node', async (t) => {
  const s = lab({ bgpPeers: [bgpPeer('bgppeer-global-host1', { peerIP: '198.19.15.254', asNumber: 64512 })] })
  for (const n of ['control', 'node1', 'node2']) {
    const d = desiredBgp(s, n)
    const g = d?.peers.find((p) => p.type === 'global')
    t.same(g, {
      name: 'Global_198_19_15_254',
      address: '198.19.15.254',
      port: 179,
      asNumber: 64512,
      type: 'global',
      passive: false,
      rrClient: false,
      localAddress: d?.routerId,
    })
    t.equal(d?.peers.length, 3)
  }
  // ip:port form and sourceAddress None
  const p = desiredBgp(
    lab({ bgpPeers: [bgpPeer('x', { peerIP: '127.0.0.5:1791', asNumber: 65001, sourceAddress: 'None' })] }),
    'node1',
  )?.peers.find((q) => q.type === 'global')
  t.same(p && [p.name, p.address, p.port, p.asNumber, p.localAddress], [
    'Global_127_0_0_5_port_1791',
    '127.0.0.5',
    1791,
    65001,
    undefined,
  ])
})

t.test('node-specific peers, selectors, reverse peering and suppression', async (t) => {
  const nodes = [
    node('control', '198.19.0.1', {}, { rack: 'a' }),
    node('node1', '198.19.0.2', {}, { rack: 'b' }),
    node('node2', '198.19.0.3', {}, { rack: 'b' }),
  ]
  const s: BgpState = {
    nodes,
    bgpConfigurations: [bgpConfig('default', { nodeToNodeMeshEnabled: false, asNumber: 64513 })],
    bgpPeers: [
      bgpPeer('tor-b', { nodeSelector: "rack == 'b'", peerIP: '198.19.15.1', asNumber: 65000 }),
      bgpPeer('n1-only', { node: 'node1', peerIP: '198.19.15.2', asNumber: 65000 }),
      bgpPeer('global', { peerIP: '198.19.15.1', asNumber: 65000 }),
    ],
  }
  t.same(peerRows(desiredBgp(s, 'node1')), [
    ['Global_198_19_15_1', '198.19.15.1', 179, 65000, 'global', false, false],
    ['Node_198_19_15_2', '198.19.15.2', 179, 65000, 'node specific', false, false],
  ])
  t.same(peerRows(desiredBgp(s, 'control')), [
    ['Global_198_19_15_1', '198.19.15.1', 179, 65000, 'global', false, false],
  ])
  t.equal(desiredBgp(s, 'control')?.asNumber, 64513)

  // peerSelector: node1 peers with control (rack a); the reverse session appears on control.
  const sel: BgpState = {
    nodes,
    bgpConfigurations: [bgpConfig('default', { nodeToNodeMeshEnabled: false })],
    bgpPeers: [bgpPeer('to-a', { node: 'node1', peerSelector: "rack == 'a'" })],
  }
  t.same(peerRows(desiredBgp(sel, 'node1')), [
    ['Node_198_19_0_1', '198.19.0.1', 179, 64512, 'node specific', false, false],
  ])
  t.same(peerRows(desiredBgp(sel, 'control')), [
    ['Node_198_19_0_2', '198.19.0.2', 179, 64512, 'node specific', false, false],
  ])
  t.same(peerRows(desiredBgp(sel, 'node2')), [])
  // per-node listenPort is what peers dial
  const port: BgpState = {
    ...sel,
    bgpConfigurations: [...(sel.bgpConfigurations ?? []), bgpConfig('node.control', { listenPort: 1790 })],
  }
  t.equal(desiredBgp(port, 'node1')?.peers[0]?.port, 1790)
  t.equal(desiredBgp(port, 'control')?.listenPort, 1790)
})

t.test('route reflectors leave the mesh and get clients', async (t) => {
  const nodes = [
    node('control', '198.19.0.1', { routeReflectorClusterID: '244.0.0.1' }, { 'route-reflector': 'true' }),
    node('node1', '198.19.0.2'),
    node('node2', '198.19.0.3'),
  ]
  const s: BgpState = {
    nodes,
    bgpPeers: [bgpPeer('peer-with-rr', { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" })],
  }
  t.same(peerRows(desiredBgp(s, 'node1')), [
    ['Mesh_198_19_0_3', '198.19.0.3', 179, 64512, 'node-to-node mesh', true, false],
    ['Node_198_19_0_1', '198.19.0.1', 179, 64512, 'node specific', false, false],
  ])
  const rr = desiredBgp(s, 'control')
  t.equal(rr?.clusterId, '244.0.0.1')
  t.same(peerRows(rr), [
    ['Node_198_19_0_2', '198.19.0.2', 179, 64512, 'node specific', false, true],
    ['Node_198_19_0_3', '198.19.0.3', 179, 64512, 'node specific', false, true],
  ])
})

const svc = (name: string, spec: Service['spec'], status?: Service['status']): Service => {
  const o: Service = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'yaobank' }, spec }
  if (status) o.status = status
  return o
}
const eps = (name: string, nodes: string[]): Endpoints => ({
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { name, namespace: 'yaobank' },
  subsets: [{ addresses: nodes.map((n, i) => ({ ip: `198.19.16.${i + 10}`, nodeName: n })) }],
})

t.test('lab step 10: service advertisement', async (t) => {
  const customer = svc('customer', { type: 'NodePort', clusterIP: '198.19.44.10', externalTrafficPolicy: 'Cluster' })
  const base = lab({ services: [customer], endpoints: [eps('customer', ['node2'])] })
  const clusterOnly = {
    ...base,
    bgpConfigurations: [bgpConfig('default', { serviceClusterIPs: [{ cidr: '198.19.32.0/20' }] })],
  }
  for (const n of ['control', 'node1', 'node2']) {
    const d = desiredBgp(clusterOnly, n)
    t.same(
      d?.exports.filter((e) => e.kind.startsWith('service')),
      [{ prefix: '198.19.32.0/20', kind: 'service-cluster' }],
      `${n} exports the service CIDR`,
    )
    t.same(d?.rejectCidrs, ['198.19.32.0/20'])
  }
  // serviceExternalIPs + customer externalIP (ETP Cluster: the CIDR only, from every node)
  const ext = {
    ...base,
    services: [{ ...customer, spec: { ...customer.spec, externalIPs: ['198.19.48.10'] } }],
    bgpConfigurations: [
      bgpConfig('default', {
        serviceClusterIPs: [{ cidr: '198.19.32.0/20' }],
        serviceExternalIPs: [{ cidr: '198.19.48.0/20' }],
      }),
    ],
  }
  t.same(
    desiredBgp(ext, 'control')?.exports.filter((e) => e.kind.startsWith('service') || e.kind === 'local-service'),
    [
      { prefix: '198.19.32.0/20', kind: 'service-cluster' },
      { prefix: '198.19.48.0/20', kind: 'service-external' },
    ],
  )
  // ETP Local: /32s only from nodes with a local endpoint; external IPs only inside allowed CIDRs.
  const local = {
    ...ext,
    services: [
      svc('customer', {
        type: 'NodePort',
        clusterIP: '198.19.44.10',
        externalTrafficPolicy: 'Local',
        externalIPs: ['198.19.48.10', '203.0.113.9'],
      }),
    ],
  }
  t.same(
    desiredBgp(local, 'node2')?.exports.filter((e) => e.kind === 'local-service'),
    [
      { prefix: '198.19.44.10/32', kind: 'local-service' },
      { prefix: '198.19.48.10/32', kind: 'local-service' },
    ],
  )
  t.same(
    desiredBgp(local, 'node1')?.exports.filter((e) => e.kind === 'local-service'),
    [],
  )
  // LB ingress inside serviceLoadBalancerIPs
  const lb = {
    ...local,
    bgpConfigurations: [bgpConfig('default', { serviceLoadBalancerIPs: [{ cidr: '198.19.60.0/24' }] })],
    services: [
      svc(
        'customer',
        { type: 'LoadBalancer', clusterIP: '198.19.44.10', externalTrafficPolicy: 'Local' },
        { loadBalancer: { ingress: [{ ip: '198.19.60.7' }] } },
      ),
    ],
  }
  t.same(
    desiredBgp(lb, 'node2')?.exports.filter((e) => e.kind.startsWith('service') || e.kind === 'local-service'),
    [
      { prefix: '198.19.60.0/24', kind: 'service-lb' },
      { prefix: '198.19.60.7/32', kind: 'local-service' },
    ],
  )
  // excluded nodes advertise no service routes but still reject them locally
  const excl = {
    ...clusterOnly,
    nodes: [node('control', '198.19.0.1', {}, { 'node.kubernetes.io/exclude-from-external-load-balancers': '' })],
  }
  t.same(
    desiredBgp(excl, 'control')?.exports.filter((e) => e.kind.startsWith('service')),
    [],
  )
  t.same(desiredBgp(excl, 'control')?.rejectCidrs, ['198.19.32.0/20'])
})

t.test('disableBGPExport pools and unconfirmed affinities are not exported', async (t) => {
  const s = lab({
    ipPools: [labPools[0] as IPPool, pool('external-pool', '198.19.24.0/21', { disableBGPExport: true })],
  })
  t.same(
    desiredBgp(s, 'node1')?.exports.map((e) => e.prefix),
    ['198.19.22.128/26', '198.19.19.71/32'],
  )
  const pending = lab({
    blockAffinities: [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'BlockAffinity',
        metadata: { name: 'node1-198-19-22-128-26' },
        spec: { state: 'pending', node: 'node1', cidr: '198.19.22.128/26', deleted: 'false' },
      },
    ],
  })
  t.notOk(desiredBgp(pending, 'node1')?.exports.some((e) => e.prefix === '198.19.22.128/26'))
})

t.test('diffPeers touches only affected sessions', async (t) => {
  const before = desiredBgp(lab(), 'node1')
  const after = desiredBgp(
    lab({ bgpPeers: [bgpPeer('bgppeer-global-host1', { peerIP: '198.19.15.254', asNumber: 64512 })] }),
    'node1',
  )
  const d = diffPeers(before?.peers ?? [], after?.peers ?? [])
  t.same(
    d.add.map((p) => p.name),
    ['Global_198_19_15_254'],
  )
  t.same(d.remove, [])
  t.same(d.change, [])
  t.same(
    d.unchanged.map((p) => p.name),
    ['Mesh_198_19_0_1', 'Mesh_198_19_0_3'],
  )
  // AS change restarts that peer only; mesh off removes mesh peers.
  const as = desiredBgp(
    lab({ bgpPeers: [bgpPeer('bgppeer-global-host1', { peerIP: '198.19.15.254', asNumber: 65000 })] }),
    'node1',
  )
  const d2 = diffPeers(after?.peers ?? [], as?.peers ?? [])
  t.same(
    d2.change.map((c) => [c.from.asNumber, c.to.asNumber]),
    [[64512, 65000]],
  )
  t.equal(d2.unchanged.length, 2)
  const off = desiredBgp(lab({ bgpConfigurations: [bgpConfig('default', { nodeToNodeMeshEnabled: false })] }), 'node1')
  t.same(
    diffPeers(before?.peers ?? [], off?.peers ?? []).remove.map((p) => p.name),
    ['Mesh_198_19_0_1', 'Mesh_198_19_0_3'],
  )
})

t.test('driver applies diffs to a speaker with real endpoints', async (t) => {
  const calls: string[] = []
  const added: PeerConfig[] = []
  const sp = {
    addPeer: (c: PeerConfig) => {
      calls.push(`add ${c.name}`)
      added.push(c)
    },
    removePeer: (n: string) => calls.push(`remove ${n}`),
    originate: (p: readonly string[]) => calls.push(`originate ${p.join(' ')}`),
    withdraw: (p: string) => calls.push(`withdraw ${p}`),
  }
  const resolve = endpointResolver(
    new Map([
      ['198.19.0.1', '127.0.1.1'],
      ['198.19.0.3', '127.0.1.3'],
      ['198.19.15.254', '127.0.1.254'],
    ]),
    1790,
  )
  const drv = new CalicoBgpDriver(sp, resolve, '127.0.1.2', { connectRetryTime: 1 })
  drv.apply(desiredBgp(lab(), 'node1'))
  t.same(calls, [
    'originate 198.19.22.128/26 198.19.24.208/29 198.19.19.71/32',
    'add Mesh_198_19_0_1',
    'add Mesh_198_19_0_3',
  ])
  t.same(added[1], {
    name: 'Mesh_198_19_0_3',
    address: '127.0.1.3',
    port: 1790,
    asNumber: 64512,
    passive: true,
    nextHopSelf: '198.19.0.2',
    connectRetryTime: 1,
    localAddress: '127.0.1.2',
  })
  calls.length = 0
  const withPeer = lab({
    bgpPeers: [bgpPeer('bgppeer-global-host1', { peerIP: '198.19.15.254', asNumber: 64512 })],
    blocks: labBlocks.slice(0, 3),
    bgpConfigurations: [bgpConfig('default', { serviceClusterIPs: [{ cidr: '198.19.32.0/20' }] })],
  })
  const r = drv.apply(desiredBgp(withPeer, 'node1'))
  t.same(calls, ['withdraw 198.19.24.208/29', 'originate 198.19.32.0/20', 'add Global_198_19_15_254'])
  t.same(r.added, ['Global_198_19_15_254'])
  t.equal(added[2]?.address, '127.0.1.254')
  // a real daemon on loopback is dialled as given; unknown emulated IPs are skipped
  t.same(resolve('127.0.0.5', 1791), { host: '127.0.0.5', port: 1791 })
  t.equal(resolve('10.1.1.1', 179), undefined)
})

t.test('helpers: peerIP, KDD node annotations', async (t) => {
  t.same(parsePeerIP('198.19.15.254'), { ip: '198.19.15.254' })
  t.same(parsePeerIP('127.0.0.5:1790'), { ip: '127.0.0.5', port: 1790 })
  t.equal(parsePeerIP('198.19.15.254:0'), undefined)
  t.equal(parsePeerIP('nope'), undefined)
  const k8s: KubeObject = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'node1',
      labels: { a: 'b' },
      annotations: {
        'projectcalico.org/IPv4Address': '198.19.0.2/20',
        'projectcalico.org/ASNumber': '65001',
        'calilab.dev/kubelet-endpoint': '127.0.1.2:10250',
      },
    },
  }
  const cn = calicoNodeFromK8s(k8s)
  t.same(cn.spec.bgp, { ipv4Address: '198.19.0.2/20', asNumber: 65001 })
  t.equal(nodeEndpoint(k8s), '127.0.1.2')
  t.equal(desiredBgp({ nodes: [cn] }, 'node1')?.asNumber, 65001)
})
