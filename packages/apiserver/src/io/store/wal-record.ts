import zlib from 'node:zlib'

/**
 * WAL / snapshot record framing: `[u32 BE payload length][u32 BE crc32(payload)][payload]`.
 * Pure byte functions; the durable store does the file I/O.
 */
export const RECORD_HEADER_BYTES = 8
/** Sanity bound on one record (a commit or a whole snapshot). */
export const MAX_RECORD_BYTES = 1024 * 1024 * 1024

type Crc32 = (data: Uint8Array) => number

function tableCrc32(): Crc32 {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return (data) => {
    let c = 0xffffffff
    for (let i = 0; i < data.length; i++) c = (table[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
}

/** zlib.crc32 exists from Node 20.15 / 22.2; fall back to a table-driven implementation. */
const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32
export const crc32: Crc32 = typeof nativeCrc32 === 'function' ? (d) => nativeCrc32(d) >>> 0 : tableCrc32()

export function encodeRecord(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length)
  out.writeUInt32BE(payload.length, 0)
  out.writeUInt32BE(crc32(payload), 4)
  out.set(payload, RECORD_HEADER_BYTES)
  return out
}

export type ScanResult =
  | { kind: 'record'; offset: number; payload: Buffer; next: number }
  | { kind: 'end'; offset: number }
  /** Something that can only be an interrupted write: nothing valid can follow it. */
  | { kind: 'torn'; offset: number; reason: string }
  /** A bad record with data after it: not a torn tail. */
  | { kind: 'corrupt'; offset: number; reason: string }

/** Read the record at `offset` of `buf`. */
export function readRecord(buf: Buffer, offset: number): ScanResult {
  const left = buf.length - offset
  if (left === 0) return { kind: 'end', offset }
  if (left < RECORD_HEADER_BYTES) return { kind: 'torn', offset, reason: `short header (${left} bytes)` }
  const len = buf.readUInt32BE(offset)
  const crc = buf.readUInt32BE(offset + 4)
  if (len === 0 && crc === 0 && isZero(buf, offset)) {
    return { kind: 'torn', offset, reason: 'zero-filled tail' }
  }
  if (len > MAX_RECORD_BYTES || len > left - RECORD_HEADER_BYTES) {
    return {
      kind: 'torn',
      offset,
      reason: `length ${len} runs past the end (${left - RECORD_HEADER_BYTES} bytes left)`,
    }
  }
  const start = offset + RECORD_HEADER_BYTES
  const payload = buf.subarray(start, start + len)
  if (crc32(payload) !== crc) {
    const next = start + len
    if (next === buf.length || isZero(buf, next)) {
      return { kind: 'torn', offset, reason: 'crc mismatch in the last record' }
    }
    return { kind: 'corrupt', offset, reason: 'crc mismatch' }
  }
  return { kind: 'record', offset, payload, next: start + len }
}

function isZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false
  return true
}
