import t from 'tap'
import { defaultTopology, formatTopologyIssues, generateTopology, validateTopology } from '../src/index.ts'

t.test('default topology is the lab', async (t) => {
  const topo = defaultTopology()
  t.same(
    topo.hosts.map((h) => [h.name, h.role, h.nodeIP, h.endpoint]),
    [
      ['control', 'control', '198.19.0.1', '127.0.1.1'],
      ['node1', 'worker', '198.19.0.2', '127.0.1.2'],
      ['node2', 'worker', '198.19.0.3', '127.0.1.3'],
      ['host1', 'router', '198.19.15.254', '127.0.1.254'],
    ],
  )
  t.same(topo.apiserver, { host: '127.0.0.1', port: 6443 })
  t.same(topo.pools, { podCidr: '198.19.16.0/20', defaultPool: '198.19.16.0/21', serviceCidr: '198.19.32.0/20' })
  t.equal(topo.clusterAS, 64512)
  t.same(topo.ports, { bgp: 1790, underlay: 4789 })
  t.equal(topo.typha.basePort, 5473)
  const r = validateTopology(topo)
  t.ok(r.ok, 'default validates')
})

t.test('empty document means the default', async (t) => {
  const r = validateTopology({})
  t.ok(r.ok)
  if (r.ok) t.same(r.topology, defaultTopology())
  const r2 = validateTopology(null)
  t.ok(r2.ok)
})

t.test('partial document is filled with defaults', async (t) => {
  const r = validateTopology({
    apiserver: { port: 0 },
    hosts: [{ name: 'c', role: 'control', nodeIP: '198.19.0.9', endpoint: '127.0.2.9' }],
  })
  t.ok(r.ok)
  if (!r.ok) return
  t.equal(r.topology.apiserver.port, 0)
  t.equal(r.topology.apiserver.host, '127.0.0.1')
  t.equal(r.topology.hosts.length, 1)
  t.equal(r.topology.clusterAS, 64512)
})

t.test('errors name the field path', async (t) => {
  const r = validateTopology({
    hosts: [
      { name: 'control', role: 'control', nodeIP: '198.19.0.1', endpoint: '127.0.1.1' },
      { name: 'node1', role: 'boss', nodeIP: '198.19.0.300', endpoint: '10.0.0.1' },
      { name: 'node1', role: 'worker', nodeIP: '198.19.0.1', endpoint: '127.0.1.3', color: 'red' },
    ],
    pools: { defaultPool: '10.0.0.0/8', serviceCidr: '198.19.32.1/20' },
    apiserver: { port: 70000 },
    typha: 'three',
  })
  t.notOk(r.ok)
  if (r.ok) return
  const paths = r.issues.map((i) => i.path)
  t.ok(paths.includes('hosts[1].role'))
  t.ok(paths.includes('hosts[1].nodeIP'))
  t.ok(paths.includes('hosts[1].endpoint'))
  t.ok(paths.includes('hosts[2].name'), 'duplicate name')
  t.ok(paths.includes('hosts[2].nodeIP'), 'duplicate nodeIP')
  t.ok(paths.includes('hosts[2].color'), 'unknown field')
  t.ok(paths.includes('pools.defaultPool'))
  t.ok(paths.includes('pools.serviceCidr'))
  t.ok(paths.includes('apiserver.port'))
  t.ok(paths.includes('typha'))
  const text = formatTopologyIssues(r.issues, 'lab.yaml')
  t.match(text, /lab\.yaml: hosts\[1\]\.nodeIP: must be an IPv4 address, got "198\.19\.0\.300"/)
  t.match(text, /hosts\[1\]\.endpoint: must be a loopback address/)
})

t.test('exactly one control host', async (t) => {
  const r = validateTopology({ hosts: [{ name: 'a', role: 'worker', nodeIP: '198.19.0.2', endpoint: '127.0.1.2' }] })
  t.notOk(r.ok)
  if (!r.ok) t.match(formatTopologyIssues(r.issues), /hosts: must have exactly one host with role control/)
})

t.test('generateTopology', async (t) => {
  const g3 = generateTopology(3)
  t.same(g3.hosts, defaultTopology().hosts, 'n=3 is the lab')
  const g1 = generateTopology(1)
  t.same(
    g1.hosts.map((h) => h.name),
    ['control', 'host1'],
  )
  const g5 = generateTopology(5)
  t.same(
    g5.hosts.map((h) => h.name),
    ['control', 'node1', 'node2', 'node3', 'node4', 'host1'],
  )
  t.equal(g5.hosts[4]?.nodeIP, '198.19.0.5')
  t.equal(g5.hosts[4]?.endpoint, '127.0.1.5')
  const big = generateTopology(600)
  const r = validateTopology(big)
  t.ok(r.ok, 'large generated topology validates (unique addresses)')
  t.equal(big.typha.replicas, 3)
  t.equal(generateTopology(3, { router: false }).hosts.length, 3)
  t.throws(() => generateTopology(0), /nodes: must be an integer/)
  t.throws(() => generateTopology(1.5), RangeError)
})
