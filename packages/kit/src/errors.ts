/**
 * Coded errors. Every package keeps one table of codes; an error crosses threads and sockets as a
 * plain object ({ code, message, ...details }) and is rebuilt on the other side.
 */
export interface CodedErrorData {
  code: string
  message: string
  [detail: string]: unknown
}

export class CodedError extends Error {
  readonly code: string
  readonly details: Record<string, unknown>

  constructor(data: { code: string; message?: string; [k: string]: unknown }, options?: { cause?: unknown }) {
    const { code, message, ...details } = data
    super(typeof message === 'string' ? message : code, options)
    this.name = 'CodedError'
    this.code = code
    this.details = details
  }

  toJSON(): CodedErrorData {
    return { ...this.details, code: this.code, message: this.message }
  }

  static from(data: CodedErrorData): CodedError {
    return new CodedError(data)
  }
}

export function isCodedError(e: unknown, code?: string): e is CodedError {
  return e instanceof CodedError && (code === undefined || e.code === code)
}

/** Message of any thrown value, for logs and user-facing lines. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message
  return String(e)
}
