/**
 * Felix's policy dataplane manager for one node (CONVENTIONS §5): `onUpdates` records the
 * syncer's changes in the state builder and marks the manager dirty; `apply()`, driven by a short
 * debounce, hands the changed entries to the incremental renderer, which re-renders only the
 * chains and IP sets they touch, and writes that delta into the node's netns: IP set creations
 * and additions first, then `iptables-restore --noflush` of the changed chains, then IP set
 * removals. The first apply (and the one after a failure) renders the whole node from scratch
 * instead. Nothing is programmed (and nothing swept) before the syncer is in sync.
 *
 * Felix's hook rules (FORWARD/INPUT/OUTPUT → cali-*, raw/mangle PREROUTING → cali-PREROUTING) are
 * part of the rendering and are inserted/deleted rule by rule, so kube-proxy's KUBE-* rules in the
 * same chains are never touched. On the first apply (and after a failed one) a mark-and-sweep
 * removes Felix-owned leftovers: `cali-` chains and hook rules, and `cali40s:`/`cali40n:` IP sets
 * that the new rendering does not contain.
 */
import {
  type IpSetStore,
  ipsetRestore,
  iptablesRestore,
  type Netfilter,
  type Netns,
  saveRule,
} from '@calilab/dataplane'
import type { Clock, Logger, Timer } from '@calilab/kit'
import {
  DEFAULT_RENDER_CONFIG,
  diffRenderings,
  IncrementalRenderer,
  isEmptyDiff,
  KERNEL_CHAINS,
  type NodeRendering,
  type PolicyRenderConfig,
  RENDERED_TABLES,
  type RenderingDiff,
  renderNode,
  toIpsetRestore,
  toIpsetRestoreDelta,
  toIptablesRestore,
  toIptablesRestoreDelta,
  touchedChains,
} from '../core/policy/index.ts'
import type { SyncerUpdate } from '../io/syncer/types.ts'
import { PolicyStateBuilder, type PolicyStateChanges } from './state-builder.ts'
import { type ChainNameTable, chainNameTable } from './trace.ts'

export interface PolicyManagerInit {
  nodeName: string
  /** The node's root namespace (where Felix programs iptables and IP sets). */
  netns: Netns
  log: Logger
  /** Default: the netns host's clock. */
  clock?: Clock
  /** Debounce between the first dirtying update and apply (default 20 ms). */
  debounceMs?: number
  /** Retry delay after a failed apply (default 1000 ms). */
  retryMs?: number
  renderConfig?: PolicyRenderConfig
  /** Wall time for apply durations (default performance.now). */
  now?: () => number
  /**
   * After every incremental apply, also render the node in full and compare (tests; costs a full
   * render). A difference is counted in `status().mismatches`, logged, and healed by a resync.
   */
  verify?: boolean
}

export interface PolicyManagerStatus {
  node: string
  inSync: boolean
  dirty: boolean
  applies: number
  failures: number
  /** Chains in the last programmed rendering (all tables). */
  renderedChains: number
  ipsets: number
  /** Chains (table/chain) the last non-empty apply touched. */
  lastTouched: number
  touchedTotal: number
  lastApplyMs: number
  totalApplyMs: number
  swept: number
  /** Applies whose full apply was a full render (startup, after a failure or a mismatch). */
  fullRenders: number
  /** `verify`: incremental renderings that differed from the full one. */
  mismatches: number
  conversionErrors: { key: string; message: string }[]
}

export interface ApplyResult {
  /** `table/chain` of every chain written or removed. */
  touched: string[]
  ipsetsChanged: number
  ms: number
  swept: number
  /** A full render (startup/resync) rather than an incremental one. */
  full: boolean
}

export interface PolicyManager {
  readonly builder: PolicyStateBuilder
  onUpdates(updates: readonly SyncerUpdate[]): void
  /** The syncer's view is complete (first sync or after a resync). */
  onInSync(): void
  /** Reconciles now (normally the debounce calls it); undefined when not in sync or not dirty. */
  apply(): ApplyResult | undefined
  status(): PolicyManagerStatus
  /** What is programmed now. */
  rendering(): NodeRendering | undefined
  /** Chain name → the policy, profile or endpoint it belongs to. */
  names(): ChainNameTable
  close(): void
}

const OWNED_SET = /^cali40[sn]:/

function isFelixRule(nf: Netfilter, table: 'raw' | 'mangle' | 'filter', chain: string, i: number): boolean {
  const r = nf.chain(table, chain)?.rules[i]
  if (!r) return false
  const t = r.spec.target
  if (t?.t === 'JUMP' && t.chain.startsWith('cali-')) return true
  return r.key.includes('--comment "cali:') || r.key.includes('--comment cali:')
}

/**
 * Removes Felix-owned state `next` does not contain: hook rules in kernel chains (all of them, the
 * caller re-inserts the rendering's), `cali-` chains, and selector/named-port IP sets.
 */
function sweepBefore(nf: Netfilter): number {
  let n = 0
  for (const t of RENDERED_TABLES) {
    for (const chain of KERNEL_CHAINS[t]) {
      const c = nf.chain(t, chain)
      if (!c) continue
      for (let i = c.rules.length - 1; i >= 0; i--) {
        if (!isFelixRule(nf, t, chain, i)) continue
        nf.delete(t, chain, i + 1)
        n++
      }
    }
  }
  return n
}

function sweepAfter(nf: Netfilter, sets: IpSetStore, next: NodeRendering): number {
  let n = 0
  for (const t of RENDERED_TABLES) {
    const stale = [...nf.table(t).chains.values()]
      .filter((c) => !c.builtin && c.name.startsWith('cali-') && !next.tables[t].has(c.name))
      .map((c) => c.name)
    if (stale.length === 0) continue
    let s = `*${t}\n`
    for (const c of stale) s += `-F ${c}\n`
    for (const c of stale) s += `-X ${c}\n`
    iptablesRestore(nf, `${s}COMMIT\n`, { noflush: true })
    n += stale.length
  }
  const staleSets = sets.names().filter((s) => OWNED_SET.test(s) && !next.ipsets.has(s))
  if (staleSets.length > 0) {
    ipsetRestore(sets, staleSets.map((s) => `destroy ${s}\n`).join(''))
    n += staleSets.length
  }
  return n
}

/** Feeds the builder's changes to the renderer (the order does not matter: flush() renders from its indexes). */
function feed(r: IncrementalRenderer, c: PolicyStateChanges): void {
  for (const [id, p] of c.profiles) r.setProfile(id, p)
  for (const [id, e] of c.endpoints) r.setEndpoint(id, e)
  for (const [id, s] of c.networkSets) r.setNetworkSet(id, s)
  for (const [id, p] of c.policies) r.setPolicy(id, p)
}

/** Renderings as comparable text (verify mode). */
function renderingText(r: NodeRendering): string {
  return toIptablesRestore(r) + toIpsetRestore(r)
}

/** Felix's rules as the kernel holds them (iptables -S text of the rendered tables), for tests and status. */
export function felixRulesText(nf: Netfilter): string {
  let s = ''
  for (const t of RENDERED_TABLES)
    for (const c of nf.table(t).ordered())
      for (const r of c.rules)
        if (c.name.startsWith('cali-') || r.key.includes('cali')) s += `${t} ${saveRule(c.name, r)}\n`
  return s
}

export function startPolicyManager(init: PolicyManagerInit): PolicyManager {
  const log = init.log.child({ component: 'felix.policy', node: init.nodeName })
  const clock = init.clock ?? init.netns.host.clock
  const debounceMs = init.debounceMs ?? 20
  const retryMs = init.retryMs ?? 1000
  const cfg = init.renderConfig ?? DEFAULT_RENDER_CONFIG
  const now = init.now ?? (() => performance.now())
  const builder = new PolicyStateBuilder(init.nodeName)
  const nf = init.netns.nf
  const sets = init.netns.sets

  let inSync = false
  let dirty = false
  let closed = false
  const renderer = new IncrementalRenderer(init.nodeName, cfg)
  /** The renderer holds what the kernel has (after a successful apply). */
  let programmed = false
  /** Sweep before the next apply (first apply, or after a failure left the dataplane unknown). */
  let needSweep = true
  let timer: Timer | undefined
  let nameCache: { state: unknown; table: ChainNameTable } | undefined
  const st = {
    applies: 0,
    failures: 0,
    lastTouched: 0,
    touchedTotal: 0,
    lastApplyMs: 0,
    totalApplyMs: 0,
    swept: 0,
    fullRenders: 0,
    mismatches: 0,
  }

  const schedule = (ms: number) => {
    if (timer || closed || !inSync) return
    timer = clock.setTimeout(() => {
      timer = undefined
      apply()
    }, ms)
  }

  function apply(): ApplyResult | undefined {
    if (!inSync || !dirty || closed) return undefined
    const t0 = now()
    dirty = false
    let swept = 0
    try {
      const full = needSweep
      let diff: RenderingDiff
      let prev: NodeRendering | undefined
      let next: NodeRendering | undefined
      if (full) {
        // Startup / resync: everything from scratch, against a swept kernel.
        programmed = false
        builder.discardChanges()
        next = renderer.reset(builder.state(), builder.endpointKeys())
        swept += sweepBefore(nf)
        diff = diffRenderings(undefined, next)
      } else {
        feed(renderer, builder.takeChanges())
        const d = renderer.flush()
        diff = d.diff
        prev = d.prev
      }
      const touched = touchedChains(diff)
      const ipsetsChanged =
        diff.ipsets.creates.length + diff.ipsets.adds.size + diff.ipsets.dels.size + diff.ipsets.removes.length
      if (!isEmptyDiff(diff)) {
        const ipt = toIptablesRestoreDelta(prev, diff)
        const ips = toIpsetRestoreDelta(diff)
        // IP sets the new rules use exist before the rules; removed sets go after them.
        if (ips.before) ipsetRestore(sets, ips.before)
        if (ipt) iptablesRestore(nf, ipt, { noflush: true })
        if (ips.after) ipsetRestore(sets, ips.after)
      }
      programmed = true
      if (next) {
        swept += sweepAfter(nf, sets, next)
        needSweep = false
        st.fullRenders++
      }
      const ms = now() - t0
      if (init.verify && !full) {
        const want = renderingText(renderNode(builder.state(), init.nodeName, cfg))
        if (renderingText(renderer.rendering()) !== want) {
          st.mismatches++
          needSweep = true
          dirty = true
          log.error({}, 'incremental rendering differs from the full one; resyncing')
          schedule(0)
        }
      }
      st.applies++
      st.lastApplyMs = ms
      st.totalApplyMs += ms
      st.swept += swept
      if (touched.length > 0 || ipsetsChanged > 0) {
        st.lastTouched = touched.length
        st.touchedTotal += touched.length
        log.debug({ chains: touched.length, ipsets: ipsetsChanged, ms, swept }, 'policy applied')
      }
      return { touched, ipsetsChanged, ms, swept, full }
    } catch (e) {
      st.failures++
      dirty = true
      needSweep = true
      programmed = false
      log.warn({ err: e }, 'policy apply failed; will resync the dataplane')
      schedule(retryMs)
      return undefined
    }
  }

  return {
    builder,
    onUpdates(updates) {
      if (closed) return
      const kinds = builder.applyAll(updates)
      if (kinds.size === 0) return
      dirty = true
      schedule(debounceMs)
    },
    onInSync() {
      if (inSync || closed) return
      inSync = true
      dirty = true
      log.info({ policies: builder.state().policies.length }, 'policy manager in sync; programming')
      schedule(0)
    },
    apply,
    status() {
      const size = programmed ? renderer.size() : { chains: 0, ipsets: 0 }
      return {
        node: init.nodeName,
        inSync,
        dirty,
        ...st,
        renderedChains: size.chains,
        ipsets: size.ipsets,
        conversionErrors: builder.conversionErrors(),
      }
    },
    rendering: () => (programmed ? renderer.rendering() : undefined),
    names() {
      const s = builder.state()
      if (nameCache?.state !== s) nameCache = { state: s, table: chainNameTable(s, init.nodeName) }
      return nameCache.table
    },
    close() {
      closed = true
      timer?.cancel()
      timer = undefined
    },
  }
}
