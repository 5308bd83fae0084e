/**
 * Time for `calilab up --detach` of the lab topology (3 nodes + host1, one Typha) to report ready,
 * then `calilab down`. Ports are ephemeral and endpoints private so a running calilab is no obstacle.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
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

function topologyFile(home: string): string {
  const t = generateTopology(3)
  t.apiserver.port = 0
  t.hosts = t.hosts.map((h) => ({ ...h, endpoint: `127.77.0.${h.endpoint.split('.')[3] ?? '1'}` }))
  const f = join(home, 'topology.json')
  writeFileSync(f, JSON.stringify(t))
  return f
}

export async function benchUp(): Promise<BenchResult> {
  const full: number[] = []
  const bare: number[] = []
  for (let i = 0; i < 3; i++) {
    for (const [mode, into] of [
      [[], full],
      [['--bare'], bare],
    ] as const) {
      const home = mkdtempSync(join(tmpdir(), 'calilab-up-'))
      try {
        const up = cli(['up', '--detach', '--home', home, '--topology', topologyFile(home), ...mode], home)
        if (up.code !== 0) throw new Error(`calilab up failed (${up.code}):\n${up.out}`)
        into.push(up.ms)
      } finally {
        cli(['down', '--home', home], home)
        rmSync(home, { recursive: true, force: true })
      }
    }
  }
  const med = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  return {
    name: 'up',
    title: '`calilab up` of the lab topology',
    rows: [
      {
        metric: 'calilab up --detach (Calico installed by the operator, nodes Ready), median of 3',
        value: med(full) / 1000,
        unit: 's',
        target: '<= 10',
      },
      {
        metric: 'calilab up --detach --bare (nodes registered, NotReady), median of 3',
        value: med(bare) / 1000,
        unit: 's',
      },
    ],
    notes: [
      `runs (s): full ${full.map((m) => (m / 1000).toFixed(2)).join(', ')}; bare ${bare.map((m) => (m / 1000).toFixed(2)).join(', ')}`,
      'Measured from the command start to its return: processes spawned, ready lines seen, operator install and TigeraStatus Available (full mode).',
    ],
  }
}
