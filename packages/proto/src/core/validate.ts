import type { KubeObject } from '@calilab/model'
import { ProtoError } from './errors.ts'

/**
 * Shape checks shared by the protocol validators (typha.ts, watch-stream.ts): each turns a
 * decoded, untrusted value into a typed message or a PROTO_BAD_MESSAGE / PROTO_VERSION error.
 */

export function bad(message: string): ProtoError {
  return new ProtoError({ code: 'PROTO_BAD_MESSAGE', message })
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

export function isRevision(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

export function isKubeObject(x: unknown): x is KubeObject {
  return isRecord(x) && isRecord(x.metadata) && typeof x.kind === 'string' && typeof x.apiVersion === 'string'
}

export function versionError(message: string, got: number, supported: number): ProtoError {
  return new ProtoError({ code: 'PROTO_VERSION', message, got, supported })
}

/** Every message is an object with a string `type`. */
export function checkEnvelope(x: unknown): (Record<string, unknown> & { type: string }) | ProtoError {
  if (!isRecord(x) || typeof x.type !== 'string') return bad('message must be an object with a string "type"')
  return x as Record<string, unknown> & { type: string }
}

/** The keepalive pair both protocols share, in either direction. */
export function parsePingPong(
  type: 'ping' | 'pong',
  x: Record<string, unknown>,
): { type: 'ping' | 'pong'; t: number } | ProtoError {
  if (typeof x.t !== 'number') return bad(`${type}.t must be a number`)
  return { type, t: x.t }
}

export function parseErrorMessage(
  x: Record<string, unknown>,
): { type: 'error'; code: string; message: string } | ProtoError {
  if (typeof x.code !== 'string' || typeof x.message !== 'string')
    return bad('error must carry string code and message')
  return { type: 'error', code: x.code, message: x.message }
}

export function unknownType(side: 'client' | 'server', type: string): ProtoError {
  return bad(`unknown ${side} message type ${JSON.stringify(type).slice(0, 64)}`)
}
