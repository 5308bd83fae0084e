/**
 * `npm run bench [-- NAME...]`: runs the benchmarks, prints their numbers and writes them to
 * docs/BENCHMARKS.md (`--no-write`: print only, e.g. while trying a change).
 */
import { type BenchResult, printResult, writeSection } from './report.ts'

const BENCHES: Record<string, () => Promise<BenchResult>> = {
  apiserver: async () => (await import('./apiserver.ts')).benchApiServer(),
  up: async () => (await import('./up.ts')).benchUp(),
  dataplane: async () => (await import('./dataplane.ts')).benchDataplane(),
  typha: async () => (await import('./typha.ts')).benchTypha(),
  bgp: async () => (await import('./bgp.ts')).benchBgp(),
  policy: async () => (await import('./policy.ts')).benchPolicy(),
}

const write = !process.argv.includes('--no-write')
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const names = wanted.length ? wanted : Object.keys(BENCHES)
for (const n of names) {
  const b = BENCHES[n]
  if (!b) {
    process.stderr.write(`unknown benchmark "${n}" (known: ${Object.keys(BENCHES).join(', ')})\n`)
    process.exit(2)
  }
  process.stdout.write(`running ${n}...\n`)
  const r = await b()
  printResult(r)
  if (write) writeSection('docs/BENCHMARKS.md', r)
}
if (write) process.stdout.write('\nwritten to docs/BENCHMARKS.md\n')
process.exit(0)
