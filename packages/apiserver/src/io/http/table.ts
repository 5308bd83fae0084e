import type { KubeObject, ResourceInfo } from '@calilab/model'
import { type TableOptions, toTable } from '../../core/index.ts'

export type { TableOptions }

/** True when the Accept header asks for a meta.k8s.io Table (`kubectl get` without -o). */
export function wantsTable(accept: string | undefined): boolean {
  return accept !== undefined && /as=Table/.test(accept)
}

export function asTable(info: ResourceInfo, objects: KubeObject[], opts: TableOptions): unknown {
  return toTable({ group: info.group, kind: info.kind }, objects, opts)
}
