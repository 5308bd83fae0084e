import type { KubeObject, ResourceInfo } from '@calilab/model'

/** One `additionalPrinterColumns` entry of a CRD version, kept for Table output. */
export interface CrdPrinterColumn {
  name: string
  type: string
  jsonPath: string
  description?: string
  priority?: number
  format?: string
}

export interface CrdKind {
  info: ResourceInfo
  columns: CrdPrinterColumn[]
  /** The CRD's metadata.name (`plural.group`). */
  crdName: string
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

/** The kinds an apiextensions.k8s.io/v1 CustomResourceDefinition serves: one per served version. */
export function crdKinds(crd: KubeObject): CrdKind[] {
  const spec = (crd.spec ?? {}) as Record<string, unknown>
  const names = (spec['names'] ?? {}) as Record<string, unknown>
  const group = str(spec['group'])
  const plural = str(names['plural'])
  const kind = str(names['kind'])
  if (!group || !plural || !kind) return []
  const versions = Array.isArray(spec['versions']) ? (spec['versions'] as Record<string, unknown>[]) : []
  const out: CrdKind[] = []
  // The storage version first, so that lookups by group+plural prefer it.
  const ordered = [...versions].sort((a, b) => Number(b['storage'] === true) - Number(a['storage'] === true))
  for (const v of ordered) {
    const version = str(v['name'])
    if (!version || v['served'] === false) continue
    const subs = (v['subresources'] ?? {}) as Record<string, unknown>
    const subresources: string[] = []
    if (subs['status'] !== undefined) subresources.push('status')
    if (subs['scale'] !== undefined) subresources.push('scale')
    const columns: CrdPrinterColumn[] = []
    const raw = Array.isArray(v['additionalPrinterColumns']) ? (v['additionalPrinterColumns'] as unknown[]) : []
    for (const c of raw) {
      if (typeof c !== 'object' || c === null) continue
      const col = c as Record<string, unknown>
      const name = str(col['name'])
      const jsonPath = str(col['jsonPath'])
      if (!name || !jsonPath) continue
      const pc: CrdPrinterColumn = { name, jsonPath, type: str(col['type']) ?? 'string' }
      const d = str(col['description'])
      if (d) pc.description = d
      if (typeof col['priority'] === 'number') pc.priority = col['priority']
      const f = str(col['format'])
      if (f) pc.format = f
      columns.push(pc)
    }
    out.push({
      crdName: crd.metadata.name ?? `${plural}.${group}`,
      columns,
      info: {
        group,
        version,
        kind,
        listKind: str(names['listKind']) ?? `${kind}List`,
        plural,
        singular: str(names['singular']) ?? kind.toLowerCase(),
        namespaced: spec['scope'] !== 'Cluster',
        shortNames: strList(names['shortNames']),
        categories: strList(names['categories']),
        verbs: VERBS,
        subresources,
        modeled: false,
      },
    })
  }
  return out
}
