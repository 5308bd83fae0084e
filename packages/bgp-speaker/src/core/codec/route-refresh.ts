/** ROUTE-REFRESH (RFC 2918): AFI, reserved (RFC 7313 subtype), SAFI. */
import { u16, u16Bytes } from './bytes.ts'
import { type Decoded, ERR, fail, HEADER_SUB } from './errors.ts'
import { frame, HEADER_LEN, MSG } from './header.ts'

export interface RouteRefreshMessage {
  type: 'ROUTE_REFRESH'
  afi: number
  safi: number
  /** RFC 7313 message subtype (0 = normal request). */
  subtype: number
}

export function encodeRouteRefresh(m: Omit<RouteRefreshMessage, 'type'>): Uint8Array {
  return frame(MSG.ROUTE_REFRESH, Uint8Array.of((m.afi >>> 8) & 0xff, m.afi & 0xff, m.subtype, m.safi))
}

export function decodeRouteRefresh(body: Uint8Array): Decoded<RouteRefreshMessage> {
  if (body.length !== 4) {
    return fail(
      'BGP_HEADER_BAD_LENGTH',
      ERR.HEADER,
      HEADER_SUB.BAD_MESSAGE_LENGTH,
      'ROUTE-REFRESH must have a 4-byte body',
      u16Bytes(HEADER_LEN + body.length),
    )
  }
  return { ok: true, msg: { type: 'ROUTE_REFRESH', afi: u16(body, 0), subtype: body[2] ?? 0, safi: body[3] ?? 0 } }
}
