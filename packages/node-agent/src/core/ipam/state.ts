/**
 * Building an IPAM state from stored resources, turning it back into resources, and the small
 * copy-on-write transaction every operation runs in: it records which objects changed and, at the
 * end, yields the new state and the ordered writes (creates/updates first: affinities, handles,
 * blocks; then deletes: blocks, affinities, handles — so a crash half-way leaves over-counted
 * handles rather than allocations nothing refers to, as Calico orders its own writes).
 */

import type { IPAMBlockSpec, KubeObject } from '@calilab/model'
import { affinityName, blockName, handleName } from './names.ts'
import {
  type AffinitySpec,
  DEFAULT_IPAM_CONFIG,
  type HandleSpec,
  type IpamConfig,
  type IpamKind,
  type IpamState,
  type IpamWrite,
  type Stored,
} from './types.ts'

export const IPAM_API_VERSION = 'projectcalico.org/v3'

export function emptyIpamState(config: Partial<IpamConfig> = {}): IpamState {
  return { blocks: new Map(), affinities: new Map(), handles: new Map(), config: { ...DEFAULT_IPAM_CONFIG, ...config } }
}

function rvOf(o: KubeObject): string | undefined {
  return o.metadata.resourceVersion
}

/** State from the objects a list returned (deleted-flagged objects are skipped). */
export function ipamStateFromResources(input: {
  blocks?: readonly KubeObject[]
  affinities?: readonly KubeObject[]
  handles?: readonly KubeObject[]
  config?: Partial<IpamConfig>
}): IpamState {
  const blocks = new Map<string, Stored<IPAMBlockSpec>>()
  for (const o of input.blocks ?? []) {
    const spec = o.spec as IPAMBlockSpec
    if (spec.deleted === true) continue
    blocks.set(spec.cidr, { spec: structuredClone(spec), resourceVersion: rvOf(o) })
  }
  const affinities = new Map<string, Stored<AffinitySpec>>()
  for (const o of input.affinities ?? []) {
    const spec = o.spec as AffinitySpec
    if (spec.deleted === 'true') continue
    affinities.set(affinityName(spec.node, spec.cidr), { spec: { ...spec }, resourceVersion: rvOf(o) })
  }
  const handles = new Map<string, Stored<HandleSpec>>()
  for (const o of input.handles ?? []) {
    const spec = o.spec as HandleSpec
    if (spec.deleted === true) continue
    handles.set(spec.handleID, { spec: { ...spec, block: { ...spec.block } }, resourceVersion: rvOf(o) })
  }
  return { blocks, affinities, handles, config: { ...DEFAULT_IPAM_CONFIG, ...(input.config ?? {}) } }
}

export function blockObject(spec: IPAMBlockSpec, resourceVersion?: string): KubeObject {
  return resourceObject('IPAMBlock', blockName(spec.cidr), spec, resourceVersion)
}
export function affinityObject(spec: AffinitySpec, resourceVersion?: string): KubeObject {
  return resourceObject('BlockAffinity', affinityName(spec.node, spec.cidr), spec, resourceVersion)
}
export function handleObject(spec: HandleSpec, resourceVersion?: string): KubeObject {
  return resourceObject('IPAMHandle', handleName(spec.handleID), spec, resourceVersion)
}

function resourceObject(kind: IpamKind, name: string, spec: unknown, resourceVersion: string | undefined): KubeObject {
  const metadata: KubeObject['metadata'] = { name }
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion
  return { apiVersion: IPAM_API_VERSION, kind, metadata, spec: structuredClone(spec) }
}

/** Every object of the state, as the store would hold it. */
export function ipamResources(state: IpamState): KubeObject[] {
  return [
    ...[...state.blocks.values()].map((b) => blockObject(b.spec, b.resourceVersion)),
    ...[...state.affinities.values()].map((a) => affinityObject(a.spec, a.resourceVersion)),
    ...[...state.handles.values()].map((h) => handleObject(h.spec, h.resourceVersion)),
  ]
}

/** Records the versions the store gave the written objects, so the next operation's updates name them. */
export function applyWriteResults(
  state: IpamState,
  results: readonly { kind: IpamKind; name: string; resourceVersion: string }[],
): IpamState {
  const blocks = new Map(state.blocks)
  const affinities = new Map(state.affinities)
  const handles = new Map(state.handles)
  for (const r of results) {
    if (r.kind === 'IPAMBlock') {
      for (const [k, v] of blocks)
        if (blockName(k) === r.name) blocks.set(k, { ...v, resourceVersion: r.resourceVersion })
    } else if (r.kind === 'BlockAffinity') {
      const v = affinities.get(r.name)
      if (v) affinities.set(r.name, { ...v, resourceVersion: r.resourceVersion })
    } else {
      for (const [k, v] of handles)
        if (handleName(k) === r.name) handles.set(k, { ...v, resourceVersion: r.resourceVersion })
    }
  }
  return { ...state, blocks, affinities, handles }
}

/** Copy-on-write working set for one operation. Internal; no module state. */
export class IpamTx {
  readonly base: IpamState
  readonly blocks: Map<string, Stored<IPAMBlockSpec>>
  readonly affinities: Map<string, Stored<AffinitySpec>>
  readonly handles: Map<string, Stored<HandleSpec>>
  private readonly touched = { blocks: new Set<string>(), affinities: new Set<string>(), handles: new Set<string>() }

  constructor(base: IpamState) {
    this.base = base
    this.blocks = new Map(base.blocks)
    this.affinities = new Map(base.affinities)
    this.handles = new Map(base.handles)
  }

  get config(): IpamConfig {
    return this.base.config
  }

  setBlock(cidr: string, spec: IPAMBlockSpec | undefined): void {
    this.touched.blocks.add(cidr)
    if (spec === undefined) this.blocks.delete(cidr)
    else this.blocks.set(cidr, { spec, resourceVersion: this.base.blocks.get(cidr)?.resourceVersion })
  }

  setAffinity(name: string, spec: AffinitySpec | undefined): void {
    this.touched.affinities.add(name)
    if (spec === undefined) this.affinities.delete(name)
    else this.affinities.set(name, { spec, resourceVersion: this.base.affinities.get(name)?.resourceVersion })
  }

  /** Adds `delta` to the handle's count for `cidr`; drops the block key at 0 and the handle when empty. */
  adjustHandle(handleId: string, cidr: string, delta: number): void {
    const cur = this.handles.get(handleId)?.spec
    const block = { ...(cur?.block ?? {}) }
    const n = (block[cidr] ?? 0) + delta
    if (n > 0) block[cidr] = n
    else delete block[cidr]
    this.touched.handles.add(handleId)
    if (Object.keys(block).length === 0) this.handles.delete(handleId)
    else
      this.handles.set(handleId, {
        spec: { handleID: handleId, block, deleted: false },
        resourceVersion: this.base.handles.get(handleId)?.resourceVersion,
      })
  }

  finish(): { state: IpamState; writes: IpamWrite[] } {
    const upserts: IpamWrite[] = []
    const deletes: IpamWrite[] = []
    const diff = <S>(
      kind: IpamKind,
      keys: Set<string>,
      before: ReadonlyMap<string, Stored<S>>,
      after: ReadonlyMap<string, Stored<S>>,
      toObj: (spec: S, rv?: string) => KubeObject,
      nameOf: (key: string) => string,
    ) => {
      for (const k of [...keys].sort()) {
        const b = before.get(k)
        const a = after.get(k)
        if (a && !b) upserts.push({ op: 'create', kind, name: nameOf(k), object: toObj(a.spec) })
        else if (a && b) {
          if (JSON.stringify(a.spec) === JSON.stringify(b.spec)) continue
          upserts.push({
            op: 'update',
            kind,
            name: nameOf(k),
            object: toObj(a.spec, b.resourceVersion),
            resourceVersion: b.resourceVersion,
          })
        } else if (b && !a) deletes.push({ op: 'delete', kind, name: nameOf(k), resourceVersion: b.resourceVersion })
      }
    }
    const aff = (s: AffinitySpec, rv?: string) => affinityObject(s, rv)
    diff('BlockAffinity', this.touched.affinities, this.base.affinities, this.affinities, aff, (k) => k)
    diff('IPAMHandle', this.touched.handles, this.base.handles, this.handles, handleObject, handleName)
    diff('IPAMBlock', this.touched.blocks, this.base.blocks, this.blocks, blockObject, blockName)
    // deletes: blocks, then affinities, then handles
    const order: Record<IpamKind, number> = { IPAMBlock: 0, BlockAffinity: 1, IPAMHandle: 2 }
    deletes.sort((x, y) => order[x.kind] - order[y.kind])
    const state: IpamState = {
      blocks: this.blocks,
      affinities: this.affinities,
      handles: this.handles,
      config: this.base.config,
    }
    return { state, writes: [...upserts, ...deletes] }
  }
}
