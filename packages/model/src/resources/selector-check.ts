/**
 * The one place resources/ depends on the selector parser. Until the selector module exports
 * `tryParseSelector`, a minimal structural check stands in (quotes and brackets balanced).
 */

import * as selectorModule from '../selector/index.ts'

type ParseResult = { ok: true; selector: unknown } | { ok: false; error: { message: string; column: number } }
type Parser = (src: string) => ParseResult

function parser(): Parser {
  const p = (selectorModule as unknown as { tryParseSelector?: Parser }).tryParseSelector
  return typeof p === 'function' ? p : fallbackParse
}

function fallbackParse(src: string): ParseResult {
  let depth = 0
  let quote = ''
  for (let i = 0; i < src.length; i++) {
    const c = src.charAt(i)
    if (quote !== '') {
      if (c === quote) quote = ''
    } else if (c === '"' || c === "'") quote = c
    else if (c === '(' || c === '{') depth++
    else if (c === ')' || c === '}') {
      depth--
      if (depth < 0) return { ok: false, error: { message: `unexpected ${c}`, column: i } }
    }
  }
  if (quote !== '') return { ok: false, error: { message: 'unterminated string', column: src.length } }
  if (depth !== 0) return { ok: false, error: { message: 'unbalanced brackets', column: src.length } }
  return { ok: true, selector: src }
}

/** Undefined when `src` is a valid Calico selector, else a field-error detail. */
export function selectorError(src: string): string | undefined {
  const r = parser()(src)
  return r.ok ? undefined : `invalid selector: ${r.error.message} (column ${r.error.column})`
}
