/** BGP message header (RFC 4271 §4.1): 16-byte marker of ones, 2-byte length, 1-byte type. */
import { u16, u16Bytes } from './bytes.ts'
import { type Decoded, ERR, fail, HEADER_SUB } from './errors.ts'

export const HEADER_LEN = 19
export const MAX_MESSAGE_LEN = 4096

export const MSG = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, ROUTE_REFRESH: 5 } as const
export type MsgType = (typeof MSG)[keyof typeof MSG]

/** Smallest legal total length per type (header included); KEEPALIVE and ROUTE-REFRESH are exact. */
const MIN_LEN: Record<number, number> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 23 }
const EXACT: Record<number, boolean> = { 4: true, 5: true }

export interface Header {
  length: number
  type: MsgType
}

/** Validates the header at the start of `b` (which holds at least 19 bytes). */
export function decodeHeader(b: Uint8Array): Decoded<Header> {
  if (b.length < HEADER_LEN) {
    return fail(
      'BGP_HEADER_BAD_LENGTH',
      ERR.HEADER,
      HEADER_SUB.BAD_MESSAGE_LENGTH,
      'truncated header',
      u16Bytes(b.length),
    )
  }
  for (let i = 0; i < 16; i++) {
    if (b[i] !== 0xff) {
      return fail(
        'BGP_HEADER_NOT_SYNCHRONIZED',
        ERR.HEADER,
        HEADER_SUB.CONNECTION_NOT_SYNCHRONIZED,
        'marker is not all ones',
      )
    }
  }
  const length = u16(b, 16)
  const type = b[18] ?? 0
  if (length < HEADER_LEN || length > MAX_MESSAGE_LEN) {
    return fail(
      'BGP_HEADER_BAD_LENGTH',
      ERR.HEADER,
      HEADER_SUB.BAD_MESSAGE_LENGTH,
      `length ${length} is outside 19..4096`,
      u16Bytes(length),
    )
  }
  const min = MIN_LEN[type]
  if (min === undefined) {
    return fail(
      'BGP_HEADER_BAD_TYPE',
      ERR.HEADER,
      HEADER_SUB.BAD_MESSAGE_TYPE,
      `unknown message type ${type}`,
      Uint8Array.of(type),
    )
  }
  if (length < min || (EXACT[type] === true && length !== min)) {
    return fail(
      'BGP_HEADER_BAD_LENGTH',
      ERR.HEADER,
      HEADER_SUB.BAD_MESSAGE_LENGTH,
      `length ${length} is wrong for message type ${type}`,
      u16Bytes(length),
    )
  }
  return { ok: true, msg: { length, type: type as MsgType } }
}

/** Writes a full message: header + body. */
export function frame(type: MsgType, body: Uint8Array): Uint8Array {
  const len = HEADER_LEN + body.length
  const out = new Uint8Array(len)
  out.fill(0xff, 0, 16)
  out[16] = (len >>> 8) & 0xff
  out[17] = len & 0xff
  out[18] = type
  out.set(body, HEADER_LEN)
  return out
}
