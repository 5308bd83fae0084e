/** What a Kubernetes REST path names. */
export type Route =
  | { type: 'version' }
  | { type: 'health'; which: string }
  | { type: 'metrics' }
  | { type: 'openapi'; version: 'v2' | 'v3' }
  | { type: 'apiVersions' }
  | { type: 'groupList' }
  | { type: 'group'; group: string }
  | { type: 'resourceList'; group: string; version: string }
  | {
      type: 'resource'
      group: string
      version: string
      plural: string
      namespace?: string
      name?: string
      subresource?: string
    }
  | { type: 'none' }

const HEALTH = new Set(['healthz', 'livez', 'readyz'])

export function parseRoute(pathname: string): Route {
  const parts = pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent)
  const [a, b, c] = parts
  if (parts.length === 1 && a === 'version') return { type: 'version' }
  if (a && HEALTH.has(a)) return { type: 'health', which: parts.join('/') }
  if (parts.length === 1 && a === 'metrics') return { type: 'metrics' }
  if (a === 'openapi' && (b === 'v2' || b === 'v3') && parts.length === 2) return { type: 'openapi', version: b }
  if (parts.length === 1 && a === 'swagger-2.0.0.pb-v1') return { type: 'openapi', version: 'v2' }
  if (a === 'api') {
    if (parts.length === 1) return { type: 'apiVersions' }
    if (b !== 'v1') return { type: 'none' }
    if (parts.length === 2) return { type: 'resourceList', group: '', version: 'v1' }
    return resourcePath('', 'v1', parts.slice(2))
  }
  if (a === 'apis') {
    if (parts.length === 1) return { type: 'groupList' }
    if (parts.length === 2) return { type: 'group', group: b as string }
    if (parts.length === 3) return { type: 'resourceList', group: b as string, version: c as string }
    return resourcePath(b as string, c as string, parts.slice(3))
  }
  return { type: 'none' }
}

function resourcePath(group: string, version: string, rest: string[]): Route {
  const base = { type: 'resource' as const, group, version }
  const [r0, r1, r2, r3, r4] = rest
  if (r0 === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && (r2 === 'status' || r2 === 'finalize'))) {
    if (rest.length > 5) return { type: 'none' }
    const out: Route = { ...base, namespace: r1 as string, plural: r2 as string }
    if (r3 !== undefined) out.name = r3
    if (r4 !== undefined) out.subresource = r4
    return out
  }
  if (rest.length > 3) return { type: 'none' }
  const out: Route = { ...base, plural: r0 as string }
  if (r1 !== undefined) out.name = r1
  if (r2 !== undefined) out.subresource = r2
  return out
}
