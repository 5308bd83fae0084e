/**
 * The storage of conntrack entries, struct-of-arrays: entry slot `s` lives in three typed arrays
 * (no object per connection, so a new connection allocates nothing and the garbage collector has
 * nothing to copy or mark). Its tuples are handles `2s` (original) and `2s + 1` (reply).
 * Also the per-entry logic that reads only the arrays: timeouts and the TCP state machine.
 */
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../packet/constants.ts'

export type TcpState =
  | 'NONE'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'ESTABLISHED'
  | 'FIN_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSE'

/** Linux default timeouts, seconds. */
export const CT_TIMEOUTS = {
  tcp: {
    NONE: 432000,
    SYN_SENT: 120,
    SYN_RECV: 60,
    ESTABLISHED: 432000,
    FIN_WAIT: 120,
    CLOSE_WAIT: 60,
    LAST_ACK: 30,
    TIME_WAIT: 120,
    CLOSE: 10,
  },
  udp: 30,
  udpStream: 120,
  icmp: 30,
  generic: 600,
} as const

export const ORIGINAL = 0
export const REPLY = 1

export const IPS_SEEN_REPLY = 1 << 1
export const IPS_ASSURED = 1 << 2
export const IPS_CONFIRMED = 1 << 3
export const IPS_SRC_NAT = 1 << 4
export const IPS_DST_NAT = 1 << 5

/** TCP states by their stored index. */
export const TCP_STATES: readonly TcpState[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
]
export const TCP_STATE_INDEX: Readonly<Record<TcpState, number>> = Object.fromEntries(
  TCP_STATES.map((s, i) => [s, i]),
) as Record<TcpState, number>
const TS_NONE = 0
const TS_SYN_SENT = 1
const TS_SYN_RECV = 2
const TS_ESTABLISHED = 3
const TS_FIN_WAIT = 4
const TS_CLOSE_WAIT = 5
const TS_LAST_ACK = 6
const TS_TIME_WAIT = 7
const TS_CLOSE = 8
/** Timeouts (ms) by TCP state index. */
const TCP_TIMEOUT_MS = TCP_STATES.map((s) => CT_TIMEOUTS.tcp[s] * 1000)

// u32, 8 per slot: a tuple `t` at t*4: src, dst, sport, dport (ICMP: sport is the echo id).
export const U32_STRIDE = 8
// i32, 12 per slot.
export const I32_STRIDE = 12
export const I_PROTO = 0
export const I_STATUS = 1
export const I_TCP = 2
/** Direction that sent the first FIN (for the close sequence), -1 before. */
export const I_FINDIR = 3
/** Neighbours in the list of confirmed entries (confirm order); I_NEXT also links the free slots. */
export const I_PREV = 4
export const I_NEXT = 5
/** Next tuple in the hash chain, per direction (-1: end). */
export const I_CHAIN = 6
/** The tuple's hash when it was inserted, per direction. */
export const I_HASH = 8
/** SLOT_FREE, SLOT_PENDING (created, not confirmed) or SLOT_LISTED (confirmed, in the table). */
export const I_SLOT = 10
// f64, 5 per slot.
export const F64_STRIDE = 5
export const F_EXPIRES = 0
export const F_MARK = 1
export const F_PACKETS = 2
export const F_BYTES = 3
export const F_ID = 4

export const SLOT_FREE = 0
export const SLOT_PENDING = 1
export const SLOT_LISTED = 2

/** The arrays of `cap` slots; grown in place (a view of an entry keeps the same CtArrays). */
export class CtArrays {
  cap: number
  u32: Uint32Array
  i32: Int32Array
  f64: Float64Array
  constructor(cap: number) {
    this.cap = cap
    this.u32 = new Uint32Array(cap * U32_STRIDE)
    this.i32 = new Int32Array(cap * I32_STRIDE)
    this.f64 = new Float64Array(cap * F64_STRIDE)
  }

  grow(cap: number): void {
    const u = new Uint32Array(cap * U32_STRIDE)
    u.set(this.u32)
    const i = new Int32Array(cap * I32_STRIDE)
    i.set(this.i32)
    const f = new Float64Array(cap * F64_STRIDE)
    f.set(this.f64)
    this.u32 = u
    this.i32 = i
    this.f64 = f
    this.cap = cap
  }

  /** A one-slot copy of slot `s` (what a removed entry's view keeps). */
  copySlot(s: number): CtArrays {
    const c = new CtArrays(1)
    c.u32.set(this.u32.subarray(s * U32_STRIDE, (s + 1) * U32_STRIDE))
    c.i32.set(this.i32.subarray(s * I32_STRIDE, (s + 1) * I32_STRIDE))
    c.f64.set(this.f64.subarray(s * F64_STRIDE, (s + 1) * F64_STRIDE))
    return c
  }
}

export function tupleHash(proto: number, src: number, dst: number, sport: number, dport: number): number {
  let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ dst ^ (h >>> 13), 0xc2b2ae35)
  h = Math.imul(h ^ ((sport << 16) | dport) ^ (h >>> 16), 0x27d4eb2f)
  return (h ^ proto ^ (h >>> 15)) >>> 0
}

/** Fills slot `s` as a fresh entry (reply tuple the inverse of the original). */
export function initSlot(
  a: CtArrays,
  s: number,
  id: number,
  proto: number,
  src: number,
  dst: number,
  sport: number,
  dport: number,
): void {
  const u = a.u32
  const b = s * U32_STRIDE
  u[b] = src
  u[b + 1] = dst
  u[b + 2] = sport
  u[b + 3] = dport
  u[b + 4] = dst
  u[b + 5] = src
  u[b + 6] = dport
  u[b + 7] = sport
  const i = a.i32
  const c = s * I32_STRIDE
  i[c + I_PROTO] = proto
  i[c + I_STATUS] = 0
  i[c + I_TCP] = TS_NONE
  i[c + I_FINDIR] = -1
  i[c + I_PREV] = -1
  i[c + I_NEXT] = -1
  i[c + I_CHAIN] = -1
  i[c + I_CHAIN + 1] = -1
  i[c + I_SLOT] = SLOT_PENDING
  const f = a.f64
  const d = s * F64_STRIDE
  f[d + F_EXPIRES] = 0
  f[d + F_MARK] = 0
  f[d + F_PACKETS] = 0
  f[d + F_BYTES] = 0
  f[d + F_ID] = id
}

/** The entry's timeout in ms for its protocol and state. */
export function timeoutMs(a: CtArrays, s: number): number {
  const c = s * I32_STRIDE
  const proto = a.i32[c + I_PROTO]
  if (proto === IPPROTO_TCP) return TCP_TIMEOUT_MS[a.i32[c + I_TCP]!]!
  if (proto === IPPROTO_UDP)
    return (a.i32[c + I_STATUS]! & IPS_ASSURED ? CT_TIMEOUTS.udpStream : CT_TIMEOUTS.udp) * 1000
  if (proto === IPPROTO_ICMP) return CT_TIMEOUTS.icmp * 1000
  return CT_TIMEOUTS.generic * 1000
}

/** Sets the TCP state of a fresh entry from its first packet (SYN: SYN_SENT; else picked up mid-stream). */
export function beginSlot(a: CtArrays, s: number, tcpFlags: number, len: number, now: number): void {
  if (a.i32[s * I32_STRIDE + I_PROTO] === IPPROTO_TCP)
    a.i32[s * I32_STRIDE + I_TCP] = tcpFlags & TCP_SYN && !(tcpFlags & TCP_ACK) ? TS_SYN_SENT : TS_ESTABLISHED
  const d = s * F64_STRIDE
  a.f64[d + F_PACKETS] = 1
  a.f64[d + F_BYTES] = len
  a.f64[d + F_EXPIRES] = now + timeoutMs(a, s)
}

/** Records a packet of tuple `t`: direction bits, TCP state, timeout. */
export function updateTuple(a: CtArrays, t: number, tcpFlags: number, len: number, now: number): void {
  const s = t >> 1
  const dir = t & 1
  const d = s * F64_STRIDE
  const f = a.f64
  const packets = ++f[d + F_PACKETS]!
  f[d + F_BYTES] = f[d + F_BYTES]! + len
  const c = s * I32_STRIDE
  const i = a.i32
  if (dir === REPLY) i[c + I_STATUS] = i[c + I_STATUS]! | IPS_SEEN_REPLY
  if (i[c + I_PROTO] === IPPROTO_TCP) tcpStep(i, c, dir, tcpFlags)
  else if (i[c + I_STATUS]! & IPS_SEEN_REPLY && (dir === ORIGINAL || packets > 2))
    i[c + I_STATUS] = i[c + I_STATUS]! | IPS_ASSURED
  f[d + F_EXPIRES] = now + timeoutMs(a, s)
}

/** The TCP state machine on the entry at i32 offset `c`. */
function tcpStep(i: Int32Array, c: number, dir: number, f: number): void {
  if (f & TCP_RST) {
    i[c + I_TCP] = TS_CLOSE
    return
  }
  const fin = i[c + I_FINDIR]
  switch (i[c + I_TCP]) {
    case TS_NONE:
    case TS_SYN_SENT:
      if (dir === REPLY && f & TCP_SYN && f & TCP_ACK) i[c + I_TCP] = TS_SYN_RECV
      else if (dir === REPLY && f & TCP_ACK) i[c + I_TCP] = TS_ESTABLISHED
      break
    case TS_SYN_RECV:
      if (dir === ORIGINAL && f & TCP_ACK) {
        i[c + I_TCP] = TS_ESTABLISHED
        i[c + I_STATUS] = i[c + I_STATUS]! | IPS_ASSURED
      }
      break
    case TS_ESTABLISHED:
      if (i[c + I_STATUS]! & IPS_SEEN_REPLY) i[c + I_STATUS] = i[c + I_STATUS]! | IPS_ASSURED
      if (f & TCP_FIN) {
        i[c + I_TCP] = TS_FIN_WAIT
        i[c + I_FINDIR] = dir
      }
      break
    case TS_FIN_WAIT:
      if (dir !== fin && f & TCP_FIN) i[c + I_TCP] = TS_LAST_ACK
      else if (dir !== fin && f & TCP_ACK) i[c + I_TCP] = TS_CLOSE_WAIT
      break
    case TS_CLOSE_WAIT:
      if (dir !== fin && f & TCP_FIN) i[c + I_TCP] = TS_LAST_ACK
      break
    case TS_LAST_ACK:
      if (dir === fin && f & TCP_ACK) i[c + I_TCP] = TS_TIME_WAIT
      break
    default:
      break
  }
}

/** ctstate bits for iptables (CT_* of netfilter/types: NEW 2, ESTABLISHED 8, SNAT 32, DNAT 64). */
export function ctstateOf(a: CtArrays, t: number): number {
  const st = a.i32[(t >> 1) * I32_STRIDE + I_STATUS]!
  let s = (t & 1) === ORIGINAL && !(st & IPS_SEEN_REPLY) ? 2 : 8
  if (st & IPS_SRC_NAT) s |= 32
  if (st & IPS_DST_NAT) s |= 64
  return s
}
