import type { KubeObject } from '@calilab/model'
import type { Action } from './types.ts'
import { deleteAction } from './types.ts'

/**
 * Garbage collector: an object all of whose owners are gone (no object with that uid) is deleted.
 * `ownerExists(ref, namespace)` looks the owner up (by kind, name and uid).
 */
export function collectGarbage(
  objects: KubeObject[],
  ownerExists: (ref: { apiVersion: string; kind: string; name: string; uid: string }, namespace?: string) => boolean,
): Action[] {
  const actions: Action[] = []
  for (const o of objects) {
    const refs = o.metadata.ownerReferences ?? []
    if (refs.length === 0 || o.metadata.deletionTimestamp) continue
    if (refs.some((r) => ownerExists(r, o.metadata.namespace))) continue
    actions.push(deleteAction(o))
  }
  return actions
}
