import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { eventually, LAB_DIR, startCluster } from '@calilab/testkit'
import t from 'tap'

/**
 * BGP inside the node processes (issue 5): the node-to-node mesh comes up, routes to other
 * nodes' blocks are learned (`proto bird`), `calicoctl node status` / `birdc` run on the nodes,
 * the lab's BGPPeer to host1 brings up a `global` session on every node, and (lab 7.5) the
 * external pool's nginx pod is routed on host1 and answers curl from there.
 */
t.test('node-to-node mesh, BGPPeer host1, external pool routed on host1', async (t) => {
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const ssh = (host: string, ...cmd: string[]) => c.cli(['ssh', host, '--', ...cmd])
  const calicoctl = async (...args: string[]) => {
    const r = await c.cli(['calicoctl', ...args])
    if (r.code !== 0) throw new Error(`calicoctl ${args.join(' ')}: ${r.stdout}${r.stderr}`)
    return r.stdout
  }

  // Pods on two nodes give each node a block (the lab's yaobank spreads over the workers).
  const apply = await c.kubectl(['apply', '-f', `${LAB_DIR}/yaobank.yaml`])
  t.equal(apply.code, 0, apply.stderr)

  const status = await eventually(
    async () => {
      const r = await ssh('node1', 'calicoctl', 'node', 'status')
      for (const ip of ['198.19.0.1', '198.19.0.3']) {
        const re = new RegExp(
          `\\| ${ip.replace(/\./g, '\\.')} +\\| node-to-node mesh \\| up +\\| [^|]+\\| Established +\\|`,
        )
        if (!re.test(r.stdout)) throw new Error(r.stdout + r.stderr)
      }
      return r.stdout
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  t.match(status, /Calico process is running\./)

  // Every other node's block as proto bird on node1.
  const routes = await eventually(
    async () => {
      const [r, pods] = await Promise.all([
        ssh('node1', 'ip', 'route'),
        c.kubectl([
          'get',
          'pods',
          '-A',
          '-o',
          'jsonpath={range .items[*]}{.status.podIP} {.spec.nodeName}{"\\n"}{end}',
        ]),
      ])
      // Nodes other than node1 with a pod on a pool address (not host-network) have a block.
      const owners = new Set(
        pods.stdout
          .split('\n')
          .map((l) => l.trim().split(' '))
          .filter(([ip, n]) => /^198\.19\.(1[6-9]|2[0-3])\./.test(ip ?? '') && n !== undefined && n !== 'node1')
          .map(([, n]) => n),
      )
      if (owners.size === 0) throw new Error(`no other node has a pod yet: ${pods.stdout}${pods.stderr}`)
      const bird = r.stdout.match(/^198\.19\.\d+\.\d+\/26 via 198\.19\.0\.\d+ dev eth0 proto bird/gm) ?? []
      if (bird.length < owners.size) throw new Error(`want ${owners.size} bird routes:\n${r.stdout}`)
      return r.stdout
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  t.notMatch(routes, /\/26 via .* proto static/, 'no static routes to other nodes with BGP routing')
  t.match(routes, /^blackhole 198\.19\.\d+\.\d+\/26 proto bird/m)

  const protocols = await ssh('node1', 'birdc', 'show', 'protocols')
  t.match(protocols.stdout, /Mesh_198_19_0_1 +BGP +--- +up .*Established/)
  t.match(protocols.stdout, /Mesh_198_19_0_3 +BGP +--- +up .*Established/)

  // Lab 7.4: the global BGPPeer to host1.
  await calicoctl('apply', '-f', path.join(LAB_DIR, 'bgppeer-global-host1.yaml'))
  for (const node of ['node1', 'control']) {
    await eventually(
      async () => {
        const r = await ssh(node, 'calicoctl', 'node', 'status')
        if (!/\| 198\.19\.15\.254 +\| global +\| up +\| [^|]+\| Established +\|/.test(r.stdout))
          throw new Error(r.stdout + r.stderr)
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
  }
  const h1proto = await ssh('host1', 'birdc', 'show', 'protocols')
  t.match(h1proto.stdout, /Established/, h1proto.stdout + h1proto.stderr)
  // The default pool's /26 blocks are not imported by host1 (host1-bird.conf bgp_allow).
  t.notMatch((await ssh('host1', 'ip', 'route')).stdout, /\/26 .*proto bird/)

  // Pods still reach each other across nodes.
  const wide = await eventually(
    async () => {
      const r = await c.kubectl(['get', 'pods', '-n', 'yaobank', '-o', 'wide'])
      const rows = r.stdout.trim().split('\n').slice(1)
      if (rows.length < 4 || !rows.every((x) => /\sRunning\s/.test(x))) throw new Error(r.stdout)
      return r.stdout
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  const customer = /^customer-\S+\s+\S+\s+Running\s+\S+\s+\S+\s+(198\.19\.\d+\.\d+)\s+(\S+)/m.exec(wide)
  // A pod on another node than customer's (summary or database).
  const summary = [
    ...wide.matchAll(/^(?:summary|database)-\S+\s+\S+\s+Running\s+\S+\s+\S+\s+(198\.19\.\d+\.\d+)\s+(\S+)/gm),
  ].find((m) => m[2] !== customer?.[2])
  t.ok(summary && customer, wide)
  const ping = await eventually(
    async () => {
      const r = await c.cli(['exec', '-n', 'yaobank', 'deploy/customer', '--', 'ping', '-c', '1', summary?.[1] ?? ''])
      if (r.code !== 0) throw new Error(r.stdout + r.stderr)
      return r.stdout
    },
    { timeoutMs: 15_000, intervalMs: 500 },
  )
  t.match(ping, /1 received/, `customer (${customer?.[2]}) pings a pod on ${summary?.[2]}`)

  // Lab 7.5: external pool, external-ns, nginx -> host1 routes the /29 and curls nginx.
  await calicoctl('apply', '-f', path.join(LAB_DIR, 'external-pool.yaml'))
  for (const f of ['external-ns.yaml', 'nginx.yaml']) {
    const r = await c.kubectl(['apply', '-f', path.join(LAB_DIR, f)])
    t.equal(r.code, 0, r.stderr)
  }
  const nginxIp = await eventually(
    async () => {
      const r = await c.kubectl(['get', 'pods', '-n', 'external-ns', '-o', 'wide'])
      const m = /^nginx-\S+\s+\S+\s+Running\s+\S+\s+\S+\s+(198\.19\.(?:2[4-9]|3[01])\.\d+)\s/m.exec(r.stdout)
      if (!m) throw new Error(r.stdout + r.stderr)
      return m[1] as string
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  await eventually(
    async () => {
      const r = await ssh('host1', 'ip', 'route')
      if (!/^198\.19\.2[4-9]\.\d+\/29 via 198\.19\.0\.2 dev eth0 proto bird/m.test(r.stdout))
        throw new Error(r.stdout + r.stderr)
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  )
  const curl = await eventually(
    async () => {
      const r = await ssh('host1', 'curl', '-s', '-m', '3', nginxIp)
      if (r.code !== 0 || !/nginx/i.test(r.stdout)) throw new Error(`curl ${nginxIp}: ${r.code} ${r.stdout}${r.stderr}`)
      return r.stdout
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  )
  t.match(curl, /Welcome to nginx/i)

  // Lab 10.2: serviceClusterIPs -> host1 routes 198.19.32.0/20 with a next hop per node (ECMP).
  await calicoctl('apply', '-f', path.join(LAB_DIR, 'bgpconfig-service-cluster-ips.yaml'))
  const ecmp = await eventually(
    async () => {
      const r = await ssh('host1', 'ip', 'route')
      const hops = r.stdout.match(/^\s+nexthop via 198\.19\.0\.\d+ dev eth0 weight 1\b/gm) ?? []
      if (!/^198\.19\.32\.0\/20 proto bird/m.test(r.stdout) || hops.length !== 3) throw new Error(r.stdout + r.stderr)
      return r.stdout
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  )
  t.match(ecmp, /nexthop via 198\.19\.0\.1 dev eth0/)
  // Nodes do not install the service range they advertise (BIRD's reject filter).
  t.notMatch((await ssh('node1', 'ip', 'route')).stdout, /198\.19\.32\.0\/20/)
})

/**
 * A borrowed address (calico.md §4: an allocation in a block affine to another node) is exported
 * by the node that holds it as a /32, more specific than the owner's block; deleting that node's
 * last pod in the borrowed address withdraws the /32 everywhere.
 */
t.test("deleting a node's last pod in a borrowed address withdraws its /32", async (t) => {
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const ssh = (host: string, ...cmd: string[]) => c.cli(['ssh', host, '--', ...cmd])
  const dir = mkdtempSync(path.join(tmpdir(), 'calilab-borrow-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const pod = (name: string, node: string, ip?: string) => {
    const file = path.join(dir, `${name}.yaml`)
    const ann = ip ? `  annotations:\n    cni.projectcalico.org/ipAddrs: '["${ip}"]'\n` : ''
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: default\n${ann}spec:\n  nodeName: ${node}\n  containers:\n  - name: nginx\n    image: nginx\n`,
    )
    return file
  }
  const podIp = (name: string) =>
    eventually(
      async () => {
        const r = await c.kubectl(['get', 'pod', name, '-o', 'jsonpath={.status.podIP}'])
        if (!/^198\.19\.\d+\.\d+$/.test(r.stdout.trim())) throw new Error(r.stdout + r.stderr)
        return r.stdout.trim()
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )

  // node2 gets a block through its own pod; node1 then takes an address inside that block.
  t.equal((await c.kubectl(['apply', '-f', pod('owner', 'node2')])).code, 0)
  const ownerIp = await podIp('owner')
  const [a = 0, b = 0, x = 0, y = 0] = ownerIp.split('.').map(Number)
  const base = (x * 256 + y) & ~63 // default blockSize 26
  const borrowed = `${a}.${b}.${(base + 40) >> 8}.${(base + 40) & 255}`
  t.not(borrowed, ownerIp)
  t.equal((await c.kubectl(['apply', '-f', pod('borrower', 'node1', borrowed)])).code, 0)
  t.equal(await podIp('borrower'), borrowed, 'node1 pod holds an address of node2 block')

  const esc = borrowed.replace(/\./g, '\\.')
  const viaNode1 = new RegExp(`^${esc}(/32)? via 198\\.19\\.0\\.2 dev eth0 proto bird`, 'm')
  const routes = await eventually(
    async () => {
      const r = await ssh('control', 'ip', 'route')
      if (!viaNode1.test(r.stdout)) throw new Error(r.stdout + r.stderr)
      return r.stdout
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  t.match(routes, /\/26 via 198\.19\.0\.3 dev eth0 proto bird/, "node2's block still via node2")

  t.equal((await c.kubectl(['delete', 'pod', 'borrower'])).code, 0)
  await eventually(
    async () => {
      const r = await ssh('control', 'ip', 'route')
      if (viaNode1.test(r.stdout)) throw new Error(r.stdout)
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  t.pass('the /32 is withdrawn once the pod is gone')
  const after = (await ssh('control', 'ip', 'route')).stdout
  t.match(after, /\/26 via 198\.19\.0\.3 dev eth0 proto bird/, "node2's block stays")
})
