/** Time for `calilab up` of the lab topology to report ready (detached), then `calilab down`. */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchResult } from './report.ts'

function cli(args: string[], home: string): { code: number; ms: number; out: string } {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, ['packages/cli/bin/calilab.js', ...args, '--home', home], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status ?? -1, ms: performance.now() - t0, out: `${r.stdout}${r.stderr}` }
}

export async function benchUp(): Promise<BenchResult> {
  const runs: number[] = []
  const bare: number[] = []
  for (let i = 0; i < 3; i++) {
    for (const [mode, into] of [[[], runs], [['--bare'], bare]] as const) {
      const home = mkdtempSync(join(tmpdir(), 'calilab-up-'))
      try {
        const up = cli(['up', '--detach', ...mode, '--apiserver-port', '0'], home)
        if (up.code !== 0) throw new Error(`calilab up failed (${up.code}):\n${up.out}`)
        into.push(up.ms)
      } finally {
        cli(['down'], home)
        rmSync(home, { recursive: true, force: true })
      }
    }
  }
  const med = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  return {
    name: 'up',
    title: '`calilab up` of the lab topology',
    rows: [
      { metric: 'calilab up --detach (Calico installed, nodes Ready), median of 3', value: med(runs) / 1000, unit: 's', target: '<= 10' },
      { metric: 'calilab up --detach --bare, median of 3', value: med(bare) / 1000, unit: 's' },
    ],
    notes: [`runs (s): full ${runs.map((m) => (m / 1000).toFixed(2)).join(', ')}; bare ${bare.map((m) => (m / 1000).toFixed(2)).join(', ')}`],
  }
}
