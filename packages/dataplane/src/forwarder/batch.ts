/**
 * A batch of packets in ONE ArrayBuffer, transferred (not copied) to a worker and back.
 *
 *   [header 48 B][meta: 5 × u32 per slot][packet bytes ...]
 *   header u32: 0 count, 1 version, 2 status, 3 capacity (slots), 4 data offset, 5 data used
 *   header f64 at byte 32: the worker's processing time for this batch (ms)
 *   meta per packet: offset, length, action, arg (device index or drop reason), via
 *
 * The worker rewrites packets in place (NAT, TTL) and fills action/arg/via; lengths never change
 * on the fast path. No per-packet objects are made on either side.
 */

/** What the fast path decided for one packet (`FWD_SLOW`: run the full pipeline). */
export const FWD_SLOW = 0
export const FWD_LOCAL = 1
export const FWD_FORWARD = 2
/** Forward to a gateway: `via` holds its address. */
export const FWD_FORWARD_VIA = 3
export const FWD_DROP = 4

/** Drop reasons the fast path can give (`arg` of FWD_DROP). */
export const FWD_DROP_REASONS = ['BLACKHOLE'] as const

export const BATCH_OK = 0
/** The worker had no snapshot for the batch's version (every packet is FWD_SLOW). */
export const BATCH_NO_SNAPSHOT = 1

const HEADER_BYTES = 48
const META_WORDS = 5

export class PacketBatch {
  buf: ArrayBuffer
  /** The whole buffer as bytes: packet i is bytes[offset(i) .. offset(i)+length(i)). */
  bytes: Uint8Array
  private hdr: Uint32Array
  private hdrF: Float64Array
  private meta: Uint32Array

  constructor(buf: ArrayBuffer) {
    this.buf = buf
    this.bytes = new Uint8Array(buf)
    this.hdr = new Uint32Array(buf, 0, 8)
    this.hdrF = new Float64Array(buf, 32, 1)
    const cap = this.hdr[3]!
    this.meta = new Uint32Array(buf, HEADER_BYTES, cap * META_WORDS)
  }

  /** Where the packet bytes start in a batch of `slots` slots. */
  static dataOffset(slots: number): number {
    return HEADER_BYTES + slots * META_WORDS * 4
  }

  /** An empty batch of `slots` packets and `dataBytes` of packet bytes. */
  static create(slots = 256, dataBytes = slots * 256): PacketBatch {
    const dataOff = PacketBatch.dataOffset(slots)
    const buf = new ArrayBuffer(dataOff + dataBytes)
    const h = new Uint32Array(buf, 0, 8)
    h[3] = slots
    h[4] = dataOff
    h[5] = 0
    return new PacketBatch(buf)
  }

  /** Re-attaches the views to `buf` (the same memory, transferred back from a worker). */
  attach(buf: ArrayBuffer): void {
    this.buf = buf
    this.bytes = new Uint8Array(buf)
    this.hdr = new Uint32Array(buf, 0, 8)
    this.hdrF = new Float64Array(buf, 32, 1)
    this.meta = new Uint32Array(buf, HEADER_BYTES, this.hdr[3]! * META_WORDS)
  }

  get count(): number {
    return this.hdr[0]!
  }
  get capacity(): number {
    return this.hdr[3]!
  }
  get version(): number {
    return this.hdr[1]!
  }
  set version(v: number) {
    this.hdr[1] = v
  }
  get status(): number {
    return this.hdr[2]!
  }
  set status(s: number) {
    this.hdr[2] = s
  }
  /** Milliseconds the worker spent on this batch (set by the worker). */
  get workerMs(): number {
    return this.hdrF[0]!
  }
  set workerMs(ms: number) {
    this.hdrF[0] = ms
  }

  /** Empties the batch (keeps the buffer). */
  clear(): void {
    this.hdr[0] = 0
    this.hdr[2] = 0
    this.hdr[5] = 0
    this.hdrF[0] = 0
  }

  /** Copies a packet in; false when the batch is full (slots or bytes). */
  push(pkt: Uint8Array): boolean {
    const h = this.hdr
    const n = h[0]!
    const at = h[4]! + h[5]!
    if (n >= h[3]! || at + pkt.length > this.bytes.length) return false
    this.bytes.set(pkt, at)
    const m = n * META_WORDS
    const meta = this.meta
    meta[m] = at
    meta[m + 1] = pkt.length
    meta[m + 2] = FWD_SLOW
    meta[m + 3] = 0
    meta[m + 4] = 0
    h[5] = h[5]! + ((pkt.length + 3) & ~3)
    h[0] = n + 1
    return true
  }

  offset(i: number): number {
    return this.meta[i * META_WORDS]!
  }
  length(i: number): number {
    return this.meta[i * META_WORDS + 1]!
  }
  action(i: number): number {
    return this.meta[i * META_WORDS + 2]!
  }
  /** The egress device index (FWD_FORWARD*) or the drop reason index (FWD_DROP). */
  arg(i: number): number {
    return this.meta[i * META_WORDS + 3]!
  }
  via(i: number): number {
    return this.meta[i * META_WORDS + 4]!
  }
  setResult(i: number, action: number, arg: number, via: number): void {
    const m = i * META_WORDS
    this.meta[m + 2] = action
    this.meta[m + 3] = arg
    this.meta[m + 4] = via
  }
  /** A view of packet i's bytes (no copy; valid until the batch is sent again). */
  packet(i: number): Uint8Array {
    const m = i * META_WORDS
    return this.bytes.subarray(this.meta[m]!, this.meta[m]! + this.meta[m + 1]!)
  }
}
