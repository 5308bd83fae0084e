/**
 * `birdc` output in BIRD 2's formats: `show protocols` (nest/proto.c `%-10s %-10s %-10s %-6s %-12s  %s`),
 * `show protocols all NAME`, `show route` (nest/rt-show.c `%-20s %s [%s %s%s]%s%s` + `\tvia X on DEV`).
 * Lines carry no trailing blanks (BIRD pads the Info column; trimmed here).
 */
import type { PathAttributes } from '../core/codec/attrs/types.ts'
import { bgpInfo, bgpStateText, type ViewPeer } from './peer.ts'
import { birdTime, type ViewClock } from './time.ts'

export const BIRD_BANNER = 'BIRD 2.0.12 ready.'

/** A non-BGP protocol row (device1, direct1, kernel1, static1). */
export interface ViewProtocol {
  name: string
  proto: string
  table: string
  state: 'up' | 'start' | 'down'
  since: number
  info?: string
}

/** The protocols a BIRD config like host1's (device, direct, kernel) or Calico's (+ static) shows. */
export function baseProtocols(since: number, role: 'router' | 'calico'): ViewProtocol[] {
  const l: ViewProtocol[] = [
    { name: 'device1', proto: 'Device', table: '---', state: 'up', since },
    { name: 'direct1', proto: 'Direct', table: '---', state: 'up', since },
    { name: 'kernel1', proto: 'Kernel', table: 'master4', state: 'up', since },
  ]
  if (role === 'calico') l.push({ name: 'static1', proto: 'Static', table: 'master4', state: 'up', since })
  return l
}

const row = (cols: [string, string, string, string, string, string]) =>
  `${cols[0].padEnd(10)} ${cols[1].padEnd(10)} ${cols[2].padEnd(10)} ${cols[3].padEnd(6)} ${cols[4].padEnd(12)}  ${cols[5]}`.trimEnd()

const HEADER = row(['Name', 'Proto', 'Table', 'State', 'Since', 'Info'])

function protoRows(base: readonly ViewProtocol[], peers: readonly ViewPeer[], clock: ViewClock): Map<string, string> {
  const m = new Map<string, string>()
  for (const p of base)
    m.set(p.name, row([p.name, p.proto, p.table, p.state, birdTime(p.since, clock, true), p.info ?? '']))
  for (const p of peers)
    m.set(p.name, row([p.name, 'BGP', '---', p.protoState, birdTime(p.since, clock, true), bgpInfo(p)]))
  return m
}

export interface BirdcOptions {
  /** Print `BIRD 2.0.12 ready.` first, as birdc does on connect (default true). */
  banner?: boolean
}

const banner = (o: BirdcOptions) => (o.banner === false ? '' : `${BIRD_BANNER}\n`)

export function formatShowProtocols(
  base: readonly ViewProtocol[],
  peers: readonly ViewPeer[],
  clock: ViewClock,
  opts: BirdcOptions = {},
): string {
  const rows = [...protoRows(base, peers, clock).values()]
  return `${banner(opts)}${HEADER}\n${rows.map((r) => `${r}\n`).join('')}`
}

/** `show protocols all NAME`; `No protocols match` when there is no such protocol. */
export function formatShowProtocolsAll(peer: ViewPeer | undefined, clock: ViewClock, opts: BirdcOptions = {}): string {
  if (!peer) return `${banner(opts)}No protocols match\n`
  const r = protoRows([], [peer], clock).get(peer.name) ?? ''
  const l = [HEADER, r]
  if (peer.description !== undefined) l.push(`  Description:    ${peer.description}`)
  l.push(`  BGP state:          ${bgpStateText(peer)}`)
  if (peer.address !== undefined) l.push(`    Neighbor address: ${peer.address}`)
  if (peer.asNumber !== undefined) l.push(`    Neighbor AS:      ${peer.asNumber}`)
  if (peer.localAs !== undefined) l.push(`    Local AS:         ${peer.localAs}`)
  if (peer.state === 'Established') {
    if (peer.peerRouterId !== undefined) l.push(`    Neighbor ID:      ${peer.peerRouterId}`)
    const kind = peer.asNumber !== undefined && peer.asNumber === peer.localAs ? 'internal' : 'external'
    l.push(`    Session:          ${kind} multihop AS4`)
    if (peer.sourceAddress !== undefined) l.push(`    Source address:   ${peer.sourceAddress}`)
    if (peer.holdTime !== undefined) l.push(`    Hold time:        ${peer.holdTime}`)
    if (peer.keepaliveTime !== undefined) l.push(`    Keepalive time:   ${peer.keepaliveTime}`)
    l.push('  Channel ipv4')
    l.push('    State:          UP')
    l.push('    Table:          master4')
    l.push('    Preference:     100')
    l.push(`    Input filter:   ${peer.importFilter ?? 'ACCEPT'}`)
    l.push(`    Output filter:  ${peer.exportFilter ?? 'ACCEPT'}`)
    const rt = peer.routes ?? { imported: 0, exported: 0, preferred: 0 }
    l.push(`    Routes:         ${rt.imported} imported, ${rt.exported} exported, ${rt.preferred} preferred`)
  } else if (peer.lastError !== undefined) {
    l.push(`    Last error:       ${peer.lastError}`)
  }
  return `${banner(opts)}${l.join('\n')}\n\n`
}

export interface ViewRoutePath {
  peer: string
  nextHop: string
  since: number
  primary: boolean
  attrs: PathAttributes
  /** The neighbor the route came from, when it differs from the next hop (BIRD ` from X`). */
  from?: string
}

export interface ViewRoute {
  prefix: string
  paths: readonly ViewRoutePath[]
}

/** BGP's route info: `(pref/igp metric) [AS<origin as><origin>]`. */
function bgpRouteInfo(a: PathAttributes): string {
  let last: number | undefined
  for (const seg of a.asPath) if (seg.asns.length > 0) last = seg.asns[seg.asns.length - 1]
  const origin = 'ie?'[a.origin] ?? '?'
  return ` (100/0) [${last !== undefined ? `AS${last}` : ''}${origin}]`
}

export function formatShowRoute(
  routes: readonly ViewRoute[],
  clock: ViewClock,
  opts: BirdcOptions & { dev?: string } = {},
): string {
  const dev = opts.dev ?? 'eth0'
  const l: string[] = ['Table master4:']
  for (const r of routes) {
    let first = true
    for (const p of r.paths) {
      const ia = (first ? r.prefix : '').padEnd(20)
      const from = p.from !== undefined && p.from !== p.nextHop ? ` from ${p.from}` : ''
      l.push(
        `${ia} unicast [${p.peer} ${birdTime(p.since, clock, true)}${from}]${p.primary ? ' *' : ''}${bgpRouteInfo(p.attrs)}`,
      )
      l.push(`\tvia ${p.nextHop} on ${dev}`)
      first = false
    }
  }
  return `${banner(opts)}${l.join('\n')}\n`
}
