import { C1, Packr } from 'msgpackr'
import { ProtoError } from './errors.ts'

/**
 * Length-prefixed msgpackr frames: `[u32 BE payload length][msgpack payload]`.
 *
 * Encoding uses `Packr({ useRecords: false })`: no record structures, so an encoded frame carries
 * no per-stream state and the same Buffer may be written to any number of sockets (Typha encodes
 * each update once and fans the bytes out).
 */
export const FRAME_HEADER_BYTES = 4
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024

/**
 * A stateless codec instance (no records, no shared structures): safe to share. The only
 * state msgpackr keeps is a scratch buffer, which never leaks between returned Buffers.
 */
const PACKR = new Packr({ useRecords: false })

/** One message as a bare msgpack payload (no length prefix): one WebSocket message. */
export function packMessage(msg: unknown): Buffer {
  return PACKR.pack(msg)
}

/** Decode a bare msgpack payload; a typed error instead of a throw. */
export function unpackMessage(buf: Uint8Array): unknown | ProtoError {
  try {
    const msg: unknown = PACKR.unpack(buf)
    // 0xc1 is "never used" in msgpack; msgpackr hands back a sentinel instead of failing.
    if (msg === C1) throw new Error('reserved byte 0xc1')
    return msg
  } catch (err) {
    return new ProtoError(
      { code: 'PROTO_UNDECODABLE', message: `undecodable msgpack payload (${buf.length} bytes)`, bytes: buf.length },
      { cause: err },
    )
  }
}

/**
 * Encode one message as a complete frame. The returned Buffer is immutable by convention and owns
 * its memory: write it to as many sockets as needed ("encode once, send many").
 */
export function encodeFrame(msg: unknown): Buffer {
  const payload = PACKR.pack(msg)
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  out.writeUInt32BE(payload.length, 0)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/** Alias spelling the fan-out contract: encode once, write the same bytes to many peers. */
export const encodeOnce = encodeFrame

export interface FramerOptions {
  /** Largest payload accepted, in bytes (default 64 MiB). */
  maxFrameBytes?: number
}

export interface FramerResult {
  /** Messages decoded from complete frames, in order. */
  messages: unknown[]
  /** Set when the stream is broken; the Framer then stays failed (close the connection). */
  error?: ProtoError
}

/**
 * Cuts a byte stream into frames and decodes them. Never throws: a bad length or an undecodable
 * payload comes back as `error`, after the messages decoded before it. Once failed, every later
 * push returns the same error (a byte stream cannot be resynchronised).
 */
export class Framer {
  private readonly maxFrameBytes: number
  private chunks: Buffer[] = []
  private buffered = 0
  private failed: ProtoError | undefined

  constructor(opts: FramerOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered
  }

  push(chunk: Uint8Array): FramerResult {
    const messages: unknown[] = []
    if (this.failed) return { messages, error: this.failed }
    if (chunk.length > 0) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length))
      this.buffered += chunk.length
    }
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const len = this.peekLength()
      if (len > this.maxFrameBytes) {
        const err = new ProtoError({
          code: 'PROTO_FRAME_TOO_LARGE',
          message: `frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes} bytes`,
          length: len,
          max: this.maxFrameBytes,
        })
        this.fail(err)
        return { messages, error: err }
      }
      if (this.buffered < FRAME_HEADER_BYTES + len) break
      const frame = this.take(FRAME_HEADER_BYTES + len)
      const msg = unpackMessage(frame.subarray(FRAME_HEADER_BYTES))
      if (msg instanceof ProtoError) {
        this.fail(msg)
        return { messages, error: msg }
      }
      messages.push(msg)
    }
    return { messages }
  }

  private fail(err: ProtoError): void {
    this.failed = err
    this.chunks = []
    this.buffered = 0
  }

  private peekLength(): number {
    const first = this.chunks[0] as Buffer
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0)
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES)
    let n = 0
    for (const c of this.chunks) {
      const k = Math.min(c.length, FRAME_HEADER_BYTES - n)
      c.copy(head, n, 0, k)
      n += k
      if (n === FRAME_HEADER_BYTES) break
    }
    return head.readUInt32BE(0)
  }

  /** Remove and return the first n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer
    if (first.length >= n) {
      const out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      this.buffered -= n
      return out
    }
    const out = Buffer.allocUnsafe(n)
    let off = 0
    while (off < n) {
      const c = this.chunks[0] as Buffer
      const k = Math.min(c.length, n - off)
      c.copy(out, off, 0, k)
      off += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    this.buffered -= n
    return out
  }
}
