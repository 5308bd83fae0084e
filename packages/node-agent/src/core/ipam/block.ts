/**
 * One allocation block, as Calico keeps it (libcalico-go/lib/ipam/ipam_block.go): `allocations`
 * maps each ordinal to an index into `attributes` (or null when free), `unallocated` is the free
 * list in the order addresses will be handed out (released ordinals go to the back), attributes
 * are shared between ordinals with the same handle and secondary attributes, and are compacted
 * when no ordinal uses them any more. Every function returns a new spec.
 */

import { formatIPv4, type IPAMBlockSpec, parseCidr } from '@calilab/model'
import type { AllocationAttribute, AllocationAttrs } from './types.ts'

export function newBlock(cidr: string, affinity: string | undefined): IPAMBlockSpec {
  const c = parseCidr(cidr)
  const spec: IPAMBlockSpec = {
    cidr: `${formatIPv4(c.network)}/${c.prefix}`,
    strictAffinity: false,
    allocations: new Array<number | null>(c.size).fill(null),
    unallocated: Array.from({ length: c.size }, (_, i) => i),
    attributes: [],
    deleted: false,
    sequenceNumber: 0,
    sequenceNumberForAllocation: {},
  }
  if (affinity !== undefined) spec.affinity = affinity
  return spec
}

export function blockBase(spec: IPAMBlockSpec): number {
  return parseCidr(spec.cidr).network
}

export function ordinalToIp(spec: IPAMBlockSpec, ordinal: number): string {
  return formatIPv4((blockBase(spec) + ordinal) >>> 0)
}

/** Ordinal of `ip` (uint32) in the block, or undefined when outside it. */
export function ipToOrdinal(spec: IPAMBlockSpec, ip: number): number | undefined {
  const o = ip - blockBase(spec)
  return o >= 0 && o < spec.allocations.length ? o : undefined
}

export function inUse(spec: IPAMBlockSpec): number {
  let n = 0
  for (const a of spec.allocations) if (a !== null) n++
  return n
}

export function isEmpty(spec: IPAMBlockSpec): boolean {
  return spec.unallocated.length === spec.allocations.length
}

function sameAttr(a: AllocationAttribute, handleId: string | undefined, attrs: AllocationAttrs): boolean {
  if (a.handle_id !== handleId) return false
  const s = a.secondary ?? {}
  const ka = Object.keys(s)
  const kb = Object.keys(attrs)
  if (ka.length !== kb.length) return false
  return kb.every((k) => s[k] === attrs[k])
}

function makeAttr(handleId: string | undefined, attrs: AllocationAttrs): AllocationAttribute {
  const a: AllocationAttribute = {}
  if (handleId !== undefined) a.handle_id = handleId
  if (Object.keys(attrs).length > 0) a.secondary = { ...attrs }
  return a
}

function withAttr(
  spec: IPAMBlockSpec,
  handleId: string | undefined,
  attrs: AllocationAttrs,
): { attributes: AllocationAttribute[]; index: number } {
  const idx = spec.attributes.findIndex((a) => sameAttr(a, handleId, attrs))
  if (idx >= 0) return { attributes: spec.attributes, index: idx }
  return { attributes: [...spec.attributes, makeAttr(handleId, attrs)], index: spec.attributes.length }
}

function bump(
  spec: IPAMBlockSpec,
  ordinals: readonly number[],
): Pick<IPAMBlockSpec, 'sequenceNumber' | 'sequenceNumberForAllocation'> {
  const seq = (spec.sequenceNumber ?? 0) + 1
  const per = { ...(spec.sequenceNumberForAllocation ?? {}) }
  for (const o of ordinals) per[String(o)] = seq
  return { sequenceNumber: seq, sequenceNumberForAllocation: per }
}

/** Takes up to `num` addresses from the front of the free list. */
export function assignFromBlock(
  spec: IPAMBlockSpec,
  num: number,
  handleId: string | undefined,
  attrs: AllocationAttrs,
): { spec: IPAMBlockSpec; ordinals: number[] } {
  const ordinals = spec.unallocated.slice(0, num)
  if (ordinals.length === 0) return { spec, ordinals }
  const { attributes, index } = withAttr(spec, handleId, attrs)
  const allocations = spec.allocations.slice()
  for (const o of ordinals) allocations[o] = index
  return {
    spec: {
      ...spec,
      allocations,
      unallocated: spec.unallocated.slice(ordinals.length),
      attributes,
      ...bump(spec, ordinals),
    },
    ordinals,
  }
}

/** Assigns one specific ordinal; undefined when it is already taken. */
export function assignOrdinal(
  spec: IPAMBlockSpec,
  ordinal: number,
  handleId: string | undefined,
  attrs: AllocationAttrs,
): IPAMBlockSpec | undefined {
  if (spec.allocations[ordinal] !== null) return undefined
  const { attributes, index } = withAttr(spec, handleId, attrs)
  const allocations = spec.allocations.slice()
  allocations[ordinal] = index
  return {
    ...spec,
    allocations,
    unallocated: spec.unallocated.filter((o) => o !== ordinal),
    attributes,
    ...bump(spec, [ordinal]),
  }
}

/** Releases the given ordinals (appended to the free list in that order) and compacts attributes. */
export function releaseOrdinals(spec: IPAMBlockSpec, ordinals: readonly number[]): IPAMBlockSpec {
  const taken = ordinals.filter((o) => spec.allocations[o] !== null && spec.allocations[o] !== undefined)
  if (taken.length === 0) return spec
  const allocations = spec.allocations.slice()
  for (const o of taken) allocations[o] = null
  const per = { ...(spec.sequenceNumberForAllocation ?? {}) }
  for (const o of taken) delete per[String(o)]
  return compactAttributes({
    ...spec,
    allocations,
    unallocated: [...spec.unallocated, ...taken],
    sequenceNumber: (spec.sequenceNumber ?? 0) + 1,
    sequenceNumberForAllocation: per,
  })
}

/** Drops attributes no ordinal refers to and renumbers the rest, keeping their order. */
export function compactAttributes(spec: IPAMBlockSpec): IPAMBlockSpec {
  const used = new Set<number>()
  for (const a of spec.allocations) if (a !== null) used.add(a)
  if (used.size === spec.attributes.length) return spec
  const remap = new Map<number, number>()
  const attributes: AllocationAttribute[] = []
  spec.attributes.forEach((a, i) => {
    if (used.has(i)) {
      remap.set(i, attributes.length)
      attributes.push(a)
    }
  })
  const allocations = spec.allocations.map((a) => (a === null ? null : (remap.get(a) ?? null)))
  return { ...spec, attributes, allocations }
}

/** Ordinals whose attribute carries `handleId`, ascending. */
export function ordinalsForHandle(spec: IPAMBlockSpec, handleId: string): number[] {
  const idx = new Set<number>()
  spec.attributes.forEach((a, i) => {
    if (a.handle_id === handleId) idx.add(i)
  })
  const out: number[] = []
  spec.allocations.forEach((a, o) => {
    if (a !== null && idx.has(a)) out.push(o)
  })
  return out
}

export function attributeOf(spec: IPAMBlockSpec, ordinal: number): AllocationAttribute | undefined {
  const a = spec.allocations[ordinal]
  return a === null || a === undefined ? undefined : spec.attributes[a]
}
