/** Small JSON helpers shared by the patch, selector and table code. Pure. */

export type JsonObject = { [key: string]: unknown }

export function isObject(x: unknown): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

/** Structural equality of JSON values (key order ignored, array order significant). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ao = a as JsonObject
  const bo = b as JsonObject
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined)
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined)
  if (ak.length !== bk.length) return false
  for (const k of ak) {
    if (!Object.hasOwn(bo, k) || !deepEqual(ao[k], bo[k])) return false
  }
  return true
}

/** A deep copy of a JSON value. */
export function deepClone<T>(x: T): T {
  // Primitives are their own copy (a merge patch's values are mostly strings).
  return typeof x !== 'object' || x === null ? x : structuredClone(x)
}

/**
 * A deep copy with JSON's semantics (what `JSON.parse(JSON.stringify(x))` gives: undefined and
 * function members dropped, in arrays null; non-finite numbers null), without the text in between.
 * Values that are not plain objects, arrays or primitives (a Date, a class instance) take the
 * JSON round trip itself.
 */
export function jsonClone<T>(x: T): T {
  const v = copyValue(x)
  return (v === SKIP ? undefined : v) as T
}

const SKIP: unique symbol = Symbol('skip')

function copyValue(x: unknown): unknown {
  switch (typeof x) {
    case 'string':
    case 'boolean':
      return x
    case 'number':
      return Number.isFinite(x) ? x : null
    case 'undefined':
    case 'function':
    case 'symbol':
      return SKIP
    case 'object': {
      if (x === null) return null
      if (Array.isArray(x)) {
        const out = new Array<unknown>(x.length)
        for (let i = 0; i < x.length; i++) {
          const e = copyValue(x[i])
          out[i] = e === SKIP ? null : e
        }
        return out
      }
      const proto = Object.getPrototypeOf(x) as unknown
      if (proto !== Object.prototype && proto !== null) return JSON.parse(JSON.stringify(x)) as unknown
      if ('toJSON' in x) return JSON.parse(JSON.stringify(x)) as unknown
      const src = x as JsonObject
      const out: JsonObject = {}
      for (const k in src) {
        if (!Object.hasOwn(src, k)) continue
        const e = copyValue(src[k])
        if (e === SKIP) continue
        if (k === '__proto__')
          Object.defineProperty(out, k, { value: e, enumerable: true, writable: true, configurable: true })
        else out[k] = e
      }
      return out
    }
    default:
      // bigint: JSON.stringify throws, and so does this.
      return JSON.parse(JSON.stringify(x)) as unknown
  }
}

/** Reads a dotted path (`spec.nodeName`) from a JSON value; undefined when any step is missing. */
export function getPath(obj: unknown, path: readonly string[]): unknown {
  let cur: unknown = obj
  for (const p of path) {
    if (!isObject(cur)) return undefined
    cur = cur[p]
  }
  return cur
}
