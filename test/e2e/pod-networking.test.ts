import { eventually, LAB_DIR, startCluster } from '@calilab/testkit'
import t from 'tap'

/**
 * Pod networking on a real multi-process cluster: pods get Calico IPs and cali veths, nodes route
 * to each other's blocks over the UDP underlay, host1 is an emulated host (kernel + internet)
 * reached by `calilab ssh host1`, and NodePort 30180 answers from host1 through kube-proxy's rules.
 */
t.test('yaobank through NodePort 30180 from host1; routes and veths as the lab shows', async (t) => {
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const k = async (...args: string[]) => {
    const r = await c.kubectl(args)
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const ssh = (host: string, ...cmd: string[]) => c.cli(['ssh', host, '--', ...cmd])

  const apply = await c.kubectl(['apply', '-f', `${LAB_DIR}/yaobank.yaml`])
  t.equal(apply.code, 0, apply.stderr)
  const wide = await eventually(
    async () => {
      const out = await k('get', 'pods', '-n', 'yaobank', '-o', 'wide')
      const rows = out.trim().split('\n').slice(1)
      if (rows.length < 4 || !rows.every((r) => /\sRunning\s/.test(r))) throw new Error(out)
      return out
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
  const customer = /^customer-\S+\s+\S+\s+Running\s+\S+\s+\S+\s+(198\.19\.\d+\.\d+)\s+(\S+)/m.exec(wide)
  t.ok(customer, `customer pod with an IP and a node:\n${wide}`)
  const [, podIp = '', node = ''] = customer ?? []

  // On the pod's node: the /32 via its cali interface and the blackhole for the node's block.
  const routes = await eventually(
    async () => {
      const r = await ssh(node, 'ip', 'route')
      if (!new RegExp(`^${podIp.replace(/\./g, '\\.')} dev cali[0-9a-f]{11} scope link`, 'm').test(r.stdout))
        throw new Error(r.stdout + r.stderr)
      if (!/^blackhole 198\.19\.\d+\.\d+\/26 proto bird/m.test(r.stdout)) throw new Error(r.stdout)
      return r.stdout
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  )
  t.match(routes, /default via 198\.19\.15\.254 dev eth0/)
  const other = node === 'node1' ? 'node2' : 'node1'
  const otherRoutes = await eventually(
    async () => {
      const r = await ssh(other, 'ip', 'route')
      if (!/198\.19\.\d+\.\d+\/26 via 198\.19\.0\.\d+ dev eth0/.test(r.stdout)) throw new Error(r.stdout)
      return r.stdout
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  )
  t.match(otherRoutes, /via 198\.19\.0\.\d+ dev eth0/, 'the other nodes route to its block')
  const link = await ssh(node, 'ip', 'link')
  t.match(link.stdout, /cali[0-9a-f]{11}@if\d+/)

  // host1 is an emulated host: ping the nodes over the underlay, the internet behind it.
  const ping = await ssh('host1', 'ping', '-c', '1', '198.19.0.1')
  t.equal(ping.code, 0, ping.stdout + ping.stderr)
  const fromPod = await eventually(
    async () => {
      const r = await c.cli(['exec', '-n', 'yaobank', `deploy/customer`, '--', 'ping', '-c', '1', '8.8.8.8'])
      if (r.code !== 0) {
        const dbg = await Promise.all([
          ssh(node, 'iptables', '-t', 'nat', '-nvL', 'POSTROUTING'),
          ssh(node, 'iptables', '-t', 'nat', '-nvL', 'cali-nat-outgoing'),
          ssh(node, 'ipset', 'list'),
          k('get', 'ippools.projectcalico.org', '-o', 'yaml'),
        ])
        throw new Error(
          r.stdout + r.stderr + dbg.map((d) => (typeof d === 'string' ? d : d.stdout + d.stderr)).join('\n'),
        )
      }
      return r.stdout
    },
    { timeoutMs: 10_000, intervalMs: 500 },
  )
  t.match(fromPod, /1 received/, 'a pod reaches 8.8.8.8 (natOutgoing to host1)')

  // The lab's step 2: the YAO Bank page from host1 through NodePort 30180 on every node
  // (kube-proxy's rules, the customer -> summary -> database chain over the emulated network).
  for (const ip of ['198.19.0.1', '198.19.0.2', '198.19.0.3']) {
    const r = await eventually(
      async () => {
        const r = await ssh('host1', 'curl', '-s', '--connect-timeout', '3', `${ip}:30180`)
        if (r.code !== 0 || !/Welcome to YAO Bank/.test(r.stdout)) throw new Error(`${r.code} ${r.stdout}${r.stderr}`)
        return r
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    t.match(r.stdout, /Welcome to YAO Bank/, `YAO Bank page through ${ip}:30180`)
    t.match(r.stdout, /Name: Spike Curtis/)
    t.match(r.stdout, /Balance: 2389\.45/)
  }

  // Lab step 3.1: from the customer pod the database answers etcd v2 JSON (before any policy).
  const keys = await c.cli([
    'exec',
    '-n',
    'yaobank',
    'deploy/customer',
    '--',
    'curl',
    '-s',
    'http://database:2379/v2/keys?recursive=true',
  ])
  t.equal(keys.code, 0, `curl database from customer: ${keys.stderr}`)
  t.match(keys.stdout, /"value":"2389\.45"/)

  // Lab step 7.6: calicoctl ipam show, computed from the IPAM records the pods' addresses came from.
  const ipam = await c.cli(['calicoctl', 'ipam', 'show', '--show-blocks'])
  t.equal(ipam.code, 0, `calicoctl ipam show: ${ipam.stderr}`)
  t.match(ipam.stdout, /\| IP Pool\s+\| 198\.19\.16\.0\/21\s+\|\s+2048 \| \d+ \(\d+%\)/)
  t.match(ipam.stdout, /\| Block\s+\| 198\.19\.\d+\.\d+\/26/)
})
