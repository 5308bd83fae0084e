/**
 * IP-set membership for the incremental renderer (Felix's SelectorAndNamedPortIndex): the
 * selectors of the IP sets in use, indexed against every endpoint and network set of the cluster
 * (calc/label-index.ts), members reference-counted per set (two sources with the same IP keep it
 * until the last goes). A label change re-evaluates only the sets whose selectors read a changed
 * key; an address change moves only that source's members. `takeDiff()` returns the creates,
 * member adds/dels and removals since the last call. Pure.
 */
import { parseSelector } from '@calilab/model'
import { LabelIndex, type Labels } from '../calc/label-index.ts'
import type { IpSetDiff } from './diff.ts'
import { ipSetType, memberContribution, type SetMemberSource } from './members.ts'
import type { RenderedIpSet } from './render.ts'
import type { IpSetRef } from './rules.ts'

interface SetState {
  ref: IpSetRef
  counts: Map<string, number>
}

/** What changed in a set since the last takeDiff(): did it exist then, and each touched member's presence then. */
interface SetTouch {
  existed: boolean
  members: Map<string, boolean>
}

export interface SourceUpdate {
  labels: Labels
  parents: readonly string[]
  src: SetMemberSource
}

function sameSource(a: SetMemberSource, b: SetMemberSource): boolean {
  return (
    a.ips.length === b.ips.length &&
    a.ips.every((x, i) => x === b.ips[i]) &&
    a.ports.length === b.ports.length &&
    a.ports.every((p, i) => {
      const q = b.ports[i]!
      return p.name === q.name && p.protocol === q.protocol && p.port === q.port
    })
  )
}

export class IpSetTracker {
  private readonly index: LabelIndex
  private readonly sets = new Map<string, SetState>()
  private readonly sources = new Map<string, SetMemberSource>()
  private readonly touched = new Map<string, SetTouch>()
  /** During a source change: the source whose stops were already accounted for. */
  private muted: string | undefined

  constructor() {
    this.index = new LabelIndex({
      onMatchStarted: (sid, tid) => this.contribute(sid, this.sources.get(tid), 1),
      onMatchStopped: (sid, tid) => {
        if (this.muted !== tid) this.contribute(sid, this.sources.get(tid), -1)
      },
    })
  }

  get size(): number {
    return this.sets.size
  }

  has(name: string): boolean {
    return this.sets.has(name)
  }

  names(): string[] {
    return [...this.sets.keys()]
  }

  /** A set as `renderNode` returns it (sorted members). */
  rendered(name: string): RenderedIpSet | undefined {
    const s = this.sets.get(name)
    return s && { name, type: ipSetType(s.ref), members: [...s.counts.keys()].sort() }
  }

  updateParent(id: string, labels: Labels): void {
    this.index.updateParent(id, labels)
  }

  deleteParent(id: string): void {
    this.index.deleteParent(id)
  }

  /** A set comes into use: its members from every source its selector matches. */
  activate(name: string, ref: IpSetRef): void {
    if (this.sets.has(name)) return
    this.touch(name)
    this.sets.set(name, { ref, counts: new Map() })
    this.index.updateSelector(name, parseSelector(ref.selector))
  }

  deactivate(name: string): void {
    if (!this.sets.has(name)) return
    this.touch(name)
    // Gone first, so the index's match-stopped callbacks do no member bookkeeping for it.
    this.sets.delete(name)
    this.index.deleteSelector(name)
  }

  /** An endpoint or network set (`id` unique across both) is new, changed, or gone (undefined). */
  setSource(id: string, next: SourceUpdate | undefined): void {
    const old = this.sources.get(id)
    if (!next) {
      if (!old) return
      this.index.deleteEndpoint(id)
      this.sources.delete(id)
      return
    }
    if (!old || sameSource(old, next.src)) {
      if (!old) this.sources.set(id, next.src)
      this.index.updateEndpoint(id, next.labels, next.parents)
      return
    }
    // New members: take the old ones out of every set matching now, then put the new ones in
    // every set matching after the label update (sets that stop matching were handled here).
    const before = new Set(this.index.selectorsMatching(id))
    for (const sid of before) this.contribute(sid, old, -1)
    this.sources.set(id, next.src)
    this.muted = id
    try {
      this.index.updateEndpoint(id, next.labels, next.parents)
    } finally {
      this.muted = undefined
    }
    for (const sid of this.index.selectorsMatching(id)) if (before.has(sid)) this.contribute(sid, next.src, 1)
  }

  /** Creates, member changes and removals since the last call. */
  takeDiff(): IpSetDiff {
    const out: IpSetDiff = { creates: [], adds: new Map(), dels: new Map(), removes: [] }
    for (const [name, touch] of this.touched) {
      const s = this.sets.get(name)
      if (!s) {
        if (touch.existed) out.removes.push(name)
        continue
      }
      if (!touch.existed) {
        out.creates.push(this.rendered(name)!)
        continue
      }
      const adds: string[] = []
      const dels: string[] = []
      for (const [m, was] of touch.members) {
        const now = s.counts.has(m)
        if (now && !was) adds.push(m)
        else if (!now && was) dels.push(m)
      }
      if (adds.length > 0) out.adds.set(name, adds.sort())
      if (dels.length > 0) out.dels.set(name, dels.sort())
    }
    this.touched.clear()
    return out
  }

  private contribute(sid: string, src: SetMemberSource | undefined, d: 1 | -1): void {
    const s = this.sets.get(sid)
    if (!s || !src) return
    for (const m of new Set(memberContribution(s.ref, src))) {
      const n = s.counts.get(m) ?? 0
      if ((d === 1 && n === 0) || (d === -1 && n === 1)) {
        const t = this.touch(sid)
        if (!t.members.has(m)) t.members.set(m, n > 0)
      }
      if (n + d <= 0) s.counts.delete(m)
      else s.counts.set(m, n + d)
    }
  }

  private touch(name: string): SetTouch {
    let t = this.touched.get(name)
    if (!t) this.touched.set(name, (t = { existed: this.sets.has(name), members: new Map() }))
    return t
  }
}
