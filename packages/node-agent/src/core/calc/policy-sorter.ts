import type { Selector } from '@calilab/model'
import { LabelIndex, type Labels } from './label-index.ts'

/** What ordering needs to know of a policy. */
export interface PolicyMeta {
  selector: Selector
  tier: string
  /** Unset sorts after every ordered policy of its tier. */
  order?: number
  /** Tie-break name (Calico: the policy key name, e.g. `yaobank/knp.default.customer-policy`). */
  name: string
}

export interface TierPolicies {
  tier: string
  /** Policy ids in evaluation order. */
  policies: string[]
}

export interface PolicyResolverCallbacks {
  /** The ordered policy list of an endpoint changed; `undefined` when the endpoint is gone. */
  onEndpointPolicies(endpointId: string, tiers: readonly TierPolicies[] | undefined): void
}

interface SortKey {
  tierOrder: number | undefined
  tier: string
  order: number | undefined
  name: string
}

function cmpOrder(a: number | undefined, b: number | undefined): number {
  if (a === b) return 0
  if (a === undefined) return 1
  if (b === undefined) return -1
  return a < b ? -1 : a > b ? 1 : 0
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Felix's policy sorter: tiers by order (unset last), ties by tier name; within a tier, policies
 * by order (unset after every ordered policy), ties by name.
 */
export function comparePolicies(a: SortKey, b: SortKey): number {
  return (
    cmpOrder(a.tierOrder, b.tierOrder) || cmpStr(a.tier, b.tier) || cmpOrder(a.order, b.order) || cmpStr(a.name, b.name)
  )
}

/**
 * Per-endpoint ordered policy lists (Felix PolicyResolver + PolicySorter), pure and incremental.
 * Policy selectors go through a label index; a match change or an order/tier change marks only
 * the affected endpoints dirty, and `flush()` recomputes and emits only lists that changed.
 */
export class PolicyResolver {
  private readonly cb: PolicyResolverCallbacks
  private readonly index: LabelIndex
  private readonly policies = new Map<string, PolicyMeta>()
  private readonly tierOrders = new Map<string, number | undefined>()
  private readonly tierPolicies = new Map<string, Set<string>>()
  private readonly dirty = new Set<string>()
  private readonly emitted = new Map<string, TierPolicies[]>()
  private readonly live = new Set<string>()

  constructor(cb: PolicyResolverCallbacks) {
    this.cb = cb
    this.index = new LabelIndex({
      onMatchStarted: (_pid, eid) => this.dirty.add(eid),
      onMatchStopped: (_pid, eid) => this.dirty.add(eid),
    })
  }

  get labelIndex(): LabelIndex {
    return this.index
  }

  /** The list last emitted for an endpoint. */
  policiesFor(endpointId: string): readonly TierPolicies[] | undefined {
    return this.emitted.get(endpointId)
  }

  updateTier(name: string, order: number | undefined): void {
    if (this.tierOrders.has(name) && this.tierOrders.get(name) === order) return
    this.tierOrders.set(name, order)
    this.dirtyTier(name)
  }

  deleteTier(name: string): void {
    if (!this.tierOrders.delete(name)) return
    this.dirtyTier(name)
  }

  updatePolicy(id: string, meta: PolicyMeta): void {
    const old = this.policies.get(id)
    this.policies.set(id, meta)
    if (old && (old.tier !== meta.tier || old.order !== meta.order || old.name !== meta.name)) {
      for (const eid of this.index.endpointsMatching(id)) this.dirty.add(eid)
    }
    if (old && old.tier !== meta.tier) this.tierPolicies.get(old.tier)?.delete(id)
    let tp = this.tierPolicies.get(meta.tier)
    if (!tp) this.tierPolicies.set(meta.tier, (tp = new Set()))
    tp.add(id)
    this.index.updateSelector(id, meta.selector)
  }

  deletePolicy(id: string): void {
    const old = this.policies.get(id)
    if (!old) return
    this.index.deleteSelector(id)
    this.tierPolicies.get(old.tier)?.delete(id)
    this.policies.delete(id)
  }

  updateParent(parentId: string, labels: Labels): void {
    this.index.updateParent(parentId, labels)
  }

  deleteParent(parentId: string): void {
    this.index.deleteParent(parentId)
  }

  updateEndpoint(id: string, labels: Labels, parentIds: readonly string[] = []): void {
    if (!this.live.has(id)) {
      this.live.add(id)
      this.dirty.add(id)
    }
    this.index.updateEndpoint(id, labels, parentIds)
  }

  deleteEndpoint(id: string): void {
    this.index.deleteEndpoint(id)
    this.live.delete(id)
    this.dirty.add(id)
  }

  /** Recompute dirty endpoints; emit the ones whose ordered list changed. Returns how many. */
  flush(): number {
    let n = 0
    for (const eid of this.dirty) {
      if (!this.live.has(eid)) {
        if (this.emitted.delete(eid)) {
          this.cb.onEndpointPolicies(eid, undefined)
          n++
        }
        continue
      }
      const next = this.compute(eid)
      const prev = this.emitted.get(eid)
      if (prev && sameTiers(prev, next)) continue
      this.emitted.set(eid, next)
      this.cb.onEndpointPolicies(eid, next)
      n++
    }
    this.dirty.clear()
    return n
  }

  private compute(eid: string): TierPolicies[] {
    const keyed: (SortKey & { id: string })[] = []
    for (const pid of this.index.selectorsMatching(eid)) {
      const p = this.policies.get(pid) as PolicyMeta
      keyed.push({ id: pid, tier: p.tier, tierOrder: this.tierOrders.get(p.tier), order: p.order, name: p.name })
    }
    keyed.sort(comparePolicies)
    const out: TierPolicies[] = []
    for (const k of keyed) {
      const last = out[out.length - 1]
      if (last && last.tier === k.tier) last.policies.push(k.id)
      else out.push({ tier: k.tier, policies: [k.id] })
    }
    return out
  }

  private dirtyTier(name: string): void {
    for (const pid of this.tierPolicies.get(name) ?? []) {
      for (const eid of this.index.endpointsMatching(pid)) this.dirty.add(eid)
    }
  }
}

function sameTiers(a: readonly TierPolicies[], b: readonly TierPolicies[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as TierPolicies
    const y = b[i] as TierPolicies
    if (x.tier !== y.tier || x.policies.length !== y.policies.length) return false
    for (let j = 0; j < x.policies.length; j++) if (x.policies[j] !== y.policies[j]) return false
  }
  return true
}
