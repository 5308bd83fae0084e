/** Shared pieces of the per-kind printers: row/printer types, loose JSON accessors, columns. */
import type { KubeObject } from '@calilab/model'
import { humanDuration } from './duration.ts'
import { parseTimestamp } from './ids.ts'
import { isObject } from './json.ts'
import type { TableColumnDefinition, TableRowCondition } from './table-types.ts'

export interface PrintedRow {
  cells: unknown[]
  conditions?: TableRowCondition[]
}

export interface Printer {
  columns: TableColumnDefinition[]
  row(obj: KubeObject, now: number): PrintedRow
}

// ---- loose accessors over JSON ----

export function get(o: unknown, ...path: (string | number)[]): unknown {
  let cur = o
  for (const p of path) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined
    else cur = isObject(cur) ? cur[p] : undefined
  }
  return cur
}
export const str = (v: unknown): string => (typeof v === 'string' ? v : '')
export const num = (v: unknown, dflt = 0): number => (typeof v === 'number' ? v : dflt)
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
export const map = (v: unknown): Record<string, string> => (isObject(v) ? (v as Record<string, string>) : {})
export const orNone = (s: string): string => (s === '' ? '<none>' : s)

/** translateTimestampSince: HumanDuration since the timestamp, `<unknown>` when absent. */
export function since(ts: unknown, now: number): string {
  const ms = parseTimestamp(ts)
  return ms === undefined ? '<unknown>' : humanDuration(now - ms)
}
export const age = (o: KubeObject, now: number): string => since(o.metadata.creationTimestamp, now)

// ---- columns ----

const NAME_DESC =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names'
const AGE_DESC =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'

export function col(name: string, type = 'string', description = '', priority = 0, format = ''): TableColumnDefinition {
  return { name, type, format, description, priority }
}
export const NAME_COL = col('Name', 'string', NAME_DESC, 0, 'name')
export const AGE_COL = col('Age', 'string', AGE_DESC)
export const wide = (name: string, description = '', type = 'string') => col(name, type, description, 1)
