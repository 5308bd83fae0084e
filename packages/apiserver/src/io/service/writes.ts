/** Small write-path helpers of the service layer: store failures as API errors, pods/binding. */
import type { KubeObject, ResourceInfo } from '@calilab/model'
import { apiErrors } from '../../core/status.ts'
import { StoreError } from '../store/errors.ts'
import { clone, isRecord } from './objects.ts'

export function storeFailure(e: unknown, r: ResourceInfo, name: string): never {
  if (e instanceof StoreError) {
    if (e.code === 'STORE_EXISTS') throw apiErrors.alreadyExists(r, name)
    if (e.code === 'STORE_NOT_FOUND') throw apiErrors.notFound(r, name)
    if (e.code === 'STORE_CONFLICT') {
      throw apiErrors.conflict(
        r,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      )
    }
    throw apiErrors.internal(e.message)
  }
  throw e
}

/** pods/binding: assign a pending pod to a node, once (what the scheduler posts). */
export function bindPod(r: ResourceInfo, old: KubeObject, name: string, body: unknown): KubeObject {
  if (r.group !== '' || r.plural !== 'pods') throw apiErrors.noRoute()
  const target = isRecord(body) && isRecord(body['target']) ? body['target'] : undefined
  const node = target && typeof target['name'] === 'string' ? target['name'] : ''
  if (!node) {
    throw apiErrors.invalid({ group: '', kind: 'Binding' }, name, [
      { type: 'FieldValueRequired', field: 'target.name', detail: '' },
    ])
  }
  const spec = (old.spec ?? {}) as Record<string, unknown>
  if (typeof spec['nodeName'] === 'string' && spec['nodeName'] !== '') {
    throw apiErrors.conflict(r, name, `pod ${name} is already assigned to node "${spec['nodeName']}"`)
  }
  const next = clone(old)
  next.spec = { ...spec, nodeName: node }
  return next
}
