/**
 * Namespace lifecycle in the service layer, as kube-apiserver's namespace storage has it: a DELETE
 * only marks the namespace Terminating (deletionTimestamp, phase); the namespace controller empties
 * it, takes `kubernetes` off spec.finalizers through the finalize subresource, and deletes it again,
 * which then removes it. Plus the batched purge that empties a namespace (or a CRD's kind).
 */
import type { KubeObject, ResourceInfo } from '@calilab/model'
import { apiErrors } from '../../core/status.ts'
import { StoreError } from '../store/errors.ts'
import type { Store, StoreOp } from '../store/types.ts'
import { clone, isRecord } from './objects.ts'

/** The finalizer the namespace controller owns (spec.finalizers, not metadata.finalizers). */
export const NAMESPACE_FINALIZER = 'kubernetes'

export function specFinalizers(ns: KubeObject): string[] {
  const f = isRecord(ns.spec) ? ns.spec['finalizers'] : undefined
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : []
}

/** The first DELETE of a namespace: the stored object it becomes. */
export function markTerminating(cur: KubeObject, nowIso: string): KubeObject {
  const t = clone(cur)
  t.metadata.deletionTimestamp = nowIso
  t.status = { ...(isRecord(cur.status) ? cur.status : {}), phase: 'Terminating' }
  return t
}

/** PUT namespaces/NAME/finalize: only spec.finalizers comes from the body. */
export function withFinalizers(r: ResourceInfo, old: KubeObject, body: KubeObject): KubeObject {
  const f = isRecord(body.spec) ? body.spec['finalizers'] : undefined
  if (f !== undefined && !(Array.isArray(f) && f.every((x) => typeof x === 'string'))) {
    throw apiErrors.invalid(r, old.metadata.name ?? '', [
      { type: 'FieldValueInvalid', field: 'spec.finalizers', value: f, detail: 'must be a list of strings' },
    ])
  }
  const next = clone(old)
  next.spec = { ...(isRecord(old.spec) ? old.spec : {}), finalizers: f === undefined ? [] : [...(f as string[])] }
  return next
}

/**
 * Deletes every object under the given store prefixes, 200 per commit, and returns what it deleted.
 * A kind prefix is `/g/plural/`, a namespace prefix `/g/plural/ns/` (see keys.ts).
 */
export async function purge(store: Store, prefixes: string[]): Promise<KubeObject[]> {
  const gone: KubeObject[] = []
  for (const prefix of prefixes) {
    const perNamespace = prefix.split('/').length === 5
    for (;;) {
      const items = store.list(prefix).items.slice(0, 200)
      if (!items.length) break
      const ops: StoreOp[] = items.map((o) => ({
        op: 'delete',
        key: perNamespace
          ? `${prefix}${o.metadata.name}`
          : `${prefix}${o.metadata.namespace ?? '_'}/${o.metadata.name}`,
      }))
      try {
        for (const ev of await store.commit(ops)) gone.push(ev.object)
      } catch (e) {
        if (e instanceof StoreError && (e.code === 'STORE_NOT_FOUND' || e.code === 'STORE_CONFLICT')) continue
        throw e
      }
    }
  }
  return gone
}
