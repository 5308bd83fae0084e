/**
 * One-line packet summaries in tcpdump's default (-n) format, e.g.
 *   12:00:00.000000 IP 198.19.15.254.51234 > 198.19.0.1.30180: Flags [S], seq 123, win 64240, length 0
 * Sequence numbers are absolute (tcpdump -S): the formatter keeps no per-flow state.
 */
import { formatIPv4 } from '@calilab/model'
import { rd16, rd32 } from './bytes.ts'
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  IPPROTO_ICMP,
  IPPROTO_IPIP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  VXLAN_PORT,
} from './constants.ts'
import { parseVxlan } from './encap.ts'
import { PacketView, parsePacket } from './view.ts'

export interface TcpdumpOptions {
  /** Minutes east of UTC for the time of day (tcpdump prints local time); default 0. */
  tzOffsetMinutes?: number
  /** Print no timestamp (tcpdump -t). */
  noTimestamp?: boolean
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0')
}

/** `HH:MM:SS.uuuuuu` for ms since the epoch. */
export function formatTimeOfDay(timeMs: number, tzOffsetMinutes = 0): string {
  const usTotal = Math.round((timeMs + tzOffsetMinutes * 60_000) * 1000)
  const usDay = ((usTotal % 86_400_000_000) + 86_400_000_000) % 86_400_000_000
  const secs = Math.floor(usDay / 1_000_000)
  const us = usDay - secs * 1_000_000
  return `${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(us, 6)}`
}

const FLAG_CHARS: [number, string][] = [
  [TCP_FIN, 'F'],
  [TCP_SYN, 'S'],
  [TCP_RST, 'R'],
  [TCP_PSH, 'P'],
  [TCP_URG, 'U'],
  [TCP_ECE, 'E'],
  [TCP_CWR, 'W'],
  [TCP_ACK, '.'],
]

export function formatTcpFlags(flags: number): string {
  let s = ''
  for (const [bit, ch] of FLAG_CHARS) if (flags & bit) s += ch
  return s === '' ? 'none' : s
}

/** The summary of one IPv4 packet (raw, LINKTYPE_RAW) at b[off]. */
export function formatPacket(b: Uint8Array, timeMs: number, opts: TcpdumpOptions = {}, off = 0): string {
  const ts = opts.noTimestamp ? '' : `${formatTimeOfDay(timeMs, opts.tzOffsetMinutes ?? 0)} `
  return ts + describeIPv4(b, off, 0)
}

/** The summary of an Ethernet frame carrying IPv4 (LINKTYPE_ETHERNET). */
export function formatFrame(b: Uint8Array, timeMs: number, opts: TcpdumpOptions = {}): string {
  const ts = opts.noTimestamp ? '' : `${formatTimeOfDay(timeMs, opts.tzOffsetMinutes ?? 0)} `
  if (b.length < 14) return `${ts}[|ether]`
  const et = rd16(b, 12)
  if (et !== 0x0800) return `${ts}ethertype 0x${et.toString(16).padStart(4, '0')}, length ${b.length}`
  return ts + describeIPv4(b, 14, 0)
}

function describeIPv4(b: Uint8Array, off: number, depth: number): string {
  const v = new PacketView()
  const st = parsePacket(b, v, off)
  if (st !== 'ok' && st !== 'L4_TRUNCATED') return `IP truncated-ip - ${b.length - off} bytes missing!`
  const s = formatIPv4(v.src)
  const d = formatIPv4(v.dst)
  if (st === 'L4_TRUNCATED') return `IP ${s} > ${d}: [|${protoName(v.proto)}]`
  if (!v.hasL4 && v.proto !== IPPROTO_IPIP) {
    return `IP ${s} > ${d}: ${v.proto === IPPROTO_TCP || v.proto === IPPROTO_UDP || v.proto === IPPROTO_ICMP ? protoName(v.proto) : `ip-proto-${v.proto}`} ${v.l4len}`
  }
  if (v.proto === IPPROTO_TCP) {
    let out = `IP ${s}.${v.sport} > ${d}.${v.dport}: Flags [${formatTcpFlags(v.tcpFlags)}]`
    const len = v.payloadLen
    if (len > 0 || v.tcpFlags & (TCP_SYN | TCP_FIN | TCP_RST)) {
      out += `, seq ${v.seq}`
      if (len > 0) out += `:${(v.seq + len) >>> 0}`
    }
    if (v.tcpFlags & TCP_ACK) out += `, ack ${v.ack}`
    out += `, win ${v.window}`
    if (v.tcpFlags & TCP_URG) out += `, urg ${rd16(b, v.l4off + 18)}`
    return `${out}, length ${len}`
  }
  if (v.proto === IPPROTO_UDP) {
    const head = `IP ${s}.${v.sport} > ${d}.${v.dport}: `
    if (v.dport === VXLAN_PORT && depth === 0) {
      const vx = parseVxlan(b, off)
      if (vx) {
        const inner =
          vx.etherType === 0x0800 ? describeIPv4(b, vx.innerOff, depth + 1) : `ethertype 0x${vx.etherType.toString(16)}`
        return `${head}VXLAN, flags [I] (0x08), vni ${vx.vni}\n${inner}`
      }
    }
    return `${head}UDP, length ${v.payloadLen}`
  }
  if (v.proto === IPPROTO_ICMP) return `IP ${s} > ${d}: ICMP ${describeIcmp(b, v)}, length ${v.l4len}`
  if (v.proto === IPPROTO_IPIP && depth === 0)
    return `IP ${s} > ${d}: ${describeIPv4(b, v.l4off, depth + 1)} (ipip-proto-4)`
  return `IP ${s} > ${d}: ip-proto-${v.proto} ${v.l4len}`
}

function protoName(p: number): string {
  return p === IPPROTO_TCP ? 'tcp' : p === IPPROTO_UDP ? 'udp' : p === IPPROTO_ICMP ? 'icmp' : `ip-proto-${p}`
}

function describeIcmp(b: Uint8Array, v: PacketView): string {
  const t = v.icmpType
  const c = v.icmpCode
  if (t === ICMP_ECHO_REQUEST) return `echo request, id ${v.icmpId}, seq ${v.icmpSeq}`
  if (t === ICMP_ECHO_REPLY) return `echo reply, id ${v.icmpId}, seq ${v.icmpSeq}`
  if (t === ICMP_TIME_EXCEEDED) return c === 1 ? 'ip reassembly time exceeded' : 'time exceeded in-transit'
  if (t === ICMP_DEST_UNREACH) {
    const q = v.l4off + 8
    const haveQuote = b.length - q >= 20
    const qdst = haveQuote ? formatIPv4(rd32(b, q + 16)) : '?'
    if (c === 0) return `net ${qdst} unreachable`
    if (c === 1) return `host ${qdst} unreachable`
    if (c === 2) return `${qdst} protocol ${haveQuote ? b[q + 9] : '?'} unreachable`
    if (c === 3 && haveQuote) {
      const qihl = (b[q]! & 0x0f) << 2
      const qproto = b[q + 9]!
      const dport = b.length - (q + qihl) >= 4 ? rd16(b, q + qihl + 2) : 0
      return `${qdst} ${protoName(qproto)} port ${dport} unreachable`
    }
    if (c === 4) return `${qdst} unreachable - need to frag (mtu ${rd16(b, v.l4off + 6)})`
    if (c === 9 || c === 10) return `${c === 9 ? 'net' : 'host'} ${qdst} unreachable - admin prohibited`
    if (c === 13) return `host ${qdst} unreachable - admin prohibited filter`
    return `${qdst} unreachable - code ${c}`
  }
  return `type-#${t}`
}
