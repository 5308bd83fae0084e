import type { KubeClient } from '../kube.ts'
import { resourcePath } from '../kube.ts'

export interface ApiResource {
  group: string
  version: string
  /** Plural, as in URLs. */
  name: string
  singularName: string
  kind: string
  namespaced: boolean
  shortNames: string[]
  verbs: string[]
  categories: string[]
}

interface ApiResourceList {
  groupVersion: string
  resources: {
    name: string
    singularName?: string
    namespaced: boolean
    kind: string
    verbs?: string[]
    shortNames?: string[]
    categories?: string[]
  }[]
}

interface ApiGroupList {
  groups: {
    name: string
    preferredVersion?: { groupVersion: string; version: string }
    versions: { groupVersion: string; version: string }[]
  }[]
}

/** The server's resource list (discovery), and kubectl's resolution of the names users type. */
export class Discovery {
  readonly resources: ApiResource[]
  constructor(resources: ApiResource[]) {
    this.resources = resources
  }

  static async load(client: KubeClient): Promise<Discovery> {
    const gvs: { group: string; version: string; path: string }[] = [{ group: '', version: 'v1', path: '/api/v1' }]
    const groups = await client.get<ApiGroupList>('/apis')
    for (const g of groups.groups ?? []) {
      const v = g.preferredVersion ?? g.versions[0]
      if (v) gvs.push({ group: g.name, version: v.version, path: `/apis/${v.groupVersion}` })
    }
    const lists = await Promise.all(
      gvs.map(async (gv) => {
        try {
          return { gv, list: await client.get<ApiResourceList>(gv.path) }
        } catch {
          return { gv, list: { groupVersion: gv.path, resources: [] } as ApiResourceList }
        }
      }),
    )
    const out: ApiResource[] = []
    for (const { gv, list } of lists) {
      for (const r of list.resources ?? []) {
        if (r.name.includes('/')) continue
        out.push({
          group: gv.group,
          version: gv.version,
          name: r.name,
          singularName: r.singularName || r.kind.toLowerCase(),
          kind: r.kind,
          namespaced: r.namespaced,
          shortNames: r.shortNames ?? [],
          verbs: r.verbs ?? [],
          categories: r.categories ?? [],
        })
      }
    }
    return new Discovery(out)
  }

  /** By what a user types: plural, singular, short name, kind, each optionally `.group`. */
  resolve(typed: string): ApiResource | undefined {
    const t = typed.toLowerCase()
    const match = (r: ApiResource, n: string) =>
      r.name === n || r.singularName === n || r.kind.toLowerCase() === n || r.shortNames.includes(n)
    const plain = this.resources.find((r) => match(r, t))
    if (plain) return plain
    const dot = t.indexOf('.')
    if (dot > 0) {
      const n = t.slice(0, dot)
      const rest = t.slice(dot + 1)
      return this.resources.find(
        (r) =>
          match(r, n) &&
          (r.group === rest || `${r.version}.${r.group}` === rest || (rest === r.version && r.group === '')),
      )
    }
    return undefined
  }

  byKind(apiVersion: string, kind: string): ApiResource | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion]
    return (
      this.resources.find((r) => r.kind === kind && r.group === group && r.version === version) ??
      this.resources.find((r) => r.kind === kind && r.group === group)
    )
  }

  static path(r: ApiResource, namespace?: string, name?: string, subresource?: string): string {
    return resourcePath({
      group: r.group,
      version: r.version,
      plural: r.name,
      namespace: r.namespaced ? namespace : undefined,
      name,
      subresource,
    })
  }
}

/** kubectl's `kind.group/name` prefix: `deployment.apps`, `namespace`, `networkpolicy.networking.k8s.io`. */
export function typeRef(r: Pick<ApiResource, 'kind' | 'group'>): string {
  return r.group ? `${r.kind.toLowerCase()}.${r.group}` : r.kind.toLowerCase()
}

/** The plural form kubectl uses in NotFound messages: `deployments.apps "x" not found`. */
export function pluralRef(r: Pick<ApiResource, 'name' | 'group'>): string {
  return r.group ? `${r.name}.${r.group}` : r.name
}
