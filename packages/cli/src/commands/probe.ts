/**
 * `calilab probe`: a matrix of connections (pods × pods × ports/protocols) run in one go by the
 * node agents (`/felix/probe` on each source pod's kubelet endpoint: real TCP connects and pings;
 * UDP, which has no answer to wait for, by a trace that follows the packet into the destination's
 * node as `calilab trace` does), printed as one truth table per port — `.` reachable, `X` blocked — like the
 * upstream Kubernetes network-policy tests, with the cells that differ from an expected table
 * marked `!`. The matrix comes from flags or a YAML file:
 *
 * FROM/TO are pods (`NAME` in the namespace, or `NS/NAME`), `deploy/NAME`, nodes or IPs.
 *
 * ```yaml
 * namespace: yaobank
 * from: [customer, summary, database]
 * to: [database]                 # default: the same as from
 * ports: [2379/TCP, 80]
 * timeoutMs: 1000
 * expected:
 *   2379/TCP: |
 *     -        database
 *     customer X
 *     summary  .
 *     database .
 * ```
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { CliError, out } from '../io.ts'
import { type ConnectOpts, connect, serverErrorLine } from '../kubectl/client.ts'
import { agentGet, type Endpoint, kubeletEndpoint, nodeFinder, resolveEndpoint, traceWalk } from './trace.ts'

const IPV4_REF = /^\d+\.\d+\.\d+\.\d+$/

/** `PORT/PROTO` in upper case (`2379/TCP`), or `ICMP`. */
export function normalizePort(s: string): string {
  const t = s.trim()
  if (/^icmp$/i.test(t)) return 'ICMP'
  const m = /^(\d+)(?:\/(tcp|udp))?$/i.exec(t)
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535)
    throw new CliError(`error: port "${s}": want PORT[/PROTO] with PORT 1-65535 and PROTO tcp or udp, or icmp`)
  return `${Number(m[1])}/${(m[2] ?? 'tcp').toUpperCase()}`
}

/** One table per port: `from|to` → reachable. */
export type TruthTable = Map<string, boolean>
export const cellKey = (from: string, to: string) => `${from}|${to}`

export interface ProbeMatrix {
  from: string[]
  to: string[]
  ports: string[]
  /** port → table; a missing cell = the probe could not run. */
  results: Map<string, TruthTable>
}

/** Parses a truth table: a header row (first token ignored, then the TO names), then `FROM cells...`. */
export function parseTruthTable(text: string): TruthTable {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  const header = lines.shift()?.split(/\s+/).slice(1)
  if (!header || header.length === 0) throw new CliError('error: truth table: no header row (- TO1 TO2 ...)')
  const t: TruthTable = new Map()
  for (const l of lines) {
    const [from, ...cells] = l.split(/\s+/) as [string, ...string[]]
    if (cells.length !== header.length)
      throw new CliError(`error: truth table row "${l}": ${cells.length} cells for ${header.length} columns`)
    cells.forEach((c, i) => {
      if (c !== '.' && c !== 'X' && c !== 'x')
        throw new CliError(`error: truth table row "${l}": cell "${c}" must be . (reachable) or X (blocked)`)
      t.set(cellKey(from, header[i]!), c === '.')
    })
  }
  return t
}

export interface TableDiff {
  cells: number
  differ: { port: string; from: string; to: string; expected: boolean; actual: boolean | undefined }[]
}

export function diffMatrix(m: ProbeMatrix, expected: ReadonlyMap<string, TruthTable>): TableDiff {
  const d: TableDiff = { cells: 0, differ: [] }
  for (const port of m.ports) {
    const exp = expected.get(port)
    if (!exp) continue
    for (const from of m.from)
      for (const to of m.to) {
        const e = exp.get(cellKey(from, to))
        if (e === undefined) continue
        d.cells++
        const a = m.results.get(port)?.get(cellKey(from, to))
        if (a !== e) d.differ.push({ port, from, to, expected: e, actual: a })
      }
  }
  return d
}

/** The truth tables as text; cells that differ from `expected` end in `!`. */
export function formatMatrix(m: ProbeMatrix, expected?: ReadonlyMap<string, TruthTable>): string {
  let s = ''
  const w0 = Math.max(1, ...m.from.map((f) => f.length))
  const widths = m.to.map((t) => Math.max(2, t.length))
  for (const port of m.ports) {
    const res = m.results.get(port)
    const exp = expected?.get(port)
    s += `${port}\n`
    s += `${'-'.padEnd(w0)}  ${m.to.map((t, i) => t.padEnd(widths[i]!)).join('  ')}`.trimEnd()
    s += '\n'
    for (const from of m.from) {
      const cells = m.to.map((to, i) => {
        const a = res?.get(cellKey(from, to))
        const e = exp?.get(cellKey(from, to))
        const c = a === undefined ? '?' : a ? '.' : 'X'
        return `${c}${e !== undefined && e !== a ? '!' : ''}`.padEnd(widths[i]!)
      })
      s += `${from.padEnd(w0)}  ${cells.join('  ')}`.trimEnd()
      s += '\n'
    }
    s += '\n'
  }
  if (expected) {
    const d = diffMatrix(m, expected)
    s +=
      d.differ.length === 0
        ? `all ${d.cells} cells match the expected tables\n`
        : `${d.differ.length} of ${d.cells} cells differ from the expected tables (marked !)\n`
  }
  return s
}

export interface ProbeSpec {
  namespace?: string
  from: string[]
  to: string[]
  ports: string[]
  timeoutMs?: number
  expected?: Record<string, string>
}

/** Reads and checks a probe file. */
export function parseProbeFile(text: string): ProbeSpec {
  const doc = parseYaml(text) as Partial<ProbeSpec> | null
  if (!doc || typeof doc !== 'object') throw new CliError('error: probe file: want a YAML mapping')
  const list = (k: 'from' | 'to' | 'ports') => {
    const v = doc[k]
    if (v === undefined) return []
    if (!Array.isArray(v)) throw new CliError(`error: probe file: ${k} must be a list`)
    return v.map(String)
  }
  const spec: ProbeSpec = { from: list('from'), to: list('to'), ports: list('ports') }
  if (doc.namespace !== undefined) spec.namespace = String(doc.namespace)
  if (doc.timeoutMs !== undefined) spec.timeoutMs = Number(doc.timeoutMs)
  if (doc.expected !== undefined) spec.expected = doc.expected
  return spec
}

export interface ProbeCliOpts extends ConnectOpts {
  namespace?: string
  file?: string
  from?: string
  to?: string
  ports?: string
  timeout?: number
  output?: 'table' | 'json'
}

interface ProbeCellAnswer {
  from: string
  to: string
  port: number
  proto: string
  reachable: boolean
  result: string
}

/** `calilab probe`: exit 1 when a cell differs from the expected table. */
export async function probeCommand(o: ProbeCliOpts): Promise<number> {
  const file = o.file ? parseProbeFile(readFileSync(o.file, 'utf8')) : undefined
  const split = (s: string | undefined) =>
    s
      ? s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : []
  const from = o.from ? split(o.from) : (file?.from ?? [])
  const to = o.to ? split(o.to) : file?.to?.length ? file.to : from
  const ports = (o.ports ? split(o.ports) : (file?.ports ?? [])).map(normalizePort)
  if (from.length === 0 || ports.length === 0)
    throw new CliError('error: give --from and --ports (and --to), or a probe file with -f')
  const expected = new Map<string, TruthTable>()
  for (const [k, v] of Object.entries(file?.expected ?? {})) expected.set(normalizePort(k), parseTruthTable(v))
  const { client, namespace } = connect(o)
  try {
    const ns = o.namespace ?? file?.namespace ?? namespace
    // All refs at once (a 9x9 matrix is 9 lookups, not 18 in a row).
    const cache = new Map<string, Promise<Endpoint>>()
    const one = (r: string) => {
      let p = cache.get(r)
      if (!p) {
        // `NS/POD` names a pod in another namespace (the matrix may span several).
        const q = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/(.+)$/.exec(r)
        const scoped = q && !/^(deploy|deployment|deployments|pod|pods|po)$/.test(q[1]!) && !IPV4_REF.test(r)
        p = resolveEndpoint(client, scoped ? q[1]! : ns, scoped ? q[3]! : r)
        cache.set(r, p)
      }
      return p
    }
    const resolve = async (refs: string[]) => {
      const eps = await Promise.all(refs.map(one))
      return new Map(refs.map((r, i) => [r, eps[i]!]))
    }
    let src: Map<string, Endpoint>
    let dst: Map<string, Endpoint>
    try {
      src = await resolve(from)
      dst = await resolve(to)
    } catch (e) {
      if (e instanceof CliError) throw e
      throw new CliError(serverErrorLine(e))
    }
    // One request per source node.
    const byNode = new Map<string, string[]>()
    for (const [name, e] of src) {
      if (!e.pod || !e.node) throw new CliError(`error: probe sources must be pods; ${name} is not`)
      byNode.set(e.node, [...(byNode.get(e.node) ?? []), name])
    }
    const timeoutMs = o.timeout ?? file?.timeoutMs ?? 1000
    const results = new Map<string, TruthTable>(ports.map((p) => [p, new Map()]))
    const podToName = new Map([...src].map(([name, e]) => [e.pod!, name]))
    const live = ports.filter((p) => !p.endsWith('/UDP'))
    const nodeByIp = nodeFinder(client)
    const udpCells = ports
      .filter((p) => p.endsWith('/UDP'))
      .flatMap((p) => [...src].flatMap(([f, s]) => [...dst].map(([t, d]) => ({ p, f, t, s, d }))))
    await Promise.all([
      ...udpCells.map(async ({ p, f, t, s, d }) => {
        const w = await traceWalk(
          client,
          s.node!,
          { src: s.pod!, dst: d.ip, proto: 'udp', dport: Number(p.split('/')[0]) },
          nodeByIp,
        )
        results.get(p)?.set(cellKey(f, t), w.verdict === 'allowed')
      }),
      ...[...byNode].map(async ([node, names]) => {
        if (live.length === 0) return
        const q = new URLSearchParams()
        for (const n of names) q.append('from', src.get(n)!.pod!)
        for (const [n, e] of dst) q.append('to', `${n}=${e.ip}`)
        for (const p of live) q.append('port', p === 'ICMP' ? 'icmp' : p.toLowerCase())
        q.set('timeoutMs', String(timeoutMs))
        const ep = await kubeletEndpoint(client, node)
        const r = await agentGet<{ cells: ProbeCellAnswer[] }>(ep, '/felix/probe', q)
        for (const c of r.cells) {
          const port = c.proto === 'icmp' ? 'ICMP' : `${c.port}/${c.proto.toUpperCase()}`
          results.get(port)?.set(cellKey(podToName.get(c.from) ?? c.from, c.to), c.reachable)
        }
      }),
    ])
    const m: ProbeMatrix = { from, to, ports, results }
    if (o.output === 'json') {
      const cells = ports.flatMap((p) =>
        from.flatMap((f) =>
          to.map((t) => ({ port: p, from: f, to: t, reachable: results.get(p)?.get(cellKey(f, t)) })),
        ),
      )
      out(`${JSON.stringify({ cells, differ: diffMatrix(m, expected).differ }, null, 2)}\n`)
    } else out(formatMatrix(m, expected.size > 0 ? expected : undefined))
    return diffMatrix(m, expected).differ.length === 0 ? 0 : 1
  } finally {
    client.close()
  }
}
