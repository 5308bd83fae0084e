import {
  BpfMaps,
  createHost,
  dumpNat,
  iptablesRestore,
  NAT_FLG_EXTERNAL_LOCAL,
  NAT_WILDCARD,
  RT_LOCAL,
  runIptables,
} from '@calilab/dataplane'
import { FakeClock, seededRng } from '@calilab/kit'
import type { Endpoints, Service } from '@calilab/model'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { renderBpfNat } from '../src/core/bpf/index.ts'
import { renderKubeProxy } from '../src/core/kubeproxy/index.ts'
import { bpfSettings } from '../src/dataplane/bpf.ts'
import { removeKubeProxyRules } from '../src/dataplane/kube-proxy-cleanup.ts'

const ip = parseIPv4
const customer = (etp?: 'Local'): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { namespace: 'yaobank', name: 'customer' },
  spec: {
    type: 'NodePort',
    clusterIP: '198.19.32.35',
    ...(etp ? { externalTrafficPolicy: etp } : {}),
    ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30180 }],
  },
})
const eps: Endpoints = {
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { namespace: 'yaobank', name: 'customer' },
  subsets: [
    {
      addresses: [
        { ip: '198.19.17.128', nodeName: 'node1' },
        { ip: '198.19.21.193', nodeName: 'node2' },
      ],
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    },
  ],
}
const nodeIps = new Map([
  ['control', ip('198.19.0.1')],
  ['node1', ip('198.19.0.2')],
  ['node2', ip('198.19.0.3')],
])

t.test('Services/Endpoints -> nat_fe, nat_be, routes (as on node1)', async (t) => {
  const m = renderBpfNat({
    services: [customer()],
    endpoints: [eps],
    nodeName: 'node1',
    nodeIp: ip('198.19.0.2'),
    nodeIps,
  })
  const maps = new BpfMaps()
  maps.setNat(m.fe, m.be)
  maps.setRoutes(m.routes)
  const cluster = maps.lookupFrontend(ip('198.19.32.35'), 80, 6, false)
  t.match(cluster, { count: 2, localCount: 1, flags: 0 }, 'ClusterIP frontend')
  t.match(maps.lookupFrontend(ip('198.19.0.2'), 30180, 6, true), { count: 2, localCount: 1 }, 'node IP:NodePort')
  t.ok(maps.natFe.has(`${NAT_WILDCARD}:30180:6`), '255.255.255.255:NodePort')
  t.equal(maps.lookupFrontend(ip('198.19.0.1'), 30180, 6, false), undefined, "another node's IP only via the wildcard")
  t.same(maps.backend(cluster!.id, 0), { addr: ip('198.19.17.128'), port: 80 }, 'backends sorted by address')
  t.equal((maps.routes.get(ip('198.19.17.128'))?.flags ?? 0) & RT_LOCAL, RT_LOCAL, 'local workload')
  t.equal(maps.routes.get(ip('198.19.21.193'))?.nextHop, ip('198.19.0.3'), 'remote backend -> its node')
  t.match(dumpNat(maps), /^198\.19\.32\.35 port 80 proto 6 id \d+ count 2 local 1$/m)
  const local = renderBpfNat({
    services: [customer('Local')],
    endpoints: [eps],
    nodeName: 'control',
    nodeIp: ip('198.19.0.1'),
    nodeIps,
  })
  const np = [...local.fe.entries()].find(([k]) => k.endsWith(':30180:6'))?.[1]
  t.equal(np?.flags, NAT_FLG_EXTERNAL_LOCAL, 'externalTrafficPolicy Local marks the NodePort frontend')
  t.equal(np?.localCount, 0, 'control has no local backend')
  const cip = [...local.fe.entries()].find(([k]) => k.endsWith(':80:6'))?.[1]
  t.equal(cip?.flags, 0, 'but not the ClusterIP')
})

t.test('FelixConfiguration -> BPF settings (default, then the node)', async (t) => {
  t.same(bpfSettings([]), { enabled: false, mode: 'Tunnel', kubeProxyCleanup: true, vxlanPort: 4789 })
  t.match(
    bpfSettings([{ bpfEnabled: true, bpfKubeProxyIptablesCleanupEnabled: false }, { bpfExternalServiceMode: 'DSR' }]),
    {
      enabled: true,
      mode: 'DSR',
      kubeProxyCleanup: false,
    },
  )
  t.equal(bpfSettings([{ bpfExternalServiceMode: 'Bogus' }]).mode, 'Tunnel', 'unknown mode ignored')
})

t.test("bpfKubeProxyIptablesCleanupEnabled: kube-proxy's chains and jumps go, kubelet's stay", async (t) => {
  const h = createHost({ name: 'n', nodeIp: ip('198.19.0.2'), clock: new FakeClock(), rng: seededRng(1) })
  const nf = h.root.nf
  const rules = renderKubeProxy({ services: [customer()], endpoints: [eps], nodeName: 'node1', nodeIP: '198.19.0.2' })
  iptablesRestore(nf, rules.restore, { noflush: true })
  for (const j of rules.jumps) runIptables(nf, ['-t', j.table, '-I', j.chain, '1', ...j.rule.split(' ').slice(2)])
  t.match(runIptables(nf, ['-t', 'nat', '-S']).stdout, /KUBE-SERVICES/)
  t.ok(removeKubeProxyRules(nf) > 3, 'chains removed')
  const nat = runIptables(nf, ['-t', 'nat', '-S']).stdout
  const filter = runIptables(nf, ['-t', 'filter', '-S']).stdout
  t.notMatch(nat, /KUBE-(SERVICES|NODEPORTS|SVC|SEP|POSTROUTING)/, 'no kube-proxy chains or jumps in nat')
  t.notMatch(filter, /KUBE-(SERVICES|FORWARD|EXTERNAL)/, 'none in filter')
  t.match(nat, /-N KUBE-MARK-DROP/, "kubelet's KUBE-MARK-DROP stays")
})
