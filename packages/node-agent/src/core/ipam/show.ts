/**
 * `calicoctl ipam show` (v3.21, calicoctl/commands/ipam/show.go): pool utilisation (with
 * `--show-blocks` one `Block` row per allocated block after its pool), `--ip=<ip>`,
 * `--show-borrowed` and `--show-configuration`.
 */

import { cidrContains, formatIPv4, parseCidr, tryParseIPv4 } from '@calilab/model'
import { inUse } from './block.ts'
import { allocationOf, allocations, byBlockName } from './release.ts'
import { goF0, goG5, renderTable } from './table.ts'
import type { IpamState, PoolInfo } from './types.ts'

export interface IpamShowOptions {
  readonly ip?: string
  readonly showBlocks?: boolean
  readonly showBorrowed?: boolean
  readonly showConfiguration?: boolean
}

function row(kind: string, cidr: string, used: number, capacity: number): string[] {
  const pct = (n: number) => goF0((100 * n) / capacity)
  return [
    kind,
    cidr,
    goG5(capacity),
    `${goG5(used)} (${pct(used)}%)`,
    `${goG5(capacity - used)} (${pct(capacity - used)}%)`,
  ]
}

/** The utilisation table. Pools in name order (the store's list order), blocks in block-name order. */
export function ipamShowUtilization(state: IpamState, pools: readonly PoolInfo[], showBlocks = false): string {
  const rows: string[][] = []
  const blocks = [...state.blocks.keys()].sort(byBlockName)
  const seen = new Set<string>()
  for (const pool of [...pools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const mine = blocks.filter((c) => cidrContains(pool.cidr, c))
    let used = 0
    const blockRows: string[][] = []
    for (const c of mine) {
      seen.add(c)
      const b = state.blocks.get(c)?.spec
      if (!b) continue
      const n = inUse(b)
      used += n
      blockRows.push(row('Block', c, n, b.allocations.length))
    }
    rows.push(row('IP Pool', pool.cidr, used, parseCidr(pool.cidr).size))
    if (showBlocks) rows.push(...blockRows)
  }
  if (showBlocks) {
    for (const c of blocks) {
      if (seen.has(c)) continue
      const b = state.blocks.get(c)?.spec
      if (b) rows.push(row('Block', c, inUse(b), b.allocations.length))
    }
  }
  return renderTable(['GROUPING', 'CIDR', 'IPS TOTAL', 'IPS IN USE', 'IPS FREE'], rows)
}

/** `--ip=<ip>`. */
export function ipamShowIP(state: IpamState, ip: string): string {
  const n = tryParseIPv4(ip)
  const canon = n === undefined ? ip : formatIPv4(n)
  const a = allocationOf(state, canon)
  if (!a) return `${canon} is not assigned\n`
  const keys = Object.keys(a.attrs).sort()
  if (keys.length === 0) return `IP ${canon} is in use\nNo attributes defined\n`
  return `IP ${canon} is in use\nAttributes:\n${keys.map((k) => `  ${k}: ${a.attrs[k]}\n`).join('')}`
}

/** `--show-borrowed`: addresses held by a node other than the block's owner (or in unowned blocks). */
export function ipamShowBorrowed(state: IpamState): string {
  const rows: string[][] = []
  let unclassified = 0
  for (const a of allocations(state)) {
    const borrower = a.attrs.node
    if (borrower === undefined) {
      unclassified++
      continue
    }
    const owner = a.blockOwner ?? ''
    if (owner === borrower) continue
    let type = ''
    let to = ''
    if (a.attrs.pod !== undefined) {
      type = 'pod'
      to = `${a.attrs.namespace ?? ''}/${a.attrs.pod}`
    } else if (a.attrs.type !== undefined) type = a.attrs.type
    rows.push([a.ip, borrower, a.block, owner, type, to])
  }
  let out = renderTable(['IP', 'BORROWING-NODE', 'BLOCK', 'BLOCK OWNER', 'TYPE', 'ALLOCATED-TO'], rows)
  if (unclassified !== 0)
    out += `\nNote: found ${unclassified} IP allocations without an explicit node association. Unable to determine if they are borrowed.\n`
  return out
}

/** `--show-configuration`. */
export function ipamShowConfiguration(state: IpamState): string {
  const c = state.config
  return renderTable(
    ['PROPERTY', 'VALUE'],
    [
      ['StrictAffinity', String(c.strictAffinity)],
      ['AutoAllocateBlocks', String(c.autoAllocateBlocks)],
      ['MaxBlocksPerHost', String(c.maxBlocksPerHost)],
    ],
  )
}

/** `calicoctl ipam show [--ip=<IP> | --show-blocks | --show-borrowed | --show-configuration]`. */
export function ipamShow(state: IpamState, pools: readonly PoolInfo[], opts: IpamShowOptions = {}): string {
  if (opts.ip !== undefined) return ipamShowIP(state, opts.ip)
  if (opts.showBlocks) return ipamShowUtilization(state, pools, true)
  if (opts.showBorrowed) return ipamShowBorrowed(state)
  if (opts.showConfiguration) return ipamShowConfiguration(state)
  return ipamShowUtilization(state, pools, false)
}
