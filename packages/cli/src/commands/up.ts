import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type Topology, validateTopology } from '@calilab/model'
import { SingleBar } from 'cli-progress'
import { type HomePaths, resolveHome } from '../home.ts'
import { CliError, err, out, sleep } from '../io.ts'
import { type EventKind, isCalilabPid, pidAlive, readState, type SupervisorState } from '../supervisor/state.ts'
import { CLI_BIN, Supervisor } from '../supervisor/supervisor.ts'
import { resolveTopology } from '../topology.ts'

export interface UpOptions {
  topology?: string
  nodes?: number
  bare?: boolean
  detach?: boolean
  home?: string
  timeout?: number
  calico?: 'installed' | 'operator'
}

/** Progress: a bar in a TTY, plain lines otherwise. */
class Progress {
  private bar: SingleBar | undefined
  private value = 0
  constructor(total: number) {
    if (process.stdout.isTTY) {
      this.bar = new SingleBar({
        format: 'calilab up [{bar}] {value}/{total} {msg}',
        hideCursor: true,
        clearOnComplete: false,
      })
      this.bar.start(total, 0, { msg: 'starting' })
    }
  }
  event(msg: string, kind: EventKind): void {
    if (this.bar) {
      if (kind === 'step') this.value++
      this.bar.update(this.value, { msg })
      return
    }
    out(kind === 'warn' ? `warning: ${msg}` : kind === 'info' ? `  ${msg}` : msg)
  }
  done(): void {
    this.bar?.stop()
  }
}

function totalSteps(t: Topology, bare: boolean): number {
  const nodes = t.hosts.filter((h) => h.role !== 'router').length
  const routers = t.hosts.length - nodes
  // apiserver, typhas, routers, nodes started, nodes registered, final line
  let n = 1 + t.typha.replicas + routers + nodes * 2 + 1
  if (!bare) n += 1 + nodes + 1 // operator install, nodes Ready, tigerastatus
  return n
}

/** State of a supervisor still running for this home, if any. */
export function liveState(paths: HomePaths): SupervisorState | undefined {
  const s = readState(paths.state)
  if (s && isCalilabPid(s.supervisor.pid)) return s
  return undefined
}

/** Kills the processes a dead supervisor left behind (its own children, by recorded PID). */
export function cleanStale(paths: HomePaths): number {
  const s = readState(paths.state)
  if (!s) return 0
  let killed = 0
  for (const p of s.processes) {
    if (p.pid && isCalilabPid(p.pid)) {
      try {
        process.kill(p.pid, 'SIGKILL')
        killed++
      } catch {
        // already gone
      }
    }
  }
  rmSync(paths.state, { force: true })
  return killed
}

export async function up(opts: UpOptions): Promise<number> {
  const paths = resolveHome(opts.home)
  const topology = resolveTopology({
    ...(opts.topology ? { topology: opts.topology } : {}),
    ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}),
  })
  const live = liveState(paths)
  if (live) {
    if (live.phase === 'ready') {
      out(
        `calilab is already running here (supervisor pid ${live.supervisor.pid}, apiserver ${live.apiserver?.url ?? '?'}); see: calilab status`,
      )
      return 0
    }
    if (live.phase === 'starting') {
      out(`calilab is already starting here (supervisor pid ${live.supervisor.pid}); waiting for it`)
      return waitDetached(paths, live.supervisor.pid, new Progress(totalSteps(topology, live.mode === 'bare')), 0, opts)
    }
  }
  const stale = cleanStale(paths)
  if (stale > 0) err(`cleaned up ${stale} process(es) left by a previous supervisor that is gone`)
  for (const d of [paths.home, paths.data, paths.logs, paths.run]) mkdirSync(d, { recursive: true })
  writeFileSync(paths.topology, `${JSON.stringify(topology, null, 2)}\n`)
  const bare = opts.bare === true
  const progress = new Progress(totalSteps(topology, bare))

  if (opts.detach) {
    const fd = openSync(paths.supervisorLog, 'a')
    const args = [CLI_BIN, 'supervise', '--home', paths.home]
    if (bare) args.push('--bare')
    if (opts.timeout !== undefined) args.push('--timeout', String(opts.timeout))
    if (opts.calico) args.push('--calico', opts.calico)
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env })
    child.unref()
    return waitDetached(paths, child.pid ?? 0, progress, 0, opts)
  }

  const sup = new Supervisor({
    paths,
    topology,
    mode: bare ? 'bare' : 'full',
    calico: opts.calico ?? 'operator',
    onEvent: (m, k) => progress.event(m, k),
    readyTimeoutMs: (opts.timeout ?? 60) * 1000,
  })
  const stopAndExit = async (sig: string) => {
    progress.done()
    out(`${sig}: stopping calilab...`)
    await sup.stop()
    out('calilab stopped')
    process.exit(0)
  }
  process.once('SIGINT', () => void stopAndExit('SIGINT'))
  process.once('SIGTERM', () => void stopAndExit('SIGTERM'))
  try {
    await sup.start()
  } catch (e) {
    progress.done()
    err(`error: ${(e as Error).message}`)
    await sup.stop()
    return 1
  }
  progress.done()
  out('calilab is running in the foreground; press Ctrl-C to stop it (or use `calilab up --detach`)')
  // Keep the process alive: children are watched by the supervisor.
  await stopWhenHomeRemoved(paths.home, sup, (m) => err(`warning: ${m}`))
  return 0
}

async function waitDetached(
  paths: HomePaths,
  pid: number,
  progress: Progress,
  seen: number,
  opts: UpOptions,
): Promise<number> {
  const deadline = Date.now() + ((opts.timeout ?? 60) + 15) * 1000
  while (Date.now() < deadline) {
    const s = readState(paths.state)
    if (s && s.supervisor.pid === pid) {
      for (const e of s.events.slice(seen)) {
        progress.event(e.msg, e.kind ?? 'step')
      }
      seen = s.events.length
      if (s.phase === 'ready') {
        progress.done()
        return 0
      }
      if (s.phase === 'failed') {
        progress.done()
        err(`error: ${s.error ?? 'calilab failed to start'}`)
        return 1
      }
    }
    if (!pidAlive(pid)) {
      progress.done()
      let tail = ''
      try {
        tail = readFileSync(paths.supervisorLog, 'utf8').split('\n').slice(-15).join('\n')
      } catch {
        // no log
      }
      throw new CliError(
        `the calilab supervisor exited before the cluster was ready; its log (${paths.supervisorLog}):\n${tail}`,
      )
    }
    await sleep(50)
  }
  progress.done()
  throw new CliError(`timed out waiting for calilab to come up; see calilab status and ${paths.logs}`)
}

/** The hidden `supervise` command a detached `up` starts. */
export async function supervise(opts: {
  home?: string
  bare?: boolean
  timeout?: number
  calico?: 'installed' | 'operator'
}): Promise<number> {
  const paths = resolveHome(opts.home)
  const r = validateTopology(JSON.parse(readFileSync(paths.topology, 'utf8')))
  if (!r.ok) throw new CliError(`bad topology in ${paths.topology}`)
  const log = (m: string, kind: EventKind) =>
    out(`${new Date().toISOString()} ${kind === 'warn' ? 'warning: ' : ''}${m}`)
  const sup = new Supervisor({
    paths,
    topology: r.topology,
    mode: opts.bare ? 'bare' : 'full',
    calico: opts.calico ?? 'operator',
    onEvent: log,
    readyTimeoutMs: (opts.timeout ?? 60) * 1000,
  })
  const stop = async (sig: string) => {
    log(`${sig}: stopping`, 'info')
    await sup.stop()
    log('stopped', 'info')
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGHUP', () => {})
  try {
    await sup.start()
  } catch (e) {
    log(`failed: ${(e as Error).message}`, 'warn')
    // Stay up (phase failed) briefly so `up` reads the error, then stop the children.
    await sleep(1500)
    await sup.stop()
    return 1
  }
  await stopWhenHomeRemoved(paths.home, sup, (m) => log(m, 'warn'))
  return 0
}

/** How often a running supervisor checks that its home directory still exists. */
const HOME_WATCH_MS = 2000

/**
 * Resolves once the cluster stopped because its home is gone: removed without `calilab down` (a
 * killed test run, a user's rm -rf), the CLI can no longer reach it, so its processes must not run on.
 */
function stopWhenHomeRemoved(home: string, sup: Supervisor, log: (msg: string) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const watch = setInterval(() => {
      if (existsSync(home)) return
      clearInterval(watch)
      log(`home ${home} removed: stopping`)
      void sup.stop().then(resolve, resolve)
    }, HOME_WATCH_MS)
  })
}
