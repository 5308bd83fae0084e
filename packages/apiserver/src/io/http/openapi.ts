/**
 * The minimal protobuf `openapi_v2.Document` (gnostic) kubectl needs for client-side validation:
 * swagger "2.0", info {title, version}, empty paths. kubectl skips validation for kinds without a
 * schema, so this is enough (see shared/reference/kubectl-wire.md).
 */
function varint(n: number): number[] {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return out
}

function lengthDelimited(field: number, payload: number[]): number[] {
  return [(field << 3) | 2, ...varint(payload.length), ...payload]
}

function str(field: number, s: string): number[] {
  return lengthDelimited(field, [...Buffer.from(s, 'utf8')])
}

export function minimalOpenApiV2(title: string, version: string): Buffer {
  const info = [...str(1, title), ...str(2, version)]
  // Document: swagger = 1, info = 2, paths = 8.
  return Buffer.from([...str(1, '2.0'), ...lengthDelimited(2, info), ...lengthDelimited(8, [])])
}
