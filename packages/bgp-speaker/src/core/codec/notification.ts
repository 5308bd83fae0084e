/** NOTIFICATION (RFC 4271 §4.5): error code, subcode, data. */

import { u16Bytes } from './bytes.ts'
import { type Decoded, ERR, fail, HEADER_SUB } from './errors.ts'
import { frame, HEADER_LEN, MSG } from './header.ts'

export interface NotificationMessage {
  type: 'NOTIFICATION'
  code: number
  subcode: number
  data: Uint8Array
}

export function notification(code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): NotificationMessage {
  return { type: 'NOTIFICATION', code, subcode, data }
}

export function encodeNotification(m: NotificationMessage): Uint8Array {
  const body = new Uint8Array(2 + m.data.length)
  body[0] = m.code
  body[1] = m.subcode
  body.set(m.data, 2)
  return frame(MSG.NOTIFICATION, body)
}

export function decodeNotification(body: Uint8Array): Decoded<NotificationMessage> {
  if (body.length < 2) {
    return fail(
      'BGP_HEADER_BAD_LENGTH',
      ERR.HEADER,
      HEADER_SUB.BAD_MESSAGE_LENGTH,
      'NOTIFICATION too short',
      u16Bytes(HEADER_LEN + body.length),
    )
  }
  return { ok: true, msg: notification(body[0] ?? 0, body[1] ?? 0, body.slice(2)) }
}
