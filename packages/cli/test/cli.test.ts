import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cell, resolveCalicoKind } from '../src/calicoctl/kinds.ts'
import { Discovery, typeRef } from '../src/kubectl/discovery.ts'
import { parseManifests } from '../src/kubectl/manifests.ts'
import { mergePatchBetween } from '../src/kubectl/ops.ts'
import { rolloutStatus } from '../src/kubectl/rollout.ts'
import { backoffMs } from '../src/supervisor/supervisor.ts'
import { formatTable } from '../src/table.ts'
import { resolveTopology } from '../src/topology.ts'

t.test('tables pad with 3 spaces, last column unpadded', async (t) => {
  t.equal(
    formatTable(
      ['NAME', 'AGE'],
      [
        ['control', '5s'],
        ['n1', '10m'],
      ],
    ),
    'NAME      AGE\ncontrol   5s\nn1        10m',
  )
})

t.test('rollout status follows kubectl', async (t) => {
  const d = (spec: number, st: Record<string, number>, gen = 1) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'customer', generation: gen },
    spec: { replicas: spec },
    status: { observedGeneration: 1, ...st },
  })
  t.same(rolloutStatus('Deployment', d(2, {}, 2)), {
    msg: 'Waiting for deployment spec update to be observed...',
    done: false,
  })
  t.equal(
    rolloutStatus('Deployment', d(2, { updatedReplicas: 0 })).msg,
    'Waiting for deployment "customer" rollout to finish: 0 out of 2 new replicas have been updated...',
  )
  t.equal(
    rolloutStatus('Deployment', d(2, { updatedReplicas: 2, replicas: 3 })).msg,
    'Waiting for deployment "customer" rollout to finish: 1 old replicas are pending termination...',
  )
  t.equal(
    rolloutStatus('Deployment', d(2, { updatedReplicas: 2, replicas: 2, availableReplicas: 1 })).msg,
    'Waiting for deployment "customer" rollout to finish: 1 of 2 updated replicas are available...',
  )
  t.same(rolloutStatus('Deployment', d(2, { updatedReplicas: 2, replicas: 2, availableReplicas: 2 })), {
    msg: 'deployment "customer" successfully rolled out',
    done: true,
  })
})

t.test('merge patch between last-applied and new', async (t) => {
  t.same(mergePatchBetween({ a: 1, b: { c: 1, d: 2 }, l: [1] }, { a: 1, b: { c: 2 }, l: [1, 2], e: 'x' }), {
    b: { d: null, c: 2 },
    l: [1, 2],
    e: 'x',
  })
  t.same(mergePatchBetween({ a: 1 }, { a: 1 }), {})
})

t.test('manifests: multi-doc, List flattened, empty docs skipped, errors', async (t) => {
  const m = parseManifests(
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n',
    'x.yaml',
  )
  t.same(
    m.map((x) => `${x.object.kind}/${x.object.metadata.name}`),
    ['Namespace/a', 'ConfigMap/b'],
  )
  t.throws(() => parseManifests('metadata: {name: a}\n', 'bad.yaml'), /bad\.yaml: apiVersion and kind must be set/)
})

t.test('discovery resolves what users type', async (t) => {
  const r = (group: string, name: string, kind: string, shortNames: string[] = []) => ({
    group,
    version: 'v1',
    name,
    singularName: kind.toLowerCase(),
    kind,
    namespaced: true,
    shortNames,
    verbs: [],
    categories: [],
  })
  const d = new Discovery([
    r('', 'nodes', 'Node', ['no']),
    r('', 'services', 'Service', ['svc']),
    r('apps', 'deployments', 'Deployment', ['deploy']),
    r('networking.k8s.io', 'networkpolicies', 'NetworkPolicy', ['netpol']),
    r('projectcalico.org', 'nodes', 'Node'),
    r('projectcalico.org', 'networkpolicies', 'NetworkPolicy'),
  ])
  t.equal(d.resolve('svc')?.name, 'services')
  t.equal(d.resolve('deploy')?.group, 'apps')
  t.equal(d.resolve('Deployment')?.group, 'apps')
  t.equal(d.resolve('nodes')?.group, '', 'core wins')
  t.equal(d.resolve('networkpolicies')?.group, 'networking.k8s.io')
  t.equal(d.resolve('networkpolicies.projectcalico.org')?.group, 'projectcalico.org')
  t.equal(d.resolve('nope'), undefined)
  t.equal(d.byKind('apps/v1', 'Deployment')?.name, 'deployments')
  t.equal(typeRef({ kind: 'Deployment', group: 'apps' }), 'deployment.apps')
  t.equal(
    Discovery.path(d.resolve('deploy')!, 'yaobank', 'customer'),
    '/apis/apps/v1/namespaces/yaobank/deployments/customer',
  )
})

t.test('calicoctl kinds and columns', async (t) => {
  for (const a of [
    'heps',
    'ippools',
    'bgpconfig',
    'felixconfiguration',
    'kubecontrollersconfiguration',
    'gnp',
    'np',
    'pool',
  ]) {
    t.ok(resolveCalicoKind(a), a)
  }
  const pool = resolveCalicoKind('ippool')!
  const o = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'p' },
    spec: { cidr: '198.19.16.0/21', natOutgoing: true },
  }
  t.same(
    pool.wide.map((c) => cell(pool, c, o)),
    ['p', '198.19.16.0/21', 'true', 'Never', 'Never', 'false', 'false', 'all()'],
  )
})

t.test('restart backoff is exponential and capped', async (t) => {
  t.same([1, 2, 3, 4].map(backoffMs), [250, 500, 1000, 2000])
  t.equal(backoffMs(20), 10_000)
})

t.test('up picks its topology: default lab, --nodes N, --topology FILE with field-path errors', async (t) => {
  const names = (o: Parameters<typeof resolveTopology>[0]) => resolveTopology(o).hosts.map((h) => h.name)
  t.same(names({}), ['control', 'node1', 'node2', 'host1'])
  t.same(names({ nodes: 5 }), ['control', 'node1', 'node2', 'node3', 'node4', 'host1'])
  t.throws(() => resolveTopology({ nodes: 0 }), /^--nodes: /)
  const dir = mkdtempSync(path.join(tmpdir(), 'calilab-topo-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'lab.yaml')
  writeFileSync(
    file,
    'hosts:\n- {name: a, role: control, nodeIP: 198.19.0.1, endpoint: 127.0.1.1}\n- {name: b, role: worker, nodeIP: 198.19.0.300, endpoint: 127.0.1.2}\n',
  )
  t.throws(() => resolveTopology({ topology: file }), /lab\.yaml: hosts\[1\]\.nodeIP: .*198\.19\.0\.300/)
  t.throws(() => resolveTopology({ topology: file, nodes: 3 }), /either --topology or --nodes/)
  writeFileSync(file, 'hosts: [\n')
  t.throws(() => resolveTopology({ topology: file }), /lab\.yaml: not valid YAML/)
  writeFileSync(file, 'hosts:\n- {name: a, role: control, nodeIP: 198.19.0.1, endpoint: 127.0.1.1}\n')
  t.same(names({ topology: file }), ['a'])
})
