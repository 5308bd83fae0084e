import type { IncomingMessage } from 'node:http'
import { parse as parseYaml } from 'yaml'
import type { PatchType } from '../../api.ts'
import { PROTOBUF_MEDIA_TYPE, type ProtobufDecoder, type ProtobufError } from '../../core/protobuf/index.ts'
import { apiErrors } from '../../core/status.ts'

/** 16 MiB: the 3.5 MB operator CRDs pass; more is answered 413. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      req.resume()
      reject(apiErrors.tooLarge(`the request body is too large (${declared} bytes; limit ${limit})`))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    req.on('data', (c: Buffer) => {
      if (failed) return
      size += c.length
      if (size > limit) {
        failed = true
        reject(apiErrors.tooLarge(`the request body is too large (more than ${limit} bytes)`))
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks))
    })
    req.on('error', (e) => {
      if (!failed) reject(apiErrors.badRequest(`error reading the request body: ${e.message}`))
      failed = true
    })
  })
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/** The Status a protobuf decode failure is answered with: 400 malformed, 415 not understood here. */
export function protobufApiError(e: ProtobufError) {
  const message = `protobuf request body: ${e.message}`
  return e.http === 415 ? apiErrors.unsupportedMediaType(message) : apiErrors.badRequest(message)
}

/**
 * A create/update body: JSON (the default), YAML, or Kubernetes protobuf (what kubectl's typed
 * clients send) when a decoder is given; protobuf becomes the same object JSON would have given.
 */
export function parseObjectBody(buf: Buffer, contentType: string | undefined, protobuf?: ProtobufDecoder): unknown {
  const mt = mediaType(contentType)
  if (buf.length === 0) throw apiErrors.badRequest('the request body is empty')
  if (mt === PROTOBUF_MEDIA_TYPE && protobuf) {
    const r = protobuf.decodeObject(buf)
    if (!r.ok) throw protobufApiError(r.error)
    return r.value
  }
  const text = buf.toString('utf8')
  if (mt === 'application/yaml' || mt === 'application/x-yaml' || mt === 'text/yaml') {
    try {
      return parseYaml(text) as unknown
    } catch (e) {
      throw apiErrors.badRequest(`yaml parse error: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  if (mt !== '' && mt !== 'application/json' && mt !== '*/*') {
    throw apiErrors.unsupportedMediaType(
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml${protobuf ? `, ${PROTOBUF_MEDIA_TYPE}` : ''}`,
    )
  }
  return parseJson(text)
}

/** A DELETE body (DeleteOptions): JSON, or protobuf when a decoder is given. */
export function parseOptionsBody(buf: Buffer, contentType: string | undefined, protobuf?: ProtobufDecoder): unknown {
  if (mediaType(contentType) === PROTOBUF_MEDIA_TYPE && protobuf) return parseObjectBody(buf, contentType, protobuf)
  return parseJson(buf.toString('utf8'))
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (e) {
    throw apiErrors.badRequest(
      `couldn't get version/kind; json parse error: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
}

export function patchTypeOf(contentType: string | undefined): PatchType {
  const t = PATCH_TYPES[mediaType(contentType)]
  if (!t) {
    throw apiErrors.unsupportedMediaType(
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
    )
  }
  return t
}
