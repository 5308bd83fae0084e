import { readFileSync } from 'node:fs'
import { NODE_EXEC_ARGV, parseRunInvocation } from '@calilab/cli'
import { defaultTopology } from '@calilab/model'
import t from 'tap'
import { parse } from 'yaml'

interface Service {
  command?: string[]
  network_mode?: string
  depends_on?: string[]
  environment?: Record<string, string>
}

const root = new URL('../', import.meta.url)
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, Service>
}
const topo = defaultTopology()
const apiUrl = `http://${topo.apiserver.host}:${topo.apiserver.port}`

t.test('one service per process of the default topology', async (t) => {
  t.same(Object.keys(compose.services).sort(), ['apiserver', 'control', 'host1', 'node1', 'node2', 'typha'])
  for (const [name, s] of Object.entries(compose.services)) {
    t.equal(s.network_mode, 'host', `${name} uses host networking (documented in the file)`)
  }
})

t.test('every command is a valid `calilab run` invocation', async (t) => {
  for (const [name, s] of Object.entries(compose.services)) {
    t.ok(Array.isArray(s.command), `${name} has an exec-form command`)
    const inv = await parseRunInvocation(s.command ?? [])
    t.ok(inv.component, `${name} parses as run ${inv.component}`)
  }
  await t.rejects(parseRunInvocation(['run', 'node', '--name', 'x']), /invalid calilab invocation/)
  await t.rejects(parseRunInvocation(['run', 'typha', '--apiserver', 'nope']), /must be an http/)
  await t.rejects(parseRunInvocation(['up']), /invalid calilab invocation/)
})

t.test('addresses and ports match the default topology', async (t) => {
  const api = await parseRunInvocation(compose.services['apiserver']?.command ?? [])
  t.equal(api.component, 'apiserver')
  t.equal(api.options['host'], topo.apiserver.host)
  t.equal(api.options['port'], topo.apiserver.port)
  t.equal(api.options['serviceCidr'], topo.pools.serviceCidr)

  const typha = await parseRunInvocation(compose.services['typha']?.command ?? [])
  t.equal(typha.component, 'typha')
  t.equal(typha.options['port'], topo.typha.basePort)
  t.equal(typha.options['apiserver'], apiUrl)

  for (const h of topo.hosts) {
    const s = compose.services[h.name]
    t.ok(s, `service for host ${h.name}`)
    const inv = await parseRunInvocation(s?.command ?? [])
    t.equal(inv.component, h.role === 'router' ? 'bgp-speaker' : 'node', `${h.name} component`)
    t.equal(inv.options['name'], h.name)
    t.equal(inv.options['ip'], h.nodeIP, `${h.name} node IP`)
    t.equal(inv.options['endpoint'], h.endpoint, `${h.name} endpoint`)
    t.equal(inv.options['apiserver'], apiUrl, `${h.name} API server`)
    if (h.role === 'router') {
      t.equal(inv.options['as'], h.asNumber ?? topo.clusterAS)
      t.equal(inv.options['port'], topo.ports.bgp)
    } else {
      t.equal(inv.options['role'], h.role)
      t.equal(
        s?.environment?.['NODE_OPTIONS'],
        NODE_EXEC_ARGV.join(' '),
        `${h.name} runs with the node processes' V8 flags, as under calilab up`,
      )
      t.match(
        String(inv.options['podBlock']),
        /^198\.19\.(1[6-9]|2[0-3])\.\d+\/26$/,
        'pod block inside the default pool',
      )
    }
  }
})
