/**
 * Policy benchmarks (issue 6): programming 1,000 policies over 10,000 endpoints on one node; the
 * latency from a label change to the new rules being programmed on every node (3 and 10 in-process
 * policy managers); first packets through 1, 10 and 100 ingress policies per endpoint.
 */
import { createHost, IpSetStore, ipsetRestore, iptablesRestore, Netfilter } from '@calilab/dataplane'
import { FakeClock, seededRng, silentLogger } from '@calilab/kit'
import { formatIPv4, parseIPv4 } from '@calilab/model'
import {
  clearRuleHashCache,
  diffRenderings,
  emptyRule,
  type FelixPolicy,
  type PolicyEndpoint,
  renderNode,
  toIpsetRestore,
  toIpsetRestoreDelta,
  toIptablesRestore,
  toIptablesRestoreDelta,
} from '../packages/node-agent/src/core/policy/index.ts'
import { startPolicyManager } from '../packages/node-agent/src/felix/policy-manager.ts'
import { PolicyStateBuilder } from '../packages/node-agent/src/felix/state-builder.ts'
import { median, timed } from './fixtures/dataplane-forwarder.ts'
import { buildTcp, POD_BASE, podIp, REMOTE_BASE, serviceNode, TCP_SYN, vethName } from './fixtures/dataplane-world.ts'
import { clusterUpdates, podLabels, podUpdate } from './fixtures/policy-world.ts'
import { type BenchResult, type BenchRow, percentile } from './report.ts'

const ENDPOINTS = 10_000
const POLICIES = 1_000
/** One pod in LOCAL_EVERY lives on the measured node (Felix renders chains for those only). */
const LOCAL_EVERY = 10

interface ProgramTimes {
  build: number
  render: number
  text: number
  load: number
  total: number
  chains: number
  rules: number
  ipsets: number
  members: number
  local: number
}

export function programOnce(localEvery = LOCAL_EVERY): ProgramTimes {
  const updates = clusterUpdates(ENDPOINTS, POLICIES, (i) => (i % localEvery === 0 ? 'node1' : `node${2 + (i % 9)}`))
  // Every run starts as a new agent does: no rule hashes cached from the run before.
  clearRuleHashCache()
  const t0 = performance.now()
  const b = new PolicyStateBuilder('node1')
  b.applyAll(updates)
  const state = b.state()
  const t1 = performance.now()
  const r = renderNode(state, 'node1')
  const t2 = performance.now()
  const d = diffRenderings(undefined, r)
  const ipt = toIptablesRestoreDelta(undefined, d)
  const ips = toIpsetRestoreDelta(d)
  const t3 = performance.now()
  const sets = new IpSetStore()
  const nf = new Netfilter(sets)
  ipsetRestore(sets, ips.before)
  iptablesRestore(nf, ipt, { noflush: true })
  const t4 = performance.now()
  let chains = 0
  let rules = 0
  for (const t of ['raw', 'mangle', 'filter'] as const)
    for (const c of r.tables[t].values()) {
      chains++
      rules += c.length
    }
  let members = 0
  for (const s of r.ipsets.values()) members += s.members.length
  return {
    build: t1 - t0,
    render: t2 - t1,
    text: t3 - t2,
    load: t4 - t3,
    total: t4 - t0,
    chains,
    rules,
    ipsets: r.ipsets.size,
    members,
    local: b.localWorkloads().length,
  }
}

function programRows(): BenchRow[] {
  const cold = programOnce() // the first run in this process: code not yet optimised (a new agent's first apply)
  const runs = [programOnce(), programOnce(), programOnce()]
  const m = (k: keyof ProgramTimes) => median(runs.map((r) => r[k]))
  const r0 = runs[0]!
  return [
    {
      metric: `program ${POLICIES.toLocaleString('en-US')} policies over ${ENDPOINTS.toLocaleString('en-US')} endpoints (${r0.local.toLocaleString('en-US')} local), total`,
      value: m('total'),
      unit: 'ms',
      target: '<= 2000',
      note: `${r0.chains.toLocaleString('en-US')} chains, ${r0.rules.toLocaleString('en-US')} rules, ${r0.ipsets} IP sets with ${r0.members.toLocaleString('en-US')} members; median of 3 after a first run in the same process (that cold run: ${Math.round(cold.total)} ms); rule-hash cache emptied before each run`,
    },
    { metric: '  state build from syncer updates', value: m('build'), unit: 'ms', note: 'PolicyStateBuilder.applyAll' },
    { metric: '  renderNode', value: m('render'), unit: 'ms' },
    { metric: '  restore text (diff from nothing)', value: m('text'), unit: 'ms' },
    {
      metric: '  load into a fresh Netfilter + IpSetStore',
      value: m('load'),
      unit: 'ms',
      note: 'ipset restore, then iptables-restore --noflush',
    },
  ]
}

/**
 * N policy managers (one netns each) fed the same updates; a label flip of one endpoint changes
 * which policies select it. Latency: from handing the update to every manager to the end of the
 * last node's apply, all on this one thread (nodes apply one after another, so N nodes add up: an
 * upper bound, since real nodes are separate processes on their own cores). Per node, the same
 * change costs its own `onUpdates` + `apply()`; the slowest node plus the debounce is what N nodes
 * on N cores would see. Managers run on a FakeClock; the debounce is added to the measured time.
 */
interface LatencyRun {
  p50: number
  p99: number
  /** One node's onUpdates + apply, every node and change. */
  nodeP50: number
  nodeP99: number
  /** Slowest node per change + debounce (nodes in parallel). */
  parallelP50: number
  parallelP99: number
  debounce: number
  /** Changes that rewrote at least one chain on some node (the others move no rule anywhere). */
  rewrote: number
}

function latency(nodes: number, changes: number): LatencyRun {
  const debounce = 20
  const clock = new FakeClock()
  const names = Array.from({ length: nodes }, (_, i) => `node${i + 1}`)
  const mgrs = names.map((n, i) => {
    const host = createHost({ name: n, nodeIp: parseIPv4(`198.19.0.${i + 2}`), clock, rng: seededRng(i + 1) })
    return startPolicyManager({ nodeName: n, netns: host.root, log: silentLogger(), clock, debounceMs: debounce })
  })
  /** About a full node (Kubernetes' default max pods is 110). */
  const perNode = 100
  const updates = clusterUpdates(nodes * perNode, POLICIES, (i) => names[i % nodes]!)
  for (const m of mgrs) m.onUpdates(updates)
  for (const m of mgrs) m.onInSync()
  clock.advance(1)
  const lat: number[] = []
  const perNodeMs: number[] = []
  const parallel: number[] = []
  const upd = new Array<number>(nodes).fill(0)
  let rewrote = 0
  for (let c = 0; c < changes; c++) {
    // Pod c*7 (on node c*7 % nodes): flip its app label so other policies select it.
    const i = c * 7
    const labels = { ...podLabels(i), app: `app${(i + 1 + c) % 50}` }
    const u = podUpdate(i, names[i % nodes]!, labels)
    const before = mgrs.map((m) => m.status())
    const t0 = performance.now()
    mgrs.forEach((m, k) => {
      const a = performance.now()
      m.onUpdates([u])
      upd[k] = performance.now() - a
    })
    // Every node's debounce timer fires inside advance(): apply() runs there, synchronously.
    clock.advance(debounce)
    const t1 = performance.now()
    let slowest = 0
    let touched = 0
    mgrs.forEach((m, k) => {
      const st = m.status()
      if (st.applies !== before[k]!.applies + 1) throw new Error(`latency: ${st.node} did not apply`)
      if (st.fullRenders !== before[k]!.fullRenders) throw new Error(`latency: ${st.node} rendered in full`)
      touched += st.touchedTotal - before[k]!.touchedTotal
      const ms = upd[k]! + st.lastApplyMs
      perNodeMs.push(ms)
      slowest = Math.max(slowest, ms)
    })
    if (touched > 0) rewrote++
    lat.push(t1 - t0 + debounce)
    parallel.push(slowest + debounce)
  }
  // The incremental result is the full one (what a restart would program).
  mgrs.forEach((m, k) => {
    const full = renderNode(m.builder.state(), names[k]!)
    const got = m.rendering()
    if (!got || toIptablesRestore(got) + toIpsetRestore(got) !== toIptablesRestore(full) + toIpsetRestore(full))
      throw new Error(`latency: ${names[k]}: incremental rendering differs from a full one`)
  })
  for (const m of mgrs) m.close()
  const p = (xs: number[], q: number) => {
    const sorted = [...xs].sort((a, b) => a - b)
    return percentile(sorted, q)
  }
  return {
    p50: p(lat, 50),
    p99: p(lat, 99),
    nodeP50: p(perNodeMs, 50),
    nodeP99: p(perNodeMs, 99),
    parallelP50: p(parallel, 50),
    parallelP99: p(parallel, 99),
    debounce,
    rewrote,
  }
}

const LATENCY_CHANGES = 200

function latencyRows(): { rows: BenchRow[]; notes: string[] } {
  const rows: BenchRow[] = []
  const notes: string[] = []
  const rewrote: string[] = []
  for (const n of [3, 10]) {
    const r = latency(n, LATENCY_CHANGES)
    rewrote.push(`${r.rewrote} (${n} nodes)`)
    rows.push(
      {
        metric: `label change → new rules programmed on every node, ${n} nodes, p50`,
        value: r.p50,
        unit: 'ms',
        note: `incl. ${r.debounce} ms debounce; one node's update + apply p50 ${r.nodeP50.toFixed(1)} ms, p99 ${r.nodeP99.toFixed(1)} ms`,
      },
      {
        metric: `label change → new rules programmed on every node, ${n} nodes, p99`,
        value: r.p99,
        unit: 'ms',
        ...(n === 10 ? { target: '<= 200' } : {}),
        note: `nodes applied one after another on one thread; with a core per node (slowest node + debounce) p50 ${r.parallelP50.toFixed(1)} / p99 ${r.parallelP99.toFixed(1)} ms`,
      },
    )
  }
  notes.push(
    `Label change: ${LATENCY_CHANGES} changes; ${POLICIES.toLocaleString('en-US')} policies, 100 pods per node; each flips one pod's app label so other policies select it. ` +
      "Measured in-process from handing the update to every node's policy manager to the end of the last node's apply (incremental: only the chains and IP-set members the change touches are re-rendered and written with iptables-restore --noflush / ipset add/del), plus the 20 ms debounce as simulated time. " +
      'The nodes run one after another on one thread, so the headline adds N nodes up; separate node processes on their own cores would see the slowest node (noted beside p99). ' +
      `Changes that rewrote a chain on some node: ${rewrote.join(', ')} of ${LATENCY_CHANGES}; the rest give the pod an app label that no policy or rule in its namespace reads (only GNPs select it), as in the runs before. ` +
      "Each run checks that no node fell back to a full render and that at the end every node's rendering equals a full renderNode.",
  )
  return { rows, notes }
}

/**
 * A local pod whose ingress has `n` policies of 3 rules each that the SYN does not match, then an
 * allow. `cacheWalks: false` turns the netfilter walk cache off (every SYN walks every rule).
 */
export function chainRate(n: number, ms = 700, cacheWalks = true): { pps: number; rules: number; cpuUs: number } {
  const w = serviceNode(0)
  const dst = podIp(POD_BASE, 0)
  const ep: PolicyEndpoint = {
    kind: 'workload',
    id: 'node1-k8s-pod0-eth0',
    node: 'node1',
    iface: vethName(0),
    ips: [formatIPv4(dst)],
    labels: { app: 'db' },
    profileIds: [],
  }
  const remote: PolicyEndpoint = {
    kind: 'workload',
    id: 'node2-k8s-client-eth0',
    node: 'node2',
    iface: 'calix',
    ips: [formatIPv4((REMOTE_BASE + 200) >>> 0)],
    labels: { app: 'client' },
    profileIds: [],
  }
  const policies: FelixPolicy[] = []
  for (let k = 0; k < n; k++) {
    const r1 = { ...emptyRule('allow'), protocol: 6, dstPorts: [{ first: 1000 + k, last: 1000 + k }] }
    const r2 = { ...emptyRule('deny'), srcNets: [`192.0.${k % 250}.0/24`] }
    const r3 = { ...emptyRule('allow'), protocol: 17, srcSelector: `app == 'client'` }
    const last = k === n - 1 ? [{ ...emptyRule('allow'), protocol: 6, srcSelector: `app == 'client'` }] : []
    policies.push({
      id: `default.p${k.toString().padStart(3, '0')}`,
      tier: 'default',
      order: k,
      selector: "app == 'db'",
      ingress: true,
      egress: false,
      inbound: [r1, r2, r3, ...last],
      outbound: [],
      doNotTrack: false,
      preDNAT: false,
      applyOnForward: false,
    })
  }
  const r = renderNode({ policies, profiles: [], endpoints: [ep, remote], networkSets: [] }, 'node1')
  const d = diffRenderings(undefined, r)
  ipsetRestore(w.h.root.sets, toIpsetRestoreDelta(d).before)
  iptablesRestore(w.h.root.nf, toIptablesRestoreDelta(undefined, d), { noflush: true })
  let rules = 0
  for (const c of r.tables.filter.values()) rules += c.length
  // Fresh SYNs from a remote pod (arriving on eth0) to the local pod: every one is NEW.
  const m = 60_000
  const syns = Array.from({ length: m }, (_, i) =>
    buildTcp({ src: (REMOTE_BASE + 200) >>> 0, dst, sport: 1024 + (i % 60_000), dport: 5432, flags: TCP_SYN }),
  )
  const tw = w.h.root.nf.chain('filter', `cali-tw-${vethName(0)}`)
  w.h.root.nf.cacheWalks = cacheWalks
  let sent = 0
  const cpu0 = process.cpuUsage()
  const pps = timed(ms, m, (i) => {
    w.h.root.receive(syns[i]!, 'eth0')
    sent++
  })
  // CPU time (this process, GC threads included) per packet: steadier than the rate on a shared machine.
  const cpu = process.cpuUsage(cpu0)
  // The last policy's allow rule counted them: the SYNs went all the way through.
  const allowed = w.h.root.nf.chain('filter', `cali-pi-default.p${(n - 1).toString().padStart(3, '0')}`)
  const hits = allowed?.rules.at(-1)?.pkts ?? 0
  if (hits === 0 || !tw) throw new Error(`chainRate(${n}): SYNs did not reach the last policy's allow rule`)
  return { pps, rules, cpuUs: (cpu.user + cpu.system) / sent }
}

function packetRows(): BenchRow[] {
  const rows: BenchRow[] = []
  for (const n of [1, 10, 100]) {
    const runs = [chainRate(n), chainRate(n), chainRate(n)]
    rows.push({
      metric: `first packets (SYN, NEW) through ${n} ingress ${n === 1 ? 'policy' : 'policies'}, full pipeline, one thread`,
      value: median(runs.map((r) => r.pps)) / 1e3,
      unit: 'kpps',
      ...(n === 100 ? { target: '>= 250' } : {}),
      note: `${runs[0]!.rules.toLocaleString('en-US')} filter rules on the node; median of 3; CPU ${median(runs.map((r) => r.cpuUs)).toFixed(2)} µs/packet`,
    })
  }
  // The same without the walk cache: what a SYN costs when it walks all 759 rules.
  const walked = [chainRate(100, 700, false), chainRate(100, 700, false), chainRate(100, 700, false)]
  rows.push({
    metric: 'first packets (SYN, NEW) through 100 ingress policies, walk cache off',
    value: median(walked.map((r) => r.pps)) / 1e3,
    unit: 'kpps',
    note: 'every SYN walks the rules (netfilter cacheWalks = false); median of 3',
  })
  return rows
}

export async function benchPolicy(): Promise<BenchResult> {
  const only = process.env.POLICY_BENCH
  const rows: BenchRow[] = []
  if (!only || only === 'program') rows.push(...programRows())
  const notes: string[] = []
  if (!only || only === 'latency') {
    const l = latencyRows()
    rows.push(...l.rows)
    notes.push(...l.notes)
  }
  if (!only || only === 'packets') rows.push(...packetRows())
  return {
    name: 'policy',
    title: 'Network policy',
    rows,
    notes,
  }
}
