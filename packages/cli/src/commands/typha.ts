/**
 * `calilab typha status`: every Typha replica the supervisor runs, from its `/status` (JSON) and
 * `/metrics` (Prometheus text), as a calicoctl-style table, then one row per connected client.
 * DELTAS/S is measured: /metrics is read twice, `--interval` seconds apart.
 */
import { notRunningError, resolveHome } from '../home.ts'
import { CliError, out, sleep } from '../io.ts'
import { readState } from '../supervisor/state.ts'
import { formatTable } from '../table.ts'

/** One sample of a Prometheus text exposition: metric name -> [{labels, value}]. */
export type PromSamples = Map<string, { labels: Record<string, string>; value: number }[]>

/** Parse Prometheus text format (0.0.4): comments skipped, label values unescaped. */
export function parsePromText(text: string): PromSamples {
  const out: PromSamples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    const body = m[3] ?? ''
    for (const l of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\n/g, '\n').replace(/\\(.)/g, '$1')
    }
    const value = Number(m[4])
    const name = m[1] as string
    const list = out.get(name)
    if (list) list.push({ labels, value })
    else out.set(name, [{ labels, value }])
  }
  return out
}

/** Sum of a metric's samples whose labels match `where` (every given label equal). */
export function promSum(s: PromSamples, name: string, where: Record<string, string | string[]> = {}): number {
  let sum = 0
  for (const x of s.get(name) ?? []) {
    let ok = true
    for (const [k, v] of Object.entries(where)) {
      const got = x.labels[k]
      if (Array.isArray(v) ? !v.includes(got ?? '') : got !== v) ok = false
    }
    if (ok && Number.isFinite(x.value)) sum += x.value
  }
  return sum
}

/** What Typha's /status answers. */
export interface TyphaStatusDoc {
  serverId: string
  inSync: boolean
  revision: number
  entries: number
  clients: {
    id?: number
    nodeName?: string
    syncerType?: string
    state: string
    remote?: string
    lagRevisions: number
    queuedBytes: number
    bytesWritten: number
  }[]
}

export interface TyphaReplicaReport {
  name: string
  address: string
  metricsAddress: string
  pid?: number
  /** Set when the replica did not answer. */
  error?: string
  status?: TyphaStatusDoc
  clients: Record<string, number>
  snapshots: number
  deltasPerSec: number
  deltaUpdatesTotal: number
  bytesOut: number
  lagDisconnects: number
  encodes: Record<string, number>
}

const SYNCERS = ['felix', 'bgp'] as const

/** The replica's numbers from its status document and two /metrics samples `seconds` apart. */
export function summarizeReplica(
  base: { name: string; address: string; metricsAddress: string; pid?: number },
  status: TyphaStatusDoc,
  before: PromSamples,
  after: PromSamples,
  seconds: number,
): TyphaReplicaReport {
  const clients: Record<string, number> = {}
  for (const t of SYNCERS) clients[t] = promSum(after, 'calilab_typha_connections', { syncer: t })
  const encodes: Record<string, number> = {}
  for (const x of after.get('calilab_typha_encodes_total') ?? []) {
    const k = x.labels['kind'] ?? '?'
    encodes[k] = (encodes[k] ?? 0) + x.value
  }
  const d0 = promSum(before, 'calilab_typha_delta_updates_total')
  const d1 = promSum(after, 'calilab_typha_delta_updates_total')
  return {
    ...base,
    status,
    clients,
    snapshots: promSum(after, 'calilab_typha_snapshots_total'),
    deltasPerSec: seconds > 0 ? Math.max(0, d1 - d0) / seconds : 0,
    deltaUpdatesTotal: d1,
    bytesOut: promSum(after, 'calilab_typha_bytes_out_total'),
    lagDisconnects: promSum(after, 'calilab_typha_disconnects_total', { reason: ['lag-bytes', 'lag-revisions'] }),
    encodes,
  }
}

/** `512B`, `1.5KiB`, `12MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)}B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[i]}`
}

function formatRate(v: number): string {
  return v < 10 ? v.toFixed(1) : String(Math.round(v))
}

/** The two tables `calilab typha status` prints. */
export function formatTyphaStatus(reports: readonly TyphaReplicaReport[]): string {
  const rows = reports.map((r) =>
    r.status
      ? [
          r.name,
          r.address,
          r.status.inSync ? 'true' : 'false',
          String(r.status.revision),
          String(r.status.entries),
          SYNCERS.map((t) => `${t}=${r.clients[t] ?? 0}`).join(' '),
          String(r.snapshots),
          formatRate(r.deltasPerSec),
          formatBytes(r.bytesOut),
          String(r.lagDisconnects),
        ]
      : [r.name, r.address, '-', '-', '-', '-', '-', '-', '-', `- (${r.error ?? 'no answer'})`],
  )
  const head = [
    'TYPHA',
    'ADDRESS',
    'IN-SYNC',
    'REVISION',
    'ENTRIES',
    'CLIENTS',
    'SNAPSHOTS',
    'DELTAS/S',
    'BYTES-OUT',
    'LAG-DISCONNECTS',
  ]
  const clientRows: string[][] = []
  for (const r of reports) {
    const cs = [...(r.status?.clients ?? [])].sort(
      (a, b) =>
        (a.nodeName ?? '').localeCompare(b.nodeName ?? '') || (a.syncerType ?? '').localeCompare(b.syncerType ?? ''),
    )
    for (const c of cs) {
      clientRows.push([
        c.nodeName ?? '-',
        c.syncerType ?? '-',
        r.name,
        c.state,
        String(c.lagRevisions),
        formatBytes(c.queuedBytes),
        formatBytes(c.bytesWritten),
      ])
    }
  }
  const parts = [formatTable(head, rows), '']
  if (clientRows.length)
    parts.push(formatTable(['NODE', 'SYNCER', 'TYPHA', 'STATE', 'LAG', 'QUEUED', 'BYTES-WRITTEN'], clientRows))
  else parts.push('No clients connected.')
  return parts.join('\n')
}

async function getText(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return res.text()
}

interface ReplicaTarget {
  name: string
  address: string
  metricsAddress: string
  pid?: number
}

async function probe(r: ReplicaTarget, intervalMs: number): Promise<TyphaReplicaReport> {
  const empty = {
    ...r,
    clients: {},
    snapshots: 0,
    deltasPerSec: 0,
    deltaUpdatesTotal: 0,
    bytesOut: 0,
    lagDisconnects: 0,
    encodes: {},
  }
  try {
    const base = `http://${r.metricsAddress}`
    const before = parsePromText(await getText(`${base}/metrics`, 3000))
    const t0 = performance.now()
    if (intervalMs > 0) await sleep(intervalMs)
    const [statusText, afterText] = await Promise.all([
      getText(`${base}/status`, 3000),
      getText(`${base}/metrics`, 3000),
    ])
    const seconds = (performance.now() - t0) / 1000
    return summarizeReplica(r, JSON.parse(statusText) as TyphaStatusDoc, before, parsePromText(afterText), seconds)
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code
    return { ...empty, error: cause ?? (e as Error).message }
  }
}

export async function typhaStatus(opts: { home?: string; output?: string; interval?: number }): Promise<number> {
  const paths = resolveHome(opts.home)
  const s = readState(paths.state)
  if (!s) throw notRunningError(paths)
  const typhas = s.processes.filter((p) => p.component === 'typha')
  if (typhas.length === 0) {
    throw new CliError(
      'no Typha runs in this calilab instance (topology typha.replicas is 0): the agents watch the API server directly',
    )
  }
  const targets: ReplicaTarget[] = typhas.map((p, i) => {
    const rd = p.ready ?? {}
    const host = typeof rd['host'] === 'string' ? rd['host'] : '127.0.0.1'
    const port = typeof rd['port'] === 'number' ? rd['port'] : 0
    const mport = typeof rd['metricsPort'] === 'number' ? rd['metricsPort'] : 0
    return {
      name: p.instance ?? `typha-${i}`,
      address: `${host}:${port}`,
      metricsAddress: `${host}:${mport}`,
      ...(typeof rd['pid'] === 'number' ? { pid: rd['pid'] } : p.pid ? { pid: p.pid } : {}),
    }
  })
  const intervalMs = Math.round((opts.interval ?? 1) * 1000)
  const reports = await Promise.all(
    targets.map((t) =>
      t.metricsAddress.endsWith(':0')
        ? Promise.resolve<TyphaReplicaReport>({
            ...t,
            error: 'not ready',
            clients: {},
            snapshots: 0,
            deltasPerSec: 0,
            deltaUpdatesTotal: 0,
            bytesOut: 0,
            lagDisconnects: 0,
            encodes: {},
          })
        : probe(t, intervalMs),
    ),
  )
  if (opts.output === 'json') out(JSON.stringify({ typhas: reports }, null, 2))
  else out(formatTyphaStatus(reports))
  if (reports.every((r) => r.error !== undefined)) {
    throw new CliError(
      `no Typha replica answered (${reports.map((r) => `${r.name}: ${r.error}`).join('; ')}); see: calilab status, calilab logs typha-0`,
    )
  }
  return 0
}
