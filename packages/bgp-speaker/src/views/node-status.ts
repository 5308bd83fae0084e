/**
 * `calicoctl node status` as calicoctl v3.21 prints it (calicoctl/commands/node/status.go): it reads
 * BIRD's `show protocols`, keeps the `Mesh_`/`Global_`/`Node_` rows and renders them with
 * olekukonko/tablewriter (headers upper-cased and centred, cells left-aligned).
 */
import { bgpInfo, bgpStateText, type ViewPeer } from './peer.ts'
import { birdTime, type ViewClock } from './time.ts'

const TYPES: Record<string, string> = { Mesh: 'node-to-node mesh', Global: 'global', Node: 'node specific' }

/** Peer address and type from a Calico protocol name; undefined for other protocols. */
export function calicoPeerOf(name: string): { address: string; type: string } | undefined {
  const m = /^(Mesh|Global|Node)_(\d+_\d+_\d+_\d+)(?:_port_(\d+))?$/.exec(name)
  if (!m) return undefined
  const ip = (m[2] as string).replace(/_/g, '.')
  return { address: m[3] !== undefined ? `${ip}:${m[3]}` : ip, type: TYPES[m[1] as string] as string }
}

/** tablewriter's default table: `+---+` borders, one space of padding, centred header. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`
  const centre = (s: string, w: number) => {
    const gap = w - s.length
    const left = Math.floor(gap / 2)
    return `${' '.repeat(left)}${s}${' '.repeat(gap - left)}`
  }
  const out = [line, `|${header.map((h, i) => ` ${centre(h.toUpperCase(), widths[i] ?? 0)} `).join('|')}|`, line]
  for (const r of rows) out.push(`|${widths.map((w, i) => ` ${(r[i] ?? '').padEnd(w)} `).join('|')}|`)
  out.push(line)
  return `${out.join('\n')}\n`
}

export interface NodeStatusOptions {
  /** Is the node's BGP speaker running (calicoctl looks for the bird process). */
  running?: boolean
  /** IPv6 protocols, if any (none in calilab). */
  v6?: readonly ViewPeer[]
}

function section(family: 'IPv4' | 'IPv6', peers: readonly ViewPeer[], clock: ViewClock): string {
  const rows: string[][] = []
  for (const p of peers) {
    const c = calicoPeerOf(p.name)
    if (!c) continue
    // calicoctl splits BIRD's row into fields: the state word, then the rest joined by spaces.
    const info = bgpInfo(p).split(/\s+/).filter(Boolean).join(' ')
    rows.push([c.address, c.type, p.protoState, birdTime(p.since, clock, false), info || bgpStateText(p)])
  }
  let s = `${family} BGP status\n`
  if (rows.length === 0) s += `No ${family} peers found.\n`
  else s += renderTable(['Peer address', 'Peer type', 'State', 'Since', 'Info'], rows)
  return `${s}\n`
}

export function formatNodeStatus(peers: readonly ViewPeer[], clock: ViewClock, opts: NodeStatusOptions = {}): string {
  if (opts.running === false) return 'Calico process is not running.\n'
  return `Calico process is running.\n\n${section('IPv4', peers, clock)}${section('IPv6', opts.v6 ?? [], clock)}`
}
