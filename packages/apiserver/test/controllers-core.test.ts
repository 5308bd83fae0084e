import { seededRng } from '@calilab/kit'
import t from 'tap'
import {
  autoHostEndpoint,
  buildSubsets,
  computeHash,
  type DaemonSet,
  type Deployment,
  desiredCalicoSystem,
  type Installation,
  ippoolFromInstallation,
  type NodeObj,
  newReplicaSetName,
  type Pod,
  type ReplicaSet,
  reconcileDaemonSet,
  reconcileDeployment,
  reconcileKubeControllers,
  reconcileNodeLifecycle,
  reconcileOperator,
  reconcileReplicaSet,
  type Service,
  safeEncodeString,
  schedule,
  typhaReplicas,
} from '../src/core/controllers/index.ts'

const NOW = Date.UTC(2026, 0, 1)
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

function node(name: string, ready: boolean, extra: Partial<NodeObj> = {}): NodeObj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `u-${name}`, labels: { 'kubernetes.io/hostname': name, ...(extra.metadata?.labels ?? {}) } },
    spec: extra.spec ?? {},
    status: {
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastHeartbeatTime: iso(NOW) }],
    },
  }
}

const control = node('control', true, {
  spec: { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] },
})

function pod(name: string, spec: Partial<Pod['spec']> = {}, extra: Partial<Pod> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `u-${name}`, labels: { app: 'web' }, creationTimestamp: iso(NOW) },
    spec: { containers: [{ name: 'c', image: 'nginx' }], ...spec },
    ...extra,
  } as Pod
}

t.test('scheduler: taints, tolerations, nodeSelector, least loaded', async (t) => {
  const nodes = [control, node('node1', true), node('node2', false)]
  const acts = schedule({ pods: [pod('a'), pod('b')], nodes, nowIso: iso(NOW) })
  const binds = acts
    .filter((a) => a.op === 'update')
    .map((a) => (a.op === 'update' ? (a.obj as Pod).spec.nodeName : ''))
  t.same(binds, ['node1', 'node1'], 'only the ready, untainted worker fits')

  const tolerant = pod('t', { tolerations: [{ operator: 'Exists' }] })
  const busy = pod('busy', { nodeName: 'node1' })
  const acts2 = schedule({ pods: [busy, tolerant], nodes, nowIso: iso(NOW) })
  const bound = acts2.find((a) => a.op === 'update')
  t.equal(
    bound?.op === 'update' && (bound.obj as Pod).spec.nodeName,
    'control',
    'tolerate-all goes to the least loaded node',
  )

  const sel = pod('s', { nodeSelector: { 'kubernetes.io/hostname': 'node2' } })
  const acts3 = schedule({ pods: [sel], nodes, nowIso: iso(NOW) })
  t.equal(acts3.length, 1)
  const st = acts3[0]
  t.equal(st?.op, 'updateStatus')
  const cond = st?.op === 'updateStatus' ? (st.obj as Pod).status?.conditions?.[0] : undefined
  t.equal(cond?.reason, 'Unschedulable')
  t.equal(
    cond?.message,
    "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
  )
  // Same message again: no write.
  const again = schedule({
    pods: [{ ...sel, status: (st?.op === 'updateStatus' && st.obj.status) || {} } as Pod],
    nodes,
    nowIso: iso(NOW),
  })
  t.same(again, [])

  // Host ports: two typha-like pods cannot share a node.
  const hp = (n: string) =>
    pod(n, {
      hostNetwork: true,
      tolerations: [{ operator: 'Exists' }],
      containers: [{ name: 'c', ports: [{ containerPort: 5473 }] }],
    })
  const acts4 = schedule({
    pods: [hp('h1'), hp('h2'), hp('h3'), hp('h4')],
    nodes: [control, node('node1', true)],
    nowIso: iso(NOW),
  })
  t.equal(acts4.filter((a) => a.op === 'update').length, 2, 'one hostPort pod per node')
})

t.test('pod-template-hash: stable, changes with the template', async (t) => {
  t.equal(safeEncodeString('0123'), '4567', 'digits map into the vowel-free alphabet by char code')
  const tmpl = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } }
  const h = computeHash(tmpl)
  t.equal(h, computeHash(JSON.parse(JSON.stringify(tmpl))))
  t.match(h, /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/)
  t.not(h, computeHash({ ...tmpl, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } }))
  t.not(h, computeHash(tmpl, 1), 'collision count changes the hash')
})

function deploy(replicas: number, image = 'nginx'): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: 'u-web', generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } },
    },
  }
}

t.test('deployment: creates the RS, scales, rolls', async (t) => {
  const d = deploy(3)
  const a1 = reconcileDeployment({ deploy: d, replicaSets: [], nowIso: iso(NOW) })
  const created = a1.find((a) => a.op === 'create')
  t.ok(created)
  const rs = (created?.op === 'create' ? created.obj : undefined) as ReplicaSet
  t.equal(rs.metadata.name, newReplicaSetName(d))
  t.equal(rs.spec.replicas, 3)
  t.equal(rs.metadata.labels?.['pod-template-hash'], rs.metadata.name?.slice('web-'.length))
  t.equal(rs.metadata.ownerReferences?.[0]?.uid, 'u-web')

  // RS fully available: deployment complete.
  const rsLive: ReplicaSet = {
    ...rs,
    metadata: { ...rs.metadata, uid: 'u-rs1', creationTimestamp: iso(NOW) },
    status: { replicas: 3, readyReplicas: 3, availableReplicas: 3 },
  }
  const a2 = reconcileDeployment({ deploy: d, replicaSets: [rsLive], nowIso: iso(NOW) })
  const st = a2.find((a) => a.op === 'updateStatus')
  const status = (st?.op === 'updateStatus' ? st.obj.status : undefined) as Deployment['status']
  t.match(status, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 })
  t.equal(status?.conditions?.find((c) => c.type === 'Progressing')?.reason, 'NewReplicaSetAvailable')
  t.equal(status?.conditions?.find((c) => c.type === 'Available')?.status, 'True')

  // Scale to 5: the only RS is scaled.
  const a3 = reconcileDeployment({ deploy: deploy(5), replicaSets: [rsLive], nowIso: iso(NOW) })
  const up = a3.find((a) => a.op === 'update' && a.obj.kind === 'ReplicaSet')
  t.equal(up?.op === 'update' && (up.obj as ReplicaSet).spec.replicas, 5)

  // Template change with 4 replicas, 25%: surge 1, unavailable 1.
  const d4 = { ...deploy(4, 'nginx:2'), metadata: { ...d.metadata, generation: 2 } }
  const old: ReplicaSet = {
    ...rsLive,
    spec: { ...rsLive.spec, replicas: 4 },
    status: { replicas: 4, readyReplicas: 4, availableReplicas: 4 },
  }
  const a4 = reconcileDeployment({ deploy: d4, replicaSets: [old], nowIso: iso(NOW) })
  const newRs = a4.find((a) => a.op === 'create')
  t.equal(newRs?.op === 'create' && (newRs.obj as ReplicaSet).spec.replicas, 1, 'new RS starts at maxSurge')
  const down = a4.find((a) => a.op === 'update' && a.obj.metadata.name === old.metadata.name)
  t.equal(down?.op === 'update' && (down.obj as ReplicaSet).spec.replicas, 3, 'old RS loses maxUnavailable')
})

t.test('replicaset: creates, deletes, reports status', async (t) => {
  const rs: ReplicaSet = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-abc', namespace: 'default', uid: 'u-rs', generation: 1 },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c' }] } },
    },
  }
  const rng = seededRng(7)
  const a = reconcileReplicaSet({ rs, pods: [], now: NOW, newName: (p) => `${p}${rng.suffix(5)}` })
  const creates = a.filter((x) => x.op === 'create')
  t.equal(creates.length, 2)
  for (const c of creates) {
    t.match(c.op === 'create' && c.obj.metadata.name, /^web-abc-[a-z0-9]{5}$/)
    t.equal(c.op === 'create' && c.obj.metadata.ownerReferences?.[0]?.uid, 'u-rs')
  }
  const owned = (n: string, ready: boolean) =>
    pod(
      n,
      { nodeName: 'node1' },
      {
        metadata: {
          name: n,
          namespace: 'default',
          uid: `u-${n}`,
          labels: { app: 'web' },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'u-rs', controller: true },
          ],
        },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
      },
    )
  const a2 = reconcileReplicaSet({
    rs,
    pods: [owned('p1', true), owned('p2', false), owned('p3', true)],
    now: NOW,
    newName: (p) => p,
  })
  const del = a2.filter((x) => x.op === 'delete')
  t.equal(del.length, 1)
  t.equal(del[0]?.op === 'delete' && del[0].name, 'p2', 'the not-ready pod goes first')
  const st = a2.find((x) => x.op === 'updateStatus')
  t.match(st?.op === 'updateStatus' && st.obj.status, { replicas: 2, readyReplicas: 2, availableReplicas: 2 })
})

t.test('daemonset: one pod per eligible node', async (t) => {
  const ds: DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'kube-system', uid: 'u-ds', generation: 1 },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a' }] } },
    },
  }
  const nodes = [control, node('node1', true), node('node2', true)]
  const a = reconcileDaemonSet({ ds, nodes, pods: [], now: NOW, newName: (p) => `${p}x` })
  t.same(
    a.filter((x) => x.op === 'create').map((x) => (x.op === 'create' ? (x.obj as Pod).spec.nodeName : '')),
    ['node1', 'node2'],
    'control is tainted',
  )
  const all: DaemonSet = {
    ...ds,
    spec: {
      ...ds.spec,
      template: { ...ds.spec.template, spec: { ...ds.spec.template.spec, tolerations: [{ operator: 'Exists' }] } },
    },
  }
  const b = reconcileDaemonSet({
    ds: all,
    nodes: [...nodes, node('node3', false)],
    pods: [],
    now: NOW,
    newName: (p) => `${p}x`,
  })
  t.equal(b.filter((x) => x.op === 'create').length, 4, 'tolerate-all runs everywhere, NotReady included')
  const st = b.find((x) => x.op === 'updateStatus')
  t.match(st?.op === 'updateStatus' && st.obj.status, {
    desiredNumberScheduled: 4,
    currentNumberScheduled: 0,
    numberReady: 0,
  })
})

t.test('endpoints: ready and not-ready addresses, named ports', async (t) => {
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'web', protocol: 'TCP' }] },
  }
  const mk = (n: string, ip: string, ready: boolean, port: number) =>
    pod(
      n,
      { nodeName: 'node1', containers: [{ name: 'c', ports: [{ name: 'web', containerPort: port }] }] },
      {
        status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
      },
    )
  const subsets = buildSubsets(svc, [
    mk('b', '198.19.16.10', true, 8080),
    mk('a', '198.19.16.9', true, 8080),
    mk('c', '198.19.16.11', false, 8080),
    mk('d', '198.19.16.12', true, 9090),
  ])
  t.equal(subsets.length, 2)
  t.same(subsets[0]?.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }])
  t.same(
    subsets[0]?.addresses?.map((a) => a.ip),
    ['198.19.16.9', '198.19.16.10'],
  )
  t.same(
    subsets[0]?.notReadyAddresses?.map((a) => a.ip),
    ['198.19.16.11'],
  )
  t.match(subsets[0]?.addresses?.[0], {
    nodeName: 'node1',
    targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'u-a' },
  })
  t.same(subsets[1]?.ports, [{ name: 'http', port: 9090, protocol: 'TCP' }])
})

t.test('node lifecycle: silence → Unknown + unreachable; NotReady → not-ready taint; Ready → none', async (t) => {
  const stale = node('node1', true)
  const a = reconcileNodeLifecycle([stale], NOW + 41_000)
  const st = a.find((x) => x.op === 'updateStatus')
  t.equal(st?.op === 'updateStatus' && (st.obj as NodeObj).status?.conditions?.[0]?.status, 'Unknown')
  const tainted = a.find((x) => x.op === 'update')
  t.same(tainted?.op === 'update' && (tainted.obj as NodeObj).spec?.taints?.map((x) => `${x.key}:${x.effect}`), [
    'node.kubernetes.io/unreachable:NoSchedule',
    'node.kubernetes.io/unreachable:NoExecute',
  ])
  const nr = reconcileNodeLifecycle([node('node2', false)], NOW)
  t.same(
    nr.map((x) => x.op === 'update' && (x.obj as NodeObj).spec?.taints?.[0]?.key),
    ['node.kubernetes.io/not-ready'],
  )
  const back = node('node3', true, {
    spec: {
      taints: [
        { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
        { key: 'x', effect: 'NoSchedule' },
      ],
    },
  })
  const r = reconcileNodeLifecycle([back], NOW)
  t.same(
    r.map((x) => x.op === 'update' && (x.obj as NodeObj).spec?.taints),
    [[{ key: 'x', effect: 'NoSchedule' }]],
  )
  t.same(reconcileNodeLifecycle([node('node4', true)], NOW + 5000), [], 'a healthy node needs nothing')
})

t.test('operator: desired objects from the Installation', async (t) => {
  const inst: Installation = {
    apiVersion: 'operator.tigera.io/v1',
    kind: 'Installation',
    metadata: { name: 'default', uid: 'u-inst', generation: 1 },
    spec: { calicoNetwork: { ipPools: [{ cidr: '198.19.16.0/21', natOutgoing: 'Enabled', encapsulation: 'None' }] } },
  }
  t.same(ippoolFromInstallation({ cidr: '198.19.16.0/21', natOutgoing: 'Enabled', encapsulation: 'None' }, 0), {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'default-ipv4-ippool' },
    spec: {
      cidr: '198.19.16.0/21',
      blockSize: 26,
      ipipMode: 'Never',
      vxlanMode: 'Never',
      natOutgoing: true,
      nodeSelector: 'all()',
    },
  })
  t.match(ippoolFromInstallation({ cidr: '10.0.0.0/16', encapsulation: 'VXLANCrossSubnet' }, 0).spec, {
    vxlanMode: 'CrossSubnet',
    ipipMode: 'Never',
  })
  t.same([1, 2, 3, 4, 400].map(typhaReplicas), [1, 2, 3, 3, 4])
  const objs = desiredCalicoSystem(inst, 3)
  const ds = objs.find((o) => o.kind === 'DaemonSet') as DaemonSet
  t.equal(ds.metadata.name, 'calico-node')
  t.equal(ds.spec.template.spec.hostNetwork, true)
  t.match(ds.spec.template.spec.containers[0]?.image, /calico\/node/)
  t.equal(
    (objs.find((o) => o.metadata.name === 'calico-typha' && o.kind === 'Deployment') as Deployment).spec.replicas,
    3,
  )
  t.ok(objs.every((o) => o.metadata.ownerReferences?.[0]?.uid === 'u-inst'))

  const none = reconcileOperator({
    installation: inst,
    operator: undefined,
    nodeCount: 3,
    existing: () => undefined,
    calicoPods: [],
    nowIso: iso(NOW),
    guid: () => 'g',
    served: () => true,
  })
  t.same(none, [], 'nothing until the operator deployment is available')
  const op = { ...deploy(1), status: { availableReplicas: 1 } }
  const acts = reconcileOperator({
    installation: inst,
    operator: op,
    nodeCount: 3,
    existing: () => undefined,
    calicoPods: [],
    nowIso: iso(NOW),
    guid: () => 'g',
    served: () => true,
  })
  const created = acts
    .filter((a) => a.op === 'create')
    .map((a) => (a.op === 'create' ? `${a.obj.kind}/${a.obj.metadata.name}` : ''))
  t.same(created, [
    'Namespace/calico-system',
    'IPPool/default-ipv4-ippool',
    'FelixConfiguration/default',
    'KubeControllersConfiguration/default',
    'ClusterInformation/default',
    'TigeraStatus/calico',
  ])
})

t.test('kube-controllers: auto host endpoints and label sync', async (t) => {
  const cn = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Node',
    metadata: { name: 'node1', labels: { old: 'x' } },
    spec: { bgp: { ipv4Address: '198.19.0.2/20' } },
  }
  t.same(autoHostEndpoint({ ...cn, metadata: { name: 'node1', labels: { a: 'b' } } }), {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: 'node1-auto-hep', labels: { a: 'b', 'projectcalico.org/created-by': 'calico-kube-controllers' } },
    spec: { node: 'node1', interfaceName: '*', profiles: ['projectcalico-default-allow'], expectedIPs: ['198.19.0.2'] },
  })
  const kcc = (v: string) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'KubeControllersConfiguration',
    metadata: { name: 'default' },
    spec: { controllers: { node: { hostEndpoint: { autoCreate: v } } } },
  })
  const k8s = [node('node1', true)]
  const on = reconcileKubeControllers({ kcc: kcc('Enabled'), k8sNodes: k8s, calicoNodes: [cn], hostEndpoints: [] })
  t.same(
    on.map((a) => `${a.op}:${'obj' in a ? a.obj.metadata.name : a.op === 'delete' ? a.name : ''}`),
    ['update:node1', 'create:node1-auto-hep'],
  )
  const hep = on[1]?.op === 'create' ? on[1].obj : undefined
  t.equal(hep?.metadata.labels?.['kubernetes.io/hostname'], 'node1', 'labels come from the k8s node')
  const off = reconcileKubeControllers({
    kcc: kcc('Disabled'),
    k8sNodes: k8s,
    calicoNodes: [{ ...cn, metadata: { name: 'node1', labels: { 'kubernetes.io/hostname': 'node1' } } }],
    hostEndpoints: hep ? [hep] : [],
  })
  t.same(
    off.map((a) => a.op),
    ['delete'],
  )
})
