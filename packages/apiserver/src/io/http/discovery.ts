import { apiVersionOf, type ResourceInfo } from '@calilab/model'
import type { ServedResources } from '../service/resource-table.ts'

/** Legacy discovery documents (/api, /apis, /api/v1, /apis/g/v), as kube-apiserver serves them. */

export function apiVersions(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  }
}

function groupEntry(group: string, versions: string[]): unknown {
  const vs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }))
  return { name: group, versions: vs, preferredVersion: vs[0] }
}

export function apiGroupList(resources: ServedResources): unknown {
  const groups = resources
    .groupVersions()
    .filter((g) => g.group !== '')
    .map((g) => groupEntry(g.group, g.versions))
  return { kind: 'APIGroupList', apiVersion: 'v1', groups }
}

export function apiGroup(resources: ServedResources, group: string): unknown | undefined {
  const g = resources.groupVersions().find((x) => x.group === group && group !== '')
  if (!g) return undefined
  return { kind: 'APIGroup', apiVersion: 'v1', ...(groupEntry(g.group, g.versions) as object) }
}

const SUB_VERBS = ['get', 'patch', 'update'] as const

function entries(r: ResourceInfo): unknown[] {
  const main: Record<string, unknown> = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: [...r.verbs],
  }
  if (r.shortNames.length) main['shortNames'] = [...r.shortNames]
  if (r.categories.length) main['categories'] = [...r.categories]
  const out: unknown[] = [main]
  for (const sub of r.subresources) {
    const e: Record<string, unknown> = { name: `${r.plural}/${sub}`, singularName: '', namespaced: r.namespaced }
    if (sub === 'status') Object.assign(e, { kind: r.kind, verbs: [...SUB_VERBS] })
    else if (sub === 'scale')
      Object.assign(e, { group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: [...SUB_VERBS] })
    else if (sub === 'log') Object.assign(e, { kind: r.kind, verbs: ['get'] })
    else if (sub === 'exec') Object.assign(e, { kind: 'PodExecOptions', verbs: ['create', 'get'] })
    else if (sub === 'token')
      Object.assign(e, { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] })
    else Object.assign(e, { kind: r.kind, verbs: ['get'] })
    out.push(e)
  }
  return out
}

export function apiResourceList(resources: ServedResources, group: string, version: string): unknown | undefined {
  const rs = resources.all().filter((r) => r.group === group && r.version === version)
  if (!rs.length) return undefined
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: rs.flatMap(entries),
  }
}
