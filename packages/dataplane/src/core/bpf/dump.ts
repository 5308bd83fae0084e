/**
 * Text dumps of the maps, in the shape of `calico-node -bpf nat dump`, `-bpf conntrack dump` and
 * `-bpf routes dump` (v3.21).
 */
import { formatIPv4 } from '@calilab/model'
import {
  type BpfMaps,
  CT_FLAG_DSR_FWD,
  CT_FLAG_EXT_LOCAL,
  CT_FLAG_NP_FWD,
  NAT_WILDCARD,
  RT_LOCAL,
  RT_WORKLOAD,
} from './maps.ts'

function feAddr(k: string): { addr: number; port: number; proto: number } {
  const [a, p, pr] = k.split(':').map(Number)
  return { addr: a ?? 0, port: p ?? 0, proto: pr ?? 0 }
}

/** `calico-node -bpf nat dump`: each frontend, then its backends by ordinal. */
export function dumpNat(maps: BpfMaps): string {
  const rows = [...maps.natFe.entries()].map(([k, fe]) => ({ ...feAddr(k), fe }))
  rows.sort((a, b) => a.fe.id - b.fe.id || a.addr - b.addr)
  const out: string[] = []
  for (const r of rows) {
    const ip = r.addr === NAT_WILDCARD ? '255.255.255.255' : formatIPv4(r.addr)
    out.push(`${ip} port ${r.port} proto ${r.proto} id ${r.fe.id} count ${r.fe.count} local ${r.fe.localCount}`)
    for (let i = 0; i < r.fe.count; i++) {
      const be = maps.backend(r.fe.id, i)
      if (be) out.push(`\t${r.fe.id}:${i}\t ${formatIPv4(be.addr)}:${be.port}`)
    }
  }
  return out.length ? `${out.join('\n')}\n` : ''
}

function flagNames(f: number): string {
  const n: string[] = []
  if (f & CT_FLAG_DSR_FWD) n.push('dsr-fwd')
  if (f & CT_FLAG_NP_FWD) n.push('np-fwd')
  if (f & CT_FLAG_EXT_LOCAL) n.push('ext-local')
  return n.length ? n.join(' ') : '<none>'
}

/** `calico-node -bpf conntrack dump`. */
export function dumpConntrack(maps: BpfMaps, now: number): string {
  const out: string[] = []
  for (const [k, e] of maps.ct) {
    const [proto, a, b] = k.split(' ')
    const ends = [a, b].map((x) => {
      const [ip, port] = (x ?? '0:0').split(':')
      return `${formatIPv4(Number(ip))}:${port}`
    })
    const age = `Age: ${Math.round((now - e.created) / 1000)}s Active ago ${Math.round((now - e.lastSeen) / 1000)}s`
    const key = `ConntrackKey{proto=${proto} ${ends[0]} <-> ${ends[1]}}`
    const orig = `${formatIPv4(e.origIp)}:${e.origPort}`
    const be = `${formatIPv4(e.backendIp)}:${e.backendPort}`
    const tun = e.tunIp ? ` TunIP=${formatIPv4(e.tunIp)}` : ''
    if (e.type === 'NAT_FWD') out.push(`${key} -> Entry{NATFwd ${age} Flags=${flagNames(e.flags)} REVKey=${be}${tun}}`)
    else out.push(`${key} -> Entry{NATRev ${age} Flags=${flagNames(e.flags)} OrigIP=${orig}${tun}}`)
  }
  out.sort()
  return `${out.join('\n')}${out.length ? '\n' : ''}Dumped ${out.length} entries.\n`
}

/** `calico-node -bpf routes dump` (the /32 entries this emulation keeps). */
export function dumpRoutes(maps: BpfMaps): string {
  const rows = [...maps.routes.entries()].sort((a, b) => a[0] - b[0])
  return rows
    .map(([ip, r]) => {
      const kind = r.flags & RT_LOCAL ? 'local workload' : r.flags & RT_WORKLOAD ? 'remote workload' : 'host'
      const nh = r.nextHop ? ` nh ${formatIPv4(r.nextHop)}` : ''
      return `${formatIPv4(ip)}/32: ${kind}${nh}\n`
    })
    .join('')
}
