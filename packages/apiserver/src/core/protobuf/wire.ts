/**
 * Protocol Buffers wire format, read side: varints, tags, length-delimited and fixed-width values.
 * Only what decoding Kubernetes' proto2 messages needs; every read is bounds-checked and a malformed
 * input becomes a ProtobufError, never an exception of another kind or a read past the end.
 */

export const WIRE_VARINT = 0
export const WIRE_FIXED64 = 1
export const WIRE_LEN = 2
export const WIRE_FIXED32 = 5

export const WIRE_NAMES: Record<number, string> = {
  0: 'varint',
  1: 'fixed64',
  2: 'length-delimited',
  3: 'start-group',
  4: 'end-group',
  5: 'fixed32',
}

/** Stable codes; `http` is what the API server answers (400 malformed, 415 not understood here). */
export const PROTOBUF_ERRORS = {
  PB_BAD_MAGIC: 400,
  PB_TRUNCATED: 400,
  PB_BAD_VARINT: 400,
  PB_BAD_WIRE_TYPE: 400,
  PB_BAD_FIELD_NUMBER: 400,
  PB_BAD_VALUE: 400,
  PB_TOO_DEEP: 400,
  PB_UNKNOWN_KIND: 415,
  PB_UNKNOWN_FIELD: 415,
  PB_UNSUPPORTED_ENCODING: 415,
} as const

export type ProtobufErrorCode = keyof typeof PROTOBUF_ERRORS

export class ProtobufError extends Error {
  readonly code: ProtobufErrorCode
  readonly http: 400 | 415
  constructor(code: ProtobufErrorCode, message: string) {
    super(message)
    this.name = 'ProtobufError'
    this.code = code
    this.http = PROTOBUF_ERRORS[code]
  }
}

const TWO_32 = 0x1_0000_0000

/** A cursor over one message's bytes, [pos, end). */
export class WireReader {
  readonly buf: Uint8Array
  pos: number
  readonly end: number

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf
    this.pos = pos
    this.end = end
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  /** A varint as an unsigned 64-bit bigint (at most 10 bytes). */
  varint64(): bigint {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('PB_TRUNCATED', 'truncated varint')
      const b = this.buf[this.pos++] as number
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result)
      shift += 7n
    }
    throw new ProtobufError('PB_BAD_VARINT', 'varint longer than 10 bytes')
  }

  /** A varint that must fit in 32 bits unsigned (tags and lengths); fast path without bigint. */
  varint32(): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('PB_TRUNCATED', 'truncated varint')
      const b = this.buf[this.pos++] as number
      result += (b & 0x7f) * mul
      if ((b & 0x80) === 0) {
        if (result >= TWO_32) throw new ProtobufError('PB_BAD_VARINT', `varint ${result} does not fit in 32 bits`)
        return result
      }
      mul *= 128
    }
    throw new ProtobufError('PB_BAD_VARINT', 'varint longer than 10 bytes')
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wire: number } {
    const t = this.varint32()
    const field = Math.floor(t / 8)
    const wire = t & 7
    if (field === 0) throw new ProtobufError('PB_BAD_FIELD_NUMBER', 'field number 0 is not allowed')
    return { field, wire }
  }

  /** A length-delimited value: its [start, end) inside `buf`. */
  lengthDelimited(): { start: number; end: number } {
    const len = this.varint32()
    const start = this.pos
    if (len > this.end - start) {
      throw new ProtobufError(
        'PB_TRUNCATED',
        `length ${len} runs past the end of the message (${this.end - start} left)`,
      )
    }
    this.pos = start + len
    return { start, end: start + len }
  }

  bytes(): Uint8Array {
    const { start, end } = this.lengthDelimited()
    return this.buf.subarray(start, end)
  }

  string(): string {
    return Buffer.from(this.bytes()).toString('utf8')
  }

  private fixed(n: 4 | 8): DataView {
    if (this.end - this.pos < n) throw new ProtobufError('PB_TRUNCATED', `truncated fixed${n * 8} value`)
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, n)
    this.pos += n
    return v
  }

  double(): number {
    return this.fixed(8).getFloat64(0, true)
  }

  float(): number {
    return this.fixed(4).getFloat32(0, true)
  }
}

/** int32 fields carry negatives sign-extended to 64 bits. */
export function toInt32(v: bigint): number {
  return Number(BigInt.asIntN(32, v))
}

export function toInt64(v: bigint): number {
  return Number(BigInt.asIntN(64, v))
}
