/**
 * Decode errors. Every error a decoder returns carries the NOTIFICATION it maps to (RFC 4271 §4.5,
 * §6; RFC 5492; RFC 7606), so the session answers with exactly that code/subcode/data.
 */

export const ERR = {
  HEADER: 1,
  OPEN: 2,
  UPDATE: 3,
  HOLD_TIMER_EXPIRED: 4,
  FSM: 5,
  CEASE: 6,
  ROUTE_REFRESH: 7,
} as const

export const HEADER_SUB = { CONNECTION_NOT_SYNCHRONIZED: 1, BAD_MESSAGE_LENGTH: 2, BAD_MESSAGE_TYPE: 3 } as const

export const OPEN_SUB = {
  UNSUPPORTED_VERSION: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_IDENTIFIER: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6,
  UNSUPPORTED_CAPABILITY: 7,
} as const

export const UPDATE_SUB = {
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN: 2,
  MISSING_WELL_KNOWN: 3,
  ATTRIBUTE_FLAGS: 4,
  ATTRIBUTE_LENGTH: 5,
  INVALID_ORIGIN: 6,
  INVALID_NEXT_HOP: 8,
  OPTIONAL_ATTRIBUTE: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11,
} as const

/** RFC 4486 Cease subcodes. */
export const CEASE_SUB = {
  MAX_PREFIXES: 1,
  ADMIN_SHUTDOWN: 2,
  PEER_DECONFIGURED: 3,
  ADMIN_RESET: 4,
  CONNECTION_REJECTED: 5,
  OTHER_CONFIG_CHANGE: 6,
  CONNECTION_COLLISION: 7,
  OUT_OF_RESOURCES: 8,
} as const

/** Stable error codes (CONVENTIONS §8), one per NOTIFICATION the decoders can ask for. */
export type BgpErrorCode =
  | 'BGP_HEADER_NOT_SYNCHRONIZED'
  | 'BGP_HEADER_BAD_LENGTH'
  | 'BGP_HEADER_BAD_TYPE'
  | 'BGP_OPEN_UNSUPPORTED_VERSION'
  | 'BGP_OPEN_BAD_PEER_AS'
  | 'BGP_OPEN_BAD_IDENTIFIER'
  | 'BGP_OPEN_UNSUPPORTED_PARAMETER'
  | 'BGP_OPEN_BAD_HOLD_TIME'
  | 'BGP_OPEN_UNSUPPORTED_CAPABILITY'
  | 'BGP_OPEN_MALFORMED'
  | 'BGP_UPDATE_MALFORMED_ATTRIBUTE_LIST'
  | 'BGP_UPDATE_UNRECOGNIZED_WELL_KNOWN'
  | 'BGP_UPDATE_MISSING_WELL_KNOWN'
  | 'BGP_UPDATE_ATTRIBUTE_FLAGS'
  | 'BGP_UPDATE_ATTRIBUTE_LENGTH'
  | 'BGP_UPDATE_INVALID_ORIGIN'
  | 'BGP_UPDATE_INVALID_NEXT_HOP'
  | 'BGP_UPDATE_OPTIONAL_ATTRIBUTE'
  | 'BGP_UPDATE_INVALID_NETWORK_FIELD'
  | 'BGP_UPDATE_MALFORMED_AS_PATH'
  | 'BGP_NOTIFICATION_MALFORMED'
  | 'BGP_ROUTE_REFRESH_MALFORMED'

export interface BgpDecodeError {
  /** Stable code for logs and metrics. */
  kind: BgpErrorCode
  /** NOTIFICATION error code. */
  code: number
  /** NOTIFICATION error subcode. */
  subcode: number
  /** NOTIFICATION data field. */
  data: Uint8Array
  /** What was wrong, for people. */
  message: string
}

export type Decoded<T> = { ok: true; msg: T } | { ok: false; error: BgpDecodeError }

export function bgpError(
  kind: BgpErrorCode,
  code: number,
  subcode: number,
  message: string,
  data: Uint8Array = new Uint8Array(0),
): BgpDecodeError {
  return { kind, code, subcode, data, message }
}

export function fail<T>(
  kind: BgpErrorCode,
  code: number,
  subcode: number,
  message: string,
  data?: Uint8Array,
): Decoded<T> {
  return { ok: false, error: bgpError(kind, code, subcode, message, data) }
}

const CODE_NAMES: Record<number, string> = {
  1: 'Message header error',
  2: 'OPEN message error',
  3: 'UPDATE message error',
  4: 'Hold timer expired',
  5: 'Finite state machine error',
  6: 'Cease',
  7: 'ROUTE-REFRESH message error',
}

const SUB_NAMES: Record<string, string> = {
  '1/1': 'Connection not synchronized',
  '1/2': 'Bad message length',
  '1/3': 'Bad message type',
  '2/1': 'Unsupported version number',
  '2/2': 'Bad peer AS',
  '2/3': 'Bad BGP identifier',
  '2/4': 'Unsupported optional parameter',
  '2/6': 'Unacceptable hold time',
  '2/7': 'Unsupported capability',
  '3/1': 'Malformed attribute list',
  '3/2': 'Unrecognized well-known attribute',
  '3/3': 'Missing mandatory attribute',
  '3/4': 'Attribute flags error',
  '3/5': 'Attribute length error',
  '3/6': 'Invalid ORIGIN attribute',
  '3/8': 'Invalid NEXT_HOP attribute',
  '3/9': 'Optional attribute error',
  '3/10': 'Invalid network field',
  '3/11': 'Malformed AS_PATH',
  '6/1': 'Maximum number of prefixes reached',
  '6/2': 'Administrative shutdown',
  '6/3': 'Peer de-configured',
  '6/4': 'Administrative reset',
  '6/5': 'Connection rejected',
  '6/6': 'Other configuration change',
  '6/7': 'Connection collision resolution',
  '6/8': 'Out of resources',
}

/** BIRD-like text for a NOTIFICATION, e.g. "OPEN message error: Bad peer AS". */
export function describeNotification(code: number, subcode: number): string {
  const c = CODE_NAMES[code] ?? `Error ${code}`
  const s = SUB_NAMES[`${code}/${subcode}`]
  return s ? `${c}: ${s}` : subcode === 0 ? c : `${c} (${subcode})`
}
