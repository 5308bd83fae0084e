/**
 * A small declarative schema language. One description per kind gives both validation and
 * unknown-field detection: an object schema knows its fields, so anything else is reported as
 * FieldValueUnknown (the API server turns those into 400 or warnings per fieldValidation).
 */

import type { FieldError } from './meta.ts'

export type Json = Record<string, unknown>

/** Collects errors while walking an object. */
export class Errs {
  readonly list: FieldError[] = []
  invalid(field: string, value: unknown, detail: string): void {
    this.list.push({ type: 'FieldValueInvalid', field, value, detail })
  }
  required(field: string, detail = ''): void {
    this.list.push({ type: 'FieldValueRequired', field, detail })
  }
  notSupported(field: string, value: unknown, supported: readonly (string | number)[]): void {
    const s = supported.map((v) => JSON.stringify(v)).join(', ')
    this.list.push({ type: 'FieldValueNotSupported', field, value, detail: `supported values: ${s}` })
  }
  forbidden(field: string, detail: string): void {
    this.list.push({ type: 'FieldValueForbidden', field, detail })
  }
  typeInvalid(field: string, value: unknown, type: string): void {
    this.list.push({ type: 'FieldValueTypeInvalid', field, value, detail: `must be of type ${type}` })
  }
  tooLong(field: string, detail: string): void {
    this.list.push({ type: 'FieldValueTooLong', field, detail })
  }
  duplicate(field: string, value: unknown): void {
    this.list.push({ type: 'FieldValueDuplicate', field, value, detail: '' })
  }
  unknown(field: string): void {
    this.list.push({ type: 'FieldValueUnknown', field, detail: '' })
  }
}

/** A check run after the type check; returns a detail string when the value is invalid. */
export type ValueCheck<T> = (v: T) => string | undefined
/** A whole-object rule (cross-field constraints) run after the fields. */
export type ObjectRule = (obj: Json, path: string, errs: Errs) => void

export interface Schema {
  readonly type: string
  validate(v: unknown, path: string, errs: Errs): void
}

export function child(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}
export function index(path: string, i: number): string {
  return `${path}[${i}]`
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function simple<T>(type: string, is: (v: unknown) => v is T, checks: ValueCheck<T>[]): Schema {
  return {
    type,
    validate(v, path, errs) {
      if (!is(v)) return errs.typeInvalid(path, v, type)
      for (const c of checks) {
        const d = c(v)
        if (d !== undefined) return errs.invalid(path, v, d)
      }
    },
  }
}

const isString = (v: unknown): v is string => typeof v === 'string'
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isBool = (v: unknown): v is boolean => typeof v === 'boolean'

export function string(...checks: ValueCheck<string>[]): Schema {
  return simple('string', isString, checks)
}
export function int(min?: number, max?: number, detail?: string): Schema {
  const check: ValueCheck<number> = (n) => {
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      return detail ?? rangeDetail(min, max)
    }
    return undefined
  }
  return simple('integer', isInt, [check])
}
function rangeDetail(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `must be between ${min} and ${max}, inclusive`
  if (min !== undefined) return `must be greater than or equal to ${min}`
  return `must be less than or equal to ${max}`
}
export function number(): Schema {
  return simple('number', isNumber, [])
}
export function bool(): Schema {
  return simple('boolean', isBool, [])
}
/** A value of any JSON type, not inspected (opaque subtrees). */
export function any(): Schema {
  return { type: 'any', validate() {} }
}
/** An object whose fields are not modeled (no unknown-field reports below it). */
export function openObject(): Schema {
  return {
    type: 'object',
    validate(v, path, errs) {
      if (!isObject(v)) errs.typeInvalid(path, v, 'object')
    },
  }
}

export function enumOf(...values: readonly string[]): Schema {
  return {
    type: 'string',
    validate(v, path, errs) {
      if (!isString(v)) return errs.typeInvalid(path, v, 'string')
      if (!values.includes(v)) errs.notSupported(path, v, values)
    },
  }
}

/** An int or a string (Kubernetes IntOrString), each with its own checks. */
export function intOrString(onInt?: ValueCheck<number>, onString?: ValueCheck<string>): Schema {
  return {
    type: 'intOrString',
    validate(v, path, errs) {
      let d: string | undefined
      if (isInt(v)) d = onInt?.(v)
      else if (isString(v)) d = onString?.(v)
      else return errs.typeInvalid(path, v, 'integer or string')
      if (d !== undefined) errs.invalid(path, v, d)
    },
  }
}

export interface ListOptions {
  minItems?: number
  unique?: boolean
  /** Null items are allowed (IPAMBlock allocations). */
  nullable?: boolean
}
export function list(of: Schema, opts: ListOptions = {}): Schema {
  return {
    type: 'array',
    validate(v, path, errs) {
      if (!Array.isArray(v)) return errs.typeInvalid(path, v, 'array')
      if (opts.minItems !== undefined && v.length < opts.minItems) {
        errs.required(path, `must have at least ${opts.minItems} item${opts.minItems === 1 ? '' : 's'}`)
      }
      const seen = new Set<string>()
      v.forEach((item, i) => {
        const p = index(path, i)
        if (item === null || item === undefined) {
          if (opts.nullable !== true) errs.typeInvalid(p, item, of.type)
          return
        }
        of.validate(item, p, errs)
        if (opts.unique === true) {
          const k = JSON.stringify(item)
          if (seen.has(k)) errs.duplicate(p, item)
          seen.add(k)
        }
      })
    },
  }
}

/** A string-keyed map; keys checked by `key` (detail on failure), values by `of`. */
export function map(of: Schema, key?: ValueCheck<string>): Schema {
  return {
    type: 'object',
    validate(v, path, errs) {
      if (!isObject(v)) return errs.typeInvalid(path, v, 'object')
      for (const [k, val] of Object.entries(v)) {
        if (key !== undefined) {
          const d = key(k)
          if (d !== undefined) errs.invalid(path, k, d)
        }
        if (val === null) continue
        of.validate(val, `${path}[${k}]`, errs)
      }
    },
  }
}

export interface ObjectSchema extends Schema {
  readonly fields: Readonly<Record<string, Schema>>
  readonly required: readonly string[]
}

export interface ObjectOptions {
  required?: readonly string[]
  rules?: readonly ObjectRule[]
  /** Fields beyond `fields` are allowed and not reported. */
  open?: boolean
}

/**
 * An object with known fields. Absent or null fields are skipped (null means unset on the wire);
 * required ones are reported; unknown ones are reported as FieldValueUnknown.
 */
export function object(fields: Record<string, Schema>, opts: ObjectOptions = {}): ObjectSchema {
  const required = opts.required ?? []
  return {
    type: 'object',
    fields,
    required,
    validate(v, path, errs) {
      if (!isObject(v)) return errs.typeInvalid(path, v, 'object')
      for (const r of required) {
        const x = v[r]
        if (x === undefined || x === null || x === '') errs.required(child(path, r))
      }
      for (const [k, val] of Object.entries(v)) {
        const s = fields[k]
        if (s === undefined) {
          if (opts.open !== true) errs.unknown(child(path, k))
          continue
        }
        if (val === null || val === undefined) continue
        s.validate(val, child(path, k), errs)
      }
      for (const rule of opts.rules ?? []) rule(v, path, errs)
    },
  }
}

/** Extends an object schema with more fields/rules. */
export function extend(base: ObjectSchema, fields: Record<string, Schema>, opts: ObjectOptions = {}): ObjectSchema {
  return object({ ...base.fields, ...fields }, { ...opts, required: [...base.required, ...(opts.required ?? [])] })
}

/** A schema with an extra check on the raw value after its own validation. */
export function withRule(s: Schema, rule: (v: unknown, path: string, errs: Errs) => void): Schema {
  return {
    type: s.type,
    validate(v, path, errs) {
      const before = errs.list.length
      s.validate(v, path, errs)
      if (errs.list.length === before) rule(v, path, errs)
    },
  }
}

/** Has the field a value (not absent, not null)? */
export function has(o: Json, k: string): boolean {
  return o[k] !== undefined && o[k] !== null
}
