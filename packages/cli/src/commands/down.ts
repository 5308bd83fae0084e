import { rmSync } from 'node:fs'
import { notRunningError, resolveHome } from '../home.ts'
import { out, sleep } from '../io.ts'
import { isCalilabPid, readState } from '../supervisor/state.ts'

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms
  let left = pids.filter((p) => isCalilabPid(p))
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50)
    left = left.filter((p) => isCalilabPid(p))
  }
  return left
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // gone
  }
}

/** Stops the supervisor and every process it started (by recorded PID): SIGTERM, then SIGKILL. */
export async function down(opts: { home?: string; grace?: number }): Promise<number> {
  const paths = resolveHome(opts.home)
  const s = readState(paths.state)
  if (!s) throw notRunningError(paths)
  const grace = (opts.grace ?? 8) * 1000
  const children = s.processes.map((p) => p.pid).filter((p): p is number => typeof p === 'number')
  const sup = s.supervisor.pid
  if (isCalilabPid(sup)) {
    signal(sup, 'SIGTERM')
    const left = await waitGone([sup], grace)
    if (left.length) signal(sup, 'SIGKILL')
  }
  // Whatever the supervisor did not stop (it was killed, or it is gone), stop here.
  const alive = children.filter((p) => isCalilabPid(p))
  for (const p of alive) signal(p, 'SIGTERM')
  const stubborn = await waitGone(alive, grace)
  for (const p of stubborn) signal(p, 'SIGKILL')
  await waitGone(stubborn, 2000)
  rmSync(paths.state, { force: true })
  out(`calilab stopped (${children.length} processes); data kept in ${paths.data}`)
  return 0
}
