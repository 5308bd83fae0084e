/**
 * Shared benchmark reporting: each bench returns rows; run.ts prints them and rewrites its own
 * section of docs/BENCHMARKS.md (between `<!-- bench:NAME -->` markers) with the machine it ran on.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'

export interface BenchRow {
  metric: string
  value: number
  unit: string
  /** e.g. '>= 2000' — shown beside the value with a pass/fail mark. */
  target?: string
  note?: string
}

export interface BenchResult {
  name: string
  title: string
  rows: BenchRow[]
  notes?: string[]
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  return `${os.cpus().length} × ${cpu.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`
}

function meets(value: number, target: string | undefined): string {
  if (!target) return ''
  const m = /^(>=|<=)\s*([\d.]+)/.exec(target)
  if (!m) return ''
  const t = Number(m[2])
  return (m[1] === '>=' ? value >= t : value <= t) ? ' ✓' : ' ✗'
}

export function fmt(v: number): string {
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US')
  if (Math.abs(v) >= 10) return v.toFixed(1)
  return v.toFixed(2)
}

export function renderMarkdown(r: BenchResult, when: Date): string {
  const lines = [
    `## ${r.title}`,
    '',
    `Run ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}.`,
    '',
    '| metric | value | target | note |',
    '|---|---:|---|---|',
    ...r.rows.map(
      (row) =>
        `| ${row.metric} | ${fmt(row.value)} ${row.unit} | ${row.target ?? ''}${meets(row.value, row.target)} | ${row.note ?? ''} |`,
    ),
  ]
  if (r.notes?.length) lines.push('', ...r.notes.map((n) => `- ${n}`))
  return lines.join('\n')
}

export function printResult(r: BenchResult): void {
  process.stdout.write(`\n${r.title}\n`)
  for (const row of r.rows) {
    process.stdout.write(
      `  ${row.metric.padEnd(58)} ${fmt(row.value).padStart(12)} ${row.unit.padEnd(10)} ${row.target ?? ''}${meets(row.value, row.target)}\n`,
    )
  }
}

export function writeSection(file: string, r: BenchResult, when = new Date()): void {
  const begin = `<!-- bench:${r.name} -->`
  const end = `<!-- /bench:${r.name} -->`
  const body = `${begin}\n${renderMarkdown(r, when)}\n${end}`
  let text = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nWritten by `npm run bench` (bench/). Each section records the machine it ran on.\n'
  const i = text.indexOf(begin)
  const j = text.indexOf(end)
  if (i >= 0 && j > i) text = text.slice(0, i) + body + text.slice(j + end.length)
  else text = `${text.trimEnd()}\n\n${body}\n`
  writeFileSync(file, text)
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx] as number
}
