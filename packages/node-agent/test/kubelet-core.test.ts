import t from 'tap'

// biome-ignore lint/suspicious/noExplicitAny: status shapes are checked field by field below
type Loose = any

import {
  BlockAllocator,
  creatingPodStatus,
  NOT_READY_MESSAGE,
  nodeObject,
  nodeStatus,
  runningPodStatus,
  startupLogLines,
} from '../src/kubelet/core.ts'
import { ContainerLogs } from '../src/kubelet/logs.ts'

const id = { nodeName: 'control', nodeIP: '198.19.0.1', endpoint: '127.0.1.1', role: 'control' as const }
const NOW = '2026-01-01T00:00:00Z'

t.test('node object: labels, taint, annotations', async (t) => {
  const n = nodeObject(id, 10250) as {
    metadata: { labels: Record<string, string>; annotations: Record<string, string> }
    spec: { taints?: unknown[] }
  }
  t.equal(n.metadata.labels['node-role.kubernetes.io/control-plane'], 'true')
  t.equal(n.metadata.labels['kubernetes.io/hostname'], 'control')
  t.equal(n.metadata.annotations['projectcalico.org/IPv4Address'], '198.19.0.1/20')
  t.equal(n.metadata.annotations['calilab.dev/kubelet-endpoint'], '127.0.1.1:10250')
  t.match(
    n.metadata.annotations['k3s.io/node-args'],
    /"--cluster-cidr","198\.19\.16\.0\/20","--service-cidr","198\.19\.32\.0\/20"/,
  )
  t.same(n.spec.taints, [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }])
  const w = nodeObject({ ...id, nodeName: 'node1', role: 'worker' }, 1) as {
    metadata: { annotations: Record<string, string> }
    spec: { taints?: unknown[] }
  }
  t.equal(w.spec.taints, undefined)
  t.equal(w.metadata.annotations['k3s.io/node-args'], undefined)
})

t.test('node status: NotReady without CNI, Ready with it; transition time kept', async (t) => {
  const s1 = nodeStatus(id, 1, false, NOW, undefined) as {
    conditions: { type: string; status: string; message?: string; lastTransitionTime?: string }[]
  }
  const r1 = s1.conditions.find((c) => c.type === 'Ready')
  t.equal(r1?.status, 'False')
  t.equal(r1?.message, NOT_READY_MESSAGE)
  const s2 = nodeStatus(id, 1, true, '2026-01-01T00:00:10Z', s1.conditions) as typeof s1
  t.equal(s2.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime, '2026-01-01T00:00:10Z')
  const s3 = nodeStatus(id, 1, true, '2026-01-01T00:00:20Z', s2.conditions) as typeof s1
  t.equal(s3.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime, '2026-01-01T00:00:10Z')
})

t.test('block allocator: sequential, stable per owner, freed on release', async (t) => {
  const a = new BlockAllocator('198.19.16.0/30')
  t.equal(a.assign('p1'), '198.19.16.0')
  t.equal(a.assign('p2'), '198.19.16.1')
  t.equal(a.assign('p1'), '198.19.16.0')
  t.ok(a.reserve('198.19.16.3', 'p3'))
  t.notOk(a.reserve('198.19.17.3', 'p4'), 'outside the block')
  t.equal(a.assign('p5'), '198.19.16.2')
  t.equal(a.assign('p6'), undefined, 'full')
  a.release('p2')
  t.equal(a.assign('p6'), '198.19.16.1')
})

t.test('pod status: running and ContainerCreating', async (t) => {
  const pod = {
    metadata: { name: 'web', namespace: 'default', uid: 'u1' },
    spec: { containers: [{ name: 'nginx', image: 'nginx' }] },
  }
  const r = runningPodStatus(pod, '198.19.16.5', '198.19.0.2', NOW) as Loose
  t.match(r, {
    phase: 'Running',
    podIP: '198.19.16.5',
    podIPs: [{ ip: '198.19.16.5' }],
    hostIP: '198.19.0.2',
    startTime: NOW,
  })
  t.same(
    r.conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`),
    ['Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True'],
  )
  t.match(r.containerStatuses[0], {
    name: 'nginx',
    ready: true,
    started: true,
    restartCount: 0,
    image: 'docker.io/library/nginx:latest',
    state: { running: { startedAt: NOW } },
  })
  t.match(r.containerStatuses[0].containerID, /^containerd:\/\/[0-9a-f]{64}$/)
  const c = creatingPodStatus(pod, '198.19.0.2', NOW) as Loose
  t.equal(c.phase, 'Pending')
  t.same(c.containerStatuses[0].state, { waiting: { reason: 'ContainerCreating' } })
  t.match(startupLogLines('docker.io/calico/node:v3.21.4', 'calico-node', NOW).join('\n'), /Felix starting up/)
})

t.test('container logs: tail and follow', async (t) => {
  const l = new ContainerLogs(3)
  for (const x of ['a', 'b', 'c', 'd']) l.append('ns', 'p', 'c', x)
  t.same(l.tail('ns', 'p', 'c'), ['b', 'c', 'd'])
  t.same(l.tail('ns', 'p', 'c', 1), ['d'])
  const got: string[] = []
  const stop = l.follow('ns', 'p', 'c', (x) => got.push(x))
  l.append('ns', 'p', 'c', 'e')
  stop()
  l.append('ns', 'p', 'c', 'f')
  t.same(got, ['e'])
})
