import type { KubeObject } from '@calilab/model'
import { ProtoError } from './errors.ts'
import {
  bad,
  checkEnvelope,
  isKubeObject,
  isRecord,
  isRevision,
  parseErrorMessage,
  parsePingPong,
  unknownType,
  versionError,
} from './validate.ts'

/**
 * The Typha sync protocol (Typha -> node agents), over TCP (optionally mutual TLS). Every message
 * is one length-prefixed msgpackr frame (`encodeFrame` / `Framer` in frame.ts). Server-to-client
 * delta frames are encoded ONCE per syncer type and the same bytes are written to every client.
 *
 *   client                                       typha
 *     |--- hello {version, nodeName, syncerType} -->|
 *     |<-- hello {version, syncerType, serverId} ---|   (or error + close: version / malformed)
 *     |<-- snapshot {kvs, revision} (x N chunks) ---|
 *     |<-- in-sync {revision} ----------------------|
 *     |<-- deltas {revision, updates} ... ----------|   live
 *     |<-> ping {t} / pong {t} (both directions) ---|
 */
export const TYPHA_PROTOCOL_VERSION = 1
/** Updates per snapshot chunk (Calico: ServerMaxMessageSize = 100). */
export const TYPHA_SNAPSHOT_CHUNK = 500
export const TYPHA_DEFAULT_PORT = 5473

export const SYNCER_TYPES = ['felix', 'bgp'] as const
export type SyncerType = (typeof SYNCER_TYPES)[number]

export type TyphaCompression = 'none'

/** One key's new value; `value: null` is a deletion. */
export interface TyphaUpdate {
  key: string
  value: KubeObject | null
}

// ---- client -> server -------------------------------------------------------------------------
export interface TyphaClientHello {
  type: 'hello'
  version: number
  nodeName: string
  syncerType: SyncerType
  compression?: TyphaCompression
  /** Free text (agent version, connection id), logged only. */
  info?: string
}
export interface TyphaPing {
  type: 'ping'
  t: number
}
export interface TyphaPong {
  type: 'pong'
  t: number
}
export type TyphaClientMessage = TyphaClientHello | TyphaPing | TyphaPong

// ---- server -> client -------------------------------------------------------------------------
export interface TyphaServerHello {
  type: 'hello'
  version: number
  syncerType: SyncerType
  serverId: string
  compression: TyphaCompression
}
/** One chunk of the snapshot at `revision`. */
export interface TyphaSnapshot {
  type: 'snapshot'
  revision: number
  kvs: TyphaUpdate[]
}
export interface TyphaInSync {
  type: 'in-sync'
  revision: number
}
export interface TyphaDeltas {
  type: 'deltas'
  revision: number
  updates: TyphaUpdate[]
}
export interface TyphaError {
  type: 'error'
  code: string
  message: string
}
export type TyphaServerMessage =
  | TyphaServerHello
  | TyphaSnapshot
  | TyphaInSync
  | TyphaDeltas
  | TyphaError
  | TyphaPing
  | TyphaPong

/** Error codes carried in a TyphaError frame. */
export const TYPHA_ERROR = {
  VERSION: 'TYPHA_VERSION',
  MALFORMED: 'TYPHA_MALFORMED',
  UNEXPECTED: 'TYPHA_UNEXPECTED',
  HANDSHAKE_TIMEOUT: 'TYPHA_HANDSHAKE_TIMEOUT',
  FELL_BEHIND: 'TYPHA_FELL_BEHIND',
  PONG_TIMEOUT: 'TYPHA_PONG_TIMEOUT',
  SHUTDOWN: 'TYPHA_SHUTDOWN',
  TLS_CLIENT_REJECTED: 'TYPHA_TLS_CLIENT_REJECTED',
} as const

// ---- kinds per syncer type --------------------------------------------------------------------
const FELIX_PREFIXES = [
  '/core/pods/',
  '/core/namespaces/',
  '/core/serviceaccounts/',
  '/core/nodes/',
  '/core/services/',
  '/core/endpoints/',
  '/networking.k8s.io/networkpolicies/',
  '/projectcalico.org/workloadendpoints/',
  '/projectcalico.org/networkpolicies/',
  '/projectcalico.org/globalnetworkpolicies/',
  '/projectcalico.org/networksets/',
  '/projectcalico.org/globalnetworksets/',
  '/projectcalico.org/hostendpoints/',
  '/projectcalico.org/ippools/',
  '/projectcalico.org/felixconfigurations/',
  '/projectcalico.org/clusterinformations/',
  '/projectcalico.org/nodes/',
  '/projectcalico.org/profiles/',
  '/projectcalico.org/tiers/',
] as const
const BGP_PREFIXES = [
  '/core/nodes/',
  '/core/services/',
  '/core/endpoints/',
  '/projectcalico.org/nodes/',
  '/projectcalico.org/bgpconfigurations/',
  '/projectcalico.org/bgppeers/',
  '/projectcalico.org/ippools/',
  '/projectcalico.org/ipamblocks/',
  '/projectcalico.org/blockaffinities/',
] as const

/** Store-key prefixes each syncer type receives. */
export const SYNCER_PREFIXES: Readonly<Record<SyncerType, readonly string[]>> = {
  felix: FELIX_PREFIXES,
  bgp: BGP_PREFIXES,
}

/** Union of every syncer type's prefixes (what Typha watches upstream), de-duplicated, sorted. */
export function allSyncerPrefixes(): string[] {
  return [...new Set(SYNCER_TYPES.flatMap((t) => SYNCER_PREFIXES[t]))].sort()
}

export function syncerWants(type: SyncerType, key: string): boolean {
  for (const p of SYNCER_PREFIXES[type]) if (key.startsWith(p)) return true
  return false
}

export function isSyncerType(x: unknown): x is SyncerType {
  return typeof x === 'string' && (SYNCER_TYPES as readonly string[]).includes(x)
}

// ---- validation -------------------------------------------------------------------------------
function typhaVersionError(got: number, side: 'server' | 'client'): ProtoError {
  return versionError(
    side === 'server'
      ? `unsupported Typha protocol version ${got} (this Typha speaks ${TYPHA_PROTOCOL_VERSION})`
      : `Typha speaks protocol version ${got}, this client ${TYPHA_PROTOCOL_VERSION}`,
    got,
    TYPHA_PROTOCOL_VERSION,
  )
}

/** Check an array of updates; returns an error message or undefined. */
function checkUpdates(xs: unknown, what: string): string | undefined {
  if (!Array.isArray(xs)) return `${what} must be an array`
  for (let i = 0; i < xs.length; i++) {
    const u: unknown = xs[i]
    if (!isRecord(u) || typeof u.key !== 'string' || !(u.value === null || isKubeObject(u.value))) {
      return `${what}[${i}] must be {key: string, value: KubeObject | null}`
    }
  }
  return undefined
}

/** Validate a decoded client message (server side). PROTO_BAD_MESSAGE or PROTO_VERSION on error. */
export function parseTyphaClientMessage(raw: unknown): TyphaClientMessage | ProtoError {
  const x = checkEnvelope(raw)
  if (x instanceof ProtoError) return x
  switch (x.type) {
    case 'hello': {
      if (typeof x.version !== 'number') return bad('hello.version must be a number')
      if (x.version !== TYPHA_PROTOCOL_VERSION) return typhaVersionError(x.version, 'server')
      if (typeof x.nodeName !== 'string' || x.nodeName.length === 0 || x.nodeName.length > 253) {
        return bad('hello.nodeName must be a non-empty string of at most 253 characters')
      }
      if (!isSyncerType(x.syncerType)) return bad(`hello.syncerType must be one of ${SYNCER_TYPES.join(', ')}`)
      const hello: TyphaClientHello = {
        type: 'hello',
        version: x.version,
        nodeName: x.nodeName,
        syncerType: x.syncerType,
      }
      if (x.compression !== undefined && x.compression !== null) {
        if (x.compression !== 'none') return bad('hello.compression: only "none" is supported')
        hello.compression = 'none'
      }
      if (typeof x.info === 'string') hello.info = x.info.slice(0, 256)
      return hello
    }
    case 'ping':
    case 'pong':
      return parsePingPong(x.type, x)
    default:
      return unknownType('client', x.type)
  }
}

/** Validate a decoded server message (client side). */
export function parseTyphaServerMessage(raw: unknown): TyphaServerMessage | ProtoError {
  const x = checkEnvelope(raw)
  if (x instanceof ProtoError) return x
  switch (x.type) {
    case 'hello':
      if (typeof x.version !== 'number') return bad('hello.version must be a number')
      if (x.version !== TYPHA_PROTOCOL_VERSION) return typhaVersionError(x.version, 'client')
      if (!isSyncerType(x.syncerType)) return bad('hello.syncerType must be a known syncer type')
      if (typeof x.serverId !== 'string') return bad('hello.serverId must be a string')
      return { type: 'hello', version: x.version, syncerType: x.syncerType, serverId: x.serverId, compression: 'none' }
    case 'snapshot': {
      if (!isRevision(x.revision)) return bad('snapshot.revision must be a non-negative integer')
      const err = checkUpdates(x.kvs, 'snapshot.kvs')
      if (err) return bad(err)
      return { type: 'snapshot', revision: x.revision, kvs: x.kvs as TyphaUpdate[] }
    }
    case 'in-sync':
      if (!isRevision(x.revision)) return bad('in-sync.revision must be a non-negative integer')
      return { type: 'in-sync', revision: x.revision }
    case 'deltas': {
      if (!isRevision(x.revision)) return bad('deltas.revision must be a non-negative integer')
      const err = checkUpdates(x.updates, 'deltas.updates')
      if (err) return bad(err)
      return { type: 'deltas', revision: x.revision, updates: x.updates as TyphaUpdate[] }
    }
    case 'error':
      return parseErrorMessage(x)
    case 'ping':
    case 'pong':
      return parsePingPong(x.type, x)
    default:
      return unknownType('server', x.type)
  }
}

// ---- reading a frame's header without decoding its body ---------------------------------------

/** What `peekTyphaFrame` reads: the message type and, where it has one, its revision. */
export interface TyphaFrameHeader {
  type: string
  revision: number | undefined
}

/**
 * Read `type` and `revision` from a server frame's payload without decoding the rest (the kvs or
 * updates): for readers that relay or count frames. The server writes every message as a map
 * whose first key is `type` and, for snapshot / in-sync / deltas, whose second key is `revision`
 * (the order in which the message objects are built). Returns undefined when the payload does not
 * start that way (the caller then decodes it in full); never throws.
 */
export function peekTyphaFrame(p: Uint8Array): TyphaFrameHeader | undefined {
  const b0 = p[0]
  let at: number
  if (b0 === undefined) return undefined
  if (b0 >= 0x81 && b0 <= 0x8f) at = 1
  else if (b0 === 0xde) at = 3
  else return undefined
  const k = readShortStr(p, at)
  if (k?.s !== 'type') return undefined
  const t = readShortStr(p, k.next)
  if (!t) return undefined
  const r = readShortStr(p, t.next)
  if (r?.s !== 'revision') return { type: t.s, revision: undefined }
  return { type: t.s, revision: readUint(p, r.next) }
}

/** A fixstr or str8 of ASCII at `at` (what the protocol's keys and types are). */
function readShortStr(p: Uint8Array, at: number): { s: string; next: number } | undefined {
  const b = p[at]
  if (b === undefined) return undefined
  let len: number
  let start: number
  if (b >= 0xa0 && b <= 0xbf) {
    len = b - 0xa0
    start = at + 1
  } else if (b === 0xd9) {
    len = p[at + 1] ?? -1
    start = at + 2
  } else return undefined
  if (len < 0 || start + len > p.length) return undefined
  let s = ''
  for (let i = start; i < start + len; i++) s += String.fromCharCode(p[i] as number)
  return { s, next: start + len }
}

/** A non-negative integer (positive fixint, uint8/16/32/64 or an integral float64) at `at`. */
function readUint(p: Uint8Array, at: number): number | undefined {
  const b = p[at]
  if (b === undefined) return undefined
  if (b <= 0x7f) return b
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength)
  const need = (n: number) => at + 1 + n <= p.length
  switch (b) {
    case 0xcc:
      return need(1) ? view.getUint8(at + 1) : undefined
    case 0xcd:
      return need(2) ? view.getUint16(at + 1) : undefined
    case 0xce:
      return need(4) ? view.getUint32(at + 1) : undefined
    case 0xcf: {
      if (!need(8)) return undefined
      const v = Number(view.getBigUint64(at + 1))
      return Number.isSafeInteger(v) ? v : undefined
    }
    case 0xcb: {
      if (!need(8)) return undefined
      const v = view.getFloat64(at + 1)
      return Number.isSafeInteger(v) && v >= 0 ? v : undefined
    }
    default:
      return undefined
  }
}
