/**
 * Selector parse errors.
 *
 * `@calilab/model` may import no other workspace package (ARCHITECTURE.md, scripts/check-deps.ts),
 * so this cannot extend kit's CodedError. It has the same shape instead: `code`, `details`,
 * `toJSON()` giving `{ code, message, ...details }`, so `CodedError.from(err.toJSON())` rebuilds it
 * and it crosses threads and sockets like any coded error.
 */

export const SELECTOR_PARSE = 'SELECTOR_PARSE'

export interface SelectorErrorData {
  code: typeof SELECTOR_PARSE
  message: string
  /** The selector text that failed to parse. */
  selector: string
  /** 1-based column of the offending character; `selector.length + 1` at end of input. */
  column: number
  /** The reason without the `selector "..." column N:` prefix. */
  reason: string
  [detail: string]: unknown
}

export class SelectorError extends Error {
  readonly code: typeof SELECTOR_PARSE = SELECTOR_PARSE
  readonly details: { selector: string; column: number; reason: string }
  /** 1-based column. */
  readonly column: number
  readonly selector: string
  readonly reason: string

  constructor(selector: string, column: number, reason: string) {
    super(formatSelectorError(selector, column, reason))
    this.name = 'SelectorError'
    this.selector = selector
    this.column = column
    this.reason = reason
    this.details = { selector, column, reason }
  }

  toJSON(): SelectorErrorData {
    return { ...this.details, code: this.code, message: this.message }
  }
}

/** `selector "app == " column 8: expected a quoted value after ==` */
export function formatSelectorError(selector: string, column: number, reason: string): string {
  return `selector ${JSON.stringify(selector)} column ${column}: ${reason}`
}
