/** Felix's chain, IP-set and rule-hash names (calico.md §3.8). Pure. */
import * as crypto from 'node:crypto'

export const MAX_CHAIN_NAME = 28

/** Felix `hash.GetLengthLimitedID`: prefix + id, or prefix + `_` + base64url(SHA-256(id)) cut to fit. */
export function lengthLimitedId(prefix: string, id: string, max = MAX_CHAIN_NAME): string {
  const len = prefix.length + id.length
  if (len > max || (len === max && id.startsWith('_'))) {
    const hash = crypto.createHash('sha256').update(id).digest('base64url')
    return `${prefix}_${hash.slice(0, max - prefix.length - 1)}`
  }
  return prefix + id
}

export const WILDCARD_IFACE_ID = 'any-interface-at-all'

export const chainNames = {
  policyIn: (id: string) => lengthLimitedId('cali-pi-', id),
  policyOut: (id: string) => lengthLimitedId('cali-po-', id),
  profileIn: (id: string) => lengthLimitedId('cali-pri-', id),
  profileOut: (id: string) => lengthLimitedId('cali-pro-', id),
  toWorkload: (iface: string) => lengthLimitedId('cali-tw-', iface),
  fromWorkload: (iface: string) => lengthLimitedId('cali-fw-', iface),
  toHost: (iface: string) => lengthLimitedId('cali-th-', hepIfaceId(iface)),
  fromHost: (iface: string) => lengthLimitedId('cali-fh-', hepIfaceId(iface)),
  toHostForward: (iface: string) => lengthLimitedId('cali-thfw-', hepIfaceId(iface)),
  fromHostForward: (iface: string) => lengthLimitedId('cali-fhfw-', hepIfaceId(iface)),
} as const

function hepIfaceId(iface: string): string {
  return iface === '*' ? WILDCARD_IFACE_ID : iface
}

/** IPv4 IP set name: `cali40` + set id, cut to 31 characters. */
export function ipSetName(setId: string): string {
  return `cali40${setId}`.slice(0, 31)
}

/** Named-port set id: `n:` + hash of `<selector>,<proto>,<name>`. */
export function namedPortSetId(selector: string, protocol: string, name: string): string {
  return `n:${crypto.createHash('sha224').update(`n:${selector},${protocol},${name}`).digest('base64url')}`
}

/**
 * Felix's rule hashes: seeded with SHA-224(chain name); each rule's hash is SHA-224(previous hash ‖
 * `-A <chain> <rule>`), base64url, first 16 characters. Returned in rule order.
 */
export function ruleHashes(chain: string, rules: readonly string[]): readonly string[] {
  // A chain rendered again with the same rules (every apply re-renders the node) hashes once.
  const hit = hashCache.get(chain)
  if (hit && hit.rules.length === rules.length && hit.rules.every((r, i) => r === rules[i])) return hit.hashes
  const hashes = computeRuleHashes(chain, rules)
  if (hashCache.size >= HASH_CACHE_MAX) hashCache.delete(hashCache.keys().next().value as string)
  hashCache.set(chain, { rules: [...rules], hashes })
  return hashes
}

/** Forgets every cached chain's hashes (what a freshly started agent has; benchmarks start cold). */
export function clearRuleHashCache(): void {
  hashCache.clear()
}

const HASH_CACHE_MAX = 100_000
const hashCache = new Map<string, { rules: readonly string[]; hashes: string[] }>()

function computeRuleHashes(chain: string, rules: readonly string[]): string[] {
  let hash = sha224(Buffer.from(chain))
  const out: string[] = []
  const prefix = `-A ${chain} `
  for (const r of rules) {
    // SHA-224(previous digest ‖ rule line) in one call over a reused scratch buffer.
    const need = 28 + Buffer.byteLength(prefix) + Buffer.byteLength(r)
    if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2))
    hash.copy(scratch, 0)
    let n = 28 + scratch.write(prefix, 28, 'utf8')
    n += scratch.write(r, n, 'utf8')
    hash = sha224(scratch.subarray(0, n))
    out.push(hash.toString('base64url').slice(0, 16))
  }
  return out
}

let scratch = Buffer.allocUnsafe(4096)

/** One-shot SHA-224: `crypto.hash` where Node has it (20.12+), createHash otherwise. */
const sha224: (data: Buffer) => Buffer =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha224', data, 'buffer') as unknown as Buffer
    : (data) => crypto.createHash('sha224').update(data).digest()
