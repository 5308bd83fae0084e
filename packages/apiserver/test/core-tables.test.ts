import { seededRng } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import t from 'tap'
import { generateName, humanDuration, newUid, rfc3339, type Table, toTable } from '../src/core/index.ts'

const T0 = Date.parse('2026-11-23T05:00:00Z')
const created = '2026-11-23T05:00:00Z'
const opts = (now = T0 + 5_000) => ({ now, resourceVersion: '42' })
const names = (tb: Table) => tb.columnDefinitions.map((c) => c.name)
const wideNames = (tb: Table) => tb.columnDefinitions.filter((c) => c.priority === 1).map((c) => c.name)

t.test('humanDuration matches apimachinery', (t) => {
  const s = 1000
  const m = 60 * s
  const h = 60 * m
  const d = 24 * h
  const cases: [number, string][] = [
    [-2 * s, '<invalid>'],
    [-1 * s, '0s'],
    [0, '0s'],
    [5 * s, '5s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [3 * m + 2 * s, '3m2s'],
    [9 * m + 59 * s, '9m59s'],
    [10 * m + 30 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [3 * h + 5 * m, '3h5m'],
    [8 * h + 30 * m, '8h'],
    [47 * h, '47h'],
    [48 * h, '2d'],
    [2 * d + 3 * h, '2d3h'],
    [7 * d + 23 * h, '7d23h'],
    [8 * d, '8d'],
    [729 * d, '729d'],
    [730 * d, '2y'],
    [(4 * 365 + 10) * d, '4y10d'],
    [8 * 365 * d + 20 * d, '8y'],
  ]
  for (const [ms, want] of cases) t.equal(humanDuration(ms), want, `${ms}ms`)
  t.end()
})

t.test('ids: generateName, newUid, rfc3339', (t) => {
  const rng = seededRng(7)
  const n = generateName('customer-7c9d8f-', rng)
  t.match(n, /^customer-7c9d8f-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
  const u = newUid(rng)
  t.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.not(newUid(rng), u, 'uids differ')
  t.equal(newUid(seededRng(1)), newUid(seededRng(1)), 'same seed, same uid')
  t.equal(rfc3339(Date.parse('2026-11-23T05:03:53.789Z')), '2026-11-23T05:03:53Z')
  t.end()
})

const customerPod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'customer-7c9d8f5b4-x2k9p',
    namespace: 'yaobank',
    uid: '8a1c9f5e-0b7d-4a8e-9c3f-2d6e1b4a7c90',
    resourceVersion: '40',
    creationTimestamp: created,
    labels: { app: 'customer', version: 'v1', 'pod-template-hash': '7c9d8f5b4' },
  },
  spec: {
    serviceAccountName: 'customer',
    nodeName: 'node1',
    containers: [{ name: 'customer', image: 'calico/yaobank-customer:certification', ports: [{ containerPort: 80 }] }],
  },
  status: {
    phase: 'Running',
    podIP: '198.19.22.11',
    podIPs: [{ ip: '198.19.22.11' }],
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [{ name: 'customer', ready: true, restartCount: 0, state: { running: { startedAt: created } } }],
  },
}

function pod(over: { status?: unknown; spec?: unknown; deletionTimestamp?: string }): KubeObject {
  const p = structuredClone(customerPod)
  if (over.status !== undefined) p.status = over.status
  if (over.spec !== undefined) p.spec = over.spec
  if (over.deletionTimestamp) p.metadata.deletionTimestamp = over.deletionTimestamp
  return p
}

t.test('pods table', (t) => {
  const tb = toTable({ group: '', kind: 'Pod' }, [customerPod], opts())
  t.equal(tb.kind, 'Table')
  t.equal(tb.apiVersion, 'meta.k8s.io/v1')
  t.same(tb.metadata, { resourceVersion: '42' })
  t.same(names(tb), ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP', 'Node', 'Nominated Node', 'Readiness Gates'])
  t.same(wideNames(tb), ['IP', 'Node', 'Nominated Node', 'Readiness Gates'])
  t.same(tb.columnDefinitions[0], {
    ...tb.columnDefinitions[0],
    name: 'Name',
    type: 'string',
    format: 'name',
    priority: 0,
  })
  t.same(tb.rows[0]?.cells, [
    'customer-7c9d8f5b4-x2k9p',
    '1/1',
    'Running',
    0,
    '5s',
    '198.19.22.11',
    'node1',
    '<none>',
    '<none>',
  ])
  t.same(tb.rows[0]?.object, {
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: customerPod.metadata,
  })

  const statusOf = (p: KubeObject) => toTable({ group: '', kind: 'Pod' }, [p], opts()).rows[0]?.cells
  t.same(statusOf(pod({ status: { phase: 'Pending' }, spec: { containers: [{ name: 'c' }] } })), [
    'customer-7c9d8f5b4-x2k9p',
    '0/1',
    'Pending',
    0,
    '5s',
    '<none>',
    '<none>',
    '<none>',
    '<none>',
  ])
  const waiting = pod({
    status: {
      phase: 'Pending',
      containerStatuses: [
        { name: 'customer', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } },
      ],
    },
  })
  t.same(statusOf(waiting)?.slice(1, 4), ['0/1', 'CrashLoopBackOff', 3])
  const exited = pod({
    status: { phase: 'Failed', containerStatuses: [{ name: 'customer', state: { terminated: { exitCode: 2 } } }] },
  })
  t.equal(statusOf(exited)?.[2], 'ExitCode:2')
  const failedRow = toTable({ group: '', kind: 'Pod' }, [exited], opts()).rows[0]
  t.same(failedRow?.conditions, [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }])
  t.equal(statusOf(pod({ deletionTimestamp: created }))?.[2], 'Terminating')
  t.equal(statusOf(pod({ status: { phase: 'Failed', reason: 'Evicted' } }))?.[2], 'Evicted')
  const init = pod({
    spec: { initContainers: [{ name: 'init' }], containers: [{ name: 'c' }] },
    status: { phase: 'Pending', initContainerStatuses: [{ name: 'init', state: { running: {} } }] },
  })
  t.equal(statusOf(init)?.[2], 'Init:0/1')
  const gates = pod({
    spec: { ...(customerPod.spec as object), readinessGates: [{ conditionType: 'x/ready' }] },
    status: { ...(customerPod.status as object), conditions: [{ type: 'x/ready', status: 'True' }] },
  })
  t.equal(statusOf(gates)?.[8], '1/1')
  t.end()
})

t.test('includeObject modes', (t) => {
  const none = toTable({ group: '', kind: 'Pod' }, [customerPod], { ...opts(), includeObject: 'None' })
  t.notOk('object' in (none.rows[0] ?? {}))
  const full = toTable({ group: '', kind: 'Pod' }, [customerPod], { ...opts(), includeObject: 'Object' })
  t.same(full.rows[0]?.object, customerPod)
  const cont = toTable({ group: '', kind: 'Pod' }, [], { ...opts(), continue: 'abc' })
  t.same(cont.metadata, { resourceVersion: '42', continue: 'abc' })
  t.same(cont.rows, [])
  t.end()
})

t.test('nodes table', (t) => {
  const node = (labels: Record<string, string>, ready: string | undefined, unschedulable = false): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'control', creationTimestamp: created, labels },
    spec: unschedulable ? { unschedulable: true } : {},
    status: {
      conditions: ready === undefined ? [] : [{ type: 'Ready', status: ready }],
      addresses: [
        { type: 'InternalIP', address: '198.19.0.1' },
        { type: 'Hostname', address: 'control' },
      ],
      nodeInfo: {
        kubeletVersion: 'v1.20.2',
        osImage: 'Ubuntu 20.04.2 LTS',
        kernelVersion: '5.4.0-1045',
        containerRuntimeVersion: 'containerd://1.4.4',
      },
    },
  })
  const tb = toTable(
    { group: '', kind: 'Node' },
    [
      node({ 'node-role.kubernetes.io/master': '', 'node-role.kubernetes.io/control-plane': '' }, 'True'),
      node({}, 'False', true),
      node({ 'kubernetes.io/role': 'worker' }, undefined),
    ],
    opts(T0 + 3 * 60_000 + 2_000),
  )
  t.same(names(tb), [
    'Name',
    'Status',
    'Roles',
    'Age',
    'Version',
    'Internal-IP',
    'External-IP',
    'OS-Image',
    'Kernel-Version',
    'Container-Runtime',
  ])
  t.same(tb.rows[0]?.cells, [
    'control',
    'Ready',
    'control-plane,master',
    '3m2s',
    'v1.20.2',
    '198.19.0.1',
    '<none>',
    'Ubuntu 20.04.2 LTS',
    '5.4.0-1045',
    'containerd://1.4.4',
  ])
  t.same(tb.rows[1]?.cells.slice(1, 3), ['NotReady,SchedulingDisabled', '<none>'])
  t.same(tb.rows[2]?.cells.slice(1, 3), ['Unknown', 'worker'])
  t.end()
})

t.test('services and endpoints tables', (t) => {
  const svc = (spec: object, status: object = {}): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'customer', namespace: 'yaobank', creationTimestamp: created },
    spec,
    status,
  })
  const tb = toTable(
    { group: '', kind: 'Service' },
    [
      svc({
        type: 'NodePort',
        clusterIP: '198.19.32.10',
        clusterIPs: ['198.19.32.10'],
        selector: { app: 'customer' },
        ports: [
          { port: 80, targetPort: 80, nodePort: 30180, protocol: 'TCP' },
          { port: 443, protocol: 'TCP' },
        ],
      }),
      svc({
        type: 'ClusterIP',
        clusterIP: '198.19.32.11',
        externalIPs: ['198.19.48.10'],
        ports: [{ port: 53, protocol: 'UDP' }],
      }),
      svc({ type: 'LoadBalancer', clusterIP: '198.19.32.12', ports: [{ port: 80, nodePort: 31000, protocol: 'TCP' }] }),
      svc(
        { type: 'LoadBalancer', clusterIP: '198.19.32.13', ports: [] },
        { loadBalancer: { ingress: [{ ip: '203.0.113.5' }] } },
      ),
      svc({ type: 'ClusterIP', clusterIP: 'None' }),
      svc({ type: 'ExternalName', externalName: 'db.example.com' }),
    ],
    opts(),
  )
  t.same(names(tb), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector'])
  t.same(tb.rows[0]?.cells, [
    'customer',
    'NodePort',
    '198.19.32.10',
    '<none>',
    '80:30180/TCP,443/TCP',
    '5s',
    'app=customer',
  ])
  t.same(tb.rows[1]?.cells.slice(1, 5), ['ClusterIP', '198.19.32.11', '198.19.48.10', '53/UDP'])
  t.same(tb.rows[1]?.cells[6], '<none>')
  t.same(tb.rows[2]?.cells.slice(3, 5), ['<pending>', '80:31000/TCP'])
  t.same(tb.rows[3]?.cells.slice(3, 5), ['203.0.113.5', '<none>'])
  t.same(tb.rows[4]?.cells[2], 'None')
  t.same(tb.rows[5]?.cells.slice(1, 4), ['ExternalName', '<none>', 'db.example.com'])

  const ep = (subsets: unknown[] | undefined): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'customer', namespace: 'yaobank', creationTimestamp: created },
    ...(subsets ? { subsets } : {}),
  })
  const addr = (ip: string) => ({ ip, nodeName: 'node1' })
  const et = toTable(
    { group: '', kind: 'Endpoints' },
    [
      ep([{ addresses: [addr('198.19.22.13'), addr('198.19.22.14')], ports: [{ port: 80, protocol: 'TCP' }] }]),
      ep(undefined),
      ep([
        {
          addresses: [addr('10.0.0.1'), addr('10.0.0.2'), addr('10.0.0.3'), addr('10.0.0.4')],
          ports: [{ port: 80 }, { port: 443 }],
        },
      ]),
      ep([{ notReadyAddresses: [addr('10.0.0.9')], ports: [{ port: 80 }] }]),
    ],
    opts(),
  )
  t.same(names(et), ['Name', 'Endpoints', 'Age'])
  t.same(et.rows[0]?.cells, ['customer', '198.19.22.13:80,198.19.22.14:80', '5s'])
  t.same(et.rows[1]?.cells[1], '<none>')
  t.same(et.rows[2]?.cells[1], '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 5 more...')
  t.same(et.rows[3]?.cells[1], '', 'only not-ready addresses print an empty cell, like kubectl')
  t.end()
})

const template = {
  metadata: { labels: { app: 'customer' } },
  spec: {
    containers: [
      { name: 'customer', image: 'calico/yaobank-customer:certification' },
      { name: 'side', image: 'busybox' },
    ],
    nodeSelector: { 'kubernetes.io/os': 'linux' },
  },
}

t.test('workload tables', (t) => {
  const deploy: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'customer', namespace: 'yaobank', creationTimestamp: created },
    spec: { replicas: 2, selector: { matchLabels: { app: 'customer' } }, template },
    status: { replicas: 2, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1 },
  }
  const dt = toTable({ group: 'apps', kind: 'Deployment' }, [deploy], opts(T0 + 10 * 60_000 + 30_000))
  t.same(names(dt), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers', 'Images', 'Selector'])
  t.same(dt.rows[0]?.cells, [
    'customer',
    '1/2',
    2,
    1,
    '10m',
    'customer,side',
    'calico/yaobank-customer:certification,busybox',
    'app=customer',
  ])

  const rs: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'customer-7c9d8f5b4', namespace: 'yaobank', creationTimestamp: created },
    spec: { replicas: 2, selector: { matchLabels: { app: 'customer', 'pod-template-hash': '7c9d8f5b4' } }, template },
    status: { replicas: 2, readyReplicas: 2 },
  }
  const rt = toTable({ group: 'apps', kind: 'ReplicaSet' }, [rs], opts())
  t.same(names(rt), ['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers', 'Images', 'Selector'])
  t.same(rt.rows[0]?.cells.slice(0, 5), ['customer-7c9d8f5b4', 2, 2, 2, '5s'])
  t.equal(rt.rows[0]?.cells[7], 'app=customer,pod-template-hash=7c9d8f5b4')

  const ds: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'calico-node', namespace: 'kube-system', creationTimestamp: created },
    spec: { selector: { matchLabels: { 'k8s-app': 'calico-node' } }, template },
    status: {
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberReady: 2,
      updatedNumberScheduled: 3,
      numberAvailable: 2,
    },
  }
  const dst = toTable({ group: 'apps', kind: 'DaemonSet' }, [ds], opts())
  t.same(names(dst), [
    'Name',
    'Desired',
    'Current',
    'Ready',
    'Up-to-date',
    'Available',
    'Node Selector',
    'Age',
    'Containers',
    'Images',
    'Selector',
  ])
  t.same(dst.rows[0]?.cells.slice(0, 8), ['calico-node', 3, 3, 2, 3, 2, 'kubernetes.io/os=linux', '5s'])
  t.equal(dst.rows[0]?.cells[10], 'k8s-app=calico-node')
  t.end()
})

t.test('simple kinds', (t) => {
  const meta = (name: string, namespace?: string) => ({
    name,
    creationTimestamp: created,
    ...(namespace ? { namespace } : {}),
  })
  const one = (group: string, kind: string, obj: Omit<KubeObject, 'apiVersion' | 'kind'>) =>
    toTable({ group, kind }, [{ apiVersion: 'v1', kind, ...obj } as KubeObject], opts())
  const check = (tb: Table, cols: string[], cells: unknown[], what: string) => {
    t.same(names(tb), cols, `${what} columns`)
    t.same(tb.rows[0]?.cells, cells, `${what} cells`)
  }
  check(
    one('', 'Namespace', { metadata: meta('yaobank'), status: { phase: 'Active' } }),
    ['Name', 'Status', 'Age'],
    ['yaobank', 'Active', '5s'],
    'namespaces',
  )
  check(
    one('', 'ServiceAccount', { metadata: meta('customer', 'yaobank'), secrets: [{ name: 'customer-token-abcde' }] }),
    ['Name', 'Secrets', 'Age'],
    ['customer', 1, '5s'],
    'serviceaccounts',
  )
  check(
    one('networking.k8s.io', 'NetworkPolicy', {
      metadata: meta('customer', 'yaobank'),
      spec: { podSelector: { matchLabels: { app: 'customer' } } },
    }),
    ['Name', 'Pod-Selector', 'Age'],
    ['customer', 'app=customer', '5s'],
    'networkpolicies',
  )
  check(
    one('networking.k8s.io', 'NetworkPolicy', { metadata: meta('default-deny', 'yaobank'), spec: { podSelector: {} } }),
    ['Name', 'Pod-Selector', 'Age'],
    ['default-deny', '<none>', '5s'],
    'networkpolicies (all pods)',
  )
  check(
    one('', 'ConfigMap', { metadata: meta('cfg', 'yaobank'), data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } }),
    ['Name', 'Data', 'Age'],
    ['cfg', 3, '5s'],
    'configmaps',
  )
  check(
    one('', 'Secret', {
      metadata: meta('tls', 'yaobank'),
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': 'x', 'tls.key': 'y' },
    }),
    ['Name', 'Type', 'Data', 'Age'],
    ['tls', 'kubernetes.io/tls', 2, '5s'],
    'secrets',
  )
  check(
    one('coordination.k8s.io', 'Lease', {
      metadata: meta('node1', 'kube-node-lease'),
      spec: { holderIdentity: 'node1' },
    }),
    ['Name', 'Holder', 'Age'],
    ['node1', 'node1', '5s'],
    'leases',
  )
  check(
    one('apiextensions.k8s.io', 'CustomResourceDefinition', { metadata: meta('ippools.crd.projectcalico.org') }),
    ['Name', 'Created At'],
    ['ippools.crd.projectcalico.org', created],
    'crds',
  )
  check(
    one('rbac.authorization.k8s.io', 'ClusterRole', { metadata: meta('calico-node') }),
    ['Name', 'Created At'],
    ['calico-node', created],
    'clusterroles',
  )
  check(
    one('rbac.authorization.k8s.io', 'ClusterRoleBinding', {
      metadata: meta('calico-node'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'calico-node' },
      subjects: [
        { kind: 'ServiceAccount', name: 'calico-node', namespace: 'kube-system' },
        { kind: 'User', name: 'alice' },
        { kind: 'User', name: 'bob' },
        { kind: 'Group', name: 'system:nodes' },
      ],
    }),
    ['Name', 'Role', 'Age', 'Users', 'Groups', 'ServiceAccounts'],
    ['calico-node', 'ClusterRole/calico-node', '5s', 'alice, bob', 'system:nodes', 'kube-system:calico-node'],
    'clusterrolebindings',
  )
  t.end()
})

t.test('events table', (t) => {
  const ev: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'customer-7c9d8f5b4-x2k9p.16a', namespace: 'yaobank', creationTimestamp: created },
    involvedObject: {
      kind: 'Pod',
      name: 'customer-7c9d8f5b4-x2k9p',
      namespace: 'yaobank',
      fieldPath: 'spec.containers{customer}',
    },
    reason: 'Pulled',
    message: 'Container image "calico/yaobank-customer:certification" already present on machine\n',
    type: 'Normal',
    source: { component: 'kubelet', host: 'node1' },
    firstTimestamp: created,
    lastTimestamp: '2026-11-23T05:02:00Z',
    count: 3,
  }
  const tb = toTable({ group: '', kind: 'Event' }, [ev], opts(T0 + 5 * 60_000))
  t.same(names(tb), [
    'Last Seen',
    'Type',
    'Reason',
    'Object',
    'Subobject',
    'Source',
    'Message',
    'First Seen',
    'Count',
    'Name',
  ])
  t.same(tb.rows[0]?.cells, [
    '3m',
    'Normal',
    'Pulled',
    'pod/customer-7c9d8f5b4-x2k9p',
    'spec.containers{customer}',
    'kubelet, node1',
    'Container image "calico/yaobank-customer:certification" already present on machine',
    '5m',
    3,
    'customer-7c9d8f5b4-x2k9p.16a',
  ])
  const single = { ...ev, lastTimestamp: undefined, count: undefined, source: { component: 'default-scheduler' } }
  const st = toTable({ group: '', kind: 'Event' }, [single as KubeObject], opts(T0 + 5 * 60_000))
  t.same(st.rows[0]?.cells[0], '5m', 'no lastTimestamp: first seen')
  t.same(st.rows[0]?.cells[5], 'default-scheduler')
  t.same(st.rows[0]?.cells[8], 1, 'a singleton counts 1')
  t.end()
})

t.test('custom resources: printer columns or Name/Age', (t) => {
  const pool: KubeObject = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'default-ipv4-ippool', creationTimestamp: created },
    spec: { cidr: '198.19.16.0/21', natOutgoing: true, blockSize: 26 },
    status: {
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'Other', status: 'False' },
      ],
    },
  }
  const plain = toTable({ group: 'projectcalico.org', kind: 'IPPool' }, [pool], opts())
  t.same(names(plain), ['Name', 'Age'])
  t.same(plain.rows[0]?.cells, ['default-ipv4-ippool', '5s'])
  const withCols = toTable({ group: 'crd.projectcalico.org', kind: 'IPPool' }, [pool], {
    ...opts(),
    crdColumns: [
      { name: 'CIDR', type: 'string', jsonPath: '.spec.cidr' },
      { name: 'NAT', type: 'boolean', jsonPath: '.spec.natOutgoing' },
      { name: 'Block', type: 'integer', jsonPath: '.spec.blockSize', priority: 1 },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Missing', type: 'string', jsonPath: '.spec.nothing' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  })
  t.same(names(withCols), ['Name', 'CIDR', 'NAT', 'Block', 'Ready', 'Missing', 'Age'])
  t.same(wideNames(withCols), ['Block'])
  t.same(withCols.rows[0]?.cells, ['default-ipv4-ippool', '198.19.16.0/21', true, 26, 'True', null, '5s'])
  t.end()
})
