/**
 * A BIRD-like prefix filter, as host1-bird.conf's `bgp_allow`:
 * `net = 198.19.48.0/20` (exact) or `net ~ [ 198.19.32.0/20+ ]` (that prefix or longer inside it).
 * First matching rule wins; no match = reject. Pure.
 */
import { cidrContains, tryParseCidr } from '@calilab/model'
import { formatPrefix, type Prefix } from '../core/codec/prefix.ts'

export interface FilterRule {
  /** Network as `a.b.c.d/n`. */
  prefix: string
  /** exact: `net = P`; orlonger: `net ~ [ P+ ]`. */
  match: 'exact' | 'orlonger'
  action: 'accept' | 'reject'
}

export interface ImportFilter {
  name: string
  rules: FilterRule[]
  /** What happens when no rule matches (BIRD's `else reject`). */
  otherwise: 'accept' | 'reject'
}

/** host1-bird.conf's `filter bgp_allow`. */
export function host1Filter(): ImportFilter {
  return parseFilter('198.19.48.0/20,198.19.32.0/20+,198.19.24.0/21+', 'bgp_allow')
}

export const ACCEPT_ALL: ImportFilter = { name: 'ACCEPT', rules: [], otherwise: 'accept' }

/**
 * `P` (exact) or `P+` (orlonger), comma separated, `!` in front for reject; `all` = accept all.
 * Throws with a message naming the bad entry.
 */
export function parseFilter(spec: string, name = 'import_filter'): ImportFilter {
  if (spec.trim() === 'all') return { ...ACCEPT_ALL, name: 'ACCEPT' }
  const rules: FilterRule[] = []
  for (const raw of spec.split(',')) {
    const s = raw.trim()
    if (s === '') continue
    const reject = s.startsWith('!')
    const body = reject ? s.slice(1) : s
    const plus = body.endsWith('+')
    const c = plus ? body.slice(0, -1) : body
    const r = tryParseCidr(c)
    if (!r.ok) throw new Error(`import filter entry "${s}": ${r.error.message}; expected CIDR or CIDR+`)
    rules.push({
      prefix: `${formatPrefix({ addr: r.cidr.network, len: r.cidr.prefix })}`,
      match: plus ? 'orlonger' : 'exact',
      action: reject ? 'reject' : 'accept',
    })
  }
  return { name, rules, otherwise: 'reject' }
}

export function filterAccepts(f: ImportFilter, p: Prefix | string): boolean {
  const text = typeof p === 'string' ? p : formatPrefix(p)
  const r = tryParseCidr(text)
  if (!r.ok) return false
  for (const rule of f.rules) {
    const rr = tryParseCidr(rule.prefix)
    if (!rr.ok) continue
    const hit =
      rule.match === 'exact'
        ? rr.cidr.network === r.cidr.network && rr.cidr.prefix === r.cidr.prefix
        : r.cidr.prefix >= rr.cidr.prefix && cidrContains(rr.cidr, r.cidr.network)
    if (hit) return rule.action === 'accept'
  }
  return f.otherwise === 'accept'
}
