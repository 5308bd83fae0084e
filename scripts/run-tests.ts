/**
 * Runs the whole tap suite, prints one line per test file (and the full TAP of any failure), and
 * ends with the summary line CI reads: `N passed, N failed`.
 * Usage: tsx scripts/run-tests.ts [tap args / test files]
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'

const args = process.argv.slice(2)
// The clusters the e2e files start run from the process bundle: build it once here, rather than
// in every test file at once (each would find it stale and build its own copy).
const bundled = spawnSync(process.execPath, ['packages/cli/bin/bundle.js'], { stdio: ['ignore', 'inherit', 'inherit'] })
if (bundled.status !== 0)
  process.stderr.write('process bundle: not built; the clusters will build it or run under tsx\n')
const child = spawn('npx', ['tap', '--reporter=tap', '--no-color', ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0' },
})

let passed = 0
let failed = 0
let skipped = 0
let buffer = ''
let block: string[] = []
const all: string[] = []

function onLine(line: string): void {
  all.push(line)
  block.push(line)
  // Tests directly inside a file are one level down (4 spaces).
  const inner = /^ {4}(not ok|ok) \d+/.exec(line)
  if (inner) {
    if (/# SKIP|# TODO/i.test(line)) skipped++
    else if (inner[1] === 'ok') passed++
    else failed++
  }
  const top = /^(not ok|ok) \d+ - (.*?)(?: # .*)?$/.exec(line)
  if (top) {
    process.stdout.write(`${top[1] === 'ok' ? 'ok    ' : 'FAILED'} ${top[2]}\n`)
    if (top[1] !== 'ok') process.stdout.write(`${block.join('\n')}\n`)
    block = []
  }
}

child.stdout.setEncoding('utf8')
child.stdout.on('data', (d: string) => {
  buffer += d
  let i = buffer.indexOf('\n')
  while (i >= 0) {
    onLine(buffer.slice(0, i))
    buffer = buffer.slice(i + 1)
    i = buffer.indexOf('\n')
  }
})

child.on('close', (code) => {
  if (buffer) onLine(buffer)
  mkdirSync('build', { recursive: true })
  writeFileSync('build/test-output.tap', `${all.join('\n')}\n`)
  if (code !== 0 && failed === 0) failed = 1
  const skip = skipped ? `, ${skipped} skipped` : ''
  process.stdout.write(`\nfull TAP output: build/test-output.tap\n${passed} passed, ${failed} failed${skip}\n`)
  process.exit(code ?? 1)
})
