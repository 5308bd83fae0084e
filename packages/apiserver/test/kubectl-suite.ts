import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { cols, kubectlUntil, LAB, type Lab, type Run, startLab } from './kubectl-harness.ts'

type Tap = Test

function ok(t: Tap, r: Run, what: string): void {
  t.equal(r.code, 0, `${what} exits 0${r.code ? `: ${r.stderr}` : ''}`)
}

const NODE = (name: string, role: boolean, ip: string): unknown => ({
  metadata: {
    name,
    labels: { 'kubernetes.io/hostname': name, ...(role ? { 'node-role.kubernetes.io/master': 'true' } : {}) },
    annotations: role
      ? { 'k3s.io/node-args': 'server --cluster-cidr 198.19.16.0/20 --service-cidr 198.19.32.0/20' }
      : {},
  },
  spec: {},
  status: {
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
    addresses: [
      { type: 'InternalIP', address: ip },
      { type: 'Hostname', address: name },
    ],
    nodeInfo: {
      kubeletVersion: 'v1.32.0',
      osImage: 'calilab',
      kernelVersion: '6.1.0',
      containerRuntimeVersion: 'calilab://1',
    },
  },
})

/** The core kubectl command list; run with both kubectl 1.32 and 1.20. */
export function kubectlSuite(t: Tap, bin: string): void {
  let lab: Lab
  t.before(async () => {
    lab = await startLab(bin)
  })
  t.teardown(async () => {
    await lab?.close()
  })
  const k = (...args: string[]) => lab.kubectl(args)

  t.test('create the operator CRDs (3.5 MB) and the operator', async (t) => {
    const crds = await k('create', '-f', `${LAB}/operator-crds.yaml`)
    ok(t, crds, 'create -f operator-crds.yaml')
    t.equal(crds.stdout.match(/customresourcedefinition\.apiextensions\.k8s\.io\/\S+ created/g)?.length, 32)
    const op = await k('create', '-f', `${LAB}/tigera-operator.yaml`)
    ok(t, op, 'create -f tigera-operator.yaml')
    t.match(op.stdout, /deployment\.apps\/tigera-operator created/)
    const again = await k('create', '-f', `${LAB}/tigera-operator.yaml`)
    t.not(again.code, 0)
    t.match(again.stderr, /Error from server \(AlreadyExists\)/)
    const crdGet = await k('get', 'crd', 'installations.operator.tigera.io')
    ok(t, crdGet, 'get crd')
  })

  t.test('apply yaobank twice', async (t) => {
    const first = await k('apply', '-f', `${LAB}/yaobank.yaml`)
    ok(t, first, 'first apply')
    t.match(first.stdout, /namespace\/yaobank created/)
    t.match(first.stdout, /deployment\.apps\/customer created/)
    t.match(first.stdout, /service\/customer created/)
    const second = await k('apply', '-f', `${LAB}/yaobank.yaml`)
    ok(t, second, 'second apply')
    t.match(second.stdout, /deployment\.apps\/customer (unchanged|configured)/)
    t.notMatch(second.stdout, /created/)
  })

  t.test('get prints the real columns', async (t) => {
    await lab.put('pods', 'yaobank', {
      metadata: { name: 'customer-abc12', labels: { app: 'customer' } },
      spec: { nodeName: 'node1', containers: [{ name: 'customer', image: 'calico/yaobank-customer' }] },
    })
    await lab.put('networkpolicies', 'yaobank', {
      metadata: { name: 'default-deny' },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    })
    await lab.put('nodes', undefined, NODE('control', true, '198.19.0.1'))
    await lab.put('nodes', undefined, NODE('node1', false, '198.19.0.2'))
    const want: Record<string, string[]> = {
      pods: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
      svc: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
      deploy: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
      sa: ['NAME', 'SECRETS', 'AGE'],
      netpol: ['NAME', 'POD-SELECTOR', 'AGE'],
    }
    for (const [what, header] of Object.entries(want)) {
      const r = await k('get', what, '-n', 'yaobank')
      ok(t, r, `get ${what}`)
      t.same(cols(r.stdout), header, `get ${what} header`)
    }
    const ns = await k('get', 'ns')
    t.same(cols(ns.stdout), ['NAME', 'STATUS', 'AGE'])
    t.match(ns.stdout, /yaobank\s+Active/)
    const wide = await k('get', 'pods', '-n', 'yaobank', '-o', 'wide')
    ok(t, wide, 'get pods -o wide')
    t.same(cols(wide.stdout), [
      'NAME',
      'READY',
      'STATUS',
      'RESTARTS',
      'AGE',
      'IP',
      'NODE',
      'NOMINATED NODE',
      'READINESS GATES',
    ])
    t.match(wide.stdout, /\ncustomer-abc12\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+node1\s+<none>\s+<none>\n/)
    await lab.put('endpoints', 'yaobank', {
      metadata: { name: 'customer' },
      subsets: [
        {
          addresses: [{ ip: '198.19.22.13', nodeName: 'node1' }, { ip: '198.19.22.14' }],
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        },
      ],
    })
    const ep = await k('get', 'endpoints', '-n', 'yaobank')
    ok(t, ep, 'get endpoints')
    t.same(cols(ep.stdout), ['NAME', 'ENDPOINTS', 'AGE'])
    t.match(ep.stdout, /\ncustomer\s+198\.19\.22\.13:80,198\.19\.22\.14:80\s+\S+\n/)
    const nodes = await k('get', 'nodes')
    ok(t, nodes, 'get nodes')
    t.same(cols(nodes.stdout), ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'])
    t.match(nodes.stdout, /control\s+Ready/)
    const empty = await k('get', 'pods', '-n', 'nothing-here')
    t.equal(empty.code, 0)
    t.match(empty.stderr, /No resources found in nothing-here namespace/)
  })

  t.test('get -o yaml|json|wide|name', async (t) => {
    const y = await k('get', 'svc', '-n', 'yaobank', 'customer', '-o', 'yaml')
    ok(t, y, '-o yaml')
    t.match(y.stdout, /clusterIP: 198\.19\.(3[2-9]|4[0-7])\.\d+/)
    const j = await k('get', 'svc', '-n', 'yaobank', '-o', 'json')
    ok(t, j, '-o json')
    const list = JSON.parse(j.stdout) as { kind: string; items: unknown[] }
    t.equal(list.kind, 'List')
    t.equal(list.items.length, 3)
    const w = await k('get', 'svc', '-n', 'yaobank', '-o', 'wide')
    t.same(cols(w.stdout), ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR'])
    const n = await k('get', 'svc', '-n', 'yaobank', '-o', 'name')
    t.same(n.stdout.trim().split('\n').sort(), ['service/customer', 'service/database', 'service/summary'])
  })

  t.test('label, patch (strategic, merge, json)', async (t) => {
    const l = await k('label', 'serviceaccount', '-n', 'yaobank', 'customer', 'internet-egress=allowed')
    ok(t, l, 'label')
    t.match(l.stdout, /serviceaccount\/customer labeled/)
    const p = await k('patch', 'svc', '-n', 'yaobank', 'customer', '-p', '{"spec":{"externalIPs":["198.19.48.10"]}}')
    ok(t, p, 'patch')
    t.match(p.stdout, /service\/customer patched/)
    const g = await k('get', 'svc', '-n', 'yaobank', 'customer')
    t.match(g.stdout, /customer\s+\S+\s+198\.19\.\d+\.\d+\s+198\.19\.48\.10\s/)
    const m = await k(
      'patch',
      'svc',
      '-n',
      'yaobank',
      'customer',
      '--type',
      'merge',
      '-p',
      '{"metadata":{"labels":{"m":"1"}}}',
    )
    ok(t, m, 'patch --type merge')
    const js = await k(
      'patch',
      'svc',
      '-n',
      'yaobank',
      'customer',
      '--type',
      'json',
      '-p',
      '[{"op":"add","path":"/metadata/labels/j","value":"2"}]',
    )
    ok(t, js, 'patch --type json')
    const o = JSON.parse((await k('get', 'svc', '-n', 'yaobank', 'customer', '-o', 'json')).stdout) as {
      metadata: { labels: Record<string, string> }
    }
    t.equal(o.metadata.labels['m'], '1')
    t.equal(o.metadata.labels['j'], '2')
  })

  t.test('error paths', async (t) => {
    const nf = await k('get', 'pod', '-n', 'yaobank', 'nope')
    t.not(nf.code, 0)
    t.match(nf.stderr, /Error from server \(NotFound\): pods "nope" not found/)
    const bad = await lab.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'bad', namespace: 'yaobank' },
        spec: { ports: [{ port: 99999 }] },
      }),
    })
    t.not(bad.code, 0)
    t.match(bad.stderr, /Invalid/)
    t.match(bad.stderr, /spec\.ports\[0\]\.port/)
  })

  t.test('get -w receives an event', async (t) => {
    // Wait for the whole row: kubectl may flush the name before the rest of the line.
    const watching = kubectlUntil(lab, bin, ['get', 'pods', '-n', 'yaobank', '-w'], (out) =>
      /watched-pod\s+\d+\/\d+/.test(out),
    )
    await sleep(1500)
    await lab.put('pods', 'yaobank', {
      metadata: { name: 'watched-pod' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    })
    const r = await watching
    t.equal(r.code, 0, `saw the new pod: ${r.stdout} ${r.stderr}`)
    t.match(r.stdout, /watched-pod\s+\d+\/\d+/)
  })

  t.test('delete pod by label', async (t) => {
    const d = await k('delete', 'pod', '-n', 'yaobank', '-l', 'app=customer')
    ok(t, d, 'delete -l')
    t.match(d.stdout, /pod "customer-abc12" deleted/)
    const g = await k('get', 'pods', '-n', 'yaobank', '-l', 'app=customer')
    t.match(g.stderr, /No resources found/)
  })

  t.test('scale through the scale subresource', async (t) => {
    const r = await k('scale', '-n', 'yaobank', 'deployment/summary', '--replicas=3')
    ok(t, r, 'scale')
    t.match(r.stdout, /deployment\.apps\/summary scaled/)
    const deploy = lab.server.api.resources.resolve('deployments')
    if (!deploy) throw new Error('no deployments')
    const d = lab.server.api.get(deploy, 'yaobank', 'summary')
    t.equal((d.spec as { replicas: number }).replicas, 3)
    t.equal(d.metadata.generation, 2, 'scaling bumps generation')
  })

  t.test('rollout status completes once status is set', async (t) => {
    const rollout = lab.kubectl(['rollout', 'status', '-n', 'yaobank', 'deployment/customer', '--timeout=20s'])
    await sleep(1000)
    const deploy = lab.server.api.resources.resolve('deployments')
    if (!deploy) throw new Error('no deployments')
    const cur = lab.server.api.get(deploy, 'yaobank', 'customer')
    const replicas = (cur.spec as { replicas?: number }).replicas ?? 1
    await lab.server.api.update(
      deploy,
      'yaobank',
      'customer',
      {
        ...cur,
        status: {
          observedGeneration: cur.metadata.generation,
          replicas,
          updatedReplicas: replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
          conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
        },
      },
      { subresource: 'status' },
    )
    const r = await rollout
    ok(t, r, 'rollout status')
    t.match(r.stdout, /successfully rolled out/)
  })

  t.test('logs stream from the node kubelet endpoint', async (t) => {
    const kubelet = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.end(`hello from ${req.url}\n`)
    })
    await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r))
    t.teardown(() => kubelet.close())
    const nodes = lab.server.api.resources.resolve('nodes')
    if (!nodes) throw new Error('no nodes')
    const port = (kubelet.address() as AddressInfo).port
    await lab.server.api.patch(nodes, undefined, 'node1', 'merge', {
      metadata: { annotations: { 'calilab.dev/kubelet-endpoint': `127.0.0.1:${port}` } },
    })
    await lab.put('pods', 'yaobank', {
      metadata: { name: 'logger', labels: { app: 'logger' } },
      spec: { nodeName: 'node1', containers: [{ name: 'app', image: 'i' }] },
    })
    const byName = await k('logs', '-n', 'yaobank', 'logger')
    ok(t, byName, 'logs')
    t.equal(byName.stdout, 'hello from /containerLogs/yaobank/logger/app\n')
    const byLabel = await k('logs', '-n', 'yaobank', '-l', 'app=logger')
    ok(t, byLabel, 'logs -l')
    t.equal(byLabel.stdout, 'hello from /containerLogs/yaobank/logger/app?tailLines=10\n')
  })

  t.test('cluster-info dump finds the node args', async (t) => {
    const r = await k('cluster-info', 'dump')
    ok(t, r, 'cluster-info dump')
    const lines = r.stdout
      .split('\n')
      .filter((l) => /service-cidr|cluster-cidr/.test(l))
      .slice(0, 2)
    t.ok(lines.length >= 1)
    t.match(lines.join('\n'), /--cluster-cidr 198\.19\.16\.0\/20/)
    t.match(lines.join('\n'), /198\.19\.32\.0\/20/)
  })
}
