import { readFileSync } from 'node:fs'
import path from 'node:path'
import { eventually, LAB_DIR, startCluster } from '@calilab/testkit'
import t from 'tap'

/**
 * Advertising services over BGP (issue 5, lab §10) on the lab topology with the host1 BGPPeer:
 * 10.2 serviceClusterIPs -> curl the customer cluster IP from host1; 10.3 serviceExternalIPs plus
 * the customer Service's externalIP -> curl 198.19.48.10 from host1; 10.4 externalTrafficPolicy
 * Local -> the cluster IP as a /32 only from the customer pod's node; and killing node2's process
 * withdraws its routes at once (TCP reset) until the supervisor has restarted it.
 */
t.test('lab 10: service cluster IPs, external IPs, ETP Local and node2 killed', async (t) => {
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const ssh = (host: string, ...cmd: string[]) => c.cli(['ssh', host, '--', ...cmd])
  const calicoctl = async (...args: string[]) => {
    const r = await c.cli(['calicoctl', ...args])
    if (r.code !== 0) throw new Error(`calicoctl ${args.join(' ')}: ${r.stdout}${r.stderr}`)
    return r.stdout
  }
  const k = async (...args: string[]) => {
    const r = await c.kubectl(args)
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stdout}${r.stderr}`)
    return r.stdout
  }
  const curlPage = (ip: string, timeoutMs = 20_000) =>
    eventually(
      async () => {
        const r = await ssh('host1', 'curl', '-s', '-m', '3', ip)
        if (r.code !== 0 || !/Welcome to YAO Bank/.test(r.stdout))
          throw new Error(`curl ${ip}: ${r.code} ${r.stdout}${r.stderr}`)
        return r.stdout
      },
      { timeoutMs, intervalMs: 500 },
    )
  const hostRoutes = async () => {
    const r = await ssh('host1', 'ip', 'route')
    if (r.code !== 0) throw new Error(r.stdout + r.stderr)
    return r.stdout
  }
  /** The next hops host1 has for `prefix` (one `via`, or an ECMP set). */
  const hopsOf = (routes: string, prefix: string): string[] => {
    const lines = routes.split('\n')
    // `ip route` prints a /32 as the bare address.
    const bare = prefix.replace(/\/32$/, '')
    const i = lines.findIndex((l) => l.startsWith(`${prefix} `) || l.startsWith(`${bare} `))
    if (i < 0) return []
    const head = lines[i] as string
    const via = / via (\S+) /.exec(head)
    if (via) return [via[1] as string]
    const out: string[] = []
    for (const l of lines.slice(i + 1)) {
      const m = /^\s+nexthop via (\S+) /.exec(l)
      if (!m) break
      out.push(m[1] as string)
    }
    return out.sort()
  }
  const nodeIps = ['198.19.0.1', '198.19.0.2', '198.19.0.3']

  const apply = await c.kubectl(['apply', '-f', path.join(LAB_DIR, 'yaobank.yaml')])
  t.equal(apply.code, 0, `kubectl apply yaobank.yaml: ${apply.stderr}`)
  await calicoctl('apply', '-f', path.join(LAB_DIR, 'bgppeer-global-host1.yaml'))
  await calicoctl('apply', '-f', path.join(LAB_DIR, 'bgpconfig-service-cluster-ips.yaml'))
  t.match(await calicoctl('get', 'bgpconfig', 'default', '-o', 'yaml'), /198\.19\.32\.0\/20/, 'bgpconfig default')

  const wide = await eventually(
    async () => {
      const out = await k('get', 'pods', '-n', 'yaobank', '-o', 'wide')
      const rows = out.trim().split('\n').slice(1)
      if (rows.length < 4 || !rows.every((x) => /\sRunning\s/.test(x))) throw new Error(out)
      return out
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  const customerNodes = [...wide.matchAll(/^customer-\S+\s+\S+\s+Running\s+\S+\s+\S+\s+\S+\s+(\S+)/gm)].map(
    (m) => m[1] as string,
  )
  t.ok(customerNodes.length > 0, `customer pod(s) on ${customerNodes.join(',')}`)
  const clusterIp = (await k('get', 'svc', '-n', 'yaobank', 'customer', '-o', 'jsonpath={.spec.clusterIP}')).trim()
  t.match(clusterIp, /^198\.19\.(3[2-9]|4[0-7])\.\d+$/, 'customer cluster IP inside 198.19.32.0/20')

  // 10.2: host1 routes the service range to every node (ECMP) and curl reaches the page.
  await eventually(
    async () => {
      const r = await hostRoutes()
      if (hopsOf(r, '198.19.32.0/20').join() !== nodeIps.join()) throw new Error(r)
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  t.match(await curlPage(clusterIp), /Welcome to YAO Bank/, `host1 curls the customer cluster IP ${clusterIp}`)

  // 10.3: serviceExternalIPs and the customer Service's externalIP.
  await calicoctl(
    'patch',
    'BGPConfig',
    'default',
    '--patch',
    readFileSync(path.join(LAB_DIR, 'bgpconfig-service-external-ips-patch.json'), 'utf8').trim(),
  )
  await eventually(
    async () => {
      const r = await hostRoutes()
      if (hopsOf(r, '198.19.48.0/20').join() !== nodeIps.join()) throw new Error(r)
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  )
  await k(
    'patch',
    'svc',
    '-n',
    'yaobank',
    'customer',
    '-p',
    readFileSync(path.join(LAB_DIR, 'customer-svc-externalip-patch.json'), 'utf8').trim(),
  )
  const svc = await k('get', 'svc', '-n', 'yaobank', 'customer')
  t.match(svc, /^customer\s+NodePort\s+\S+\s+198\.19\.48\.10\s+80:30180\/TCP/m, 'EXTERNAL-IP 198.19.48.10')
  t.match(await curlPage('198.19.48.10'), /Welcome to YAO Bank/, 'host1 curls the external IP 198.19.48.10')

  // 10.4: externalTrafficPolicy Local -> the cluster IP as a /32 only from the customer pod's node(s).
  await k('patch', 'svc', '-n', 'yaobank', 'customer', '-p', '{"spec":{"externalTrafficPolicy":"Local"}}')
  const nodesJson = await k(
    'get',
    'nodes',
    '-o',
    'jsonpath={range .items[*]}{.metadata.name}={.metadata.annotations.projectcalico\\.org/IPv4Address}{"\\n"}{end}',
  )
  const ipOf = new Map(
    nodesJson
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string])
      .map(([n, ip]) => [n, (ip ?? '').split('/')[0] ?? '']),
  )
  const wantLocal = customerNodes.map((n) => ipOf.get(n) ?? `?${n}`).sort()
  const etp = await eventually(
    async () => {
      const r = await hostRoutes()
      if (hopsOf(r, `${clusterIp}/32`).join() !== wantLocal.join()) throw new Error(`want via ${wantLocal}:\n${r}`)
      return r
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  )
  t.same(hopsOf(etp, `${clusterIp}/32`), wantLocal, `${clusterIp}/32 only via ${customerNodes.join(',')}`)
  t.same(hopsOf(etp, '198.19.32.0/20'), nodeIps, 'the /20 still via every node')
  t.match(await curlPage(clusterIp), /Welcome to YAO Bank/, 'the cluster IP still answers from host1')

  // Killing node2's process: its sessions reset, node2's routes leave host1 and node1 at once,
  // and come back once the supervisor has restarted it.
  const statePath = path.join(c.home, 'run', 'state.json')
  type State = {
    supervisor: { pid: number }
    processes: { component: string; node?: string; pid?: number; restarts: number; health: string }[]
  }
  const readState = () => JSON.parse(readFileSync(statePath, 'utf8')) as State
  const before = readState()
  const node2 = before.processes.filter((p) => p.node === 'node2' && p.pid !== undefined)
  t.ok(node2.length > 0, `node2's process in ${statePath}`)
  const node1Before = (await ssh('node1', 'ip', 'route')).stdout
  const node2Block = /^(198\.19\.\d+\.\d+\/26) via 198\.19\.0\.3 dev eth0 proto bird/m.exec(node1Before)?.[1]
  // Hold the supervisor (our own child, by PID) so the withdrawal is seen before the restart.
  process.kill(before.supervisor.pid, 'SIGSTOP')
  let resumed = false
  const resume = () => {
    if (resumed) return
    resumed = true
    process.kill(before.supervisor.pid, 'SIGCONT')
  }
  t.teardown(resume)
  try {
    for (const p of node2) process.kill(p.pid as number, 'SIGKILL')
    const gone = await eventually(
      async () => {
        const r = await hostRoutes()
        const hops = hopsOf(r, '198.19.32.0/20')
        if (hops.includes('198.19.0.3') || hops.length !== 2) throw new Error(r)
        return r
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    )
    t.notMatch(gone, /via 198\.19\.0\.3 /, 'host1 has nothing via node2')
    if (node2Block !== undefined) {
      await eventually(
        async () => {
          const r = (await ssh('node1', 'ip', 'route')).stdout
          if (r.includes(`${node2Block} via 198.19.0.3`)) throw new Error(r)
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      )
      t.pass(`node1 withdrew node2's block ${node2Block}`)
    }
  } finally {
    resume()
  }
  await eventually(
    async () => {
      const s = readState()
      const p = s.processes.find((x) => x.node === 'node2' && x.component === node2[0]?.component)
      if (!p || p.restarts < 1 || p.health !== 'ready') throw new Error(JSON.stringify(p))
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  await eventually(
    async () => {
      const r = await hostRoutes()
      if (hopsOf(r, '198.19.32.0/20').join() !== nodeIps.join()) throw new Error(r)
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  )
  if (node2Block !== undefined) {
    await eventually(
      async () => {
        const r = (await ssh('node1', 'ip', 'route')).stdout
        if (!r.includes(`${node2Block} via 198.19.0.3 dev eth0 proto bird`)) throw new Error(r)
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    )
    t.pass(`node1 relearned node2's block ${node2Block}`)
  }
})
