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
 * The API server's internal watch stream (apiserver -> Typha / node agents). One WebSocket per
 * client; every WebSocket message is one msgpackr payload (`packMessage`). See docs/protocols.md.
 *
 *   client                                server
 *     | hello {version, prefixes, fromRevision}
 *     |-------------------------------------->|
 *     |<-------- hello {version, revision} ---|
 *     |<-------- snapshot {items} (xN) ------|   fromRevision = 0
 *     |<-------- synced {revision} ----------|
 *     |<-------- events {events} ... --------|   live
 */
export const WATCH_STREAM_VERSION = 1
/** Items per snapshot message. */
export const WATCH_SNAPSHOT_CHUNK = 1000

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface WatchItem {
  key: string
  object: KubeObject
}

export interface WatchEvent {
  type: WatchEventType
  key: string
  object: KubeObject
  revision: number
}

// client -> server
export interface ClientHello {
  type: 'hello'
  version: number
  /** Store key prefixes, e.g. '/projectcalico.org/ippools/'; empty or absent = everything. */
  prefixes?: string[]
  /** 0 = send a snapshot; otherwise resume with events after this revision. */
  fromRevision: number
}
export interface PingMessage {
  type: 'ping'
  t: number
}
export interface PongMessage {
  type: 'pong'
  t: number
}
export type WatchClientMessage = ClientHello | PingMessage | PongMessage

// server -> client
export interface ServerHello {
  type: 'hello'
  version: number
  revision: number
}
export interface SnapshotMessage {
  type: 'snapshot'
  items: WatchItem[]
}
export interface SyncedMessage {
  type: 'synced'
  revision: number
}
export interface EventsMessage {
  type: 'events'
  events: WatchEvent[]
}
/** The requested revision was compacted: the client must resync from 0. */
export interface GoneMessage {
  type: 'gone'
  message: string
}
export interface ErrorMessage {
  type: 'error'
  code: string
  message: string
}
export type WatchServerMessage =
  | ServerHello
  | SnapshotMessage
  | SyncedMessage
  | EventsMessage
  | GoneMessage
  | ErrorMessage
  | PingMessage
  | PongMessage

// ---- validation -------------------------------------------------------------------------------

const EVENT_TYPES: ReadonlySet<string> = new Set(['ADDED', 'MODIFIED', 'DELETED'])

/**
 * Validate a decoded client message. Returns the typed message, or a ProtoError with code
 * PROTO_BAD_MESSAGE (wrong shape) or PROTO_VERSION (a hello of another version).
 */
export function parseWatchClientMessage(raw: unknown): WatchClientMessage | ProtoError {
  const x = checkEnvelope(raw)
  if (x instanceof ProtoError) return x
  switch (x.type) {
    case 'hello': {
      if (typeof x.version !== 'number') return bad('hello.version must be a number')
      if (x.version !== WATCH_STREAM_VERSION) {
        return versionError(
          `unsupported watch-stream version ${x.version} (this server speaks ${WATCH_STREAM_VERSION})`,
          x.version,
          WATCH_STREAM_VERSION,
        )
      }
      if (!isRevision(x.fromRevision)) return bad('hello.fromRevision must be a non-negative integer')
      const hello: ClientHello = { type: 'hello', version: x.version, fromRevision: x.fromRevision }
      if (x.prefixes !== undefined && x.prefixes !== null) {
        if (!Array.isArray(x.prefixes) || !x.prefixes.every((p) => typeof p === 'string' && p.length <= 1024)) {
          return bad('hello.prefixes must be an array of strings')
        }
        if (x.prefixes.length > 1000) return bad('hello.prefixes: at most 1000 prefixes')
        hello.prefixes = x.prefixes as string[]
      }
      return hello
    }
    case 'ping':
    case 'pong':
      return parsePingPong(x.type, x)
    default:
      return unknownType('client', x.type)
  }
}

/** Validate a decoded server message (used by clients). */
export function parseWatchServerMessage(raw: unknown): WatchServerMessage | ProtoError {
  const x = checkEnvelope(raw)
  if (x instanceof ProtoError) return x
  switch (x.type) {
    case 'hello':
      if (typeof x.version !== 'number') return bad('hello.version must be a number')
      if (x.version !== WATCH_STREAM_VERSION) {
        return versionError(
          `server speaks watch-stream version ${x.version}, this client ${WATCH_STREAM_VERSION}`,
          x.version,
          WATCH_STREAM_VERSION,
        )
      }
      if (!isRevision(x.revision)) return bad('hello.revision must be a non-negative integer')
      return { type: 'hello', version: x.version, revision: x.revision }
    case 'snapshot': {
      if (!Array.isArray(x.items)) return bad('snapshot.items must be an array')
      for (const [i, it] of x.items.entries()) {
        if (!isRecord(it) || typeof it.key !== 'string' || !isKubeObject(it.object)) {
          return bad(`snapshot.items[${i}] must be {key: string, object: KubeObject}`)
        }
      }
      return { type: 'snapshot', items: x.items as WatchItem[] }
    }
    case 'synced':
      if (!isRevision(x.revision)) return bad('synced.revision must be a non-negative integer')
      return { type: 'synced', revision: x.revision }
    case 'events': {
      if (!Array.isArray(x.events)) return bad('events.events must be an array')
      for (const [i, e] of x.events.entries()) {
        if (
          !isRecord(e) ||
          typeof e.type !== 'string' ||
          !EVENT_TYPES.has(e.type) ||
          typeof e.key !== 'string' ||
          !isRevision(e.revision) ||
          !isKubeObject(e.object)
        ) {
          return bad(`events.events[${i}] must be {type: ADDED|MODIFIED|DELETED, key, object, revision}`)
        }
      }
      return { type: 'events', events: x.events as WatchEvent[] }
    }
    case 'gone':
      if (typeof x.message !== 'string') return bad('gone.message must be a string')
      return { type: 'gone', message: x.message }
    case 'error':
      return parseErrorMessage(x)
    case 'ping':
    case 'pong':
      return parsePingPong(x.type, x)
    default:
      return unknownType('server', x.type)
  }
}

/** Does a store key fall under any of the prefixes (none = everything)? */
export function matchesPrefixes(key: string, prefixes: readonly string[] | undefined): boolean {
  if (!prefixes || prefixes.length === 0) return true
  for (const p of prefixes) if (key.startsWith(p)) return true
  return false
}

/** Split items into snapshot messages of at most `chunk` items (at least one, possibly empty). */
export function snapshotMessages(items: WatchItem[], chunk = WATCH_SNAPSHOT_CHUNK): SnapshotMessage[] {
  const out: SnapshotMessage[] = []
  for (let i = 0; i < items.length; i += chunk) out.push({ type: 'snapshot', items: items.slice(i, i + chunk) })
  if (out.length === 0) out.push({ type: 'snapshot', items: [] })
  return out
}
