import type { Pod } from '@calilab/model'
import t from 'tap'
import {
  blockBlackhole,
  formatPodNetRoute,
  localPodRoute,
  podNamespaceRoutes,
  vethName,
  workloadEndpoint,
  workloadEndpointName,
} from '../src/core/cni/index.ts'

t.test('veth name: cali + 11 hex of SHA-1(ns.pod), the value calico.md records', async (t) => {
  t.equal(vethName('yaobank', 'customer-7b86b5c5c9-qwxyz'), 'calid2fec1a910d')
  t.equal(vethName('yaobank', 'customer-7b86b5c5c9-qwxyz').length, 15)
  t.not(vethName('yaobank', 'a'), vethName('default', 'a'))
  t.match(vethName('x', 'y', 'tap'), /^tap[0-9a-f]{11}$/)
})

t.test('WorkloadEndpoint name doubles dashes inside each segment', async (t) => {
  t.equal(workloadEndpointName('node1', 'customer-7b86b5c5c9-qwxyz'), 'node1-k8s-customer--7b86b5c5c9--qwxyz-eth0')
  t.equal(workloadEndpointName('worker-a', 'web'), 'worker--a-k8s-web-eth0')
})

const customer: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'customer-7b86b5c5c9-qwxyz', namespace: 'yaobank', labels: { app: 'customer', version: 'v1' } },
  spec: {
    nodeName: 'node1',
    serviceAccountName: 'customer',
    containers: [
      {
        name: 'customer',
        ports: [
          { containerPort: 80 },
          { name: 'http', containerPort: 80 },
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
        ],
      },
    ],
  },
  status: { podIP: '198.19.22.132', podIPs: [{ ip: '198.19.22.132' }] },
}

t.test('WorkloadEndpoint object from a pod', async (t) => {
  const wep = workloadEndpoint({ pod: customer, containerId: 'abc123' })
  t.same(wep, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: {
      name: 'node1-k8s-customer--7b86b5c5c9--qwxyz-eth0',
      namespace: 'yaobank',
      labels: {
        app: 'customer',
        version: 'v1',
        'projectcalico.org/namespace': 'yaobank',
        'projectcalico.org/orchestrator': 'k8s',
        'projectcalico.org/serviceaccount': 'customer',
      },
    },
    spec: {
      orchestrator: 'k8s',
      node: 'node1',
      pod: 'customer-7b86b5c5c9-qwxyz',
      endpoint: 'eth0',
      serviceAccountName: 'customer',
      ipNetworks: ['198.19.22.132/32'],
      profiles: ['kns.yaobank', 'ksa.yaobank.customer'],
      interfaceName: 'calid2fec1a910d',
      containerID: 'abc123',
      ports: [
        { name: 'http', protocol: 'TCP', port: 80 },
        { name: 'dns', protocol: 'UDP', port: 53 },
      ],
    },
  })
  const noSa = workloadEndpoint({
    pod: { ...customer, spec: { containers: [{ name: 'c' }] } },
    node: 'node2',
    ips: ['10.0.0.1'],
  })
  t.same(noSa.spec.profiles, ['kns.yaobank', 'ksa.yaobank.default'])
  t.equal(noSa.spec.node, 'node2')
  t.same(noSa.spec.ipNetworks, ['10.0.0.1/32'])
  t.equal(noSa.spec.ports, undefined)
  const longSa = 'a'.repeat(63)
  const w = workloadEndpoint({ pod: { ...customer, spec: { ...customer.spec, serviceAccountName: longSa } } })
  t.equal(w.metadata.labels?.['projectcalico.org/serviceaccount'], undefined, 'SA names of 63+ chars get no label')
})

t.test('routes a node programs for pods and blocks', async (t) => {
  t.equal(
    formatPodNetRoute(localPodRoute('198.19.22.132', 'calid2fec1a910d')),
    '198.19.22.132 dev calid2fec1a910d scope link',
  )
  t.equal(formatPodNetRoute(blockBlackhole('198.19.22.128/26') ?? { dst: '' }), 'blackhole 198.19.22.128/26 proto bird')
  t.equal(
    formatPodNetRoute(blockBlackhole('198.19.22.128/26', 'vxlan') ?? { dst: '' }),
    'blackhole 198.19.22.128/26 proto 80',
  )
  t.equal(blockBlackhole('198.19.22.130/32'), undefined)
  t.same(podNamespaceRoutes().map(formatPodNetRoute), [
    'default via 169.254.1.1 dev eth0',
    '169.254.1.1 dev eth0 scope link',
  ])
})
