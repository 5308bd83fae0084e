/**
 * authentication.k8s.io/v1 TokenRequest (POST serviceaccounts/NAME/token): defaulting, validation
 * and the claims of the service-account JWT, as kube-apiserver's token REST storage builds them.
 * Pure: the caller passes the time, the jti and the looked-up objects, and signs the claims.
 */
import type { FieldError, KubeObject } from '@calilab/model'
import { isObject } from './json.ts'

/** The issuer and default audience (kube-apiserver's --service-account-issuer / --api-audiences). */
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local'
export const DEFAULT_TOKEN_SECONDS = 3600
export const MIN_TOKEN_SECONDS = 600
export const MAX_TOKEN_SECONDS = 2 ** 32

export interface TokenSpec {
  audiences: string[]
  expirationSeconds: number
  boundObjectRef?: { kind: string; apiVersion?: string; name: string; uid?: string }
}

/** The request's spec with defaults (3600 s, the API server's audience), or its field errors. */
export function tokenSpec(body: unknown): { spec: TokenSpec } | { errors: FieldError[] } {
  const spec = isObject(body) && isObject(body['spec']) ? body['spec'] : {}
  const errors: FieldError[] = []
  const auds = Array.isArray(spec['audiences']) ? spec['audiences'].filter((a) => typeof a === 'string') : []
  const raw = spec['expirationSeconds']
  const secs = raw === undefined || raw === null ? DEFAULT_TOKEN_SECONDS : Number(raw)
  if (!Number.isInteger(secs)) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'spec.expirationSeconds',
      value: raw,
      detail: 'must be an integer',
    })
  } else if (secs < MIN_TOKEN_SECONDS) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'spec.expirationSeconds',
      value: secs,
      detail: 'may not specify a duration less than 10 minutes',
    })
  } else if (secs > MAX_TOKEN_SECONDS) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'spec.expirationSeconds',
      value: secs,
      detail: 'may not specify a duration larger than 2^32 seconds',
    })
  }
  if (errors.length) return { errors }
  const out: TokenSpec = { audiences: auds.length ? auds : [SERVICE_ACCOUNT_ISSUER], expirationSeconds: secs }
  const ref = spec['boundObjectRef']
  if (isObject(ref) && typeof ref['kind'] === 'string' && ref['kind'] !== '') {
    const b: NonNullable<TokenSpec['boundObjectRef']> = { kind: ref['kind'], name: String(ref['name'] ?? '') }
    if (typeof ref['apiVersion'] === 'string' && ref['apiVersion'] !== '') b.apiVersion = ref['apiVersion']
    if (typeof ref['uid'] === 'string' && ref['uid'] !== '') b.uid = ref['uid']
    out.boundObjectRef = b
  }
  return { spec: out }
}

/** The JWT claims of a service-account token (`iat`/`nbf`/`exp` in seconds). */
export function tokenClaims(
  sa: KubeObject,
  spec: TokenSpec,
  nowMs: number,
  jti: string,
  bound?: KubeObject,
): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000)
  const ns = sa.metadata.namespace ?? 'default'
  const name = sa.metadata.name ?? ''
  const k8s: Record<string, unknown> = { namespace: ns, serviceaccount: { name, uid: sa.metadata.uid ?? '' } }
  if (bound) k8s[bound.kind.toLowerCase()] = { name: bound.metadata.name, uid: bound.metadata.uid ?? '' }
  return {
    aud: spec.audiences,
    exp: iat + spec.expirationSeconds,
    iat,
    iss: SERVICE_ACCOUNT_ISSUER,
    jti,
    'kubernetes.io': k8s,
    nbf: iat,
    sub: `system:serviceaccount:${ns}:${name}`,
  }
}

const b64url = (s: string | Buffer): string => Buffer.from(s).toString('base64url')

/** `header.payload` of a JWS in compact form; the caller appends `.signature`. */
export function jwtSigningInput(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
}
