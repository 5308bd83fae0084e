import { createHash, generateKeyPair, type KeyObject, randomUUID, sign } from 'node:crypto'
import type { Clock } from '@calilab/kit'
import type { KubeObject, ResourceInfo } from '@calilab/model'
import { rfc3339 } from '../../core/index.ts'
import { apiErrors } from '../../core/status.ts'
import { jwtSigningInput, tokenClaims, tokenSpec } from '../../core/token-request.ts'
import type { ServiceApi } from '../service/api.ts'
import { isRecord } from '../service/objects.ts'

/**
 * POST serviceaccounts/NAME/token (`kubectl create token`): an RS256-signed service-account JWT.
 * The RSA-2048 key is made once per API server process, on the first request, and never leaves
 * it (no key file, no /openid/v1/jwks yet): tokens do not survive a restart's key.
 */
export interface TokenSigner {
  sign(claims: Record<string, unknown>): Promise<string>
}

export function createTokenSigner(): TokenSigner {
  let key: Promise<{ privateKey: KeyObject; kid: string }> | undefined
  const load = () =>
    (key ??= new Promise((done, fail) =>
      generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => {
        if (err) return fail(err)
        const der = publicKey.export({ type: 'spki', format: 'der' })
        // As kube-apiserver: kid = base64url(sha256(DER public key)).
        done({ privateKey, kid: createHash('sha256').update(der).digest('base64url') })
      }),
    ))
  return {
    async sign(claims) {
      const { privateKey, kid } = await load()
      const input = jwtSigningInput({ alg: 'RS256', kid }, claims)
      return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
    },
  }
}

const TOKEN_REQUEST = { group: 'authentication.k8s.io', kind: 'TokenRequest' }

export async function createServiceAccountToken(
  api: ServiceApi,
  signer: TokenSigner,
  clock: Clock,
  sa: { info: ResourceInfo; namespace: string; name: string },
  body: unknown,
): Promise<unknown> {
  if (!isRecord(body)) throw apiErrors.badRequest('the body of the request was not a JSON object')
  if (body['kind'] !== undefined && body['kind'] !== 'TokenRequest') {
    throw apiErrors.badRequest(
      `the kind in the data (${String(body['kind'])}) does not match the expected kind (TokenRequest)`,
    )
  }
  const account = api.get(sa.info, sa.namespace, sa.name)
  const planned = tokenSpec(body)
  if ('errors' in planned) throw apiErrors.invalid(TOKEN_REQUEST, '', planned.errors)
  const { spec } = planned
  let bound: KubeObject | undefined
  const ref = spec.boundObjectRef
  if (ref) {
    if (ref.kind !== 'Pod' && ref.kind !== 'Secret' && ref.kind !== 'Node')
      throw apiErrors.badRequest(`cannot bind token to object of type ${ref.apiVersion ?? 'v1'}, Kind=${ref.kind}`)
    const info = api.resources.byKind('v1', ref.kind)
    if (!info) throw apiErrors.noRoute()
    bound = api.get(info, info.namespaced ? sa.namespace : undefined, ref.name)
    const podSa = ref.kind === 'Pod' && isRecord(bound.spec) ? bound.spec['serviceAccountName'] : undefined
    if (ref.kind === 'Pod' && (podSa ?? 'default') !== sa.name) {
      throw apiErrors.badRequest(
        `cannot bind token for serviceaccount "${sa.name}" to pod running with different serviceaccount name.`,
      )
    }
    if (ref.uid !== undefined && ref.uid !== bound.metadata.uid) {
      throw apiErrors.conflict(
        { group: '', plural: ref.kind },
        ref.name,
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      )
    }
  }
  const now = clock.now()
  const claims = tokenClaims(account, spec, now, randomUUID(), bound)
  const token = await signer.sign(claims)
  const outSpec: Record<string, unknown> = { audiences: spec.audiences, expirationSeconds: spec.expirationSeconds }
  outSpec['boundObjectRef'] = ref ? { ...ref, ...(ref.apiVersion ? {} : { apiVersion: 'v1' }) } : null
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { ...(isRecord(body['metadata']) ? body['metadata'] : {}), creationTimestamp: null },
    spec: outSpec,
    status: { token, expirationTimestamp: rfc3339(now + spec.expirationSeconds * 1000) },
  }
}
