/**
 * Allocation: `autoAssign` (calico-ipam CNI ADD), `assignIP` (the `ipAddrs` annotation) and
 * tunnel addresses (calico-node). libcalico-go/lib/ipam/ipam.go `autoAssign`:
 * 1. affine blocks first — the node's confirmed affinities inside the candidate pools, in the
 *    order the store lists them (by affinity name), taking addresses from the front of the free list;
 * 2. when they are full, claim a new block (next block that does not exist yet in the host's walk
 *    of each pool, in pool order), as long as autoAllocateBlocks is on and the host holds fewer
 *    than maxBlocksPerHost (0 = 20) affine blocks in those pools;
 * 3. when no block can be claimed and strictAffinity is off, borrow single addresses from any
 *    existing block of the pools (any owner), walking the blocks in the same order.
 */

import type { Rng } from '@calilab/kit'
import { cidrContains, type IPAMBlockSpec, tryParseIPv4 } from '@calilab/model'
import { assignFromBlock, assignOrdinal, ipToOrdinal, newBlock, ordinalsForHandle, ordinalToIp } from './block.ts'
import { affinityName, affinityNode, hostAffinity, type TunnelKind, tunnelAttrType, tunnelHandle } from './names.ts'
import { blockCidrFor, blockWalk, hostRng } from './pools.ts'
import { IpamTx } from './state.ts'
import {
  type AllocationAttrs,
  DEFAULT_MAX_BLOCKS_PER_HOST,
  type IpamError,
  type IpamResult,
  type IpamState,
  type PoolInfo,
} from './types.ts'

export interface AutoAssignArgs {
  readonly node: string
  /** `k8s-pod-network.<containerID>` for pods; see `tunnelHandle` for tunnels. */
  readonly handle: string
  /** Secondary attributes: `namespace`, `node`, `pod`, `timestamp` (or `node`, `type`). */
  readonly attrs: AllocationAttrs
  /** Candidate pools in order (see `choosePools`). */
  readonly pools: readonly PoolInfo[]
  /** How many addresses (default 1). */
  readonly num?: number
  /** Draws each walk's start block; default: a generator seeded per walk from the host name (FNV-1). */
  readonly rng?: Rng
}

export interface AssignedIps {
  readonly ips: string[]
  /** Blocks this call claimed for the node. */
  readonly claimed: string[]
  /** Addresses taken from blocks not affine to the node. */
  readonly borrowed: string[]
}

function fail(code: IpamError['code'], message: string): { ok: false; error: IpamError } {
  return { ok: false, error: { code, message } }
}

function inPools(cidr: string, pools: readonly PoolInfo[]): boolean {
  return pools.some((p) => cidrContains(p.cidr, cidr))
}

/** The node's confirmed affine blocks inside `pools`, in affinity-name order. */
export function affineBlocks(
  state: Pick<IpamState, 'affinities' | 'blocks'>,
  node: string,
  pools: readonly PoolInfo[],
): string[] {
  const out: string[] = []
  for (const name of [...state.affinities.keys()].sort()) {
    const a = state.affinities.get(name)?.spec
    if (!a || a.node !== node || a.state !== 'confirmed') continue
    if (!state.blocks.has(a.cidr) || !inPools(a.cidr, pools)) continue
    out.push(a.cidr)
  }
  return out
}

function claimBlock(tx: IpamTx, node: string, cidr: string): void {
  tx.setAffinity(affinityName(node, cidr), { state: 'confirmed', node, cidr, deleted: 'false' })
  tx.setBlock(cidr, newBlock(cidr, hostAffinity(node)))
}

function take(
  tx: IpamTx,
  cidr: string,
  spec: IPAMBlockSpec,
  num: number,
  handle: string,
  attrs: AllocationAttrs,
): string[] {
  const r = assignFromBlock(spec, num, handle, attrs)
  if (r.ordinals.length === 0) return []
  tx.setBlock(cidr, r.spec)
  tx.adjustHandle(handle, cidr, r.ordinals.length)
  return r.ordinals.map((o) => ordinalToIp(r.spec, o))
}

export function autoAssign(state: IpamState, args: AutoAssignArgs): IpamResult<AssignedIps> {
  const num = args.num ?? 1
  if (args.pools.length === 0) return fail('IPAM_NO_POOLS', `no configured Calico pools for node ${args.node}`)
  const walkRng = () => args.rng ?? hostRng(args.node)
  const tx = new IpamTx(state)
  const ips: string[] = []
  const claimed: string[] = []
  const borrowed: string[] = []
  const maxBlocks = tx.config.maxBlocksPerHost > 0 ? tx.config.maxBlocksPerHost : DEFAULT_MAX_BLOCKS_PER_HOST
  const affine = affineBlocks(tx, args.node, args.pools)

  while (ips.length < num) {
    let got = false
    for (const cidr of affine) {
      const b = tx.blocks.get(cidr)?.spec
      if (!b || b.unallocated.length === 0) continue
      ips.push(...take(tx, cidr, b, num - ips.length, args.handle, args.attrs))
      got = true
      break
    }
    if (got) continue
    if (!tx.config.autoAllocateBlocks || affine.length >= maxBlocks) break
    let fresh: string | undefined
    for (const pool of args.pools) {
      for (const cidr of blockWalk(pool, walkRng())) {
        if (!tx.blocks.has(cidr)) {
          fresh = cidr
          break
        }
      }
      if (fresh !== undefined) break
    }
    if (fresh === undefined) break
    claimBlock(tx, args.node, fresh)
    affine.push(fresh)
    claimed.push(fresh)
  }

  if (ips.length < num && !tx.config.strictAffinity) {
    for (const pool of args.pools) {
      if (ips.length >= num) break
      for (const cidr of blockWalk(pool, walkRng())) {
        if (ips.length >= num) break
        const b = tx.blocks.get(cidr)?.spec
        if (!b || b.unallocated.length === 0) continue
        if (b.strictAffinity && affinityNode(b.affinity) !== args.node) continue
        const got = take(tx, cidr, b, num - ips.length, args.handle, args.attrs)
        ips.push(...got)
        if (affinityNode(b.affinity) !== args.node) borrowed.push(...got)
      }
    }
  }

  if (ips.length < num) {
    return fail('IPAM_NO_IPS', `No IPs available in pools: [${args.pools.map((p) => p.cidr).join(' ')}]`)
  }
  return { ok: true, ...tx.finish(), ips, claimed, borrowed }
}

export interface AssignIpArgs {
  readonly ip: string
  readonly node: string
  readonly handle: string
  readonly attrs: AllocationAttrs
  /** Every known pool: the address must lie in an enabled one. */
  readonly pools: readonly PoolInfo[]
}

/** Assigns one specific address (the `cni.projectcalico.org/ipAddrs` annotation, libcalico `AssignIP`). */
export function assignIP(state: IpamState, args: AssignIpArgs): IpamResult<{ ip: string; claimed: string[] }> {
  const n = tryParseIPv4(args.ip)
  if (n === undefined) return fail('IPAM_BAD_IP', `${args.ip} is not a valid IPv4 address`)
  const pool = args.pools.find((p) => !p.disabled && cidrContains(p.cidr, n))
  if (!pool) return fail('IPAM_NOT_IN_POOL', `The provided IP address ${args.ip} is not in a configured pool`)
  const tx = new IpamTx(state)
  const cidr = blockCidrFor(pool, n)
  const claimed: string[] = []
  if (!tx.blocks.has(cidr)) {
    claimBlock(tx, args.node, cidr)
    claimed.push(cidr)
  }
  const b = tx.blocks.get(cidr)?.spec as IPAMBlockSpec
  const owner = affinityNode(b.affinity)
  if (owner !== undefined && owner !== args.node && (tx.config.strictAffinity || b.strictAffinity)) {
    return fail(
      'IPAM_AFFINITY_MISMATCH',
      `Block ${cidr} is affine to ${owner}, not ${args.node}, and strict affinity is on`,
    )
  }
  const ord = ipToOrdinal(b, n) as number
  const next = assignOrdinal(b, ord, args.handle, args.attrs)
  if (next === undefined) return fail('IPAM_IP_IN_USE', `Address already assigned in block: ${args.ip}`)
  tx.setBlock(cidr, next)
  tx.adjustHandle(args.handle, cidr, 1)
  return { ok: true, ...tx.finish(), ip: args.ip, claimed }
}

/** Every address recorded under a handle, in block then ordinal order. */
export function ipsForHandle(state: IpamState, handle: string): string[] {
  const h = state.handles.get(handle)?.spec
  if (!h) return []
  const out: string[] = []
  for (const cidr of Object.keys(h.block).sort()) {
    const b = state.blocks.get(cidr)?.spec
    if (!b) continue
    for (const o of ordinalsForHandle(b, handle)) out.push(ordinalToIp(b, o))
  }
  return out
}

export interface TunnelAssignArgs {
  readonly node: string
  readonly kind: TunnelKind
  /** Pools the tunnel may use (see `tunnelPools`). */
  readonly pools: readonly PoolInfo[]
  readonly rng?: Rng
}

/**
 * The node's IPIP / VXLAN / WireGuard interface address: idempotent (an address already under the
 * handle `<kind>-tunnel-addr-<node>` is returned as is), else one auto-assigned address with
 * attributes `{node, type: ipipTunnelAddress|vxlanTunnelAddress|wireguardTunnelAddress}`.
 */
export function assignTunnelAddress(state: IpamState, args: TunnelAssignArgs): IpamResult<{ ip: string }> {
  const handle = tunnelHandle(args.kind, args.node)
  const existing = ipsForHandle(state, handle)[0]
  if (existing !== undefined) return { ok: true, state, writes: [], ip: existing }
  const r = autoAssign(state, {
    node: args.node,
    handle,
    attrs: { node: args.node, type: tunnelAttrType(args.kind) },
    pools: args.pools,
    ...(args.rng ? { rng: args.rng } : {}),
  })
  if (!r.ok) return r
  return { ok: true, state: r.state, writes: r.writes, ip: r.ips[0] as string }
}
