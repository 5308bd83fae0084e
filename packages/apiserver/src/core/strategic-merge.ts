/**
 * Kubernetes strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch), as the API
 * server applies `application/strategic-merge-patch+json`. Pure.
 */
import type { KubeObject } from '@calilab/model'
import { deepClone, deepEqual, isObject, type JsonObject } from './json.ts'
import { jsonMergePatch } from './merge-patch.ts'
import { apiErrors } from './status.ts'
import { type FieldPatchMeta, type PatchSchema, strategicSchemaFor } from './strategic-schema.ts'

const DIRECTIVE = '$patch'
const RETAIN_KEYS = '$retainKeys'
const SET_ORDER = '$setElementOrder/'
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/'

/** Marks "remove this map from its parent" (`$patch: delete`). */
const DELETED: unique symbol = Symbol('deleted')

function bad(msg: string): Error {
  return apiErrors.badRequest(msg)
}

function isDirectiveKey(k: string): boolean {
  return k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER) || k.startsWith(DELETE_PRIMITIVE)
}

function mergeMap(
  original: JsonObject,
  patch: JsonObject,
  schema: PatchSchema | undefined,
): JsonObject | typeof DELETED {
  const directive = patch[DIRECTIVE]
  if (directive !== undefined) {
    if (directive === 'delete') return DELETED
    if (directive === 'replace') {
      const rest = { ...patch }
      delete rest[DIRECTIVE]
      const r = mergeMap({}, rest, schema)
      return r === DELETED ? {} : r
    }
    if (directive !== 'merge')
      throw bad(`unknown patch type: ${JSON.stringify(directive)} in map: ${JSON.stringify(patch)}`)
  }

  const out: JsonObject = { ...original }

  const retain = patch[RETAIN_KEYS]
  if (retain !== undefined) {
    if (!Array.isArray(retain) || !retain.every((x) => typeof x === 'string'))
      throw bad(`invalid patch: ${RETAIN_KEYS} must be a list of strings, got ${JSON.stringify(retain)}`)
    for (const [k, v] of Object.entries(patch)) {
      if (v !== null && !isDirectiveKey(k) && !retain.includes(k))
        throw bad(`the patch has a key "${k}" which is not in the ${RETAIN_KEYS} list ${JSON.stringify(retain)}`)
    }
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k]
  }

  // $deleteFromPrimitiveList/<list> first, so that a list in the same patch can add values back.
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(DELETE_PRIMITIVE)) continue
    const key = k.slice(DELETE_PRIMITIVE.length)
    if (!Array.isArray(v)) throw bad(`invalid patch: ${k} must be a list, got ${JSON.stringify(v)}`)
    const cur = out[key]
    if (Array.isArray(cur)) out[key] = cur.filter((x) => !v.some((d) => deepEqual(d, x)))
  }

  for (const [k, v] of Object.entries(patch)) {
    if (isDirectiveKey(k)) continue
    if (v === null || v === undefined) {
      delete out[k]
      continue
    }
    const meta = schema?.fields[k]
    const cur = out[k]
    if (isObject(v)) {
      const r = mergeMap(isObject(cur) ? cur : {}, v, meta?.schema)
      if (r === DELETED) delete out[k]
      else out[k] = r
    } else if (Array.isArray(v)) {
      out[k] = mergeList(Array.isArray(cur) ? cur : [], v, meta, k)
    } else {
      out[k] = v
    }
  }

  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(SET_ORDER)) continue
    const key = k.slice(SET_ORDER.length)
    if (!Array.isArray(v)) throw bad(`invalid patch: ${k} must be a list, got ${JSON.stringify(v)}`)
    const merged = out[key]
    if (!Array.isArray(merged)) continue
    const before = original[key]
    out[key] = normalizeElementOrder(merged, v, Array.isArray(before) ? before : [], schema?.fields[key]?.mergeKey, k)
  }
  return out
}

function mergeList(original: unknown[], patch: unknown[], meta: FieldPatchMeta | undefined, field: string): unknown[] {
  if (meta?.strategy !== 'merge') return patch.map((el) => cleanValue(el))
  const key = meta.mergeKey
  if (key === undefined || !patch.some(isObject)) {
    // A merging list of scalars: union, keeping the original order, without duplicates.
    const out: unknown[] = []
    for (const x of [...original, ...patch]) if (!out.some((y) => deepEqual(x, y))) out.push(x)
    return out
  }
  if (patch.some((el) => isObject(el) && el[DIRECTIVE] === 'replace')) {
    return patch.filter((el) => !(isObject(el) && el[DIRECTIVE] === 'replace')).map((el) => cleanValue(el, meta.schema))
  }
  let out = original.slice()
  for (const el of patch) {
    if (!isObject(el))
      throw bad(`invalid patch: list ${field} merges by "${key}" but has the element ${JSON.stringify(el)}`)
    const directive = el[DIRECTIVE]
    if (!Object.hasOwn(el, key)) throw bad(`map: ${JSON.stringify(el)} does not contain declared merge key: ${key}`)
    const id = el[key]
    if (directive === 'delete') {
      out = out.filter((o) => !(isObject(o) && deepEqual(o[key], id)))
      continue
    }
    if (directive !== undefined && directive !== 'merge')
      throw bad(`unknown patch type: ${JSON.stringify(directive)} in list element: ${JSON.stringify(el)}`)
    const i = out.findIndex((o) => isObject(o) && deepEqual(o[key], id))
    const found = i >= 0 ? out[i] : undefined
    const merged = mergeMap(isObject(found) ? found : {}, el, meta.schema)
    if (merged === DELETED) {
      if (i >= 0) out.splice(i, 1)
    } else if (i >= 0) out[i] = merged
    else out.push(merged)
  }
  return out
}

/** A value taken from the patch where there is nothing to merge with: nulls and directives dropped. */
function cleanValue(v: unknown, schema?: PatchSchema): unknown {
  if (isObject(v)) {
    const r = mergeMap({}, v, schema)
    return r === DELETED ? {} : r
  }
  return deepClone(v)
}

/**
 * `$setElementOrder`: items named in the order list are sorted by it; items only the server has
 * keep their relative place from the live list (strategicpatch.normalizeElementOrder).
 */
function normalizeElementOrder(
  merged: unknown[],
  order: unknown[],
  serverOrder: unknown[],
  mergeKey: string | undefined,
  directive: string,
): unknown[] {
  const keyOf = (x: unknown): unknown => {
    if (mergeKey === undefined || !isObject(x)) return x
    if (!Object.hasOwn(x, mergeKey))
      throw bad(`${directive}: ${JSON.stringify(x)} does not contain declared merge key: ${mergeKey}`)
    return x[mergeKey]
  }
  const orderKeys = order.map(keyOf)
  const serverKeys = serverOrder.map((x) => (mergeKey !== undefined && isObject(x) ? x[mergeKey] : x))
  const indexIn = (keys: unknown[], x: unknown): number => {
    const k = keyOf(x)
    return keys.findIndex((y) => deepEqual(y, k))
  }
  const rank = (i: number): number => (i < 0 ? Number.MAX_SAFE_INTEGER : i)
  const patchItems = merged.filter((x) => indexIn(orderKeys, x) >= 0)
  const serverOnly = merged.filter((x) => indexIn(orderKeys, x) < 0)
  patchItems.sort((a, b) => rank(indexIn(orderKeys, a)) - rank(indexIn(orderKeys, b)))
  serverOnly.sort((a, b) => rank(indexIn(serverKeys, a)) - rank(indexIn(serverKeys, b)))
  // mergeSortedSlice: take the server-only item first only when both are in the live list and it comes first.
  const out: unknown[] = []
  let i = 0
  let j = 0
  while (i < serverOnly.length || j < patchItems.length) {
    if (i >= serverOnly.length) out.push(patchItems[j++])
    else if (j >= patchItems.length) out.push(serverOnly[i++])
    else {
      const li = indexIn(serverKeys, serverOnly[i])
      const ri = indexIn(serverKeys, patchItems[j])
      if (li >= 0 && ri >= 0 && li < ri) out.push(serverOnly[i++])
      else out.push(patchItems[j++])
    }
  }
  return out
}

/**
 * Applies a strategic merge patch to `target` (not modified). Kinds without strategic patch
 * metadata (custom resources, Calico kinds) get JSON merge patch semantics.
 */
export function strategicMergePatch(
  target: KubeObject,
  patch: unknown,
  kind: { group: string; kind: string },
): KubeObject {
  if (!isObject(patch)) throw bad(`strategic merge patch must be a JSON object, got ${JSON.stringify(patch)}`)
  const schema = strategicSchemaFor(kind)
  if (!schema) return jsonMergePatch(target, patch) as KubeObject
  const r = mergeMap(deepClone(target) as unknown as JsonObject, patch, schema)
  if (r === DELETED) throw bad('strategic merge patch cannot delete the whole object')
  return r as unknown as KubeObject
}
