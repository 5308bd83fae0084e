import type { KubeObject, ResourceInfo } from '@calilab/model'
import {
  checkFieldSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from '../../core/index.ts'
import { ApiError, apiErrors } from '../../core/status.ts'

/** A compiled label + field selector; `undefined` matches everything. */
export type ObjectFilter = ((o: KubeObject) => boolean) | undefined

function rethrow(e: unknown, what: string, s: string): never {
  if (e instanceof ApiError) throw e
  const msg = e instanceof Error ? e.message : String(e)
  throw apiErrors.badRequest(`unable to parse requirement: ${what} "${s}": ${msg}`)
}

export function compileFilter(info: ResourceInfo, labelSelector?: string, fieldSelector?: string): ObjectFilter {
  const tests: ((o: KubeObject) => boolean)[] = []
  if (labelSelector) {
    let sel: ReturnType<typeof parseLabelSelector>
    try {
      sel = parseLabelSelector(labelSelector)
    } catch (e) {
      rethrow(e, 'label selector', labelSelector)
    }
    tests.push((o) => matchesLabels(sel, o.metadata.labels ?? {}))
  }
  if (fieldSelector) {
    let sel: ReturnType<typeof parseFieldSelector>
    try {
      sel = parseFieldSelector(fieldSelector)
      checkFieldSelector(sel, { group: info.group, kind: info.kind })
    } catch (e) {
      rethrow(e, 'field selector', fieldSelector)
    }
    tests.push((o) => matchesFields(sel, o))
  }
  if (!tests.length) return undefined
  return (o) => tests.every((t) => t(o))
}
