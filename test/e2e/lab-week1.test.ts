import { eventually, LAB_DIR, startCluster } from '@calilab/testkit'
import t from 'tap'

const LAB = LAB_DIR

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
})
