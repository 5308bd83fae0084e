import type { KubeObject } from '@calilab/model'
import { CliError } from '../io.ts'
import type { KubeClient } from '../kube.ts'
import { isNotFound } from './client.ts'
import { type ApiResource, Discovery, typeRef } from './discovery.ts'
import type { Manifest } from './manifests.ts'

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'

export interface Target {
  resource: ApiResource
  namespace: string | undefined
  name: string
  /** `deployment.apps/customer` */
  ref: string
}

/** Where a manifest goes: its resource, namespace (file, else -n, else default) and name. */
export function targetOf(d: Discovery, m: Manifest, defaultNs: string, nsFlag?: string): Target {
  const o = m.object
  const r = d.byKind(o.apiVersion, o.kind)
  const name = o.metadata?.name ?? ''
  if (!r) {
    throw new CliError(
      `error: resource mapping not found for name: "${name}" namespace: "${o.metadata?.namespace ?? ''}" from "${m.source}": no matches for kind "${o.kind}" in version "${o.apiVersion}"\nensure CRDs are installed first`,
    )
  }
  let namespace: string | undefined
  if (r.namespaced) {
    const fileNs = o.metadata?.namespace
    if (nsFlag && fileNs && fileNs !== nsFlag) {
      throw new CliError(
        `error: the namespace from the provided object "${fileNs}" does not match the namespace "${nsFlag}". You must pass '--namespace=${fileNs}' to perform this operation.`,
      )
    }
    namespace = fileNs ?? nsFlag ?? defaultNs
  }
  if (!name)
    throw new CliError(
      `error: error when retrieving current configuration from ${m.source}: resource name may not be empty`,
    )
  return { resource: r, namespace, name, ref: `${typeRef(r)}/${name}` }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** RFC 7386 merge patch turning `from` into `to` (lists replaced, removed keys set to null). */
export function mergePatchBetween(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return to
  const patch: Record<string, unknown> = {}
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null
  for (const [k, v] of Object.entries(to)) {
    const old = from[k]
    if (JSON.stringify(old) === JSON.stringify(v)) continue
    patch[k] = isPlainObject(old) && isPlainObject(v) ? mergePatchBetween(old, v) : v
  }
  return patch
}

function withLastApplied(o: KubeObject, namespace: string | undefined): { body: KubeObject; last: string } {
  const clean = structuredClone(o)
  clean.metadata ??= {}
  if (namespace && clean.metadata.namespace === undefined) clean.metadata.namespace = namespace
  if (clean.metadata.annotations) {
    delete clean.metadata.annotations[LAST_APPLIED]
    if (Object.keys(clean.metadata.annotations).length === 0) delete clean.metadata.annotations
  }
  const last = `${JSON.stringify(clean)}\n`
  const body = structuredClone(clean)
  body.metadata.annotations = { ...(body.metadata.annotations ?? {}), [LAST_APPLIED]: last }
  return { body, last }
}

export type ApplyOutcome = 'created' | 'configured' | 'unchanged'

/** The request an apply is making, for kubectl's error wording (`error when creating "x.yaml": ...`). */
export interface ApplyProgress {
  step?: 'retrieving current configuration of' | 'creating' | 'applying patch'
}

/** Client-side apply of one object, as kubectl does it (last-applied annotation + merge patch). */
export async function applyOne(
  client: KubeClient,
  t: Target,
  obj: KubeObject,
  progress: ApplyProgress = {},
): Promise<ApplyOutcome> {
  const { body, last } = withLastApplied(obj, t.namespace)
  let current: KubeObject | undefined
  progress.step = 'retrieving current configuration of'
  try {
    current = await client.get(Discovery.path(t.resource, t.namespace, t.name))
  } catch (e) {
    if (!isNotFound(e)) throw e
  }
  if (!current) {
    progress.step = 'creating'
    await client.create(Discovery.path(t.resource, t.namespace), body)
    return 'created'
  }
  const prevText = current.metadata.annotations?.[LAST_APPLIED]
  if (prevText === last) return 'unchanged'
  let prev: unknown = {}
  if (prevText) {
    try {
      prev = JSON.parse(prevText)
    } catch {
      prev = {}
    }
  } else prev = {}
  const patch = mergePatchBetween(prev, JSON.parse(last)) as Record<string, unknown>
  const meta = (patch['metadata'] ?? {}) as Record<string, unknown>
  const ann = (isPlainObject(meta['annotations']) ? meta['annotations'] : {}) as Record<string, unknown>
  ann[LAST_APPLIED] = last
  meta['annotations'] = ann
  patch['metadata'] = meta
  progress.step = 'applying patch'
  await client.patch(Discovery.path(t.resource, t.namespace, t.name), patch, 'merge')
  return 'configured'
}

export async function createOne(client: KubeClient, t: Target, obj: KubeObject): Promise<void> {
  const body = structuredClone(obj)
  if (t.namespace && body.metadata.namespace === undefined) body.metadata.namespace = t.namespace
  await client.create(Discovery.path(t.resource, t.namespace), body)
}

export async function replaceOne(client: KubeClient, t: Target, obj: KubeObject): Promise<void> {
  const body = structuredClone(obj)
  if (t.namespace && body.metadata.namespace === undefined) body.metadata.namespace = t.namespace
  if (!body.metadata.resourceVersion) {
    const cur = await client.get(Discovery.path(t.resource, t.namespace, t.name))
    if (cur.metadata.resourceVersion) body.metadata.resourceVersion = cur.metadata.resourceVersion
  }
  await client.update(Discovery.path(t.resource, t.namespace, t.name), body)
}

/** Returns the object as the server answered (a Namespace comes back Terminating). */
export async function deleteOne(client: KubeClient, t: Target): Promise<KubeObject | undefined> {
  return client.delete<KubeObject | undefined>(Discovery.path(t.resource, t.namespace, t.name), {
    propagationPolicy: 'Background',
  })
}
