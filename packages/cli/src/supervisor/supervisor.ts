import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { parseReadyLine, READY_PREFIX } from '@calilab/kit'
import type { Topology } from '@calilab/model'
import type { HomePaths } from '../home.ts'
import { sleep } from '../io.ts'
import { createKubeClient, type KubeClient } from '../kube.ts'
import { installAddons, installOperator } from './install.ts'
import { Launcher, type LaunchMode, launchModeFromEnv } from './launcher.ts'
import { CLI_BIN } from './paths.ts'
import { apiserverSpec, dependentSpecs, type ProcSpec, typhaSpec } from './specs.ts'
import { type EventKind, kubeconfigText, type ProcessState, type SupervisorState, writeState } from './state.ts'

export { CLI_BIN }

export interface SupervisorInit {
  paths: HomePaths
  topology: Topology
  mode: 'full' | 'bare'
  calico: 'installed' | 'operator'
  /** Called for each progress line (`apiserver ready (127.0.0.1:6443)`); `step` marks progress. */
  onEvent?: (msg: string, kind: EventKind) => void
  readyTimeoutMs?: number
  /** `tsx` runs the children through bin/calilab.js under tsx; default from `CALILAB_TSX`, else the bundle. */
  launch?: LaunchMode
}

interface Supervised {
  spec: ProcSpec
  state: ProcessState
  child?: ChildProcess | undefined
  /** Failures in a row (reset when an incarnation lived long enough). */
  failures: number
  readyWait?: { resolve: (info: Record<string, unknown>) => void; reject: (e: Error) => void } | undefined
  restartTimer?: NodeJS.Timeout | undefined
}

const BACKOFF_BASE_MS = 250
const BACKOFF_MAX_MS = 10_000
const STABLE_MS = 10_000
const STOP_GRACE_MS = 5_000

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

/** Fail fast, saying what to do, when a fixed port the topology names is taken. */
async function checkPortsFree(t: Topology): Promise<void> {
  if (t.apiserver.port === 0) return
  const wanted: [string, number][] = [['API server', t.apiserver.port]]
  for (let i = 0; i < t.typha.replicas; i++) wanted.push([`typha-${i}`, t.typha.basePort + i])
  for (const [what, port] of wanted) {
    if (!(await portFree(t.apiserver.host, port))) {
      throw new Error(
        `${t.apiserver.host}:${port} (the ${what} port) is already in use. Is another calilab running? ` +
          'Check with `calilab status` (or `CALILAB_HOME=DIR calilab status`) and stop it with `calilab down`, ' +
          'or start this one with a topology file that uses other ports (`calilab up --topology FILE`).',
      )
    }
  }
}

export function backoffMs(failures: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1))
}

/**
 * Starts every process of one calilab instance as `calilab run ...` children, waits for their
 * ready lines, restarts crashed ones with exponential backoff and keeps run/state.json current.
 */
export class Supervisor {
  readonly init: SupervisorInit
  readonly state: SupervisorState
  private readonly procs: Supervised[] = []
  private stopping = false
  private apiUrl = ''
  private typhaAddrs: string[] = []
  private client: KubeClient | undefined
  private readonly launcher: Launcher

  constructor(init: SupervisorInit) {
    this.init = init
    this.state = {
      version: 1,
      home: init.paths.home,
      supervisor: { pid: process.pid, started: new Date().toISOString() },
      mode: init.mode,
      phase: 'starting',
      nodes: init.topology.hosts.filter((h) => h.role !== 'router').map((h) => h.name),
      processes: [],
      events: [],
    }
    this.launcher = new Launcher(init.launch ?? launchModeFromEnv(process.env), (msg, warn) =>
      this.event(msg, warn ? 'warn' : 'info'),
    )
  }

  private save(): void {
    this.state.processes = this.procs.map((p) => p.state)
    try {
      writeState(this.init.paths.state, this.state)
    } catch (e) {
      // The home was removed under a running cluster (supervise stops it then): nothing to write to.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
  }

  private event(msg: string, kind: EventKind = 'step'): void {
    this.state.events.push({ t: new Date().toISOString(), msg, kind })
    if (this.state.events.length > 500) this.state.events.splice(0, this.state.events.length - 500)
    this.save()
    this.init.onEvent?.(msg, kind)
  }

  /** Brings everything up; resolves when the instance is ready, rejects (phase failed) otherwise. */
  async start(): Promise<void> {
    const { paths } = this.init
    for (const d of [paths.data, paths.logs, paths.run]) mkdirSync(d, { recursive: true })
    this.save()
    // Before the ready timeout starts: a cold build takes a second or two.
    const launch = await this.launcher.resolve()
    this.state.launch = { mode: launch.mode, script: launch.script }
    this.event(this.launcher.describe(), 'info')
    const timeout = this.init.readyTimeoutMs ?? 60_000
    const deadline = Date.now() + timeout
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(this.notReadyMessage(timeout))), timeout)
    })
    try {
      await Promise.race([this.bringUp(timeout, deadline), expired])
    } catch (e) {
      this.state.phase = 'failed'
      this.state.error = (e as Error).message
      this.save()
      throw e
    } finally {
      clearTimeout(timer)
    }
  }

  private notReadyMessage(timeout: number): string {
    const bad = this.procs.filter((p) => p.state.health !== 'ready')
    const what = bad.length
      ? bad
          .map((p) => `${this.label(p)} ${p.state.health} (restarts ${p.state.restarts}; log ${p.spec.logFile})`)
          .join(', ')
      : 'the cluster did not reach its ready state'
    return `calilab did not come up within ${Math.round(timeout / 1000)} s: ${what}`
  }

  private async bringUp(timeout: number, deadline: number): Promise<void> {
    const { paths, topology } = this.init
    await checkPortsFree(topology)
    {
      const api = this.add(apiserverSpec(topology, paths, topology.apiserver.port))
      const info = await this.launch(api, timeout)
      const port = Number(info['port'])
      const host = String(info['host'] ?? topology.apiserver.host)
      this.apiUrl = typeof info['url'] === 'string' ? info['url'] : `http://${host}:${port}`
      this.state.apiserver = { url: this.apiUrl, host, port }
      // A restart keeps the port it got, so nodes and the kubeconfig stay valid.
      api.spec = apiserverSpec(topology, paths, port)
      writeFileSync(paths.kubeconfig, kubeconfigText(this.apiUrl))
      this.event(`apiserver ready (${host}:${port})`)
      this.client = createKubeClient({ server: this.apiUrl, userAgent: 'calilab-supervisor' })

      const all = dependentSpecs(topology, paths, this.init.calico).map((s) => this.add(s))
      // Typha first: the node agents are given its addresses (Felix reads the datastore through it).
      const typhas = all.filter((p) => p.spec.component === 'typha')
      const deps = all.filter((p) => p.spec.component !== 'typha')
      const addrs = await Promise.all(
        typhas.map(async (p, i) => {
          const ri = await this.launch(p, deadline - Date.now())
          const port = Number(ri['port'])
          p.spec = typhaSpec(topology, paths, i, port)
          this.event(`${p.spec.instance} ready (${topology.apiserver.host}:${port})`)
          return `${topology.apiserver.host}:${port}`
        }),
      )
      this.typhaAddrs = addrs
      const client = this.client
      const install = installAddons(client).then(async (addons) => {
        for (const l of addons) this.event(l, 'info')
        this.event('cluster DNS (coredns) installed')
        if (this.init.mode !== 'full') return
        for (const l of await installOperator(client)) this.event(l, 'info')
        this.event('calico operator installed')
      })
      await Promise.all([
        install,
        ...deps.map(async (p) => {
          const ri = await this.launch(p, deadline - Date.now())
          const where = ri['port'] !== undefined ? ` (${String(ri['host'] ?? '127.0.0.1')}:${String(ri['port'])})` : ''
          const name = p.spec.instance ?? (p.spec.node ? `${p.spec.component} ${p.spec.node}` : p.spec.component)
          this.event(`${name} ready${where}${ri['placeholder'] ? ' [placeholder]' : ''}`)
        }),
      ])
      await this.waitForCluster(deadline)
      this.state.phase = 'ready'
      const n = this.state.nodes.length
      this.event(
        `calilab is up: ${n} node${n === 1 ? '' : 's'}, apiserver ${this.apiUrl}, kubeconfig ${paths.kubeconfig}`,
      )
    }
  }

  private add(spec: ProcSpec): Supervised {
    const p: Supervised = {
      spec,
      failures: 0,
      state: {
        component: spec.component,
        ...(spec.node ? { node: spec.node } : {}),
        ...(spec.instance ? { instance: spec.instance } : {}),
        restarts: 0,
        health: 'starting',
        logFile: spec.logFile,
      },
    }
    this.procs.push(p)
    return p
  }

  /** Spawns one incarnation and resolves with its ready line. */
  private launch(p: Supervised, timeoutMs: number): Promise<Record<string, unknown>> {
    const fd = openSync(p.spec.logFile, 'a')
    const offset = fstatSync(fd).size
    const args = [
      ...(p.spec.execArgv ?? []),
      this.launcher.launch.script,
      'run',
      p.spec.component,
      ...p.spec.args({ api: this.apiUrl, typha: this.typhaAddrs }),
    ]
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', fd, fd],
      detached: true,
      env: { ...process.env, CALILAB_HOME: this.init.paths.home },
    })
    closeSync(fd)
    p.child = child
    const startedAt = Date.now()
    if (child.pid !== undefined) p.state.pid = child.pid
    p.state.started = new Date(startedAt).toISOString()
    p.state.health = 'starting'
    delete p.state.ready
    this.save()

    const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
      p.readyWait = { resolve, reject }
    })
    let readPos = offset
    let partial = ''
    const poll = setInterval(() => {
      let fdr: number
      try {
        fdr = openSync(p.spec.logFile, 'r')
      } catch {
        return
      }
      try {
        const buf = Buffer.alloc(64 * 1024)
        for (;;) {
          const n = readSync(fdr, buf, 0, buf.length, readPos)
          if (n <= 0) break
          readPos += n
          partial += buf.subarray(0, n).toString('utf8')
        }
      } finally {
        closeSync(fdr)
      }
      const lines = partial.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        if (!line.startsWith(READY_PREFIX)) continue
        const info = parseReadyLine(line)
        if (info && p.child === child) {
          clearInterval(poll)
          p.state.health = 'ready'
          p.state.ready = info
          this.save()
          p.readyWait?.resolve(info)
          p.readyWait = undefined
          return
        }
      }
    }, 50)
    const timer = setTimeout(
      () => {
        clearInterval(poll)
        p.readyWait?.reject(
          new Error(
            `${this.label(p)} did not become ready within ${Math.round(timeoutMs / 1000)} s; see ${p.spec.logFile}`,
          ),
        )
        p.readyWait = undefined
      },
      Math.max(1000, timeoutMs),
    )
    ready.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    )
    child.on('exit', (code, signal) => {
      clearInterval(poll)
      clearTimeout(timer)
      if (p.child !== child) return
      p.child = undefined
      if (this.stopping) {
        p.state.health = 'stopped'
        this.save()
        return
      }
      const lived = Date.now() - startedAt
      p.failures = lived > STABLE_MS ? 1 : p.failures + 1
      const delay = backoffMs(p.failures)
      p.state.restarts++
      p.state.health = 'restarting'
      this.event(
        `${this.label(p)} exited (${signal ? `signal ${signal}` : `code ${code}`}); restarting in ${delay} ms (restart ${p.state.restarts})`,
        'warn',
      )
      const waiter = p.readyWait
      p.readyWait = undefined
      p.restartTimer = setTimeout(async () => {
        p.restartTimer = undefined
        // The sources as they are now (rebuilt when stale), as a restart under tsx would run them.
        const l = await this.launcher.resolve(true)
        this.state.launch = { mode: l.mode, script: l.script }
        if (this.stopping) return
        const again = this.launch(p, 60_000)
        if (waiter) again.then(waiter.resolve, waiter.reject)
        again.then(
          () => this.event(`${this.label(p)} ready again (pid ${p.state.pid})`, 'info'),
          (e: Error) => this.event(e.message, 'warn'),
        )
      }, delay)
    })
    return ready
  }

  private label(p: Supervised): string {
    return p.spec.instance ?? (p.spec.node ? `${p.spec.component} ${p.spec.node}` : p.spec.component)
  }

  /** Nodes registered (bare) or Ready with tigerastatus calico Available (full). */
  private async waitForCluster(deadline: number): Promise<void> {
    const client = this.client
    if (!client) return
    const registered = new Set<string>()
    const readySet = new Set<string>()
    const want = this.state.nodes
    let tigera = this.init.mode !== 'full'
    let lastErr = ''
    while (Date.now() < deadline) {
      try {
        const list = await client.list<{
          metadata: { name?: string }
          status?: { conditions?: { type: string; status: string }[] }
        }>('/api/v1/nodes')
        for (const n of list.items) {
          const name = n.metadata.name ?? ''
          if (!want.includes(name)) continue
          if (!registered.has(name)) {
            registered.add(name)
            this.event(`node ${name} registered`)
          }
          const ok = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          if (this.init.mode === 'full' && ok && !readySet.has(name)) {
            readySet.add(name)
            this.event(`node ${name} Ready`)
          }
        }
        if (!tigera) {
          try {
            const ts = await client.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
              '/apis/operator.tigera.io/v1/tigerastatuses/calico',
            )
            if (ts.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True')) {
              tigera = true
              this.event('tigerastatus calico Available')
            }
          } catch {
            // not there yet
          }
        }
        const nodesDone = this.init.mode === 'full' ? readySet.size === want.length : registered.size === want.length
        if (nodesDone && tigera) return
      } catch (e) {
        lastErr = (e as Error).message
      }
      await sleep(100)
    }
    const missing =
      this.init.mode === 'full'
        ? want.filter((n) => !readySet.has(n)).map((n) => `${n} not Ready`)
        : want.filter((n) => !registered.has(n)).map((n) => `${n} not registered`)
    if (!tigera) missing.push('tigerastatus calico not Available')
    throw new Error(
      `calilab did not come up in time: ${missing.join(', ')}${lastErr ? ` (last error: ${lastErr})` : ''}; see the logs in ${this.init.paths.logs}`,
    )
  }

  /** SIGTERM to every child, SIGKILL after a grace period; removes run/state.json. */
  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    this.state.phase = 'stopping'
    this.save()
    this.client?.close()
    for (const p of this.procs) {
      if (p.restartTimer) clearTimeout(p.restartTimer)
    }
    const live = this.procs.filter((p) => p.child && p.child.exitCode === null && p.child.signalCode === null)
    await Promise.all(
      live.map(
        (p) =>
          new Promise<void>((resolve) => {
            const child = p.child
            if (!child) return resolve()
            const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
            child.once('exit', () => {
              clearTimeout(kill)
              resolve()
            })
            child.kill('SIGTERM')
          }),
      ),
    )
    for (const p of this.procs) p.state.health = 'stopped'
    if (existsSync(this.init.paths.state)) rmSync(this.init.paths.state, { force: true })
  }
}
