import { readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { eventually, runProcess, startCluster } from '@calilab/testkit'
import t from 'tap'

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

interface State {
  supervisor: { pid: number }
  processes: { component: string; node?: string; pid: number; restarts: number; health: string }[]
}

t.test('calilab up (full): nodes Ready, status, apiserver restart keeps data, down stops all', async (t) => {
  const started = Date.now()
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  t.comment(`up took ${Date.now() - started} ms`)
  // Progress while it comes up (plain lines when stdout is not a terminal), ending with the kubeconfig.
  for (const step of [/^apiserver ready \(127\.0\.0\.1:\d+\)$/m, /^typha-0 ready/m, /^calico operator installed$/m])
    t.match(c.upOutput, step)
  for (const n of ['control', 'node1', 'node2']) t.match(c.upOutput, new RegExp(`^node ${n} Ready$`, 'm'))
  t.match(c.upOutput, /^calilab is up: 3 nodes, apiserver http:\/\/127\.0\.0\.1:\d+, kubeconfig \S+kubeconfig$/m)
  const state = () => JSON.parse(readFileSync(path.join(c.home, 'run', 'state.json'), 'utf8')) as State

  const nodes = await c.kubectl(['get', 'nodes'])
  t.equal(nodes.code, 0, nodes.stderr)
  const lines = nodes.stdout.trim().split('\n')
  t.match(lines[0], /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/)
  t.equal(lines.length, 4, 'three nodes')
  for (const n of ['control', 'node1', 'node2']) {
    t.match(nodes.stdout, new RegExp(`^${n}\\s+Ready\\s`, 'm'), `${n} Ready`)
  }

  const st = await c.cli(['status'])
  t.equal(st.code, 0, st.stderr)
  t.match(st.stdout, /^COMPONENT\s+NODE\s+PID\s+UPTIME\s+RESTARTS\s+HEALTH/)
  for (const re of [
    /^apiserver\s+-\s+\d+/m,
    /^typha-0\s/m,
    /^node\s+control\s+\d+/m,
    /^node\s+node2\s+\d+/m,
    /^bgp-speaker\s+host1/m,
  ]) {
    t.match(st.stdout, re)
  }

  const apiLog = await c.cli(['logs', 'apiserver', '--tail', '3'])
  t.equal(apiLog.code, 0, apiLog.stderr)
  t.equal(apiLog.stdout.trimEnd().split('\n').length, 3, 'logs --tail 3 prints 3 lines')
  const nodeLog = await c.cli(['logs', 'node', '--node', 'node1'])
  t.equal(nodeLog.code, 0, nodeLog.stderr)
  t.match(nodeLog.stdout, /node1/)
  const which = await c.cli(['logs', 'node'])
  t.equal(which.code, 1)
  t.match(which.stderr, /node runs on several nodes; choose one with --node \(control, node1, node2\)/)
  const follow = await c.cli(['logs', 'apiserver', '-f'], { timeoutMs: 6000 })
  t.equal(follow.code, 124, 'logs -f keeps following until stopped')
  t.match(follow.stdout, /"name":"apiserver"/)

  const again = await c.cli(['up', '--detach'])
  t.equal(again.code, 0, 'second up is a no-op')
  t.match(again.stdout, /already running/)

  // (kubectl's `create configmap` generator posts protobuf; a manifest posts JSON.)
  const cm = await c.kubectl(['apply', '-f', '-'], {
    input: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: survivor\ndata:\n  k: v\n',
  })
  t.equal(cm.code, 0, cm.stderr)

  const before = state()
  const api = before.processes.find((p) => p.component === 'apiserver')
  t.ok(api, 'apiserver in state.json')
  process.kill(api!.pid, 'SIGKILL')
  await eventually(
    () => {
      const a = state().processes.find((p) => p.component === 'apiserver')
      if (!a || a.pid === api!.pid || a.restarts < 1 || a.health !== 'ready') throw new Error('not restarted yet')
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  )
  const got = await eventually(
    async () => {
      const r = await c.kubectl(['get', 'configmap', 'survivor', '-o', 'jsonpath={.data.k}'])
      if (r.code !== 0) throw new Error(r.stderr)
      return r.stdout
    },
    { timeoutMs: 10_000 },
  )
  t.equal(got, 'v', 'the ConfigMap survived the apiserver restart')
  const st2 = await c.cli(['status'])
  t.match(st2.stdout, /^apiserver\s+-\s+\d+\s+\S+\s+1\s+ready/m, 'status shows one restart')

  const pids = [state().supervisor.pid, ...state().processes.map((p) => p.pid)]
  const down = await c.cli(['down'])
  t.equal(down.code, 0, down.stderr)
  for (const pid of pids) t.notOk(pidAlive(pid), `pid ${pid} gone after down`)
  const st3 = await c.cli(['status'])
  t.equal(st3.code, 1)
  t.match(st3.stderr, /calilab is not running here .*start it with: calilab up/)
})

t.test('a cluster whose home is removed without down stops itself', async (t) => {
  const c = await startCluster({ nodes: 1, bare: true })
  t.teardown(() => c.stop())
  const st = JSON.parse(readFileSync(path.join(c.home, 'run', 'state.json'), 'utf8')) as State
  const pids = [st.supervisor.pid, ...st.processes.map((p) => p.pid)]
  t.ok(pids.length >= 3, 'supervisor and its processes')
  for (const pid of pids) t.ok(pidAlive(pid), `pid ${pid} running`)
  rmSync(c.home, { recursive: true, force: true })
  await eventually(
    () => {
      const live = pids.filter(pidAlive)
      if (live.length) throw new Error(`still running: ${live.join(' ')}`)
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  )
  t.pass('every process of the cluster ended')
})

t.test('errors tell what to do', async (t) => {
  const cli = (args: string[]) =>
    runProcess(process.execPath, ['packages/cli/bin/calilab.js', ...args], {
      env: { CALILAB_HOME: '/nonexistent-calilab-home' },
    })
  const r = await cli(['kubectl', 'get', 'nodes'])
  t.equal(r.code, 1)
  t.match(r.stderr, /calilab is not running here.*calilab up/)
  const bad = await cli(['up', '--nodes', '0'])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /--nodes/)
})
