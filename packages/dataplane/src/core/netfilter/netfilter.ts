/**
 * The iptables state of one node: four tables of chains of compiled rules, with counters, and
 * `traverse`, the kernel's ipt_do_table (jump pushes a return point, goto does not, RETURN or
 * the end of a user chain pops, the end of a built-in chain applies its policy).
 */
import type { CompileEnv, EvalContext } from './compile.ts'
import { NetfilterError } from './errors.ts'
import type { IpSetStore } from './ipset.ts'
import { saveRuleSpec } from './print.ts'
import * as R from './rule.ts'
import { Rule } from './rule.ts'
import {
  BUILTIN_CHAINS,
  type NfPacket,
  type Policy,
  type RejectWith,
  type RuleSpec,
  TABLE_NAMES,
  type TableName,
  type TargetSpec,
} from './types.ts'
import { reachableReads, WalkCache } from './walk-cache.ts'

export { Rule } from './rule.ts'

export class Chain {
  name: string
  readonly builtin: boolean
  policy: Policy
  pkts = 0
  bytes = 0
  rules: Rule[] = []
  /** Spreads chains over the walk cache's slots (any number would be correct). */
  readonly hashId: number
  /** Walk cache, as a start chain: R_* bits read by the rules reachable from here, for `readsEpoch`. */
  reads = 0
  readsEpoch = -1
  /** Walks from here stored in the walk cache since it was last emptied (none: no probe). */
  stored = 0
  constructor(name: string, builtin: boolean, policy: Policy = 'ACCEPT') {
    this.name = name
    this.builtin = builtin
    this.policy = policy
    let h = 0x811c9dc5
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
    this.hashId = h
  }
}

export class Table {
  readonly name: TableName
  readonly chains = new Map<string, Chain>()
  constructor(name: TableName) {
    this.name = name
    for (const c of BUILTIN_CHAINS[name]) this.chains.set(c, new Chain(c, true))
  }

  /** Built-in chains in hook order, then user chains sorted by name (libiptc's order). */
  ordered(): Chain[] {
    const b: Chain[] = []
    const u: Chain[] = []
    for (const c of this.chains.values()) (c.builtin ? b : u).push(c)
    u.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    return [...b, ...u]
  }

  references(chain: string): number {
    let n = 0
    for (const c of this.chains.values())
      for (const r of c.rules) if (r.spec.target?.t === 'JUMP' && r.spec.target.chain === chain) n++
    return n
  }
}

export type VerdictKind = 'ACCEPT' | 'DROP' | 'REJECT' | 'RETURN'

export interface LogEntry {
  prefix: string
  level: number
  chain: string
}

/** Result of one traversal; reusable (`traverse` resets it). */
export class Verdict {
  verdict: VerdictKind = 'ACCEPT'
  rejectWith: RejectWith | undefined = undefined
  /** The DNAT/SNAT/MASQUERADE target that ended a nat-table traversal. */
  nat: TargetSpec | undefined = undefined
  notrack = false
  logs: LogEntry[] | undefined = undefined
  /** The rule that decided (undefined when a policy did). */
  rule: Rule | undefined = undefined

  reset(): this {
    this.verdict = 'ACCEPT'
    this.rejectWith = undefined
    this.nat = undefined
    this.notrack = false
    this.logs = undefined
    this.rule = undefined
    return this
  }
}

const MAX_DEPTH = 64
// Local copies of rule.ts's constants for the hot loop (tsx's CommonJS output turns every read of
// an imported binding into a getter call).
const K_NONE = R.K_NONE
const K_ACCEPT = R.K_ACCEPT
const K_DROP = R.K_DROP
const K_RETURN = R.K_RETURN
const K_REJECT = R.K_REJECT
const K_JUMP = R.K_JUMP
const K_GOTO = R.K_GOTO
const K_MARK = R.K_MARK
const K_NAT = R.K_NAT
const K_LOG = R.K_LOG
const K_NOTRACK = R.K_NOTRACK
const F_VOLATILE = R.F_VOLATILE
const TABLE_INDEX: Record<TableName, number> = { raw: 0, mangle: 1, nat: 2, filter: 3 }

export class Netfilter {
  readonly sets: IpSetStore
  tables: Record<TableName, Table>
  private readonly env: CompileEnv
  private readonly stackChain: { name: string; rules: Rule[] }[] = new Array(MAX_DEPTH)
  private readonly stackIdx = new Int32Array(MAX_DEPTH)
  /** Bumped by every change to the tables (the walk cache empties itself when it moves). */
  gen = 0
  /** Whether traversals use the walk cache (walk-cache.ts); exact either way. */
  cacheWalks = true
  /** Walks that evaluate fewer rules than this are not stored in the walk cache (walking them is as cheap). */
  minCachedWalk = 4
  readonly walkCache = new WalkCache()
  private cacheGen = -1
  private cacheSetVersion = -1
  /** Bumped each time the walk cache is emptied (Chain.readsEpoch). */
  private cacheEpoch = 0
  /** Scratch of the walk being recorded: the rules that matched, in order. */
  private readonly recorded: Rule[] = []
  /** Whether the last walk evaluated a rule with F_VOLATILE. */
  private volatileSeen = false
  /** How many rules the last walk evaluated. */
  private evaluated = 0

  constructor(sets: IpSetStore) {
    this.sets = sets
    this.env = { sets, counters: this.walkCache }
    this.tables = {
      raw: new Table('raw'),
      mangle: new Table('mangle'),
      nat: new Table('nat'),
      filter: new Table('filter'),
    }
  }

  table(name: TableName): Table {
    return this.tables[name]
  }

  chain(table: TableName, name: string): Chain | undefined {
    return this.tables[table].chains.get(name)
  }

  mustChain(table: TableName, name: string): Chain {
    const c = this.tables[table].chains.get(name)
    if (!c)
      throw new NetfilterError('NF_NO_CHAIN', 'iptables: No chain/target/match by that name.', { table, chain: name })
    return c
  }

  /** Compiles a rule and resolves its jump in `table` (the target chain must exist). */
  makeRule(table: TableName, spec: RuleSpec): Rule {
    const r = new Rule(spec, this.env)
    this.link(this.tables[table], r)
    return r
  }

  private link(t: Table, r: Rule): void {
    const target = r.spec.target
    if (target?.t !== 'JUMP') return
    const c = t.chains.get(target.chain)
    if (!c)
      throw new NetfilterError(
        'NF_BAD_TARGET',
        `iptables v1.8.7 (legacy): Couldn't load target \`${target.chain}':No such file or directory`,
        { chain: target.chain },
        2,
      )
    r.jump = c
  }

  private addRefs(r: Rule, d: number): void {
    const ms = r.spec.matches
    for (let k = 0; k < ms.length; k++) {
      const m = ms[k]!
      if (m.m !== 'set') continue
      const s = this.sets.get(m.name)
      if (s) s.ruleRefs += d
    }
  }

  append(table: TableName, chain: string, spec: RuleSpec): Rule {
    this.gen++
    const c = this.mustChain(table, chain)
    const r = this.makeRule(table, spec)
    c.rules.push(r)
    this.addRefs(r, 1)
    return r
  }

  /** -I CHAIN [n] (1-based; default 1). */
  insert(table: TableName, chain: string, spec: RuleSpec, index = 1): Rule {
    this.gen++
    const c = this.mustChain(table, chain)
    if (index < 1 || index > c.rules.length + 1)
      throw new NetfilterError('NF_BAD_RULE_INDEX', 'iptables: Index of insertion too big.', { index })
    const r = this.makeRule(table, spec)
    c.rules.splice(index - 1, 0, r)
    this.addRefs(r, 1)
    return r
  }

  replace(table: TableName, chain: string, index: number, spec: RuleSpec): Rule {
    this.gen++
    const c = this.mustChain(table, chain)
    if (index < 1 || index > c.rules.length)
      throw new NetfilterError('NF_BAD_RULE_INDEX', 'iptables: Index of replacement too big.', { index })
    const r = this.makeRule(table, spec)
    this.addRefs(c.rules[index - 1]!, -1)
    c.rules[index - 1] = r
    this.addRefs(r, 1)
    return r
  }

  /** -D by rule number or by specification (the first identical rule). */
  delete(table: TableName, chain: string, what: number | RuleSpec): void {
    this.gen++
    const c = this.mustChain(table, chain)
    let i: number
    if (typeof what === 'number') {
      if (what < 1 || what > c.rules.length)
        throw new NetfilterError('NF_BAD_RULE_INDEX', 'iptables: Index of deletion too big.', { index: what })
      i = what - 1
    } else {
      const key = saveRuleSpec(what)
      i = c.rules.findIndex((r) => r.key === key)
      if (i < 0)
        throw new NetfilterError('NF_NO_SUCH_RULE', 'iptables: Bad rule (does a matching rule exist in that chain?).')
    }
    this.addRefs(c.rules[i]!, -1)
    c.rules.splice(i, 1)
  }

  /** -C: whether an identical rule exists. */
  check(table: TableName, chain: string, spec: RuleSpec): boolean {
    const key = saveRuleSpec(spec)
    return this.mustChain(table, chain).rules.some((r) => r.key === key)
  }

  newChain(table: TableName, name: string): Chain {
    this.gen++
    const t = this.tables[table]
    if (t.chains.has(name))
      throw new NetfilterError('NF_CHAIN_EXISTS', 'iptables: Chain already exists.', { chain: name })
    if (name.length > 28 || name.startsWith('-') || /\s/.test(name) || name === '')
      throw new NetfilterError(
        'NF_BAD_ARGUMENT',
        `chain name \`${name}' too long (must be under 29 chars)`,
        { chain: name },
        2,
      )
    const c = new Chain(name, false)
    t.chains.set(name, c)
    return c
  }

  /** -X [CHAIN]: deletes one (or every empty unreferenced) user chain. */
  deleteChain(table: TableName, name?: string): void {
    this.gen++
    const t = this.tables[table]
    const targets =
      name === undefined ? [...t.chains.values()].filter((c) => !c.builtin) : [this.mustChain(table, name)]
    for (const c of targets) {
      if (c.builtin)
        throw new NetfilterError('NF_BUILTIN_CHAIN', "iptables: Invalid argument. Run `dmesg' for more information.", {
          chain: c.name,
        })
      if (t.references(c.name) > 0 && !(name === undefined && targets.every((x) => x.rules.length === 0)))
        throw new NetfilterError('NF_CHAIN_IN_USE', 'iptables: Too many links.', { chain: c.name })
      if (c.rules.length > 0)
        throw new NetfilterError('NF_CHAIN_NOT_EMPTY', 'iptables: Directory not empty.', { chain: c.name })
    }
    for (const c of targets) t.chains.delete(c.name)
  }

  renameChain(table: TableName, from: string, to: string): void {
    this.gen++
    const t = this.tables[table]
    const c = this.mustChain(table, from)
    if (c.builtin) throw new NetfilterError('NF_BUILTIN_CHAIN', 'iptables: Invalid argument.', { chain: from })
    if (t.chains.has(to)) throw new NetfilterError('NF_CHAIN_EXISTS', 'iptables: File exists.', { chain: to })
    t.chains.delete(from)
    c.name = to
    t.chains.set(to, c)
    for (const ch of t.chains.values())
      ch.rules = ch.rules.map((r) => {
        const tg = r.spec.target
        if (tg?.t !== 'JUMP' || tg.chain !== from) return r
        const nr = this.makeRule(table, { ...r.spec, target: { ...tg, chain: to } })
        nr.pkts = r.pkts
        nr.bytes = r.bytes
        return nr
      })
  }

  /** -F [CHAIN] */
  flush(table: TableName, chain?: string): void {
    this.gen++
    const t = this.tables[table]
    const chains = chain === undefined ? [...t.chains.values()] : [this.mustChain(table, chain)]
    for (const c of chains) {
      for (const r of c.rules) this.addRefs(r, -1)
      c.rules = []
    }
  }

  /** -Z [CHAIN] */
  zero(table: TableName, chain?: string): void {
    const t = this.tables[table]
    const chains = chain === undefined ? [...t.chains.values()] : [this.mustChain(table, chain)]
    for (const c of chains) {
      c.pkts = 0
      c.bytes = 0
      for (const r of c.rules) {
        r.pkts = 0
        r.bytes = 0
      }
    }
  }

  setPolicy(table: TableName, chain: string, policy: Policy): void {
    this.gen++
    const c = this.mustChain(table, chain)
    if (!c.builtin) throw new NetfilterError('NF_BAD_ARGUMENT', 'iptables: Bad built-in chain name.', { chain })
    c.policy = policy
  }

  /**
   * Walks `chain` of `table` for packet `p` (whose `mark` MARK targets change in place) and
   * returns the verdict. Counters of matched rules and applied policies move. When `ctx.trace`
   * is set, each matched rule, return and policy is appended to it.
   */
  traverse(table: TableName, chain: string, p: NfPacket, ctx: EvalContext, out: Verdict = new Verdict()): Verdict {
    const start = this.tables[table].chains.get(chain)
    if (!start)
      throw new NetfilterError('NF_NO_CHAIN', 'iptables: No chain/target/match by that name.', { table, chain })
    return this.traverseChain(table, start, p, ctx, out)
  }

  /** `traverse` from a chain already looked up (`chain(table, name)`) of `table`. */
  traverseChain(table: TableName, start: Chain, p: NfPacket, ctx: EvalContext, out: Verdict = new Verdict()): Verdict {
    out.reset()
    // Tracing walks, and chains so short that walking them costs less than a cache probe, are walked.
    if (ctx.trace !== undefined || !this.cacheWalks || start.rules.length === 0)
      return this.walk(table, start, p, ctx, out, false)
    if (this.cacheGen !== this.gen || this.cacheSetVersion !== this.sets.version) this.resetCache()
    if (start.readsEpoch !== this.cacheEpoch) {
      start.reads = reachableReads(start)
      start.readsEpoch = this.cacheEpoch
      start.stored = 0
    }
    const reads = start.reads
    const id = start.hashId + TABLE_INDEX[table]
    const wc = this.walkCache
    // Start chains whose walks are all short never store anything: no probe for them.
    const hit = start.stored === 0 ? undefined : wc.lookup(start, id, p, reads)
    if (hit !== undefined) {
      wc.hits++
      return wc.replay(hit, p, out)
    }
    wc.misses++
    const markIn = p.mark
    this.recorded.length = 0
    this.walk(table, start, p, ctx, out, true)
    if (!this.volatileSeen && this.evaluated >= this.minCachedWalk) {
      let and = 0xffffffff
      let xor = 0
      const rec = this.recorded
      for (let k = 0; k < rec.length; k++) {
        const r = rec[k]!
        if (r.kind !== K_MARK) continue
        and = (and & ~r.markMask) >>> 0
        xor = ((xor & ~r.markMask) ^ r.markValue) >>> 0
      }
      const policy = out.rule === undefined && start.builtin ? start : undefined
      wc.store(start, id, p, markIn, reads, out, and, xor, rec, policy)
      start.stored++
    }
    return out
  }

  /** Empties the walk cache; start chains recompute what they read (`reachableReads`) on next use. */
  private resetCache(): void {
    this.walkCache.clear()
    this.cacheGen = this.gen
    this.cacheSetVersion = this.sets.version
    this.cacheEpoch++
  }

  /** The kernel's walk; with `record`, keeps the matched rules and whether a volatile rule was evaluated. */
  private walk(table: TableName, start: Chain, p: NfPacket, ctx: EvalContext, out: Verdict, record: boolean): Verdict {
    const trace = ctx.trace
    const stackChain = this.stackChain
    const stackIdx = this.stackIdx
    const rec = this.recorded
    let vol = false
    let evals = 0
    let sp = 0
    let c: { name: string; rules: Rule[] } = start
    let i = 0
    const len = p.len
    for (;;) {
      const rules = c.rules
      if (i >= rules.length) {
        if (sp > 0) {
          sp--
          c = stackChain[sp]!
          i = stackIdx[sp]!
          continue
        }
        this.volatileSeen = vol
        this.evaluated = evals
        return this.policy(start, table, len, out, trace)
      }
      const r = rules[i++]!
      evals++
      const f = r.flags
      if (f !== 0) {
        if (f & F_VOLATILE) vol = true
        if (!r.test(p, ctx)) continue
      }
      r.npkts++
      r.nbytes += len
      if (record) rec.push(r)
      if (trace) {
        const tg = r.spec.target
        trace.push({
          table,
          chain: c.name,
          rule: i,
          target: tg ? (tg.t === 'JUMP' ? tg.chain : tg.t) : '',
          kind: 'rule',
        })
      }
      switch (r.kind) {
        case K_NONE:
          continue
        case K_ACCEPT:
          out.verdict = 'ACCEPT'
          out.rule = r
          this.volatileSeen = vol
          this.evaluated = evals
          return out
        case K_DROP:
          out.verdict = 'DROP'
          out.rule = r
          this.volatileSeen = vol
          this.evaluated = evals
          return out
        case K_REJECT:
          out.verdict = 'REJECT'
          out.rejectWith = (r.spec.target as { with: RejectWith }).with
          out.rule = r
          this.volatileSeen = vol
          this.evaluated = evals
          return out
        case K_RETURN:
          if (sp > 0) {
            sp--
            c = stackChain[sp]!
            i = stackIdx[sp]!
            if (trace) trace.push({ table, chain: c.name, rule: i, target: 'RETURN', kind: 'return' })
            continue
          }
          this.volatileSeen = vol
          this.evaluated = evals
          return this.policy(start, table, len, out, trace)
        case K_JUMP:
          if (sp >= MAX_DEPTH) {
            out.verdict = 'DROP'
            out.rule = r
            this.volatileSeen = vol
            this.evaluated = evals
            return out
          }
          stackChain[sp] = c
          stackIdx[sp] = i
          sp++
          c = r.jump!
          i = 0
          continue
        case K_GOTO:
          c = r.jump!
          i = 0
          continue
        case K_MARK:
          p.mark = ((p.mark & ~r.markMask) ^ r.markValue) >>> 0
          continue
        case K_NAT:
          out.verdict = 'ACCEPT'
          out.nat = r.spec.target
          out.rule = r
          this.volatileSeen = vol
          this.evaluated = evals
          return out
        case K_LOG: {
          const tg = r.spec.target as { prefix: string; level: number }
          ;(out.logs ??= []).push({ prefix: tg.prefix, level: tg.level, chain: c.name })
          continue
        }
        case K_NOTRACK:
          out.notrack = true
          continue
      }
    }
  }

  private policy(start: Chain, table: TableName, len: number, out: Verdict, trace: EvalContext['trace']): Verdict {
    if (!start.builtin) {
      out.verdict = 'RETURN'
      return out
    }
    start.pkts++
    start.bytes += len
    out.verdict = start.policy
    if (trace) trace.push({ table, chain: start.name, rule: 0, target: start.policy, kind: 'policy' })
    return out
  }

  /** Replaces one table (iptables-restore's commit): relinks jumps and recounts ipset references. */
  commitTable(t: Table): void {
    this.gen++
    for (const c of t.chains.values()) for (const r of c.rules) this.link(t, r)
    this.tables[t.name] = t
    this.recountSetRefs()
  }

  /** A copy of a table sharing its Rule objects (for building a replacement). */
  cloneTable(name: TableName): Table {
    const old = this.tables[name]
    const t = new Table(name)
    t.chains.clear()
    for (const c of old.chains.values()) {
      const n = new Chain(c.name, c.builtin, c.policy)
      n.pkts = c.pkts
      n.bytes = c.bytes
      n.rules = c.rules.slice()
      t.chains.set(n.name, n)
    }
    return t
  }

  /** Temporarily installs `t` so the ordinary operations apply to it; returns the previous table. */
  swapIn(t: Table): Table {
    this.gen++
    const prev = this.tables[t.name]
    this.tables[t.name] = t
    return prev
  }

  /** Compiles a rule without linking it to a table (iptables-restore builds tables first). */
  compileRule(spec: RuleSpec): Rule {
    return new Rule(spec, this.env)
  }

  /** Recomputes every ipset's rule reference count from the rules of all tables. */
  recountSetRefs(): void {
    for (const n of this.sets.names()) this.sets.get(n)!.ruleRefs = 0
    for (const tn of TABLE_NAMES)
      for (const c of this.tables[tn].chains.values()) for (const r of c.rules) this.addRefs(r, 1)
  }
}
