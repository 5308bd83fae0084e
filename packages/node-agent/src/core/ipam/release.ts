/**
 * Release (CNI DEL, `calicoctl ipam release`), node removal and leak detection
 * (kube-controllers' IPAM GC). A block left with no allocations is deleted when it has no
 * affinity; an affine block stays (still routed and blackholed by its node) until the affinity
 * goes.
 */

import { cidrContains, type IPAMBlockSpec, tryParseIPv4 } from '@calilab/model'
import { attributeOf, ipToOrdinal, isEmpty, ordinalsForHandle, ordinalToIp, releaseOrdinals } from './block.ts'
import { affinityName, affinityNode } from './names.ts'
import { IpamTx } from './state.ts'
import type { AllocationAttrs, IpamResult, IpamState } from './types.ts'

function dropIfUnowned(tx: IpamTx, cidr: string, spec: IPAMBlockSpec): void {
  if (isEmpty(spec) && affinityNode(spec.affinity) === undefined) tx.setBlock(cidr, undefined)
  else tx.setBlock(cidr, spec)
}

/** Releases every address recorded under `handle`. An unknown handle releases nothing (CNI DEL is idempotent). */
export function releaseByHandle(state: IpamState, handle: string): IpamResult<{ released: string[] }> {
  const h = state.handles.get(handle)?.spec
  if (!h) return { ok: true, state, writes: [], released: [] }
  const tx = new IpamTx(state)
  const released: string[] = []
  for (const cidr of Object.keys(h.block).sort()) {
    const b = tx.blocks.get(cidr)?.spec
    if (b) {
      const ords = ordinalsForHandle(b, handle)
      released.push(...ords.map((o) => ordinalToIp(b, o)))
      if (ords.length > 0) dropIfUnowned(tx, cidr, releaseOrdinals(b, ords))
    }
    tx.adjustHandle(handle, cidr, -(h.block[cidr] ?? 0))
  }
  return { ok: true, ...tx.finish(), released }
}

function releaseIn(tx: IpamTx, ips: readonly string[]): string[] {
  const released: string[] = []
  for (const ip of ips) {
    const n = tryParseIPv4(ip)
    if (n === undefined) continue
    for (const [cidr, stored] of tx.blocks) {
      if (!cidrContains(cidr, n)) continue
      const b = stored.spec
      const ord = ipToOrdinal(b, n)
      if (ord === undefined) break
      const attr = attributeOf(b, ord)
      if (attr === undefined) break
      dropIfUnowned(tx, cidr, releaseOrdinals(b, [ord]))
      if (attr.handle_id !== undefined) tx.adjustHandle(attr.handle_id, cidr, -1)
      released.push(ip)
      break
    }
  }
  return released
}

/** Releases one address (`calicoctl ipam release --ip`); an unassigned one releases nothing. */
export function releaseIP(state: IpamState, ip: string): IpamResult<{ released: string[] }> {
  return releaseIPs(state, [ip])
}

export function releaseIPs(state: IpamState, ips: readonly string[]): IpamResult<{ released: string[] }> {
  const tx = new IpamTx(state)
  const released = releaseIn(tx, ips)
  return { ok: true, ...tx.finish(), released }
}

export interface AllocationInfo {
  readonly ip: string
  readonly block: string
  readonly ordinal: number
  readonly handle: string | undefined
  readonly attrs: AllocationAttrs
  /** The block's owner (`host:` affinity), if any. */
  readonly blockOwner: string | undefined
}

/** Every allocation, blocks in CIDR-name order then ordinals ascending. */
export function allocations(state: IpamState): AllocationInfo[] {
  const out: AllocationInfo[] = []
  for (const cidr of [...state.blocks.keys()].sort(byBlockName)) {
    const b = state.blocks.get(cidr)?.spec as IPAMBlockSpec
    b.allocations.forEach((a, o) => {
      if (a === null) return
      const attr = b.attributes[a]
      out.push({
        ip: ordinalToIp(b, o),
        block: cidr,
        ordinal: o,
        handle: attr?.handle_id,
        attrs: attr?.secondary ?? {},
        blockOwner: affinityNode(b.affinity),
      })
    })
  }
  return out
}

/** The allocation holding `ip`, if any. */
export function allocationOf(state: IpamState, ip: string): AllocationInfo | undefined {
  const n = tryParseIPv4(ip)
  if (n === undefined) return undefined
  for (const [cidr, stored] of state.blocks) {
    if (!cidrContains(cidr, n)) continue
    const b = stored.spec
    const ord = ipToOrdinal(b, n)
    if (ord === undefined) return undefined
    const attr = attributeOf(b, ord)
    if (attr === undefined) return undefined
    return {
      ip,
      block: cidr,
      ordinal: ord,
      handle: attr.handle_id,
      attrs: attr.secondary ?? {},
      blockOwner: affinityNode(b.affinity),
    }
  }
  return undefined
}

/** Store list order: block object names (`198-19-21-0-26`) as strings. */
export function byBlockName(a: string, b: string): number {
  const na = a.replace(/[./]/g, '-')
  const nb = b.replace(/[./]/g, '-')
  return na < nb ? -1 : na > nb ? 1 : 0
}

/**
 * A node left the cluster (kube-controllers): release every address whose `node` attribute names
 * it, then its affinities — an emptied block goes with its affinity, a block still holding other
 * nodes' borrowed addresses loses its affinity and is deleted once they are released.
 */
export function releaseNode(
  state: IpamState,
  node: string,
): IpamResult<{ released: string[]; blocksReleased: string[] }> {
  const tx = new IpamTx(state)
  const mine = allocations(state).filter((a) => a.attrs.node === node)
  const released = releaseIn(
    tx,
    mine.map((a) => a.ip),
  )
  const blocksReleased: string[] = []
  for (const [name, aff] of state.affinities) {
    if (aff.spec.node !== node) continue
    tx.setAffinity(name, undefined)
    const b = tx.blocks.get(aff.spec.cidr)?.spec
    if (!b) continue
    blocksReleased.push(aff.spec.cidr)
    if (isEmpty(b)) tx.setBlock(aff.spec.cidr, undefined)
    else if (affinityNode(b.affinity) === node) {
      const { affinity: _dropped, ...rest } = b
      tx.setBlock(aff.spec.cidr, rest)
    }
  }
  return { ok: true, ...tx.finish(), released, blocksReleased: blocksReleased.sort(byBlockName) }
}

/** Releases a node's affinity for one block (`affinityName(node, cidr)`), as `releaseNode` does for all. */
export function releaseAffinity(state: IpamState, node: string, cidr: string): IpamResult<{ deletedBlock: boolean }> {
  const name = affinityName(node, cidr)
  if (!state.affinities.has(name)) return { ok: true, state, writes: [], deletedBlock: false }
  const tx = new IpamTx(state)
  tx.setAffinity(name, undefined)
  const b = tx.blocks.get(cidr)?.spec
  let deletedBlock = false
  if (b && isEmpty(b)) {
    tx.setBlock(cidr, undefined)
    deletedBlock = true
  } else if (b && affinityNode(b.affinity) === node) {
    const { affinity: _dropped, ...rest } = b
    tx.setBlock(cidr, rest)
  }
  return { ok: true, ...tx.finish(), deletedBlock }
}

export interface LivePod {
  readonly namespace: string
  readonly name: string
  /** When known, an allocation for this pod whose IP is not among these is a leak too. */
  readonly ips?: readonly string[]
}

export interface LeakScanInput {
  readonly livePods: readonly LivePod[]
  /** When given, allocations naming another node (pods and tunnels) leak at once. */
  readonly liveNodes?: readonly string[]
  /** Milliseconds (the injected clock's now). */
  readonly now: number
  /** kube-controllers' leakGracePeriod, ms (15 min by default). */
  readonly gracePeriodMs?: number
  /** What the previous scan returned: IP → first time it looked leaked. */
  readonly candidates?: ReadonlyMap<string, number>
}

export interface Leak extends AllocationInfo {
  readonly reason: 'pod-gone' | 'pod-ip-mismatch' | 'node-gone'
  readonly since: number
}

export const DEFAULT_LEAK_GRACE_MS = 15 * 60 * 1000

/**
 * One pass of the IPAM garbage collector: which allocations are leaks to release now, and the
 * candidates to remember for the next pass (an allocation must look leaked for the whole grace
 * period; one whose node is gone is released at once). Allocations with no pod and no `type`
 * attribute (set by hand) are left alone.
 */
export function findLeaks(state: IpamState, input: LeakScanInput): { leaks: Leak[]; candidates: Map<string, number> } {
  const grace = input.gracePeriodMs ?? DEFAULT_LEAK_GRACE_MS
  const pods = new Map<string, LivePod>()
  for (const p of input.livePods) pods.set(`${p.namespace}/${p.name}`, p)
  const nodes = input.liveNodes ? new Set(input.liveNodes) : undefined
  const leaks: Leak[] = []
  const candidates = new Map<string, number>()
  for (const a of allocations(state)) {
    const node = a.attrs.node
    let reason: Leak['reason'] | undefined
    if (nodes && node !== undefined && !nodes.has(node) && (a.attrs.pod !== undefined || a.attrs.type !== undefined))
      reason = 'node-gone'
    else if (a.attrs.pod !== undefined && a.attrs.namespace !== undefined) {
      const p = pods.get(`${a.attrs.namespace}/${a.attrs.pod}`)
      if (!p) reason = 'pod-gone'
      else if (p.ips !== undefined && p.ips.length > 0 && !p.ips.includes(a.ip)) reason = 'pod-ip-mismatch'
    }
    if (reason === undefined) continue
    const since = input.candidates?.get(a.ip) ?? input.now
    if (reason === 'node-gone' || input.now - since >= grace) leaks.push({ ...a, reason, since })
    else candidates.set(a.ip, since)
  }
  return { leaks, candidates }
}
