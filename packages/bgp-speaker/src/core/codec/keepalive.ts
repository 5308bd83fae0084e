/** KEEPALIVE (RFC 4271 §4.4): a header with no body. */

import { u16Bytes } from './bytes.ts'
import { type Decoded, ERR, fail, HEADER_SUB } from './errors.ts'
import { frame, HEADER_LEN, MSG } from './header.ts'

export interface KeepaliveMessage {
  type: 'KEEPALIVE'
}

export function encodeKeepalive(): Uint8Array {
  return frame(MSG.KEEPALIVE, new Uint8Array(0))
}

export function decodeKeepalive(body: Uint8Array): Decoded<KeepaliveMessage> {
  if (body.length !== 0) {
    return fail(
      'BGP_HEADER_BAD_LENGTH',
      ERR.HEADER,
      HEADER_SUB.BAD_MESSAGE_LENGTH,
      'KEEPALIVE has a body',
      u16Bytes(HEADER_LEN + body.length),
    )
  }
  return { ok: true, msg: { type: 'KEEPALIVE' } }
}
