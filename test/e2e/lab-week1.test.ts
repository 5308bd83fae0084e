import { existsSync } from 'node:fs'
import path from 'node:path'
import { eventually, KUBECTL, LAB_DIR, REPO_ROOT, runProcess, startCluster } from '@calilab/testkit'
import t from 'tap'

const LAB = LAB_DIR
/** Debian's kubernetes-client, unpacked by .ci/run (shared/reference/kubectl-wire.md). */
const KUBECTL_120 = path.join(REPO_ROOT, '.ci/kubectl-1.20/usr/bin/kubectl')

t.test('lab step 1-2: up --bare, install Calico by hand, YAO Bank rolls out', async (t) => {
  const c = await startCluster({ nodes: 3, bare: true })
  t.teardown(() => c.stop())
  const k = async (...args: string[]) => {
    const r = await c.kubectl(args)
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }

  const nodes = await k('get', 'nodes', '-A')
  for (const n of ['control', 'node1', 'node2'])
    t.match(nodes, new RegExp(`^${n}\\s+NotReady\\s`, 'm'), `${n} NotReady`)

  const crds = await c.kubectl(['create', '-f', `${LAB}/operator-crds.yaml`])
  t.equal(crds.code, 0, crds.stderr)
  const op = await c.kubectl(['create', '-f', `${LAB}/tigera-operator.yaml`])
  t.equal(op.code, 0, op.stderr)
  t.match(op.stdout, /deployment.apps\/tigera-operator created/)
  await eventually(
    async () => {
      const out = await k('get', 'pods', '-n', 'tigera-operator')
      if (!/tigera-operator-\S+\s+1\/1\s+Running/.test(out)) throw new Error(out)
    },
    { timeoutMs: 20_000 },
  )

  // The built-in kubectl applies the Installation (client-side apply).
  const inst = await c.cli(['kubectl', 'apply', '-f', `${LAB}/installation.yaml`])
  t.equal(inst.code, 0, inst.stderr)
  t.match(inst.stdout, /installation.operator.tigera.io\/default created/)

  await eventually(
    async () => {
      const out = await k(
        'get',
        'tigerastatus/calico',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Available")].status}',
      )
      if (out !== 'True') throw new Error(`tigerastatus calico Available=${out}`)
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
  const ts = await k('get', 'tigerastatus/calico')
  const [header = '', row = ''] = ts.split('\n')
  const col = header.indexOf('AVAILABLE')
  t.ok(col >= 0 && row.slice(col).startsWith('True'), `kubectl get tigerastatus/calico shows AVAILABLE True:\n${ts}`)

  const pods = await eventually(
    async () => {
      const out = await k('get', 'pods', '-n', 'calico-system')
      const rows = out.trim().split('\n').slice(1)
      const running = (prefix: string) => rows.filter((r) => r.startsWith(prefix) && /\sRunning\s/.test(r)).length
      if (running('calico-node-') !== 3 || running('calico-typha-') < 1 || running('calico-kube-controllers-') !== 1) {
        throw new Error(out)
      }
      return out
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
  t.match(pods, /calico-kube-controllers-/)

  await eventually(
    async () => {
      const out = await k('get', 'nodes')
      for (const n of ['control', 'node1', 'node2']) {
        if (!new RegExp(`^${n}\\s+Ready\\s`, 'm').test(out)) throw new Error(out)
      }
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
  t.pass('all nodes Ready')

  const apply = await c.kubectl(['apply', '-f', `${LAB}/yaobank.yaml`])
  t.equal(apply.code, 0, apply.stderr)
  t.match(apply.stdout, /deployment.apps\/customer created/)
  const ro = await c.kubectl(['rollout', 'status', '-n', 'yaobank', 'deployment/customer', '--timeout=60s'])
  t.equal(ro.code, 0, ro.stderr)
  t.match(ro.stdout, /deployment "customer" successfully rolled out/)
  // The built-in kubectl agrees.
  const ro2 = await c.cli(['kubectl', 'rollout', 'status', '-n', 'yaobank', 'deployment/summary', '--timeout', '60'])
  t.equal(ro2.code, 0, ro2.stderr)
  t.match(ro2.stdout, /deployment "summary" successfully rolled out/)

  // The kubectl 1.20 command list, against this live cluster.
  const have120 = existsSync(KUBECTL_120)
  if (!have120)
    t.comment(`kubectl 1.20 not found at ${KUBECTL_120} (.ci/run unpacks it): running the list with ${KUBECTL}`)
  const old = async (...args: string[]) => {
    const r = await runProcess(have120 ? KUBECTL_120 : KUBECTL, ['--kubeconfig', c.kubeconfig, ...args])
    t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const reapply = await old('apply', '-f', `${LAB}/yaobank.yaml`)
  t.match(reapply, /^deployment\.apps\/customer unchanged$/m, 'second apply: no-op')
  t.notMatch(reapply, /created/)

  const wide = await old('get', 'pods', '-n', 'yaobank', '-o', 'wide')
  t.match(wide, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\n/)
  const podRow = (app: string) =>
    new RegExp(
      `^${app}-[a-z0-9]+-[a-z0-9]{5}\\s+1/1\\s+Running\\s+\\d+\\s+\\S+\\s+(198\\.19\\.\\d+\\.\\d+)\\s+(\\S+)`,
      'm',
    )
  const placed = Object.fromEntries(
    ['customer', 'summary', 'database'].map((app) => [app, podRow(app).exec(wide)?.slice(1, 3) ?? []]),
  )
  t.equal(placed['customer']?.[1], 'node1', 'the lab pins customer to node1')
  t.equal(placed['database']?.[1], 'node2', 'the lab pins database to node2')
  t.not(placed['summary']?.[1], 'control', 'nothing lands on the tainted control node')

  const eps = await old('get', 'endpoints', '-n', 'yaobank')
  t.match(eps, /^NAME\s+ENDPOINTS\s+AGE\n/)
  t.match(
    eps,
    new RegExp(`^customer\\s+${placed['customer']?.[0]?.replaceAll('.', '\\.')}:80\\s`, 'm'),
    'customer endpoint = its pod',
  )
  t.match(eps, new RegExp(`^database\\s+${placed['database']?.[0]?.replaceAll('.', '\\.')}:2379\\s`, 'm'))

  t.match(
    await old('label', 'serviceaccount', '-n', 'yaobank', 'customer', 'internet-egress=allowed'),
    /serviceaccount\/customer labeled/,
  )
  t.match(
    await old('patch', 'svc', '-n', 'yaobank', 'customer', '-p', '{"spec":{"externalIPs":["198.19.48.10"]}}'),
    /service\/customer patched/,
  )
  t.match(await old('get', 'svc', '-n', 'yaobank', 'customer'), /customer\s+NodePort\s+\S+\s+198\.19\.48\.10\s/)

  const oldPod = /^(customer-\S+)/m.exec(wide)?.[1] ?? ''
  t.match(await old('delete', 'pod', '-n', 'yaobank', '-l', 'app=customer'), new RegExp(`pod "${oldPod}" deleted`))
  t.match(
    await old('rollout', 'status', '-n', 'yaobank', 'deployment/customer', '--timeout=60s'),
    /deployment "customer" successfully rolled out/,
  )
  await eventually(
    async () => {
      const out = await old('get', 'pods', '-n', 'yaobank', '-l', 'app=customer')
      if (out.includes(oldPod) || !/^customer-\S+\s+1\/1\s+Running/m.test(out)) throw new Error(out)
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
  t.pass('the deployment replaced the deleted customer pod')

  const nodes120 = await old('get', 'nodes')
  for (const n of ['control', 'node1', 'node2']) t.match(nodes120, new RegExp(`^${n}\\s+Ready\\s`, 'm'))

  // kubectl cluster-info dump | grep -m 2 -E "service-cidr|cluster-cidr"
  const dump = (await old('cluster-info', 'dump'))
    .split('\n')
    .filter((l) => /service-cidr|cluster-cidr/.test(l))
    .slice(0, 2)
    .join('\n')
  t.match(dump, /198\.19\.32\.0\/20/, 'cluster-info dump shows the service CIDR')
  t.match(dump, /198\.19\.16\.0\/20/, 'cluster-info dump shows the cluster CIDR')
})
