/** What model/ knows about one kind: the schema of its top-level fields, name rule, defaults, update rules. */

import type { KubeObject } from './meta.ts'
import type { Errs, ObjectSchema, ValueCheck } from './schema.ts'

export interface KindDef {
  /** Top-level fields other than apiVersion, kind and metadata (spec, status, data, ...). */
  root: ObjectSchema
  /** Rule for metadata.name (default: DNS-1123 subdomain). */
  name?: ValueCheck<string>
  /** Defaults applied on create; receives a copy it may return modified. */
  defaults?: (obj: KubeObject) => KubeObject
  /** Extra checks on update against the stored object (immutable fields). */
  update?: (obj: KubeObject, old: KubeObject, errs: Errs) => void
}

/** Deep equality for JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]))
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined)
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined)
  return ak.length === bk.length && ak.every((k) => jsonEqual(ao[k], bo[k]))
}

/** `field is immutable` when the value at `key` of spec changed. */
export function immutable(errs: Errs, path: string, now: unknown, before: unknown): void {
  if (!jsonEqual(now, before)) errs.invalid(path, now, 'field is immutable')
}

export function specOf(o: KubeObject): Record<string, unknown> {
  const s = o.spec
  return typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Record<string, unknown>) : {}
}
