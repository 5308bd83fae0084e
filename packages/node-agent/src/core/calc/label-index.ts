import type { Selector } from '@calilab/model'

export type Labels = Readonly<Record<string, string>>

export interface LabelIndexCallbacks {
  onMatchStarted(selectorId: string, endpointId: string): void
  onMatchStopped(selectorId: string, endpointId: string): void
}

interface EndpointEntry {
  own: Labels
  parents: readonly string[]
  effective: Labels
  /** Selectors matching now. */
  matched: Set<string>
}

interface SelectorEntry {
  selector: Selector
  canonical: string
  keys: readonly string[]
  /** Endpoints matching now. */
  matched: Set<string>
}

/** Counts of the work done, for touch-only-what-changes tests and metrics. */
export interface LabelIndexStats {
  evaluations: number
  matchStarted: number
  matchStopped: number
}

/**
 * Felix's label index (labelindex.InheritIndex + selector index), pure and incremental:
 * selectors <-> endpoints, where an endpoint's effective labels are its own plus, for each key it
 * lacks, the value from the first parent (profile) in order that has it. Parents hold the
 * `pcns.*` / `pcsa.*` labels of namespaces and service accounts (see profiles.ts).
 *
 * Every update emits exactly the match changes it causes. A label change re-evaluates only the
 * selectors that read one of the changed keys (`Selector.labelKeys()`); a selector change
 * re-evaluates every endpoint (once); a parent change only its children.
 */
export class LabelIndex {
  readonly stats: LabelIndexStats = { evaluations: 0, matchStarted: 0, matchStopped: 0 }
  private readonly cb: LabelIndexCallbacks
  private readonly endpoints = new Map<string, EndpointEntry>()
  private readonly selectors = new Map<string, SelectorEntry>()
  private readonly parents = new Map<string, Labels>()
  /** parent id -> endpoints that list it (whether or not the parent exists yet). */
  private readonly children = new Map<string, Set<string>>()
  /** label key -> selectors that read it. */
  private readonly byKey = new Map<string, Set<string>>()

  constructor(cb: LabelIndexCallbacks) {
    this.cb = cb
  }

  // ---- queries --------------------------------------------------------------------------------

  effectiveLabels(endpointId: string): Labels | undefined {
    return this.endpoints.get(endpointId)?.effective
  }

  /** Endpoints a selector matches now (empty for an unknown selector). */
  endpointsMatching(selectorId: string): ReadonlySet<string> {
    return this.selectors.get(selectorId)?.matched ?? EMPTY
  }

  /** Selectors matching an endpoint now. */
  selectorsMatching(endpointId: string): ReadonlySet<string> {
    return this.endpoints.get(endpointId)?.matched ?? EMPTY
  }

  hasEndpoint(id: string): boolean {
    return this.endpoints.has(id)
  }

  // ---- parents (profiles) ---------------------------------------------------------------------

  updateParent(parentId: string, labels: Labels): void {
    const old = this.parents.get(parentId)
    if (old && sameLabels(old, labels)) return
    this.parents.set(parentId, { ...labels })
    this.refreshChildren(parentId)
  }

  deleteParent(parentId: string): void {
    if (!this.parents.delete(parentId)) return
    this.refreshChildren(parentId)
  }

  private refreshChildren(parentId: string): void {
    const kids = this.children.get(parentId)
    if (!kids) return
    for (const id of [...kids]) {
      const ep = this.endpoints.get(id)
      if (ep) this.relabel(id, ep, this.effective(ep.own, ep.parents))
    }
  }

  // ---- endpoints ------------------------------------------------------------------------------

  updateEndpoint(id: string, labels: Labels, parentIds: readonly string[] = []): void {
    const old = this.endpoints.get(id)
    const parents = [...parentIds]
    const effective = this.effective(labels, parents)
    if (!old) {
      for (const p of parents) this.childSet(p).add(id)
      const ep: EndpointEntry = { own: { ...labels }, parents, effective, matched: new Set() }
      this.endpoints.set(id, ep)
      for (const [sid, s] of this.selectors) this.evaluate(sid, s, id, ep)
      return
    }
    if (!sameList(old.parents, parents)) {
      for (const p of old.parents) this.unchild(p, id)
      for (const p of parents) this.childSet(p).add(id)
      old.parents = parents
    }
    old.own = { ...labels }
    this.relabel(id, old, effective)
  }

  deleteEndpoint(id: string): void {
    const ep = this.endpoints.get(id)
    if (!ep) return
    for (const sid of [...ep.matched]) {
      const s = this.selectors.get(sid) as SelectorEntry
      s.matched.delete(id)
      ep.matched.delete(sid)
      this.stopped(sid, id)
    }
    for (const p of ep.parents) this.unchild(p, id)
    this.endpoints.delete(id)
  }

  /** New effective labels for an existing endpoint: re-evaluate only selectors reading changed keys. */
  private relabel(id: string, ep: EndpointEntry, effective: Labels): void {
    const changed = changedKeys(ep.effective, effective)
    ep.effective = effective
    if (changed.length === 0) return
    const todo = new Set<string>()
    for (const k of changed) {
      const sids = this.byKey.get(k)
      if (sids) for (const sid of sids) todo.add(sid)
    }
    for (const sid of todo) this.evaluate(sid, this.selectors.get(sid) as SelectorEntry, id, ep)
  }

  // ---- selectors ------------------------------------------------------------------------------

  updateSelector(id: string, selector: Selector): void {
    const canonical = selector.toString()
    const old = this.selectors.get(id)
    if (old && old.canonical === canonical) return
    const keys = selector.labelKeys()
    if (old) for (const k of old.keys) this.byKey.get(k)?.delete(id)
    for (const k of keys) {
      let s = this.byKey.get(k)
      if (!s) this.byKey.set(k, (s = new Set()))
      s.add(id)
    }
    const entry: SelectorEntry = { selector, canonical, keys, matched: old?.matched ?? new Set() }
    this.selectors.set(id, entry)
    for (const [eid, ep] of this.endpoints) this.evaluate(id, entry, eid, ep)
  }

  deleteSelector(id: string): void {
    const s = this.selectors.get(id)
    if (!s) return
    for (const k of s.keys) {
      const set = this.byKey.get(k)
      set?.delete(id)
      if (set?.size === 0) this.byKey.delete(k)
    }
    for (const eid of [...s.matched]) {
      s.matched.delete(eid)
      this.endpoints.get(eid)?.matched.delete(id)
      this.stopped(id, eid)
    }
    this.selectors.delete(id)
  }

  // ---- internals ------------------------------------------------------------------------------

  private evaluate(sid: string, s: SelectorEntry, eid: string, ep: EndpointEntry): void {
    this.stats.evaluations++
    const now = s.selector.evaluate(ep.effective as Record<string, string>)
    const was = s.matched.has(eid)
    if (now === was) return
    if (now) {
      s.matched.add(eid)
      ep.matched.add(sid)
      this.stats.matchStarted++
      this.cb.onMatchStarted(sid, eid)
    } else {
      s.matched.delete(eid)
      ep.matched.delete(sid)
      this.stopped(sid, eid)
    }
  }

  private stopped(sid: string, eid: string): void {
    this.stats.matchStopped++
    this.cb.onMatchStopped(sid, eid)
  }

  private effective(own: Labels, parents: readonly string[]): Labels {
    if (parents.length === 0) return { ...own }
    const out: Record<string, string> = { ...own }
    for (const p of parents) {
      const pl = this.parents.get(p)
      if (!pl) continue
      for (const k in pl) if (!Object.hasOwn(out, k)) out[k] = pl[k] as string
    }
    return out
  }

  private childSet(p: string): Set<string> {
    let s = this.children.get(p)
    if (!s) this.children.set(p, (s = new Set()))
    return s
  }

  private unchild(p: string, id: string): void {
    const s = this.children.get(p)
    if (!s) return
    s.delete(id)
    if (s.size === 0) this.children.delete(p)
  }
}

const EMPTY: ReadonlySet<string> = new Set()

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) if (a[k] !== b[k]) return false
  return true
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function changedKeys(a: Labels, b: Labels): string[] {
  const out: string[] = []
  for (const k in a) if (a[k] !== b[k]) out.push(k)
  for (const k in b) if (!Object.hasOwn(a, k)) out.push(k)
  return out
}
