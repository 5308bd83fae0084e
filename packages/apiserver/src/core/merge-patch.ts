/** JSON merge patch (RFC 7386) and the two-way diff that produces one. Pure. */
import { deepClone, deepEqual, isObject, type JsonObject } from './json.ts'

/** Applies an RFC 7386 merge patch. Neither argument is modified. */
export function jsonMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return deepClone(patch)
  const out: JsonObject = isObject(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = jsonMergePatch(out[k], v)
  }
  return out
}

/**
 * The merge patch that turns `original` into `modified` (as `kubectl apply` computes for kinds
 * without strategic information). Keys absent from `modified` become `null`; changed objects are
 * diffed recursively; everything else (arrays, scalars) is sent whole. A `null` value inside
 * `modified` cannot be expressed in a merge patch and is sent as a deletion.
 */
export function createTwoWayMergePatch(original: unknown, modified: unknown): unknown {
  if (!isObject(original) || !isObject(modified)) return deepClone(modified)
  const patch: JsonObject = {}
  for (const k of Object.keys(original)) {
    if (original[k] !== undefined && (!Object.hasOwn(modified, k) || modified[k] === undefined)) patch[k] = null
  }
  for (const [k, v] of Object.entries(modified)) {
    if (v === undefined) continue
    const o = original[k]
    if (deepEqual(o, v)) continue
    if (isObject(o) && isObject(v)) patch[k] = createTwoWayMergePatch(o, v)
    else patch[k] = deepClone(v)
  }
  return patch
}
