import type { Selector } from '@calilab/model'
import { LabelIndex, type Labels } from './label-index.ts'

export interface IpSetCallbacks {
  onMemberAdded(setId: string, member: string): void
  onMemberRemoved(setId: string, member: string): void
}

interface Member {
  /** Members this endpoint contributes to every set it matches (IPs, or CIDRs for network sets). */
  members: readonly string[]
}

/**
 * IP-set membership for selector-based rules (Felix's SelectorAndNamedPortIndex, IP part): an IP
 * set per active selector; its members are the IPs of every endpoint (workload, host endpoint,
 * network set) the selector matches. Members are reference-counted: two endpoints sharing an IP
 * (host-networked pods, a network set overlapping a pod) keep it in the set until the last goes.
 * Emits only 0 -> 1 (added) and 1 -> 0 (removed) transitions. Pure.
 */
export class IpSetIndex {
  private readonly cb: IpSetCallbacks
  private readonly index: LabelIndex
  private readonly endpoints = new Map<string, Member>()
  private readonly counts = new Map<string, Map<string, number>>()
  /** During updateEndpoint: the members the endpoint is moving to (undefined otherwise). */
  private incoming: { id: string; members: readonly string[]; started: Set<string> } | undefined

  constructor(cb: IpSetCallbacks) {
    this.cb = cb
    this.index = new LabelIndex({
      onMatchStarted: (sid, eid) => this.onStarted(sid, eid),
      onMatchStopped: (sid, eid) => this.onStopped(sid, eid),
    })
  }

  get labelIndex(): LabelIndex {
    return this.index
  }

  /** Current members of a set, sorted. */
  members(setId: string): string[] {
    return [...(this.counts.get(setId)?.keys() ?? [])].sort()
  }

  setIds(): string[] {
    return [...this.counts.keys()].sort()
  }

  addSet(setId: string, selector: Selector): void {
    if (!this.counts.has(setId)) this.counts.set(setId, new Map())
    this.index.updateSelector(setId, selector)
  }

  removeSet(setId: string): void {
    this.index.deleteSelector(setId)
    this.counts.delete(setId)
  }

  updateParent(parentId: string, labels: Labels): void {
    this.index.updateParent(parentId, labels)
  }

  deleteParent(parentId: string): void {
    this.index.deleteParent(parentId)
  }

  updateEndpoint(id: string, labels: Labels, parentIds: readonly string[], members: readonly string[]): void {
    const next = [...new Set(members)]
    const old = this.endpoints.get(id)
    if (!old) this.endpoints.set(id, { members: [] })
    const before = new Set(this.index.selectorsMatching(id))
    // Sets that start matching get the new members; sets that stop lose the old ones.
    this.incoming = { id, members: next, started: new Set() }
    try {
      this.index.updateEndpoint(id, labels, parentIds)
    } finally {
      const started = this.incoming.started
      this.incoming = undefined
      const ep = this.endpoints.get(id) as Member
      const prev = ep.members
      if (!sameMembers(prev, next)) {
        const added = next.filter((m) => !prev.includes(m))
        const removed = prev.filter((m) => !next.includes(m))
        for (const sid of before) {
          if (started.has(sid) || !this.index.selectorsMatching(id).has(sid)) continue
          for (const m of added) this.inc(sid, m)
          for (const m of removed) this.dec(sid, m)
        }
      }
      ep.members = next
    }
  }

  deleteEndpoint(id: string): void {
    this.index.deleteEndpoint(id)
    this.endpoints.delete(id)
  }

  private onStarted(sid: string, eid: string): void {
    const inc = this.incoming
    if (inc && inc.id === eid) {
      inc.started.add(sid)
      for (const m of inc.members) this.inc(sid, m)
      return
    }
    for (const m of this.endpoints.get(eid)?.members ?? []) this.inc(sid, m)
  }

  private onStopped(sid: string, eid: string): void {
    for (const m of this.endpoints.get(eid)?.members ?? []) this.dec(sid, m)
  }

  private inc(sid: string, m: string): void {
    const c = this.counts.get(sid)
    if (!c) return
    const n = c.get(m) ?? 0
    c.set(m, n + 1)
    if (n === 0) this.cb.onMemberAdded(sid, m)
  }

  private dec(sid: string, m: string): void {
    const c = this.counts.get(sid)
    if (!c) return
    const n = c.get(m) ?? 0
    if (n <= 1) {
      c.delete(m)
      if (n === 1) this.cb.onMemberRemoved(sid, m)
    } else c.set(m, n - 1)
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x))
}
