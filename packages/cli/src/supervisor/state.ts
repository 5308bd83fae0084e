import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'

export type Health = 'starting' | 'ready' | 'restarting' | 'failed' | 'stopped'

export interface ProcessState {
  component: string
  node?: string
  instance?: string
  pid?: number
  /** ISO time the current incarnation started. */
  started?: string
  restarts: number
  health: Health
  logFile: string
  /** The fields of its ready line. */
  ready?: Record<string, unknown>
}

export type EventKind = 'step' | 'info' | 'warn'

export interface SupervisorEvent {
  t: string
  msg: string
  kind: EventKind
}

export interface SupervisorState {
  version: 1
  home: string
  supervisor: { pid: number; started: string }
  mode: 'full' | 'bare'
  phase: 'starting' | 'ready' | 'failed' | 'stopping'
  error?: string
  apiserver?: { url: string; host: string; port: number }
  /** How the children are started: from the process bundle (its calilab-run.mjs) or under tsx. */
  launch?: { mode: 'bundle' | 'tsx'; script: string }
  nodes: string[]
  processes: ProcessState[]
  events: SupervisorEvent[]
}

export function readState(file: string): SupervisorState | undefined {
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SupervisorState
  } catch {
    return undefined
  }
}

export function writeState(file: string, s: SupervisorState): void {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`)
  renameSync(tmp, file)
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  // A zombie is not alive.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z'
  } catch {
    return true
  }
}

/** True when `pid` is alive and its command line is a calilab process (guards against PID reuse). */
export function isCalilabPid(pid: number | undefined): boolean {
  if (!pidAlive(pid)) return false
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return cmd.includes('calilab')
  } catch {
    return true
  }
}

/** `1h2m`, `3m4s`, `12s`. */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h${m % 60}m`
  return `${Math.floor(h / 24)}d${h % 24}h`
}

export function kubeconfigText(server: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: calilab
  cluster:
    server: ${server}
contexts:
- name: calilab
  context:
    cluster: calilab
    namespace: default
    user: calilab
current-context: calilab
preferences: {}
users:
- name: calilab
  user: {}
`
}
