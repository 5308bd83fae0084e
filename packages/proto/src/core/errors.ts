/**
 * Coded errors of the proto package. proto may import only @calilab/model, so this mirrors the
 * shape of kit's CodedError: a stable `code`, a message, details; it crosses sockets as a plain
 * object (`toJSON`).
 */
export type ProtoErrorCode =
  /** A frame header announced more bytes than the configured maximum. */
  | 'PROTO_FRAME_TOO_LARGE'
  /** A frame's payload is not valid msgpack. */
  | 'PROTO_UNDECODABLE'
  /** A decoded message does not have the shape its protocol requires. */
  | 'PROTO_BAD_MESSAGE'
  /** The peer speaks a protocol version we do not. */
  | 'PROTO_VERSION'
  /** A message arrived in a state where it is not allowed (e.g. events before hello). */
  | 'PROTO_UNEXPECTED'

export class ProtoError extends Error {
  readonly code: ProtoErrorCode
  readonly details: Record<string, unknown>

  constructor(data: { code: ProtoErrorCode; message: string; [k: string]: unknown }, options?: { cause?: unknown }) {
    const { code, message, ...details } = data
    super(message, options)
    this.name = 'ProtoError'
    this.code = code
    this.details = details
  }

  toJSON(): { code: ProtoErrorCode; message: string; [k: string]: unknown } {
    return { ...this.details, code: this.code, message: this.message }
  }
}

export function isProtoError(e: unknown, code?: ProtoErrorCode): e is ProtoError {
  return e instanceof ProtoError && (code === undefined || e.code === code)
}
