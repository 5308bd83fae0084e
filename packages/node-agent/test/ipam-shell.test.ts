import { startApiServer } from '@calilab/apiserver'
import { silentLogger, systemClock } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import { createKubeClient } from '@calilab/proto'
import t, { type Test } from 'tap'
import { IpamShell } from '../src/ipam/index.ts'
import { startNode } from '../src/kubelet/agent.ts'

const V3 = '/apis/projectcalico.org/v3'

async function cluster(t: Test) {
  const log = silentLogger()
  const apiserver = await startApiServer({ port: 0, log, controllers: false })
  t.teardown(() => apiserver.close())
  const client = createKubeClient({ server: apiserver.url })
  t.teardown(() => client.close())
  await client.create(`${V3}/ippools`, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'default-ipv4-ippool' },
    spec: { cidr: '198.19.16.0/21', blockSize: 26, natOutgoing: true, nodeSelector: 'all()' },
  })
  await client.create(`${V3}/ippools`, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'external-pool' },
    spec: { cidr: '198.19.24.0/21', blockSize: 29, ipipMode: 'Never', natOutgoing: true, nodeSelector: '!all()' },
  })
  for (const name of ['node1', 'node2']) {
    await client.create('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    })
  }
  await client.create('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'external-ns', annotations: { 'cni.projectcalico.org/ipv4pools': '["external-pool"]' } },
  })
  return { apiserver, client, log }
}

const pod = (name: string, ns = 'default', annotations?: Record<string, string>) => ({
  metadata: { name, namespace: ns, uid: `uid-${ns}-${name}`, ...(annotations ? { annotations } : {}) },
})

function inCidr(ip: string, cidr: string): boolean {
  const toN = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0)
  const [net, len] = cidr.split('/') as [string, string]
  const n = toN(ip)
  const base = toN(net)
  return n >= base && n < base + 2 ** (32 - Number(len))
}

t.test('70 pods on one node claim a second /26; release frees; re-allocation is idempotent', async (t) => {
  const { client, log } = await cluster(t)
  const ipam = new IpamShell({ client, node: 'node1', log, clock: systemClock() })
  const ips = new Set<string>()
  for (let i = 0; i < 70; i++) {
    const r = await ipam.allocateForPod(pod(`p${i}`))
    if (!r.ok) throw new Error(r.error.message)
    t.ok(inCidr(r.ip, '198.19.16.0/21'), `${r.ip} in the default pool`)
    ips.add(r.ip)
  }
  t.equal(ips.size, 70, 'all distinct')
  const blocks = await client.list(`${V3}/ipamblocks`)
  t.equal(blocks.items.length, 2, 'two blocks')
  for (const b of blocks.items) t.equal((b.spec as { affinity: string }).affinity, 'host:node1')
  const affs = await client.list(`${V3}/blockaffinities`)
  t.equal(affs.items.length, 2, 'two affinities')
  t.equal((await client.list(`${V3}/ipamhandles`)).items.length, 70, 'one handle per pod')

  const again = await ipam.allocateForPod(pod('p3'))
  t.ok(again.ok && again.reused, 'same pod again: same address')

  const released = await ipam.releaseForPod(pod('p0'))
  t.equal(released.length, 1)
  t.equal((await client.list(`${V3}/ipamhandles`)).items.length, 69, 'handle gone')
  t.same(await ipam.releaseForPod(pod('p0')), [], 'second release is a no-op')
  const blocksAfter = await client.list(`${V3}/ipamblocks`)
  const free = blocksAfter.items.reduce((n, b) => n + (b.spec as { unallocated: number[] }).unallocated.length, 0)
  t.equal(free, 128 - 69, 'the address is free again')
})

t.test('pool annotations: namespace external-pool gives a /29 address; pod ipAddrs a fixed one', async (t) => {
  const { client, log } = await cluster(t)
  const ipam = new IpamShell({ client, node: 'node2', log, clock: systemClock() })
  const r = await ipam.allocateForPod(pod('nginx', 'external-ns'))
  if (!r.ok) throw new Error(r.error.message)
  t.ok(inCidr(r.ip, '198.19.24.0/21'), `${r.ip} in external-pool`)
  t.equal(r.pool, 'external-pool')
  t.match(r.claimed[0], /\/29$/, 'a /29 block')

  const d = await ipam.allocateForPod(pod('web', 'default'))
  t.ok(d.ok && inCidr(d.ip, '198.19.16.0/21'), 'a pool with !all() is not used without an annotation')

  const p = await ipam.allocateForPod(
    pod('pinned', 'default', { 'cni.projectcalico.org/ipv4pools': '["198.19.24.0/21"]' }),
  )
  t.ok(p.ok && inCidr(p.ip, '198.19.24.0/21'), 'pod annotation by CIDR')

  const f = await ipam.allocateForPod(pod('fixed', 'default', { 'cni.projectcalico.org/ipAddrs': '["198.19.17.77"]' }))
  t.ok(f.ok && f.ip === '198.19.17.77', 'ipAddrs')
  const dup = await ipam.allocateForPod(pod('dup', 'default', { 'cni.projectcalico.org/ipAddrs': '["198.19.17.77"]' }))
  t.ok(!dup.ok && dup.error.code === 'IPAM_IP_IN_USE', 'a taken address is refused')

  const bad = await ipam.allocateForPod(pod('bad', 'default', { 'cni.projectcalico.org/ipv4pools': '["nope"]' }))
  t.ok(!bad.ok && bad.error.code === 'IPAM_POOL_NOT_FOUND', 'unknown pool')
})

t.test('two nodes allocating at once: conflicts retried, no address given twice', async (t) => {
  const { client, log } = await cluster(t)
  const a = new IpamShell({ client, node: 'node1', log, clock: systemClock() })
  const b = new IpamShell({ client, node: 'node2', log, clock: systemClock() })
  // node2 borrows from node1's block once node1 holds it: force contention on one block.
  await client.create(`${V3}/ipamconfigurations`, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPAMConfiguration',
    metadata: { name: 'default' },
    spec: { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 1 },
  })
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).allocateForPod(pod(`c${i}`))))
  const ips = rs.map((r) => (r.ok ? r.ip : `error:${r.error.message}`))
  t.equal(new Set(ips).size, 20, 'all distinct')
  t.notOk(
    ips.some((x) => x.startsWith('error')),
    'all allocated',
  )
})

t.test('kubelet: pods get IPAM addresses, hostNetwork pods the node IP, delete releases', async (t) => {
  const { apiserver, client, log } = await cluster(t)
  const node = await startNode({
    apiServer: apiserver.url,
    nodeName: 'node1',
    nodeIP: '198.19.0.2',
    endpoint: '127.0.0.1',
    role: 'worker',
    calico: 'installed',
    log,
    clock: systemClock(),
  })
  t.teardown(() => node.close())
  const mk = (name: string, extra: Record<string, unknown> = {}) =>
    client.create('/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { nodeName: 'node1', containers: [{ name: 'c', image: 'nginx' }], ...extra },
    })
  await mk('web')
  await mk('hostnet', { hostNetwork: true })
  const ipOf = async (name: string) => {
    for (let i = 0; i < 200; i++) {
      const p = await client.get<KubeObject & { status?: { podIP?: string } }>(
        `/api/v1/namespaces/default/pods/${name}`,
      )
      if (p.status?.podIP) return p.status.podIP
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(`no IP for ${name}`)
  }
  const ip = await ipOf('web')
  t.ok(inCidr(ip, '198.19.16.0/21'), `pod IP ${ip} from the pool`)
  t.equal(await ipOf('hostnet'), '198.19.0.2', 'hostNetwork: node IP')
  t.equal((await client.list(`${V3}/ipamhandles`)).items.length, 1)
  await client.delete('/api/v1/namespaces/default/pods/web', { gracePeriodSeconds: 0 })
  for (let i = 0; i < 200; i++) {
    if ((await client.list(`${V3}/ipamhandles`)).items.length === 0) break
    await new Promise((r) => setTimeout(r, 25))
  }
  t.equal((await client.list(`${V3}/ipamhandles`)).items.length, 0, 'released on delete')
})
