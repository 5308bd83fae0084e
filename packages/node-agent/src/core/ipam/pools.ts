/**
 * Which pools an allocation may use, and the order a host walks a pool's blocks in.
 *
 * Pool choice (calico-ipam CNI, libcalico-go `determinePools`): pools named by the pod annotation
 * `cni.projectcalico.org/ipv4pools`, else by the namespace's, else by the CNI config, are used
 * as given — their nodeSelector is ignored, but each must exist and be enabled. Without a request:
 * every enabled pool whose nodeSelector matches the node and whose allowedUses has the use.
 *
 * Block walk: Calico seeds Go's math/rand with the 32-bit FNV-1 hash of the host name, draws one
 * start index, then walks the pool's blocks in order from there, wrapping. We keep the structure
 * (deterministic per host, different hosts start at different blocks) but draw the start index
 * from the kit's mulberry32 generator seeded with the same FNV-1 hash, so exact block addresses
 * differ from a real cluster's.
 */

import { type Rng, seededRng } from '@calilab/kit'
import { formatIPv4, type IPPool, parseCidr, parseSelector, tryParseCidr } from '@calilab/model'
import { fnv1_32 } from './names.ts'
import type { IpamError, PoolInfo, PoolUse } from './types.ts'

export const ANNOTATION_IPV4_POOLS = 'cni.projectcalico.org/ipv4pools'
export const ANNOTATION_IP_ADDRS = 'cni.projectcalico.org/ipAddrs'

export function poolFromResource(p: IPPool): PoolInfo {
  const c = parseCidr(p.spec.cidr)
  return {
    name: p.metadata.name ?? '',
    cidr: `${formatIPv4(c.network)}/${c.prefix}`,
    blockSize: p.spec.blockSize ?? 26,
    nodeSelector: p.spec.nodeSelector ?? 'all()',
    disabled: p.spec.disabled ?? false,
    natOutgoing: p.spec.natOutgoing ?? false,
    ipipMode: p.spec.ipipMode ?? 'Never',
    vxlanMode: p.spec.vxlanMode ?? 'Never',
    allowedUses: p.spec.allowedUses ?? ['Workload', 'Tunnel'],
  }
}

export function poolSelectsNode(pool: PoolInfo, nodeLabels: Readonly<Record<string, string>>): boolean {
  const src = pool.nodeSelector.trim() === '' ? 'all()' : pool.nodeSelector
  return parseSelector(src).evaluate(nodeLabels)
}

/** Parses an ipv4pools annotation value: a JSON list of pool names or CIDRs. */
export function parsePoolsAnnotation(value: string): { ok: true; refs: string[] } | { ok: false; error: IpamError } {
  let v: unknown
  try {
    v = JSON.parse(value)
  } catch {
    return bad(`failed to parse '${value}' as JSON: expected a list of pool names or CIDRs`)
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    return bad(`'${value}' must be a JSON list of pool names or CIDRs`)
  return { ok: true, refs: v as string[] }
}

function bad(message: string): { ok: false; error: IpamError } {
  return { ok: false, error: { code: 'IPAM_BAD_ANNOTATION', message } }
}

/** Resolves requested pool references (names or CIDRs) against the known pools. */
export function resolvePools(
  refs: readonly string[],
  all: readonly PoolInfo[],
): { ok: true; pools: PoolInfo[] } | { ok: false; error: IpamError } {
  const out: PoolInfo[] = []
  for (const ref of refs) {
    const c = tryParseCidr(ref)
    const pool = c.ok
      ? all.find((p) => p.cidr === `${formatIPv4(c.cidr.network)}/${c.cidr.prefix}`)
      : all.find((p) => p.name === ref)
    if (pool === undefined)
      return {
        ok: false,
        error: { code: 'IPAM_POOL_NOT_FOUND', message: `the requested IP pool ${ref} does not exist` },
      }
    if (pool.disabled)
      return { ok: false, error: { code: 'IPAM_POOL_DISABLED', message: `requested pool ${ref} is disabled` } }
    if (!out.includes(pool)) out.push(pool)
  }
  return { ok: true, pools: out }
}

export interface ChoosePoolsInput {
  readonly pools: readonly PoolInfo[]
  readonly nodeLabels: Readonly<Record<string, string>>
  readonly podAnnotations?: Readonly<Record<string, string>> | undefined
  readonly namespaceAnnotations?: Readonly<Record<string, string>> | undefined
  /** `ipv4_pools` from the CNI network config. */
  readonly cniPools?: readonly string[] | undefined
  readonly use?: PoolUse
}

export type ChoosePoolsResult =
  | { ok: true; pools: PoolInfo[]; source: 'pod' | 'namespace' | 'cni' | 'default' }
  | { ok: false; error: IpamError }

/** Pod annotation > namespace annotation > CNI config > enabled pools selecting the node. */
export function choosePools(input: ChoosePoolsInput): ChoosePoolsResult {
  const podVal = input.podAnnotations?.[ANNOTATION_IPV4_POOLS]
  const nsVal = input.namespaceAnnotations?.[ANNOTATION_IPV4_POOLS]
  const requested: [string | undefined, 'pod' | 'namespace'][] = [
    [podVal, 'pod'],
    [nsVal, 'namespace'],
  ]
  for (const [val, source] of requested) {
    if (val === undefined) continue
    const parsed = parsePoolsAnnotation(val)
    if (!parsed.ok) return parsed
    const r = resolvePools(parsed.refs, input.pools)
    return r.ok ? { ok: true, pools: r.pools, source } : r
  }
  if (input.cniPools !== undefined && input.cniPools.length > 0) {
    const r = resolvePools(input.cniPools, input.pools)
    return r.ok ? { ok: true, pools: r.pools, source: 'cni' } : r
  }
  const use = input.use ?? 'Workload'
  const pools = input.pools.filter(
    (p) => !p.disabled && p.allowedUses.includes(use) && poolSelectsNode(p, input.nodeLabels),
  )
  return { ok: true, pools, source: 'default' }
}

/** Pools a tunnel address may come from (calico-node allocateip): IPIP/VXLAN need the encapsulation on. */
export function tunnelPools(
  pools: readonly PoolInfo[],
  kind: 'ipip' | 'vxlan' | 'wireguard',
  nodeLabels: Readonly<Record<string, string>>,
): PoolInfo[] {
  return pools.filter(
    (p) =>
      !p.disabled &&
      p.allowedUses.includes('Tunnel') &&
      poolSelectsNode(p, nodeLabels) &&
      (kind === 'ipip' ? p.ipipMode !== 'Never' : kind === 'vxlan' ? p.vxlanMode !== 'Never' : true),
  )
}

/** The generator a host's walk draws its start index from when the caller supplies none. */
export function hostRng(node: string): Rng {
  return seededRng(fnv1_32(node))
}

/** The pool's block CIDRs in the host's walk order: a start index from `rng`, then ascending, wrapping. */
export function* blockWalk(pool: PoolInfo, rng: Rng): Generator<string> {
  const c = parseCidr(pool.cidr)
  const step = 2 ** (32 - pool.blockSize)
  const n = Math.max(0, c.size / step)
  if (n === 0) return
  const start = rng.int(n)
  for (let i = 0; i < n; i++) yield `${formatIPv4(c.network + ((start + i) % n) * step)}/${pool.blockSize}`
}

/** The block of `pool` holding `ip` (uint32). */
export function blockCidrFor(pool: PoolInfo, ip: number): string {
  const size = 2 ** (32 - pool.blockSize)
  const base = Math.floor(ip / size) * size
  return `${formatIPv4(base)}/${pool.blockSize}`
}
