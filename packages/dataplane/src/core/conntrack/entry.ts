/**
 * Object views of conntrack entries, for the callers that want objects (`conntrack -L`, the
 * forwarder's snapshot and live fast path, tests). The table makes at most one view per entry and
 * keeps it while the entry lives, so a view's identity is the entry's. A removed entry's view keeps
 * a copy of its last values (it reads like the entry did, and is no longer in the table).
 */
import {
  type CtArrays,
  F_BYTES,
  F_EXPIRES,
  F_ID,
  F_MARK,
  F_PACKETS,
  F64_STRIDE,
  I_FINDIR,
  I_PROTO,
  I_SLOT,
  I_STATUS,
  I_TCP,
  I32_STRIDE,
  ORIGINAL,
  REPLY,
  SLOT_FREE,
  SLOT_LISTED,
  TCP_STATE_INDEX,
  TCP_STATES,
  type TcpState,
  U32_STRIDE,
} from './store.ts'

/** One direction's tuple. For ICMP `sport` is the echo id, `dport` 0. */
export class CtTuple {
  readonly entry: CtEntry
  readonly dir: number
  constructor(entry: CtEntry, dir: number) {
    this.entry = entry
    this.dir = dir
  }
  /** The tuple's handle in its entry's arrays. */
  private at(k: number): number {
    return (this.entry.slot * U32_STRIDE) | (this.dir << 2) | k
  }
  get src(): number {
    return this.entry.a.u32[this.at(0)]!
  }
  set src(x: number) {
    this.entry.a.u32[this.at(0)] = x
  }
  get dst(): number {
    return this.entry.a.u32[this.at(1)]!
  }
  set dst(x: number) {
    this.entry.a.u32[this.at(1)] = x
  }
  get sport(): number {
    return this.entry.a.u32[this.at(2)]!
  }
  set sport(x: number) {
    this.entry.a.u32[this.at(2)] = x
  }
  get dport(): number {
    return this.entry.a.u32[this.at(3)]!
  }
  set dport(x: number) {
    this.entry.a.u32[this.at(3)] = x
  }
  get proto(): number {
    return this.entry.proto
  }
}

export class CtEntry {
  /** The arrays holding the entry: the table's while it is in it, a private copy once removed. */
  a: CtArrays
  slot: number
  readonly orig: CtTuple
  readonly reply: CtTuple
  constructor(a: CtArrays, slot: number) {
    this.a = a
    this.slot = slot
    this.orig = new CtTuple(this, ORIGINAL)
    this.reply = new CtTuple(this, REPLY)
  }
  /** Moves the view onto a private copy of its slot (the table is about to free the slot). */
  detach(): void {
    this.a = this.a.copySlot(this.slot)
    this.slot = 0
    this.a.i32[I_SLOT] = SLOT_FREE
  }
  private i(k: number): number {
    return this.a.i32[this.slot * I32_STRIDE + k]!
  }
  private f(k: number): number {
    return this.a.f64[this.slot * F64_STRIDE + k]!
  }
  get id(): number {
    return this.f(F_ID)
  }
  get proto(): number {
    return this.i(I_PROTO)
  }
  get status(): number {
    return this.i(I_STATUS)
  }
  set status(x: number) {
    this.a.i32[this.slot * I32_STRIDE + I_STATUS] = x
  }
  get tcpState(): TcpState {
    return TCP_STATES[this.i(I_TCP)]!
  }
  set tcpState(x: TcpState) {
    this.a.i32[this.slot * I32_STRIDE + I_TCP] = TCP_STATE_INDEX[x]
  }
  /** Direction that sent the first FIN (for the close sequence), -1 before. */
  get finDir(): number {
    return this.i(I_FINDIR)
  }
  get expires(): number {
    return this.f(F_EXPIRES)
  }
  set expires(x: number) {
    this.a.f64[this.slot * F64_STRIDE + F_EXPIRES] = x
  }
  get mark(): number {
    return this.f(F_MARK)
  }
  set mark(x: number) {
    this.a.f64[this.slot * F64_STRIDE + F_MARK] = x
  }
  get packets(): number {
    return this.f(F_PACKETS)
  }
  get bytes(): number {
    return this.f(F_BYTES)
  }
  /** In the table's list of confirmed entries. */
  get listed(): boolean {
    return this.i(I_SLOT) === SLOT_LISTED
  }
}
