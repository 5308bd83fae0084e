/** Kubernetes protobuf request bodies, decoded to the JSON objects the rest of the server handles. */
import { ProtobufDecoder } from './decode.ts'
import { buildSchema, type Schema } from './schema.ts'
import { ENVELOPE_MESSAGES, META_MESSAGES } from './schema-meta.ts'
import { CLUSTER_MESSAGES, CORE_MESSAGES, KINDS, WORKLOAD_MESSAGES } from './schema-objects.ts'
import { POD_MESSAGES } from './schema-pod.ts'

export { type DecodeResult, K8S_PROTOBUF_MAGIC, ProtobufDecoder } from './decode.ts'
export { buildSchema, type FieldSpec, parseField, parseMessage, type Schema, type SchemaSource } from './schema.ts'
export { PROTOBUF_ERRORS, ProtobufError, type ProtobufErrorCode, WireReader } from './wire.ts'

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf'

/** The schema of every kind this server decodes from protobuf (built and checked on each call). */
export function kubernetesProtobufSchema(): Schema {
  return buildSchema(
    [ENVELOPE_MESSAGES, META_MESSAGES, POD_MESSAGES, CORE_MESSAGES, WORKLOAD_MESSAGES, CLUSTER_MESSAGES],
    KINDS,
  )
}

export function createProtobufDecoder(schema: Schema = kubernetesProtobufSchema()): ProtobufDecoder {
  return new ProtobufDecoder(schema)
}
