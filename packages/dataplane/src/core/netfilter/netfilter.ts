/**
 * The iptables state of one node: four tables of chains of compiled rules, with counters, and
 * `traverse`, the kernel's ipt_do_table (jump pushes a return point, goto does not, RETURN or
 * the end of a user chain pops, the end of a built-in chain applies its policy).
 */
import { type CompileEnv, compileMatch, type EvalContext, type Predicate, setsOf } from './compile.ts'
import { NetfilterError } from './errors.ts'
import type { IpSetStore } from './ipset.ts'
import { saveRuleSpec } from './print.ts'
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

// Target kinds, for a switch on small integers in the hot loop.
const K_NONE = 0
const K_ACCEPT = 1
const K_DROP = 2
const K_RETURN = 3
const K_REJECT = 4
const K_JUMP = 5
const K_GOTO = 6
const K_MARK = 7
const K_NAT = 8
const K_LOG = 9
const K_NOTRACK = 10

function kindOf(t: TargetSpec | undefined): number {
  if (!t) return K_NONE
  switch (t.t) {
    case 'ACCEPT':
      return K_ACCEPT
    case 'DROP':
      return K_DROP
    case 'RETURN':
      return K_RETURN
    case 'REJECT':
      return K_REJECT
    case 'JUMP':
      return t.goto ? K_GOTO : K_JUMP
    case 'MARK':
      return K_MARK
    case 'DNAT':
    case 'SNAT':
    case 'MASQUERADE':
      return K_NAT
    case 'LOG':
      return K_LOG
    case 'CT':
      return K_NOTRACK
  }
}

export class Rule {
  readonly spec: RuleSpec
  readonly match: Predicate
  readonly kind: number
  /** Resolved jump/goto target (set when the rule is linked into a table). */
  jump: Chain | undefined
  readonly markValue: number
  readonly markMask: number
  pkts = 0
  bytes = 0
  /** iptables-save text without `-A CHAIN` (rule identity for -D/-C and counter carry-over). */
  readonly key: string

  constructor(spec: RuleSpec, env: CompileEnv) {
    this.spec = spec
    this.match = compileMatch(spec, env)
    this.kind = kindOf(spec.target)
    this.markValue = spec.target?.t === 'MARK' ? spec.target.value : 0
    this.markMask = spec.target?.t === 'MARK' ? spec.target.mask : 0
    this.key = saveRuleSpec(spec)
  }
}

export class Chain {
  name: string
  readonly builtin: boolean
  policy: Policy
  pkts = 0
  bytes = 0
  rules: Rule[] = []
  constructor(name: string, builtin: boolean, policy: Policy = 'ACCEPT') {
    this.name = name
    this.builtin = builtin
    this.policy = policy
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

export class Netfilter {
  readonly sets: IpSetStore
  tables: Record<TableName, Table>
  private readonly env: CompileEnv
  private readonly stackChain: Chain[] = new Array(MAX_DEPTH)
  private readonly stackIdx = new Int32Array(MAX_DEPTH)

  constructor(sets: IpSetStore) {
    this.sets = sets
    this.env = { sets }
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
    for (const n of setsOf(r.spec)) {
      const s = this.sets.get(n)
      if (s) s.ruleRefs += d
    }
  }

  append(table: TableName, chain: string, spec: RuleSpec): Rule {
    const c = this.mustChain(table, chain)
    const r = this.makeRule(table, spec)
    c.rules.push(r)
    this.addRefs(r, 1)
    return r
  }

  /** -I CHAIN [n] (1-based; default 1). */
  insert(table: TableName, chain: string, spec: RuleSpec, index = 1): Rule {
    const c = this.mustChain(table, chain)
    if (index < 1 || index > c.rules.length + 1)
      throw new NetfilterError('NF_BAD_RULE_INDEX', 'iptables: Index of insertion too big.', { index })
    const r = this.makeRule(table, spec)
    c.rules.splice(index - 1, 0, r)
    this.addRefs(r, 1)
    return r
  }

  replace(table: TableName, chain: string, index: number, spec: RuleSpec): Rule {
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
    out.reset()
    const start = this.tables[table].chains.get(chain)
    if (!start)
      throw new NetfilterError('NF_NO_CHAIN', 'iptables: No chain/target/match by that name.', { table, chain })
    const trace = ctx.trace
    const stackChain = this.stackChain
    const stackIdx = this.stackIdx
    let sp = 0
    let c = start
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
        return this.policy(start, table, len, out, trace)
      }
      const r = rules[i++]!
      if (!r.match(p, ctx)) continue
      r.pkts++
      r.bytes += len
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
          return out
        case K_DROP:
          out.verdict = 'DROP'
          out.rule = r
          return out
        case K_REJECT:
          out.verdict = 'REJECT'
          out.rejectWith = (r.spec.target as { with: RejectWith }).with
          out.rule = r
          return out
        case K_RETURN:
          if (sp > 0) {
            sp--
            c = stackChain[sp]!
            i = stackIdx[sp]!
            if (trace) trace.push({ table, chain: c.name, rule: i, target: 'RETURN', kind: 'return' })
            continue
          }
          return this.policy(start, table, len, out, trace)
        case K_JUMP:
          if (sp >= MAX_DEPTH) {
            out.verdict = 'DROP'
            out.rule = r
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
