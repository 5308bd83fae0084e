import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseReadyLine } from '@calilab/kit'

/** Start a child under tsx and wait for its CALILAB_READY line. */
export async function startReady(
  script: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const prof = process.env['CALILAB_BENCH_PROF']
    ? ['--cpu-prof', '--cpu-prof-dir', process.env['CALILAB_BENCH_PROF']]
    : []
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script}: no ready line in ${timeoutMs} ms`)), timeoutMs)
    rl.on('line', (l) => {
      const r = parseReadyLine(l)
      if (r) {
        clearTimeout(timer)
        resolve(r)
      }
    })
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)))
  })
  return { child, ready }
}

/** CPU seconds (user+system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return Number.NaN
  }
}
