import type { ResourceInfo } from '@calilab/model'

/** `/<group|core>/<plural>/<namespace|_>/<name>` */
export function storeKey(
  info: Pick<ResourceInfo, 'group' | 'plural'>,
  namespace: string | undefined,
  name: string,
): string {
  // Cluster-scoped objects sit under `_`, so every key has the same five segments.
  return `${storePrefix(info)}${namespace || '_'}/${name}`
}

/** Prefix of every object of a kind, or of a kind in one namespace. */
export function storePrefix(info: Pick<ResourceInfo, 'group' | 'plural'>, namespace?: string): string {
  const base = `/${info.group || 'core'}/${info.plural}/`
  return namespace === undefined ? base : `${base}${namespace || '_'}/`
}

export interface ParsedKey {
  group: string
  plural: string
  namespace: string | undefined
  name: string
}

export function parseStoreKey(key: string): ParsedKey | undefined {
  const parts = key.split('/')
  if (parts.length !== 5 || parts[0] !== '') return undefined
  const [, g, plural, ns, name] = parts as [string, string, string, string, string]
  return { group: g === 'core' ? '' : g, plural, namespace: ns === '_' ? undefined : ns, name }
}
