import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
// @ts-expect-error plain JS without declarations: the bin's own fresh check, run before tsx
import { freshBundleEntry } from '../bin/fresh-bundle.js'
import { asciiComments, ensureBundle, freshBundle } from '../src/bundle.ts'
import { Launcher } from '../src/supervisor/launcher.ts'

/** A tiny repository with the two entries the bundler expects, a worker and an asset reference. */
function fixture(t: { teardown(fn: () => void): void }): string {
  const root = mkdtempSync(path.join(tmpdir(), 'calilab-bundle-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const file = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    writeFileSync(path.join(root, rel), text)
  }
  file('package.json', '{"type":"module"}\n')
  file('tsconfig.base.json', '{}\n')
  file('packages/cli/package.json', '{"type":"module"}\n')
  file('packages/cli/assets/a.txt', 'asset\n')
  file(
    'packages/cli/src/main.ts',
    "import { Doc, hello } from './lib.ts'\nprocess.stdout.write(hello() + '\\n'.repeat(new Doc().next(0)))\n",
  )
  file(
    'packages/cli/src/lib.ts',
    "export const hello = (): string => 'v1'\n/** A class member's doc comment, which esbuild keeps as written. */\nexport class Doc {\n  /** n → n + 1 */\n  next(n: number): number {\n    return n + 1\n  }\n}\nexport const asset = new URL('../assets/a.txt', import.meta.url).href\n",
  )
  file(
    'packages/cli/src/run/main.ts',
    [
      "import { Worker } from 'node:worker_threads'",
      "import { asset } from '../lib.ts'",
      "const url = new URL('./worker.ts', import.meta.url)",
      "const opts = { execArgv: ['--import', 'tsx'] }",
      'const w = new Worker(url, opts)',
      "w.once('message', (m: string) => { process.stdout.write(JSON.stringify({ asset, worker: m, execArgv: opts.execArgv }) + '\\n'); void w.terminate() })",
      '',
    ].join('\n'),
  )
  file(
    'packages/cli/src/run/worker.ts',
    "import { parentPort } from 'node:worker_threads'\nconst n: number = 41\nparentPort?.postMessage('worker ' + (n + 1))\n",
  )
  return root
}

t.test('the bundle builds, runs on plain node, is reused while unchanged and rebuilt on a change', async (t) => {
  const root = fixture(t)
  const progress: string[] = []
  const b1 = await ensureBundle({ root, onProgress: (m) => progress.push(m) })
  t.equal(b1.how, 'built')
  t.match(progress[0], /^building the process bundle \(esbuild, \d+ files, 1 worker\(s\)\)\.\.\.$/)
  t.match(progress[1], /^process bundle built in \d+ ms \(build\/bundle\/[0-9a-f]{16}\)$/)

  const main = spawnSync(process.execPath, [b1.entry], { encoding: 'utf8' })
  t.equal(main.stdout, 'v1\n', main.stderr)
  const run = spawnSync(process.execPath, [b1.run], { encoding: 'utf8' })
  t.equal(run.status, 0, run.stderr)
  const got = JSON.parse(run.stdout) as { asset: string; worker: string; execArgv: string[] }
  t.equal(got.asset, pathToFileURL(path.join(root, 'packages/cli/assets/a.txt')).href, 'assets resolve from the source')
  // Plain node cannot load worker.ts: an answer means the bundled worker ran.
  t.equal(got.worker, 'worker 42', 'the worker runs as its own bundled entry')
  t.ok(existsSync(path.join(path.dirname(b1.run), 'worker-cli-run-worker.mjs')))
  t.same(got.execArgv, [], 'a bundled worker needs no tsx')
  const outputs = readdirSync(path.dirname(b1.run)).filter((f) => f.endsWith('.mjs'))
  const text = outputs.map((f) => readFileSync(path.join(path.dirname(b1.run), f), 'utf8')).join('\n')
  t.match(text, /\/\*\* n \? n \+ 1 \*\//, 'the comment is kept, its arrow replaced')
  t.notMatch(text, /[^\x00-\x7f]/, 'outputs are plain ASCII (V8 keeps their sources one byte a character)')

  const again = await ensureBundle({ root })
  t.equal(again.how, 'fresh')
  t.equal(again.hash, b1.hash)
  t.equal(freshBundle({ root })?.entry, b1.entry)
  t.equal(freshBundleEntry(root), b1.entry, "the bin's check agrees")

  // Touched, same contents: stale by mtime, kept after hashing.
  const lib = path.join(root, 'packages/cli/src/lib.ts')
  const later = new Date(Date.now() + 5000)
  utimesSync(lib, later, later)
  t.equal(freshBundle({ root }), undefined)
  t.equal(freshBundleEntry(root), undefined)
  const touched = await ensureBundle({ root })
  t.equal(touched.how, 'rehashed')
  t.equal(touched.hash, b1.hash)
  t.equal((await ensureBundle({ root })).how, 'fresh')

  // Changed: rebuilt into a new folder; the old one stays for processes still running from it.
  writeFileSync(lib, readFileSync(lib, 'utf8').replace("'v1'", "'v2'"))
  t.equal(freshBundleEntry(root), undefined)
  const b2 = await ensureBundle({ root })
  t.equal(b2.how, 'built')
  t.not(b2.hash, b1.hash)
  t.equal(spawnSync(process.execPath, [b2.entry], { encoding: 'utf8' }).stdout, 'v2\n')
  t.equal(spawnSync(process.execPath, [b1.entry], { encoding: 'utf8' }).stdout, 'v1\n')
})

t.test('asciiComments replaces non-ASCII in comments only, one ? per UTF-16 unit', async (t) => {
  t.equal(asciiComments('const a = 1\n'), 'const a = 1\n', 'ASCII: unchanged')
  t.equal(asciiComments('// a → b\nx()'), '// a ? b\nx()')
  t.equal(asciiComments('/** n × m */'), '/** n ? m */')
  t.equal(asciiComments('  * µs and 😀\n'), '  * ?s and ??\n', 'a block comment line; an astral character is two units')
  t.equal(asciiComments('f("http://x") // ✓'), 'f("http://x") // ?', 'code before the comment is kept')
  t.equal(asciiComments('const re = /µs/ // µ'), 'const re = /µs/ // µ', 'non-ASCII in code: the line is left alone')
})

t.test('the launcher uses the bundle, falls back to tsx when it cannot build, and obeys CALILAB_TSX', async (t) => {
  const root = fixture(t)
  const lines: [string, boolean][] = []
  const l = new Launcher('auto', (m, warn) => lines.push([m, warn]), { root })
  const got = await l.resolve()
  t.equal(got.mode, 'bundle')
  t.match(got.script, /calilab-run\.mjs$/)
  t.match(l.describe(), /^processes run from the bundle build\/bundle\/[0-9a-f]{16}$/)
  t.equal((await l.resolve(true)).script, got.script, 'unchanged sources: the same bundle')

  writeFileSync(path.join(root, 'packages/cli/src/lib.ts'), 'export const hello = (: string =>\n')
  const broken = await l.resolve(true)
  t.equal(broken.mode, 'tsx')
  t.match(broken.script, /bin\/calilab\.js$/)
  t.ok(
    lines.some(([m, warn]) => warn && /^cannot bundle the processes \(.*\); they run under tsx$/.test(m)),
    'a warning says why',
  )

  const forced = new Launcher('tsx', () => {}, { root })
  t.equal((await forced.resolve()).mode, 'tsx')
  t.match(forced.describe(), /CALILAB_TSX/)
})
