/**
 * Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) -> the JSON object the same request
 * would carry as `application/json`. Schema-driven: a field the schema does not know is an error
 * naming the message and field number, never silently dropped.
 */
import type { FieldSpec, MessageSpec, Scalar, Schema } from './schema.ts'
import {
  ProtobufError,
  toInt32,
  toInt64,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_NAMES,
  WIRE_VARINT,
  WireReader,
} from './wire.ts'

/** `k8s` followed by a zero byte, before the runtime.Unknown envelope. */
export const K8S_PROTOBUF_MAGIC = Uint8Array.of(0x6b, 0x38, 0x73, 0x00)

const MAX_DEPTH = 48

type Json = string | number | boolean | null | Json[] | { [k: string]: Json }
type JsonObject = { [k: string]: Json }

export type DecodeResult = { ok: true; value: JsonObject } | { ok: false; error: ProtobufError }

function wireName(w: number): string {
  return WIRE_NAMES[w] ?? `wire type ${w}`
}

function expectWire(msg: string, f: FieldSpec, got: number, want: number): void {
  if (got !== want) {
    throw new ProtobufError(
      'PB_BAD_WIRE_TYPE',
      `${msg} field ${f.number} (${f.name}): expected ${wireName(want)}, got ${wireName(got)}`,
    )
  }
}

function isZero(v: Json): boolean {
  return v === '' || v === 0 || v === false
}

/** RFC 3339, seconds precision (metav1.Time) or microseconds (metav1.MicroTime). */
function formatTime(seconds: number, nanos: number, micro: boolean): string {
  const iso = new Date(seconds * 1000).toISOString()
  if (!micro) return iso.replace(/\.\d{3}Z$/, 'Z')
  const us = String(Math.floor(nanos / 1000)).padStart(6, '0')
  return iso.replace(/\.\d{3}Z$/, `.${us}Z`)
}

export class ProtobufDecoder {
  private readonly schema: Schema

  constructor(schema: Schema) {
    this.schema = schema
  }

  /** A whole request body: magic, runtime.Unknown envelope, then the object its TypeMeta names. */
  decodeObject(body: Uint8Array): DecodeResult {
    try {
      return { ok: true, value: this.decodeEnvelope(body) }
    } catch (e) {
      if (e instanceof ProtobufError) return { ok: false, error: e }
      throw e
    }
  }

  /** One message by schema name (no envelope); for tests and nested use. */
  decodeMessageBytes(type: string, bytes: Uint8Array): DecodeResult {
    try {
      return { ok: true, value: this.message(type, new WireReader(bytes), 0) }
    } catch (e) {
      if (e instanceof ProtobufError) return { ok: false, error: e }
      throw e
    }
  }

  private decodeEnvelope(body: Uint8Array): JsonObject {
    if (body.length < 4 || K8S_PROTOBUF_MAGIC.some((b, i) => body[i] !== b)) {
      throw new ProtobufError('PB_BAD_MAGIC', 'the body does not start with the Kubernetes protobuf magic "k8s\\0"')
    }
    const env = this.message('Unknown', new WireReader(body, 4), 0)
    const tm = (env['typeMeta'] ?? {}) as JsonObject
    const apiVersion = typeof tm['apiVersion'] === 'string' ? tm['apiVersion'] : ''
    const kind = typeof tm['kind'] === 'string' ? tm['kind'] : ''
    const enc = env['contentEncoding']
    if (typeof enc === 'string' && enc !== '') {
      throw new ProtobufError('PB_UNSUPPORTED_ENCODING', `protobuf contentEncoding "${enc}" is not supported`)
    }
    const ct = env['contentType']
    if (typeof ct === 'string' && ct !== '' && ct !== 'application/vnd.kubernetes.protobuf') {
      throw new ProtobufError('PB_UNSUPPORTED_ENCODING', `protobuf contentType "${ct}" is not supported`)
    }
    const type = this.schema.kinds.get(`${apiVersion}/${kind}`)
    if (!type) {
      throw new ProtobufError(
        'PB_UNKNOWN_KIND',
        `protobuf bodies of kind "${kind}" (apiVersion "${apiVersion}") are not supported by this server; send JSON`,
      )
    }
    const raw = typeof env['raw'] === 'string' ? Buffer.from(env['raw'], 'base64') : new Uint8Array(0)
    return { kind, apiVersion, ...this.message(type, new WireReader(raw), 0) }
  }

  private spec(type: string): MessageSpec {
    const m = this.schema.messages.get(type)
    if (!m) throw new ProtobufError('PB_UNKNOWN_KIND', `protobuf message ${type} is not known to this server`)
    return m
  }

  private message(type: string, r: WireReader, depth: number, into: JsonObject = {}): JsonObject {
    if (depth > MAX_DEPTH) throw new ProtobufError('PB_TOO_DEEP', `protobuf messages nested deeper than ${MAX_DEPTH}`)
    const spec = this.spec(type)
    while (!r.done) {
      const { field, wire } = r.tag()
      const f = spec.get(field)
      if (!f) {
        throw new ProtobufError(
          'PB_UNKNOWN_FIELD',
          `protobuf field ${field} (${wireName(wire)}) of message ${type} is not known to this server; send JSON`,
        )
      }
      this.field(type, f, wire, r, depth, into)
    }
    return into
  }

  private field(type: string, f: FieldSpec, wire: number, r: WireReader, depth: number, out: JsonObject): void {
    if (f.map) {
      expectWire(type, f, wire, WIRE_LEN)
      const { start, end } = r.lengthDelimited()
      const [k, v] = this.mapEntry(type, f, new WireReader(r.buf, start, end), depth)
      const m = (out[f.name] ??= {}) as JsonObject
      m[k] = v
      return
    }
    if (
      f.value.kind === 'scalar' &&
      f.repeated &&
      wire === WIRE_LEN &&
      f.value.scalar !== 's' &&
      f.value.scalar !== 'by'
    ) {
      // A packed repeated scalar: one length-delimited run of values.
      const { start, end } = r.lengthDelimited()
      const sub = new WireReader(r.buf, start, end)
      const list = (out[f.name] ??= []) as Json[]
      const w = f.value.scalar === 'f64' ? WIRE_FIXED64 : WIRE_VARINT
      while (!sub.done) list.push(this.scalar(type, f, f.value.scalar, w, sub))
      return
    }
    const v = this.value(type, f, wire, r, depth)
    if (f.repeated) {
      ;((out[f.name] ??= []) as Json[]).push(v ?? null)
      return
    }
    if (v === undefined) return
    if (f.name === '*') {
      Object.assign(out, v)
      return
    }
    if (!f.pointer && f.value.kind === 'scalar' && isZero(v)) {
      // A value field at its zero: JSON's omitempty leaves it out. A repeat of the field resets it.
      delete out[f.name]
      return
    }
    out[f.name] = v
  }

  /** One value; undefined for a zero Time (JSON null). */
  private value(type: string, f: FieldSpec, wire: number, r: WireReader, depth: number): Json | undefined {
    if (f.value.kind === 'scalar') return this.scalar(type, f, f.value.scalar, wire, r)
    expectWire(type, f, wire, WIRE_LEN)
    const { start, end } = r.lengthDelimited()
    return this.messageValue(f.value.name, new WireReader(r.buf, start, end), depth + 1)
  }

  private scalar(type: string, f: FieldSpec, s: Scalar, wire: number, r: WireReader): Json {
    switch (s) {
      case 's':
        expectWire(type, f, wire, WIRE_LEN)
        return r.string()
      case 'by':
        expectWire(type, f, wire, WIRE_LEN)
        return Buffer.from(r.bytes()).toString('base64')
      case 'b':
        expectWire(type, f, wire, WIRE_VARINT)
        return r.varint64() !== 0n
      case 'i32':
        expectWire(type, f, wire, WIRE_VARINT)
        return toInt32(r.varint64())
      case 'i64':
        expectWire(type, f, wire, WIRE_VARINT)
        return toInt64(r.varint64())
      case 'f64':
        if (wire === WIRE_FIXED32) return r.float()
        expectWire(type, f, wire, WIRE_FIXED64)
        return r.double()
    }
  }

  private messageValue(name: string, r: WireReader, depth: number): Json | undefined {
    switch (name) {
      case 'Time':
      case 'MicroTime': {
        const t = this.builtin(name, r, { 1: 'i64', 2: 'i32' })
        const seconds = (t[1] as number | undefined) ?? 0
        const nanos = (t[2] as number | undefined) ?? 0
        if (seconds === 0 && nanos === 0) return undefined
        return formatTime(seconds, nanos, name === 'MicroTime')
      }
      case 'Quantity': {
        const q = this.builtin(name, r, { 1: 's' })
        return typeof q[1] === 'string' && q[1] !== '' ? q[1] : '0'
      }
      case 'IntOrString': {
        const v = this.builtin(name, r, { 1: 'i64', 2: 'i32', 3: 's' })
        return v[1] === 1 ? ((v[3] as string | undefined) ?? '') : ((v[2] as number | undefined) ?? 0)
      }
      case 'FieldsV1': {
        const v = this.builtin(name, r, { 1: 'by' })
        const raw = typeof v[1] === 'string' ? Buffer.from(v[1], 'base64').toString('utf8') : '{}'
        try {
          return JSON.parse(raw) as Json
        } catch {
          throw new ProtobufError('PB_BAD_VALUE', 'FieldsV1.Raw is not JSON')
        }
      }
      default:
        return this.message(name, r, depth)
    }
  }

  /** The small builtin messages, by field number; their JSON form is computed by the caller. */
  private builtin(type: string, r: WireReader, fields: Record<number, Scalar>): Record<number, Json> {
    const out: Record<number, Json> = {}
    while (!r.done) {
      const { field, wire } = r.tag()
      const s = fields[field]
      if (!s) {
        throw new ProtobufError(
          'PB_UNKNOWN_FIELD',
          `protobuf field ${field} of message ${type} is not known to this server`,
        )
      }
      out[field] = this.scalar(
        type,
        {
          number: field,
          name: String(field),
          value: { kind: 'scalar', scalar: s },
          repeated: false,
          map: false,
          pointer: false,
        },
        s,
        wire,
        r,
      )
    }
    return out
  }

  /** A map<string, T> entry: key = 1, value = 2; a missing value is T's zero. */
  private mapEntry(type: string, f: FieldSpec, r: WireReader, depth: number): [string, Json] {
    let key = ''
    let val: Json | undefined
    const valueField: FieldSpec = { ...f, map: false, repeated: false, pointer: true }
    while (!r.done) {
      const { field, wire } = r.tag()
      if (field === 1) {
        expectWire(`${type}.${f.name} map entry`, { ...f, number: 1, name: 'key' }, wire, WIRE_LEN)
        key = r.string()
      } else if (field === 2) {
        val = this.value(`${type}.${f.name} map entry`, { ...valueField, number: 2 }, wire, r, depth) ?? null
      } else {
        throw new ProtobufError(
          'PB_UNKNOWN_FIELD',
          `protobuf field ${field} of a ${type}.${f.name} map entry is not known`,
        )
      }
    }
    if (val === undefined) {
      const v = f.value
      if (v.kind === 'message') val = v.name === 'Quantity' ? '0' : v.name === 'Time' ? null : {}
      else val = v.scalar === 's' || v.scalar === 'by' ? '' : v.scalar === 'b' ? false : 0
    }
    return [key, val]
  }
}
