/** Small byte helpers shared by the BGP codecs (big-endian, network order). */

export class Writer {
  private buf: Uint8Array
  private n = 0

  constructor(size = 64) {
    this.buf = new Uint8Array(size)
  }

  get length(): number {
    return this.n
  }

  private ensure(extra: number): void {
    if (this.n + extra <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.n + extra) size *= 2
    const b = new Uint8Array(size)
    b.set(this.buf.subarray(0, this.n))
    this.buf = b
  }

  u8(v: number): this {
    this.ensure(1)
    this.buf[this.n++] = v & 0xff
    return this
  }

  u16(v: number): this {
    this.ensure(2)
    this.buf[this.n++] = (v >>> 8) & 0xff
    this.buf[this.n++] = v & 0xff
    return this
  }

  u32(v: number): this {
    this.ensure(4)
    this.buf[this.n++] = (v >>> 24) & 0xff
    this.buf[this.n++] = (v >>> 16) & 0xff
    this.buf[this.n++] = (v >>> 8) & 0xff
    this.buf[this.n++] = v & 0xff
    return this
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length)
    this.buf.set(b, this.n)
    this.n += b.length
    return this
  }

  /** Overwrites a u16 already written at `at`. */
  patchU16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff
    this.buf[at + 1] = v & 0xff
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.n)
  }
}

export function u16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
}

export function u32(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0
}

export function u16Bytes(v: number): Uint8Array {
  return Uint8Array.of((v >>> 8) & 0xff, v & 0xff)
}
