/** Message dispatch: decode one framed message (header included) into a typed value; encode any. */
import type { CodecContext } from './attrs/types.ts'
import { u16Bytes } from './bytes.ts'
import { type Decoded, ERR, fail, HEADER_SUB } from './errors.ts'
import { decodeHeader, HEADER_LEN, MSG } from './header.ts'
import { decodeKeepalive, encodeKeepalive, type KeepaliveMessage } from './keepalive.ts'
import { decodeNotification, encodeNotification, type NotificationMessage } from './notification.ts'
import { decodeOpen, encodeOpen, type OpenMessage } from './open.ts'
import { decodeRouteRefresh, encodeRouteRefresh, type RouteRefreshMessage } from './route-refresh.ts'
import { decodeUpdate, encodeUpdate, type UpdateMessage } from './update.ts'

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage

/** Decodes a complete message (header + body). Never throws. */
export function decodeMessage(bytes: Uint8Array, ctx: CodecContext): Decoded<BgpMessage> {
  const h = decodeHeader(bytes)
  if (!h.ok) return h
  if (h.msg.length !== bytes.length) {
    return fail(
      'BGP_HEADER_BAD_LENGTH',
      ERR.HEADER,
      HEADER_SUB.BAD_MESSAGE_LENGTH,
      `header says ${h.msg.length} bytes, got ${bytes.length}`,
      u16Bytes(h.msg.length),
    )
  }
  const body = bytes.subarray(HEADER_LEN)
  switch (h.msg.type) {
    case MSG.OPEN:
      return decodeOpen(body)
    case MSG.UPDATE:
      return decodeUpdate(body, ctx)
    case MSG.NOTIFICATION:
      return decodeNotification(body)
    case MSG.KEEPALIVE:
      return decodeKeepalive(body)
    case MSG.ROUTE_REFRESH:
      return decodeRouteRefresh(body)
  }
}

export function encodeMessage(m: BgpMessage, ctx: CodecContext): Uint8Array {
  switch (m.type) {
    case 'OPEN':
      return encodeOpen(m)
    case 'UPDATE':
      return encodeUpdate(m, ctx)
    case 'NOTIFICATION':
      return encodeNotification(m)
    case 'KEEPALIVE':
      return encodeKeepalive()
    case 'ROUTE_REFRESH':
      return encodeRouteRefresh(m)
  }
}
