import { apiVersionOf, type KubeObject, type ResourceInfo } from '@calilab/model'
import type { ResourceTable } from '../../api.ts'
import { type CrdKind, type CrdPrinterColumn, crdKinds } from './crd.ts'

/** The served kinds: built-ins plus what CRDs register. Lookups scan a small array. */
export interface ServedResources extends ResourceTable {
  /** By group + version + plural, as a URL names a kind. */
  byGroupVersionPlural(group: string, version: string, plural: string): ResourceInfo | undefined
  /** Printer columns of a CRD-defined kind (undefined for built-ins). */
  crdColumns(info: ResourceInfo): CrdPrinterColumn[] | undefined
  /** Group versions served, core ('') first. */
  groupVersions(): { group: string; versions: string[] }[]
  /** Registers (or re-registers) the kinds of a CRD; kinds whose group+plural is built in are skipped. */
  registerCrd(crd: KubeObject): void
  unregisterCrd(crdName: string): void
  isBuiltin(info: Pick<ResourceInfo, 'group' | 'plural'>): boolean
}

export function createResourceTable(builtins: readonly ResourceInfo[]): ServedResources {
  const crds = new Map<string, CrdKind[]>()
  let cache: ResourceInfo[] | undefined
  const builtinKey = new Set(builtins.map((b) => `${b.group}/${b.plural}`))
  const columns = new Map<ResourceInfo, CrdPrinterColumn[]>()

  const all = (): ResourceInfo[] => {
    if (!cache) {
      cache = [...builtins]
      for (const kinds of crds.values()) for (const k of kinds) cache.push(k.info)
    }
    return cache
  }

  return {
    all,
    byPlural: (group, plural) => all().find((r) => r.group === group && r.plural === plural),
    byGroupVersionPlural: (group, version, plural) =>
      all().find((r) => r.group === group && r.version === version && r.plural === plural),
    byKind(apiVersion, kind) {
      return all().find((r) => r.kind === kind && apiVersionOf(r) === apiVersion)
    },
    resolve(name) {
      const n = name.toLowerCase()
      const dot = n.indexOf('.')
      const rs = all()
      if (dot > 0) {
        const [head, group] = [n.slice(0, dot), n.slice(dot + 1)]
        const hit = rs.find(
          (r) => r.group === group && (r.plural === head || r.singular === head || r.kind.toLowerCase() === head),
        )
        if (hit) return hit
      }
      return (
        rs.find((r) => r.plural === n) ??
        rs.find((r) => r.singular === n || r.kind.toLowerCase() === n) ??
        rs.find((r) => r.shortNames.includes(n))
      )
    },
    crdColumns: (info) => columns.get(info),
    groupVersions() {
      const out: { group: string; versions: string[] }[] = []
      for (const r of all()) {
        let g = out.find((x) => x.group === r.group)
        if (!g) {
          g = { group: r.group, versions: [] }
          if (r.group === '') out.unshift(g)
          else out.push(g)
        }
        if (!g.versions.includes(r.version)) g.versions.push(r.version)
      }
      return out
    },
    registerCrd(crd) {
      const all = crdKinds(crd)
      // A CRD for a kind served built-in (e.g. operator.tigera.io's TigeraStatus) keeps the built-in
      // schema but lends it its printer columns, as the real CRD would show them.
      for (const k of all) {
        const b = builtins.find(
          (x) => x.group === k.info.group && x.plural === k.info.plural && x.version === k.info.version,
        )
        if (b && k.columns.length) columns.set(b, k.columns)
      }
      const kinds = all.filter((k) => !builtinKey.has(`${k.info.group}/${k.info.plural}`))
      const name = crd.metadata.name ?? ''
      const old = crds.get(name)
      if (old) for (const k of old) columns.delete(k.info)
      if (kinds.length) crds.set(name, kinds)
      else crds.delete(name)
      for (const k of kinds) columns.set(k.info, k.columns)
      cache = undefined
    },
    unregisterCrd(crdName) {
      const old = crds.get(crdName)
      if (!old) return
      for (const k of old) columns.delete(k.info)
      crds.delete(crdName)
      cache = undefined
    },
    isBuiltin: (info) => builtinKey.has(`${info.group}/${info.plural}`),
  }
}
