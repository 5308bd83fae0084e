/**
 * Time for `calilab up --detach` of the lab topology (3 nodes + host1, one Typha) to report ready,
 * then `calilab down`; and the RSS of the processes `up` starts, with 100 pods on one node.
 * Ports are ephemeral and endpoints private so a running calilab is no obstacle.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateTopology } from '@calilab/model'
import type { BenchResult } from './report.ts'

function cli(args: string[], home: string): { code: number; ms: number; out: string } {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, ['packages/cli/bin/calilab.js', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CALILAB_HOME: home },
  })
  return { code: r.status ?? -1, ms: performance.now() - t0, out: `${r.stdout}${r.stderr}` }
}

/** A failed `up`, with the end of every log its message names. */
function upFailed(code: number, out: string): Error {
  const tails = [...out.matchAll(/log (\S+\.log)/g)].map((m) => {
    try {
      return `--- ${m[1]}\n${readFileSync(m[1] as string, 'utf8')
        .split('\n')
        .slice(-20)
        .join('\n')}`
    } catch {
      return ''
    }
  })
  return new Error(`calilab up failed (${code}):\n${out}\n${tails.join('\n')}`)
}

let runs = 0

function topologyFile(home: string): string {
  const t = generateTopology(3)
  t.apiserver.port = 0
  // Endpoints of our own per run: a process of a previous run still dying keeps none of them busy.
  const net = `127.66.${(process.pid + runs++) % 250}`
  t.hosts = t.hosts.map((h) => ({ ...h, endpoint: `${net}.${h.endpoint.split('.')[3] ?? '1'}` }))
  const f = join(home, 'topology.json')
  writeFileSync(f, JSON.stringify(t))
  return f
}

const PODS = 100

/** `VmRSS` of a process, MiB. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : Number.NaN
}

function deployment(n: number): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'rss', namespace: 'default' },
    spec: {
      replicas: n,
      selector: { matchLabels: { app: 'rss' } },
      template: {
        metadata: { labels: { app: 'rss' } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': 'node1' },
          containers: [{ name: 'c', image: 'busybox', command: ['sleep', 'infinity'] }],
        },
      },
    },
  })
}

/**
 * RSS (/proc/PID/status VmRSS) of the node process node1 once PODS pods scheduled on it are
 * Running, beside node2 (no workload pods), the API server and Typha, under `calilab up` (full).
 */
export async function podsRss(): Promise<{
  node1: number
  node2: number
  apiserver: number
  typha: number
  ms: number
  launch: string
}> {
  const home = mkdtempSync(join(tmpdir(), 'calilab-rss-'))
  try {
    const up = cli(['up', '--detach', '--home', home, '--topology', topologyFile(home)], home)
    if (up.code !== 0) throw upFailed(up.code, up.out)
    const state = () =>
      JSON.parse(readFileSync(join(home, 'run', 'state.json'), 'utf8')) as {
        apiserver?: { url: string }
        launch?: { mode: string }
        processes: { component: string; node?: string; instance?: string; pid: number }[]
      }
    const api = state().apiserver?.url ?? ''
    const t0 = performance.now()
    const res = await fetch(`${api}/apis/apps/v1/namespaces/default/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: deployment(PODS),
    })
    if (!res.ok) throw new Error(`create deployment: ${res.status} ${await res.text()}`)
    const deadline = Date.now() + 180_000
    for (;;) {
      const r = await fetch(`${api}/api/v1/namespaces/default/pods?labelSelector=app%3Drss`)
      const list = (await r.json()) as { items: { status?: { phase?: string } }[] }
      const running = list.items.filter((p) => p.status?.phase === 'Running').length
      if (running >= PODS) break
      if (Date.now() > deadline) throw new Error(`only ${running}/${PODS} pods Running after 180 s`)
      await new Promise((r) => setTimeout(r, 500))
    }
    const ms = performance.now() - t0
    await new Promise((r) => setTimeout(r, 3000))
    const procs = state().processes
    const pid = (f: (p: (typeof procs)[number]) => boolean) => procs.find(f)?.pid ?? 0
    return {
      node1: rssMiB(pid((p) => p.component === 'node' && p.node === 'node1')),
      node2: rssMiB(pid((p) => p.component === 'node' && p.node === 'node2')),
      apiserver: rssMiB(pid((p) => p.component === 'apiserver')),
      typha: rssMiB(pid((p) => p.component === 'typha')),
      ms,
      launch: state().launch?.mode === 'bundle' ? 'children from the esbuild bundle' : 'children under tsx',
    }
  } finally {
    cli(['down', '--home', home], home)
    rmSync(home, { recursive: true, force: true })
  }
}

/** `BENCH_UP_RUNS=0`: the RSS run only (no timed `up`s), e.g. while working on memory. */
const RUNS = Number(process.env['BENCH_UP_RUNS'] ?? 3)

export async function benchUp(): Promise<BenchResult> {
  const rss = await podsRss()
  const full: number[] = []
  const bare: number[] = []
  for (let i = 0; i < RUNS; i++) {
    for (const [mode, into] of [
      [[], full],
      [['--bare'], bare],
    ] as const) {
      const home = mkdtempSync(join(tmpdir(), 'calilab-up-'))
      try {
        const up = cli(['up', '--detach', '--home', home, '--topology', topologyFile(home), ...mode], home)
        if (up.code !== 0) throw upFailed(up.code, up.out)
        into.push(up.ms)
      } finally {
        cli(['down', '--home', home], home)
        rmSync(home, { recursive: true, force: true })
      }
    }
  }
  const med = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
  return {
    name: 'up',
    title: '`calilab up` of the lab topology',
    rows: [
      {
        metric: `calilab up --detach (Calico installed by the operator, nodes Ready), median of ${RUNS}`,
        value: med(full) / 1000,
        unit: 's',
        target: '<= 10',
      },
      {
        metric: `calilab up --detach --bare (nodes registered, NotReady), median of ${RUNS}`,
        value: med(bare) / 1000,
        unit: 's',
      },
      {
        metric: `RSS of a node process with ${PODS} pods under calilab up`,
        value: rss.node1,
        unit: 'MiB',
        target: '<= 80',
        note: `VmRSS of node1 once its ${PODS} pods are Running (${(rss.ms / 1000).toFixed(1)} s after the create); ${rss.launch}`,
      },
      { metric: 'RSS of a node process without workload pods (node2)', value: rss.node2, unit: 'MiB' },
      { metric: 'RSS of the API server (same cluster)', value: rss.apiserver, unit: 'MiB' },
      { metric: 'RSS of a Typha replica (same cluster)', value: rss.typha, unit: 'MiB' },
    ],
    notes: [
      `runs (s): full ${full.map((m) => (m / 1000).toFixed(2)).join(', ')}; bare ${bare.map((m) => (m / 1000).toFixed(2)).join(', ')}`,
      'Measured from the command start to its return: processes spawned, ready lines seen, operator install and TigeraStatus Available (full mode).',
      `Processes start from the esbuild process bundle (docs/cli.md), built if stale by the RSS run before the timed ones; RSS is /proc/PID/status VmRSS 3 s after the ${PODS} pods (nodeSelector node1) are Running.`,
    ],
  }
}
