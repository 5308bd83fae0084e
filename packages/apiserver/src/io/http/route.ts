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
  const parts: string[] = []
  for (const p of pathname.split('/')) if (p !== '') parts.push(p.includes('%') ? decodeURIComponent(p) : p)
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
    return resourcePath('', 'v1', parts, 2)
  }
  if (a === 'apis') {
    if (parts.length === 1) return { type: 'groupList' }
    if (parts.length === 2) return { type: 'group', group: b as string }
    if (parts.length === 3) return { type: 'resourceList', group: b as string, version: c as string }
    return resourcePath(b as string, c as string, parts, 3)
  }
  return { type: 'none' }
}

/** The resource part of a path: `parts` from index `at` on. */
function resourcePath(group: string, version: string, parts: string[], at: number): Route {
  const n = parts.length - at
  const r0 = parts[at]
  const r2 = parts[at + 2]
  if (r0 === 'namespaces' && n >= 3 && !(n === 3 && (r2 === 'status' || r2 === 'finalize'))) {
    if (n > 5) return { type: 'none' }
    const out: Route = { type: 'resource', group, version, namespace: parts[at + 1] as string, plural: r2 as string }
    if (n > 3) out.name = parts[at + 3] as string
    if (n > 4) out.subresource = parts[at + 4] as string
    return out
  }
  if (n > 3) return { type: 'none' }
  const out: Route = { type: 'resource', group, version, plural: r0 as string }
  if (n > 1) out.name = parts[at + 1] as string
  if (n > 2) out.subresource = r2 as string
  return out
}

const NO_QUERY = new URLSearchParams()
/** Characters a request target may hold for the path and query to be split as they are. */
const PLAIN_TARGET = /^\/[-\w.~%:@!$&'()*+,;=/?]*$/

/**
 * A request target's path and query, as `new URL(target, base)` gives them. A plain target (an
 * absolute path of URL-safe characters, no dot segments, no fragment) is split by hand; anything
 * else goes through the URL parser. The query object is for reading only.
 */
export function splitTarget(target: string): { pathname: string; searchParams: URLSearchParams } {
  if (PLAIN_TARGET.test(target) && !target.startsWith('//')) {
    const q = target.indexOf('?')
    const pathname = q < 0 ? target : target.slice(0, q)
    if (!pathname.includes('/.') && !pathname.includes('%2e') && !pathname.includes('%2E')) {
      return {
        pathname,
        searchParams: q < 0 || q === target.length - 1 ? NO_QUERY : new URLSearchParams(target.slice(q + 1)),
      }
    }
  }
  const url = new URL(target, 'http://apiserver')
  return { pathname: url.pathname, searchParams: url.searchParams }
}
