import { type FieldError, formatFieldError, type KubeObject, type ResourceInfo, validateObject } from '@calilab/model'
import type { WriteOptions } from '../../api.ts'
import { deepEqual, jsonClone } from '../../core/index.ts'
import { apiErrors } from '../../core/status.ts'

/** Small helpers the service layer uses to shape and check objects. */

/** A private deep copy of a JSON value (JSON semantics: members that are undefined are dropped). */
export function clone<T>(v: T): T {
  return jsonClone(v)
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The request body as an object of this kind (kind/apiVersion filled in when absent). */
export function asObject(r: ResourceInfo, body: unknown, apiVersion: string): KubeObject {
  if (!isRecord(body)) throw apiErrors.badRequest('the body of the request was not a JSON object')
  const o = clone(body) as Record<string, unknown>
  if (o['kind'] !== undefined && o['kind'] !== r.kind) {
    throw apiErrors.badRequest(
      `the kind in the data (${String(o['kind'])}) does not match the expected kind (${r.kind})`,
    )
  }
  if (o['apiVersion'] !== undefined && o['apiVersion'] !== apiVersion) {
    throw apiErrors.badRequest(
      `the API version in the data (${String(o['apiVersion'])}) does not match the expected API version (${apiVersion})`,
    )
  }
  o['kind'] = r.kind
  o['apiVersion'] = apiVersion
  if (o['metadata'] === undefined || o['metadata'] === null) o['metadata'] = {}
  if (!isRecord(o['metadata'])) throw apiErrors.badRequest('metadata: expected an object')
  return o as KubeObject
}

/** Everything but metadata and status: what `generation` counts changes of. */
export function specPart(o: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o
  return rest
}

export function specChanged(a: KubeObject, b: KubeObject): boolean {
  return !deepEqual(specPart(a), specPart(b))
}

/**
 * Model validation: unknown fields first (strict decoding, 400 or warnings), then the rest (422).
 * Returns the warnings to send.
 */
export function validate(r: ResourceInfo, o: KubeObject, old: KubeObject | undefined, opts: WriteOptions): string[] {
  let errs: FieldError[]
  try {
    errs = validateObject(r, o, old ? { old } : {})
  } catch (e) {
    throw apiErrors.badRequest(`invalid object: ${e instanceof Error ? e.message : String(e)}`)
  }
  const unknown = errs.filter((e) => e.type === 'FieldValueUnknown')
  const rest = errs.filter((e) => e.type !== 'FieldValueUnknown')
  const name = o.metadata.name ?? o.metadata.generateName ?? ''
  if (unknown.length && opts.fieldValidation === 'Strict') {
    throw apiErrors.badRequest(`strict decoding error: ${unknown.map(formatFieldError).join(', ')}`)
  }
  if (rest.length) throw apiErrors.invalid(r, name, rest)
  if (opts.fieldValidation === 'Ignore') return []
  return unknown.map(formatFieldError)
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** metadata.name must be present and a DNS subdomain (what every kind requires). */
export function checkName(r: ResourceInfo, o: KubeObject): void {
  const name = o.metadata.name
  if (name === undefined || name === '') {
    throw apiErrors.invalid(r, '', [
      { type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' },
    ])
  }
  if (name.length > 253 || !NAME_RE.test(name)) {
    throw apiErrors.invalid(r, name, [
      {
        type: 'FieldValueInvalid',
        field: 'metadata.name',
        value: name,
        detail:
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      },
    ])
  }
}
