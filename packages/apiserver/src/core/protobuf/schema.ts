/**
 * The shape of Kubernetes' protobuf messages, as a compact table written for this server.
 *
 * Each message is one string of fields `number:jsonName[:type]`, separated by white space:
 * - type defaults to `s` (string); scalars are `s`, `i32`, `i64`, `b` (bool), `by` (bytes, base64 in
 *   JSON), `f64` (double);
 * - a trailing `?` marks a Go pointer field: its zero value is kept (`replicas: 0`), where a value
 *   field's zero is dropped, as JSON's omitempty would (Go's protobuf marshaller writes every value field);
 * - `[T]` is repeated T, `{T}` is map<string, T>;
 * - a message type is its PascalCase name; the builtins `Time`, `MicroTime`, `Quantity`,
 *   `IntOrString` and `FieldsV1` turn into their JSON forms;
 * - the name `*` inlines the field's message into its parent (Go's `json:",inline"`).
 *
 * Field numbers come from the generated.proto files of k8s.io/api and k8s.io/apimachinery.
 */

export type Scalar = 's' | 'i32' | 'i64' | 'b' | 'by' | 'f64'
export const BUILTINS = ['Time', 'MicroTime', 'Quantity', 'IntOrString', 'FieldsV1'] as const
export type Builtin = (typeof BUILTINS)[number]

export type ValueType = { kind: 'scalar'; scalar: Scalar } | { kind: 'message'; name: string }

export interface FieldSpec {
  readonly number: number
  /** JSON name; `*` inlines. */
  readonly name: string
  readonly value: ValueType
  readonly repeated: boolean
  readonly map: boolean
  readonly pointer: boolean
}

export type MessageSpec = ReadonlyMap<number, FieldSpec>

export interface Schema {
  readonly messages: ReadonlyMap<string, MessageSpec>
  /** `apiVersion/kind` (core: `v1/Pod`) -> root message. */
  readonly kinds: ReadonlyMap<string, string>
}

export type SchemaSource = Record<string, string>

const SCALARS = new Set<string>(['s', 'i32', 'i64', 'b', 'by', 'f64'])

function parseValue(t: string): ValueType {
  if (SCALARS.has(t)) return { kind: 'scalar', scalar: t as Scalar }
  if (!/^[A-Z][A-Za-z0-9]*$/.test(t)) throw new Error(`bad protobuf schema type "${t}"`)
  return { kind: 'message', name: t }
}

export function parseField(spec: string): FieldSpec {
  const parts = spec.split(':')
  if (parts.length < 2 || parts.length > 3) throw new Error(`bad protobuf schema field "${spec}"`)
  const number = Number(parts[0])
  if (!Number.isInteger(number) || number < 1) throw new Error(`bad field number in "${spec}"`)
  const name = parts[1] as string
  let t = parts[2] ?? 's'
  let pointer = false
  if (t.endsWith('?')) {
    pointer = true
    t = t.slice(0, -1)
  }
  let repeated = false
  let map = false
  if (t.startsWith('[') && t.endsWith(']')) {
    repeated = true
    t = t.slice(1, -1)
  } else if (t.startsWith('{') && t.endsWith('}')) {
    map = true
    t = t.slice(1, -1)
  }
  return { number, name, value: parseValue(t), repeated, map, pointer }
}

export function parseMessage(fields: string): MessageSpec {
  const m = new Map<number, FieldSpec>()
  for (const f of fields.split(/\s+/).filter(Boolean)) {
    const spec = parseField(f)
    if (m.has(spec.number)) throw new Error(`field ${spec.number} twice in "${fields}"`)
    m.set(spec.number, spec)
  }
  return m
}

/** Builds a schema and checks that every message a field names is defined. */
export function buildSchema(sources: SchemaSource[], kinds: Record<string, string>): Schema {
  const messages = new Map<string, MessageSpec>()
  for (const src of sources) {
    for (const [name, fields] of Object.entries(src)) {
      if (messages.has(name)) throw new Error(`protobuf message ${name} defined twice`)
      messages.set(name, parseMessage(fields))
    }
  }
  const known = (n: string) => messages.has(n) || (BUILTINS as readonly string[]).includes(n)
  for (const [name, m] of messages) {
    for (const f of m.values()) {
      if (f.value.kind === 'message' && !known(f.value.name)) {
        throw new Error(`protobuf message ${name} field ${f.number} names undefined type ${f.value.name}`)
      }
    }
  }
  for (const [k, t] of Object.entries(kinds)) if (!messages.has(t)) throw new Error(`kind ${k}: no message ${t}`)
  return { messages, kinds: new Map(Object.entries(kinds)) }
}
