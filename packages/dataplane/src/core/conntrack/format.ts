/** `conntrack -L` text: one line per entry, as conntrack-tools prints it. */
import { formatIPv4 } from '@calilab/model'
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../packet/constants.ts'
import type { Conntrack, CtFilter } from './conntrack.ts'
import type { CtEntry, CtTuple } from './entry.ts'
import { IPS_ASSURED, IPS_SEEN_REPLY } from './store.ts'

const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp' }

function tupleText(t: CtTuple, reply: boolean): string {
  const base = `src=${formatIPv4(t.src)} dst=${formatIPv4(t.dst)} `
  if (t.proto === IPPROTO_ICMP) return `${base}type=${reply ? 0 : 8} code=0 id=${t.sport} `
  if (t.proto === IPPROTO_TCP || t.proto === IPPROTO_UDP) return `${base}sport=${t.sport} dport=${t.dport} `
  return base
}

/** One `conntrack -L` line. */
export function formatCtEntry(e: CtEntry, now: number): string {
  const proto = PROTO_NAMES[e.proto] ?? 'unknown'
  // The kernel reports whole seconds left, truncated after at least one jiffy has passed:
  // a fresh ESTABLISHED entry reads 431999, a fresh UDP one 29.
  const secs = Math.max(0, Math.ceil((e.expires - now) / 1000) - 1)
  let s = `${proto.padEnd(8)} ${e.proto} ${secs} `
  if (e.proto === IPPROTO_TCP) s += `${e.tcpState} `
  s += tupleText(e.orig, false)
  if (!(e.status & IPS_SEEN_REPLY)) s += '[UNREPLIED] '
  s += tupleText(e.reply, true)
  if (e.status & IPS_ASSURED) s += '[ASSURED] '
  return `${s}mark=${e.mark} use=1`
}

/** `conntrack -L` stdout; the count line goes to stderr (see `conntrackSummary`). */
export function formatConntrack(ct: Conntrack, now: number, f: CtFilter = {}): string {
  return ct
    .list(now, f)
    .map((e) => `${formatCtEntry(e, now)}\n`)
    .join('')
}

/** The line conntrack-tools prints on stderr after a listing or delete. */
export function conntrackSummary(n: number, op: 'shown' | 'deleted' = 'shown', version = '1.4.6'): string {
  return `conntrack v${version} (conntrack-tools): ${n} flow entries have been ${op}.\n`
}
