import { seededRng } from '@calilab/kit'
import { cidrContains, type IPPool } from '@calilab/model'
import t from 'tap'
import {
  assignIP,
  assignTunnelAddress,
  autoAssign,
  choosePools,
  emptyIpamState,
  findLeaks,
  type IpamResult,
  type IpamState,
  ipsForHandle,
  type PoolInfo,
  podHandle,
  poolFromResource,
  releaseByHandle,
  releaseIP,
  releaseIPs,
  releaseNode,
  tunnelPools,
} from '../src/core/ipam/index.ts'

const pool = (name: string, spec: IPPool['spec']): PoolInfo =>
  poolFromResource({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec })

const DEFAULT = pool('default-ipv4-ippool', {
  cidr: '198.19.16.0/21',
  blockSize: 26,
  natOutgoing: true,
  nodeSelector: 'all()',
})
const EXTERNAL = pool('external-pool', {
  cidr: '198.19.24.0/21',
  blockSize: 29,
  natOutgoing: true,
  nodeSelector: '!all()',
})
const POOLS = [DEFAULT, EXTERNAL]
const NODE_LABELS = { 'kubernetes.io/hostname': 'node1', 'kubernetes.io/os': 'linux' }

function ok<T>(r: IpamResult<T>): Extract<IpamResult<T>, { ok: true }> {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r as Extract<IpamResult<T>, { ok: true }>
}

function podAttrs(node: string, pod: string, ns = 'default') {
  return { namespace: ns, node, pod, timestamp: '2026-01-01 00:00:00 +0000 UTC' }
}

/** Allocates one address per pod `p0..p<n-1>` on `node`, returning the state and IPs in order. */
function allocMany(state: IpamState, node: string, n: number, pools = [DEFAULT], prefix = 'p') {
  const ips: string[] = []
  let s = state
  for (let i = 0; i < n; i++) {
    const r = ok(
      autoAssign(s, {
        node,
        handle: podHandle(`${node}-${prefix}${i}`),
        attrs: podAttrs(node, `${prefix}${i}`),
        pools,
      }),
    )
    s = r.state
    ips.push(...r.ips)
  }
  return { state: s, ips }
}

t.test('first allocation claims a block: affinity, handle and block writes', async (t) => {
  const r = ok(
    autoAssign(emptyIpamState(), {
      node: 'node1',
      handle: podHandle('abc123'),
      attrs: podAttrs('node1', 'web'),
      pools: [DEFAULT],
    }),
  )
  t.equal(r.ips.length, 1)
  t.equal(r.claimed.length, 1)
  const block = r.claimed[0] as string
  t.ok(cidrContains(DEFAULT.cidr, block), 'block inside the pool')
  t.match(block, /\/26$/)
  t.equal(r.ips[0], block.replace(/\/26$/, ''), 'ordinal 0 first')
  t.same(
    r.writes.map((w) => `${w.op} ${w.kind} ${w.name}`),
    [
      `create BlockAffinity node1-${block.replace(/[./]/g, '-')}`,
      'create IPAMHandle k8s-pod-network.abc123',
      `create IPAMBlock ${block.replace(/[./]/g, '-')}`,
    ],
  )
  const blockWrite = r.writes[2]
  t.ok(blockWrite && blockWrite.op === 'create')
  if (blockWrite?.op === 'create') {
    t.equal(blockWrite.object.apiVersion, 'projectcalico.org/v3')
    const spec = blockWrite.object.spec as {
      affinity: string
      allocations: (number | null)[]
      unallocated: number[]
      attributes: unknown[]
    }
    t.equal(spec.affinity, 'host:node1')
    t.equal(spec.allocations[0], 0)
    t.equal(spec.unallocated.length, 63)
    t.equal(spec.unallocated[0], 1)
    t.same(spec.attributes, [{ handle_id: 'k8s-pod-network.abc123', secondary: podAttrs('node1', 'web') }])
  }
  const aff = r.writes[0]
  if (aff?.op === 'create')
    t.same(aff.object.spec, { state: 'confirmed', node: 'node1', cidr: block, deleted: 'false' })
  const h = r.writes[1]
  if (h?.op === 'create')
    t.same(h.object.spec, { handleID: 'k8s-pod-network.abc123', block: { [block]: 1 }, deleted: false })
})

t.test('64 addresses fill a /26 in order; the 65th claims a new block', async (t) => {
  const { state, ips } = allocMany(emptyIpamState(), 'node1', 64)
  const first = ips[0] as string
  const base = first.split('.').map(Number)
  ips.forEach((ip, i) => {
    t.equal(ip, `${base[0]}.${base[1]}.${base[2]}.${(base[3] as number) + i}`, `ordinal ${i}`)
  })
  t.equal(state.blocks.size, 1)
  const r = ok(
    autoAssign(state, { node: 'node1', handle: podHandle('x65'), attrs: podAttrs('node1', 'x65'), pools: [DEFAULT] }),
  )
  t.equal(r.claimed.length, 1)
  t.equal(r.state.blocks.size, 2)
  t.not(r.claimed[0], `${first}/26`)
  t.equal(r.ips[0], (r.claimed[0] as string).replace('/26', ''))
  t.same(r.borrowed, [])
  // an update, not a create, for nothing; only new objects are created
  t.same(
    r.writes.map((w) => w.op),
    ['create', 'create', 'create'],
  )
})

t.test('block walk is deterministic per host and differs between hosts', async (t) => {
  const a1 = ok(autoAssign(emptyIpamState(), { node: 'node1', handle: 'h', attrs: {}, pools: [DEFAULT] }))
  const a2 = ok(autoAssign(emptyIpamState(), { node: 'node1', handle: 'h', attrs: {}, pools: [DEFAULT] }))
  t.same(a1.claimed, a2.claimed)
  const seen = new Set<string>()
  for (const n of ['control', 'node1', 'node2', 'node3', 'node4']) {
    seen.add(
      ok(autoAssign(emptyIpamState(), { node: n, handle: 'h', attrs: {}, pools: [DEFAULT] })).claimed[0] as string,
    )
  }
  t.ok(seen.size >= 3, `hosts start at different blocks (${[...seen].join(', ')})`)
  // an injected rng is used instead
  const r = ok(
    autoAssign(emptyIpamState(), { node: 'node1', handle: 'h', attrs: {}, pools: [DEFAULT], rng: seededRng(7) }),
  )
  t.ok(cidrContains(DEFAULT.cidr, r.claimed[0] as string))
})

t.test('freed addresses go to the back of the free list (FIFO reuse)', async (t) => {
  let { state, ips } = allocMany(emptyIpamState(), 'node1', 3)
  const rel = ok(releaseByHandle(state, podHandle('node1-p1')))
  t.same(rel.released, [ips[1]])
  state = rel.state
  const next = ok(autoAssign(state, { node: 'node1', handle: 'h3', attrs: {}, pools: [DEFAULT] }))
  const prefix = (ips[0] as string).split('.').slice(0, 3).join('.')
  const base = Number((ips[0] as string).split('.')[3])
  t.equal(next.ips[0], `${prefix}.${base + 3}`, 'not the freed address')
  // exhaust the rest of the block: the freed one comes last
  state = next.state
  const rest = allocMany(state, 'node1', 61, [DEFAULT], 'r')
  t.equal(rest.ips[60], ips[1], 'the freed address is handed out after every never-used one')
  t.equal(rest.state.blocks.size, 1)
})

t.test('release: empty affine block stays, handle deleted; unknown handle is a no-op', async (t) => {
  const a = allocMany(emptyIpamState(), 'node1', 1)
  const r = ok(releaseByHandle(a.state, podHandle('node1-p0')))
  t.same(r.released, a.ips)
  t.equal(r.state.blocks.size, 1, 'block kept: it is still affine')
  t.equal(r.state.handles.size, 0)
  t.same(
    r.writes.map((w) => `${w.op} ${w.kind}`),
    ['update IPAMBlock', 'delete IPAMHandle'],
  )
  const b = [...r.state.blocks.values()][0]?.spec
  t.same(b?.attributes, [], 'unused attributes compacted')
  const again = ok(releaseByHandle(r.state, podHandle('node1-p0')))
  t.same(again.released, [])
  t.same(again.writes, [])
  t.equal(again.state, r.state)
})

t.test('releaseIP frees one address and decrements its handle', async (t) => {
  // two addresses under one handle
  const a = ok(
    autoAssign(emptyIpamState(), {
      node: 'node1',
      handle: 'multi',
      attrs: podAttrs('node1', 'm'),
      pools: [DEFAULT],
      num: 2,
    }),
  )
  t.equal(a.ips.length, 2)
  const r = ok(releaseIP(a.state, a.ips[0] as string))
  t.same(r.released, [a.ips[0]])
  t.same(ipsForHandle(r.state, 'multi'), [a.ips[1]])
  t.same(Object.values(r.state.handles.get('multi')?.spec.block ?? {}), [1])
  const none = ok(releaseIP(r.state, '198.19.30.1'))
  t.same(none.released, [])
  t.same(none.writes, [])
})

t.test('borrowing: a node takes a single address from another node’s block when no block is free', async (t) => {
  const tiny = pool('tiny', { cidr: '10.9.0.0/26', blockSize: 26 })
  const a = allocMany(emptyIpamState(), 'node1', 2, [tiny])
  const r = ok(
    autoAssign(a.state, { node: 'node2', handle: podHandle('b'), attrs: podAttrs('node2', 'b'), pools: [tiny] }),
  )
  t.same(r.claimed, [])
  t.same(r.borrowed, r.ips)
  t.equal(r.ips[0], '10.9.0.2')
  const blk = r.state.blocks.get('10.9.0.0/26')?.spec
  t.equal(blk?.affinity, 'host:node1', 'block still belongs to node1')
  // strict affinity forbids it
  const strict = { ...a.state, config: { ...a.state.config, strictAffinity: true } }
  const s = autoAssign(strict, { node: 'node2', handle: 'b', attrs: {}, pools: [tiny] })
  t.notOk(s.ok)
  if (!s.ok) {
    t.equal(s.error.code, 'IPAM_NO_IPS')
    t.equal(s.error.message, 'No IPs available in pools: [10.9.0.0/26]')
  }
})

t.test('pool exhausted everywhere → IPAM_NO_IPS and nothing written', async (t) => {
  const tiny = pool('tiny', { cidr: '10.9.0.0/29', blockSize: 29 })
  const a = allocMany(emptyIpamState(), 'node1', 8, [tiny])
  const r = autoAssign(a.state, { node: 'node1', handle: 'x', attrs: {}, pools: [tiny] })
  t.notOk(r.ok)
  if (!r.ok) t.equal(r.error.code, 'IPAM_NO_IPS')
  const none = autoAssign(a.state, { node: 'node1', handle: 'x', attrs: {}, pools: [] })
  t.notOk(none.ok)
  if (!none.ok) t.equal(none.error.code, 'IPAM_NO_POOLS')
})

t.test('maxBlocksPerHost caps claims, then the node borrows', async (t) => {
  const two = pool('two', { cidr: '10.8.0.0/28', blockSize: 29 })
  const s0 = { ...emptyIpamState({ maxBlocksPerHost: 1 }) }
  const a = allocMany(s0, 'node1', 8, [two])
  t.equal(a.state.blocks.size, 1)
  const blocked = autoAssign(a.state, { node: 'node1', handle: 'n', attrs: {}, pools: [two] })
  t.notOk(blocked.ok, 'cannot claim a second block and nothing to borrow')
  // node2 claims the other block, then node1 borrows from it
  const b = ok(autoAssign(a.state, { node: 'node2', handle: 'n2', attrs: { node: 'node2' }, pools: [two] }))
  const c = ok(autoAssign(b.state, { node: 'node1', handle: 'n1', attrs: { node: 'node1' }, pools: [two] }))
  t.equal(c.borrowed.length, 1)
  t.same(c.claimed, [])
})

t.test('assignIP: a specific address, claiming its block; in-use and out-of-pool errors', async (t) => {
  const r = ok(assignIP(emptyIpamState(), { ip: '198.19.16.70', node: 'node1', handle: 'h1', attrs: {}, pools: POOLS }))
  t.same(r.claimed, ['198.19.16.64/26'])
  t.equal(r.state.blocks.get('198.19.16.64/26')?.spec.allocations[6], 0)
  t.notOk(r.state.blocks.get('198.19.16.64/26')?.spec.unallocated.includes(6))
  const dup = assignIP(r.state, { ip: '198.19.16.70', node: 'node1', handle: 'h2', attrs: {}, pools: POOLS })
  t.notOk(dup.ok)
  if (!dup.ok) t.equal(dup.error.code, 'IPAM_IP_IN_USE')
  const out = assignIP(r.state, { ip: '10.0.0.1', node: 'node1', handle: 'h2', attrs: {}, pools: POOLS })
  if (!out.ok) {
    t.equal(out.error.code, 'IPAM_NOT_IN_POOL')
    t.equal(out.error.message, 'The provided IP address 10.0.0.1 is not in a configured pool')
  } else t.fail('expected an error')
  // another node may take an address in node1's block (no strict affinity)
  const other = ok(assignIP(r.state, { ip: '198.19.16.71', node: 'node2', handle: 'h3', attrs: {}, pools: POOLS }))
  t.same(other.claimed, [])
  // autoAssign on node1 then skips the taken ordinal
  const next = allocMany(other.state, 'node1', 7)
  t.notOk(next.ips.includes('198.19.16.70'))
  t.notOk(next.ips.includes('198.19.16.71'))
})

t.test('pool choice: pod annotation > namespace annotation > pools selecting the node', async (t) => {
  const d = choosePools({ pools: POOLS, nodeLabels: NODE_LABELS })
  t.ok(d.ok)
  if (d.ok) {
    t.same(
      d.pools.map((p) => p.name),
      ['default-ipv4-ippool'],
      '!all() pool only by annotation',
    )
    t.equal(d.source, 'default')
  }
  const ns = { 'cni.projectcalico.org/ipv4pools': '["external-pool"]' }
  const n = choosePools({ pools: POOLS, nodeLabels: NODE_LABELS, namespaceAnnotations: ns })
  t.ok(n.ok && n.pools[0]?.name === 'external-pool' && n.source === 'namespace')
  const p = choosePools({
    pools: POOLS,
    nodeLabels: NODE_LABELS,
    namespaceAnnotations: ns,
    podAnnotations: { 'cni.projectcalico.org/ipv4pools': '["198.19.16.0/21"]' },
  })
  t.ok(p.ok && p.pools[0]?.name === 'default-ipv4-ippool' && p.source === 'pod', 'by CIDR, pod wins')
  const missing = choosePools({
    pools: POOLS,
    nodeLabels: NODE_LABELS,
    podAnnotations: { 'cni.projectcalico.org/ipv4pools': '["nope"]' },
  })
  t.ok(!missing.ok && missing.error.code === 'IPAM_POOL_NOT_FOUND')
  const garbage = choosePools({
    pools: POOLS,
    nodeLabels: NODE_LABELS,
    podAnnotations: { 'cni.projectcalico.org/ipv4pools': 'external-pool' },
  })
  t.ok(!garbage.ok && garbage.error.code === 'IPAM_BAD_ANNOTATION')
  const disabled = pool('off', { cidr: '10.1.0.0/24', disabled: true })
  const dis = choosePools({
    pools: [...POOLS, disabled],
    nodeLabels: NODE_LABELS,
    podAnnotations: { 'cni.projectcalico.org/ipv4pools': '["off"]' },
  })
  t.ok(!dis.ok && dis.error.code === 'IPAM_POOL_DISABLED')
  const sel = pool('zone-a', { cidr: '10.2.0.0/24', nodeSelector: "zone == 'a'" })
  const z = choosePools({ pools: [sel, ...POOLS], nodeLabels: { ...NODE_LABELS, zone: 'a' } })
  t.ok(z.ok && z.pools.map((x) => x.name).join() === 'zone-a,default-ipv4-ippool')
})

t.test('the lab: a namespace annotated with external-pool gets a /29 block from it', async (t) => {
  const chosen = choosePools({
    pools: POOLS,
    nodeLabels: NODE_LABELS,
    namespaceAnnotations: { 'cni.projectcalico.org/ipv4pools': '["external-pool"]' },
  })
  if (!chosen.ok) throw new Error(chosen.error.message)
  const r = ok(
    autoAssign(emptyIpamState(), {
      node: 'node1',
      handle: podHandle('nginx'),
      attrs: podAttrs('node1', 'nginx', 'external-ns'),
      pools: chosen.pools,
    }),
  )
  t.ok(cidrContains('198.19.24.0/21', r.ips[0] as string))
  t.match(r.claimed[0], /\/29$/)
  t.equal(r.state.blocks.get(r.claimed[0] as string)?.spec.allocations.length, 8)
})

t.test('tunnel addresses: handle per node and kind, idempotent, from tunnel-capable pools', async (t) => {
  const ipip = pool('ipip', { cidr: '10.4.0.0/24', ipipMode: 'Always' })
  t.same(
    tunnelPools([DEFAULT, ipip], 'ipip', NODE_LABELS).map((p) => p.name),
    ['ipip'],
  )
  t.same(
    tunnelPools(POOLS, 'wireguard', NODE_LABELS).map((p) => p.name),
    ['default-ipv4-ippool'],
  )
  const r = ok(assignTunnelAddress(emptyIpamState(), { node: 'node1', kind: 'wireguard', pools: [DEFAULT] }))
  t.same(ipsForHandle(r.state, 'wireguard-tunnel-addr-node1'), [r.ip])
  const blk = [...r.state.blocks.values()][0]?.spec
  t.same(blk?.attributes[0], {
    handle_id: 'wireguard-tunnel-addr-node1',
    secondary: { node: 'node1', type: 'wireguardTunnelAddress' },
  })
  const again = ok(assignTunnelAddress(r.state, { node: 'node1', kind: 'wireguard', pools: [DEFAULT] }))
  t.equal(again.ip, r.ip)
  t.same(again.writes, [])
  const v = ok(assignTunnelAddress(r.state, { node: 'node1', kind: 'vxlan', pools: [DEFAULT] }))
  t.not(v.ip, r.ip)
  t.ok(v.state.handles.has('vxlan-tunnel-addr-node1'))
})

t.test('leak GC: an allocation whose pod is gone is released after the grace period', async (t) => {
  const a = allocMany(emptyIpamState(), 'node1', 2)
  const live = [{ namespace: 'default', name: 'p0' }]
  const grace = 15 * 60_000
  const s1 = findLeaks(a.state, { livePods: live, now: 1_000, gracePeriodMs: grace })
  t.same(s1.leaks, [], 'not yet')
  t.same([...s1.candidates.entries()], [[a.ips[1], 1_000]])
  const s2 = findLeaks(a.state, {
    livePods: live,
    now: 1_000 + grace - 1,
    gracePeriodMs: grace,
    candidates: s1.candidates,
  })
  t.same(s2.leaks, [])
  const s3 = findLeaks(a.state, { livePods: live, now: 1_000 + grace, gracePeriodMs: grace, candidates: s2.candidates })
  t.same(
    s3.leaks.map((l) => [l.ip, l.reason, l.attrs.pod]),
    [[a.ips[1], 'pod-gone', 'p1']],
  )
  const rel = ok(
    releaseIPs(
      a.state,
      s3.leaks.map((l) => l.ip),
    ),
  )
  t.same(ipsForHandle(rel.state, podHandle('node1-p1')), [])
  t.notOk(rel.state.handles.has(podHandle('node1-p1')))
  // a pod that comes back before the grace period ends drops out of the candidates
  const back = findLeaks(a.state, {
    livePods: [...live, { namespace: 'default', name: 'p1' }],
    now: 2_000,
    candidates: s1.candidates,
  })
  t.equal(back.candidates.size, 0)
  // pod alive with another IP → leak candidate; node gone → leak at once
  const mism = findLeaks(a.state, {
    livePods: [
      { namespace: 'default', name: 'p0', ips: ['1.2.3.4'] },
      { namespace: 'default', name: 'p1' },
    ],
    now: 0,
  })
  t.same([...mism.candidates.keys()], [a.ips[0]])
  const gone = findLeaks(a.state, { livePods: live, liveNodes: ['node2'], now: 0 })
  t.same(
    gone.leaks.map((l) => l.reason),
    ['node-gone', 'node-gone'],
  )
})

t.test('node removal releases its addresses and affinities; borrowed addresses keep the block', async (t) => {
  const tiny = pool('tiny', { cidr: '10.9.0.0/26', blockSize: 26 })
  const a = allocMany(emptyIpamState(), 'node1', 2, [tiny])
  const b = ok(autoAssign(a.state, { node: 'node2', handle: 'borrow', attrs: podAttrs('node2', 'b'), pools: [tiny] }))
  const r = ok(releaseNode(b.state, 'node1'))
  t.same(r.released.sort(), [...a.ips].sort())
  t.same(r.blocksReleased, ['10.9.0.0/26'])
  t.equal(r.state.affinities.size, 0)
  const blk = r.state.blocks.get('10.9.0.0/26')?.spec
  t.ok(blk, 'block kept for the borrowed address')
  t.equal(blk?.affinity, undefined)
  t.same(ipsForHandle(r.state, 'borrow'), ['10.9.0.2'])
  // releasing the borrowed address deletes the unowned block
  const last = ok(releaseByHandle(r.state, 'borrow'))
  t.equal(last.state.blocks.size, 0)
  t.ok(last.writes.some((w) => w.op === 'delete' && w.kind === 'IPAMBlock' && w.name === '10-9-0-0-26'))
  // a node with only its own addresses: everything goes
  const solo = ok(releaseNode(a.state, 'node1'))
  t.equal(solo.state.blocks.size, 0)
  t.equal(solo.state.handles.size, 0)
  t.same(
    solo.writes.map((w) => `${w.op} ${w.kind}`),
    ['delete IPAMBlock', 'delete BlockAffinity', 'delete IPAMHandle', 'delete IPAMHandle'],
  )
})
