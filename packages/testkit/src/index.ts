/**
 * Test-only helpers: run processes, poll with eventually(), temp dirs, and whole clusters started
 * through the real CLI (`calilab up --detach`) on loopback with an ephemeral API server port.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateTopology, type Topology } from '@calilab/model'

export const CLI_BIN = fileURLToPath(new URL('../../cli/bin/calilab.js', import.meta.url))
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
/** The project's shared/ folder (lab manifests, reference): beside the repository, or $CALILAB_SHARED. */
export const SHARED_DIR = process.env['CALILAB_SHARED'] ?? path.resolve(REPO_ROOT, '..', 'shared')
/** The CCO-L1 lab manifests. */
export const LAB_DIR = path.join(SHARED_DIR, 'lab')
export const KUBECTL = process.env['CALILAB_TEST_KUBECTL'] ?? '/usr/bin/kubectl'

export interface ProcessResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  input?: string
  timeoutMs?: number
}

/** Runs a command to completion (killed after timeoutMs, code 124) and collects its output. */
export function runProcess(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 120_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: timedOut ? 124 : (code ?? 1), stdout, stderr })
    })
    if (opts.input !== undefined) child.stdin.end(opts.input)
    else child.stdin.end()
  })
}

export interface EventuallyOptions {
  timeoutMs?: number
  intervalMs?: number
}

/** Polls fn until it returns without throwing; rethrows its last error after timeoutMs. */
export async function eventually<T>(fn: () => T | Promise<T>, opts: EventuallyOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
  let last: unknown
  for (;;) {
    try {
      return await fn()
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw last
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100))
  }
}

export function tempDir(prefix = 'calilab-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix))
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

export interface ClusterOptions {
  /** Kubernetes nodes (control + workers); default 3 (the lab). */
  nodes?: number
  /** No Calico installed (nodes NotReady). */
  bare?: boolean
  /** A topology to start from; the API server port is made ephemeral and endpoints unique. */
  topology?: Topology
  /** State directory; default a fresh temp dir, removed by stop(). */
  home?: string
  /** Seconds `up` waits for readiness. */
  timeoutSec?: number
}

export interface Cluster {
  home: string
  kubeconfig: string
  apiUrl: string
  topology: Topology
  /** What `calilab up` printed (its progress lines). */
  upOutput: string
  /** `calilab ARGS` with this cluster's home. */
  cli(args: readonly string[], opts?: RunOptions): Promise<ProcessResult>
  /** The real kubectl with this cluster's kubeconfig. */
  kubectl(args: readonly string[], opts?: RunOptions): Promise<ProcessResult>
  /** `calilab down` (and removes the temp home). */
  stop(): Promise<ProcessResult>
}

/**
 * Gives every host a loopback endpoint in a /16 of its own (127.<a>.<b>.x), so two clusters can
 * run at once without their BGP/underlay sockets colliding, and makes the API server port ephemeral.
 */
export function isolatedTopology(base: Topology, seed = process.pid + Date.now()): Topology {
  const t = structuredClone(base)
  const a = 100 + (seed % 150)
  const b = Math.floor(seed / 150) % 250
  t.apiserver.port = 0
  t.hosts = t.hosts.map((h) => {
    const last = h.endpoint.split('.')[3] ?? '1'
    return { ...h, endpoint: `127.${a}.${b}.${last}` }
  })
  return t
}

/**
 * `calilab up --detach` through the CLI's bin, so the processes start the way users get them: the
 * supervisor runs them from the process bundle (built or reused first), and `cli()` runs the
 * bundled CLI while the bundle is fresh. `CALILAB_TSX=1` in the environment runs all under tsx.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const ownHome = opts.home === undefined
  const home = opts.home ?? tempDir('calilab-cluster-')
  const topology = isolatedTopology(opts.topology ?? generateTopology(opts.nodes ?? 3))
  const topoFile = path.join(home, 'topology.yaml')
  writeFileSync(topoFile, JSON.stringify(topology, null, 2))
  const env = { CALILAB_HOME: home, FORCE_COLOR: '0' }
  const cli = (args: readonly string[], o: RunOptions = {}) =>
    runProcess(process.execPath, [CLI_BIN, ...args], { ...o, env: { ...env, ...o.env } })
  const args = ['up', '--detach', '--home', home, '--topology', topoFile, '--timeout', String(opts.timeoutSec ?? 60)]
  if (opts.bare) args.push('--bare')
  const r = await cli(args, { timeoutMs: ((opts.timeoutSec ?? 60) + 30) * 1000 })
  const kubeconfig = path.join(home, 'kubeconfig')
  const stop = async () => {
    const res = await cli(['down', '--home', home])
    if (ownHome) removeDir(home)
    return res
  }
  if (r.code !== 0) {
    await stop().catch(() => undefined)
    throw new Error(`calilab up failed (code ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
  const state = JSON.parse(readFileSync(path.join(home, 'run', 'state.json'), 'utf8')) as {
    apiserver?: { url: string }
  }
  return {
    home,
    kubeconfig,
    apiUrl: state.apiserver?.url ?? '',
    topology,
    upOutput: r.stdout,
    cli,
    kubectl: (a, o = {}) => runProcess(KUBECTL, ['--kubeconfig', kubeconfig, ...a], o),
    stop,
  }
}
