import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { generateTopology } from '@calilab/model'
import t from 'tap'
import { resolveHome } from '../src/home.ts'
import { dependentSpecs, NODE_EXEC_ARGV } from '../src/supervisor/specs.ts'

t.test('node processes start with the memory options; the others with none', async (t) => {
  const specs = dependentSpecs(generateTopology(2), resolveHome(path.join(tmpdir(), 'calilab-specs')), 'installed')
  const nodes = specs.filter((s) => s.component === 'node')
  t.equal(nodes.length, 2, 'control, node1')
  for (const s of nodes) t.same(s.execArgv, NODE_EXEC_ARGV, s.node ?? 'node')
  for (const s of specs.filter((s) => s.component !== 'node')) t.equal(s.execArgv, undefined, s.component)
})

/** The young generation's committed size after allocating a lot of short-lived garbage, bytes. */
function newSpaceAfterChurn(execArgv: readonly string[]): number {
  const script = [
    "const v8 = require('node:v8')",
    'let keep = []',
    'for (let i = 0; i < 400000; i++) { keep.push({ i, s: String(i) }); if (keep.length > 20000) keep = [] }',
    "const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')",
    'process.stdout.write(String(s.space_size))',
  ].join('\n')
  const r = spawnSync(process.execPath, [...execArgv, '-e', script], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return Number(r.stdout)
}

t.test('the options are accepted by node and cap the young generation', async (t) => {
  const capped = newSpaceAfterChurn(NODE_EXEC_ARGV)
  t.ok(capped <= 2 * 1024 * 1024, `new space ${capped} B <= 2 MiB`)
  const grown = newSpaceAfterChurn([])
  t.ok(grown > capped, `without them V8 grows it (${grown} B)`)
})
