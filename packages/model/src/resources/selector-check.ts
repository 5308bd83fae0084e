/** The one place resources/ depends on the selector parser. */

import { tryParseSelector } from '../selector/index.ts'

/** Undefined when `src` is a valid Calico selector, else a field-error detail. */
export function selectorError(src: string): string | undefined {
  const r = tryParseSelector(src)
  return r.ok ? undefined : `invalid selector: ${r.error.message} (column ${r.error.column})`
}
