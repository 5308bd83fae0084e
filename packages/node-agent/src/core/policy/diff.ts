/**
 * What changed between two renderings, and the `iptables-restore --noflush` / `ipset restore`
 * text that takes a dataplane programmed with the first to the second, touching only that.
 */
import {
  APPENDED_HOOK_RULES,
  KERNEL_CHAINS,
  type NodeRendering,
  RENDERED_TABLES,
  type RenderedIpSet,
  type RenderedTableName,
} from './render.ts'

export interface TableDiff {
  /** New or changed chains with their full new contents. */
  upserts: Map<string, readonly string[]>
  removes: string[]
}

export interface IpSetDiff {
  creates: RenderedIpSet[]
  adds: Map<string, string[]>
  dels: Map<string, string[]>
  removes: string[]
}

export interface RenderingDiff {
  tables: Record<RenderedTableName, TableDiff>
  ipsets: IpSetDiff
}

const EMPTY: NodeRendering = {
  tables: { raw: new Map(), mangle: new Map(), filter: new Map() },
  ipsets: new Map(),
}

const same = (a: readonly string[] | undefined, b: readonly string[]) =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i])

export function diffRenderings(prev: NodeRendering | undefined, next: NodeRendering): RenderingDiff {
  const p = prev ?? EMPTY
  const tables = {} as Record<RenderedTableName, TableDiff>
  for (const t of RENDERED_TABLES) {
    const upserts = new Map<string, readonly string[]>()
    for (const [name, rules] of next.tables[t]) if (!same(p.tables[t].get(name), rules)) upserts.set(name, rules)
    const removes = [...p.tables[t].keys()].filter((n) => !next.tables[t].has(n))
    tables[t] = { upserts, removes }
  }
  const ipsets: IpSetDiff = { creates: [], adds: new Map(), dels: new Map(), removes: [] }
  for (const [name, set] of next.ipsets) {
    const old = p.ipsets.get(name)
    if (!old) {
      ipsets.creates.push(set)
      continue
    }
    const o = new Set(old.members)
    const n = new Set(set.members)
    const adds = set.members.filter((m) => !o.has(m))
    const dels = old.members.filter((m) => !n.has(m))
    if (adds.length > 0) ipsets.adds.set(name, adds)
    if (dels.length > 0) ipsets.dels.set(name, dels)
  }
  for (const name of p.ipsets.keys()) if (!next.ipsets.has(name)) ipsets.removes.push(name)
  return { tables, ipsets }
}

export function isEmptyDiff(d: RenderingDiff): boolean {
  return (
    RENDERED_TABLES.every((t) => d.tables[t].upserts.size === 0 && d.tables[t].removes.length === 0) &&
    d.ipsets.creates.length === 0 &&
    d.ipsets.adds.size === 0 &&
    d.ipsets.dels.size === 0 &&
    d.ipsets.removes.length === 0
  )
}

/** The chains a diff touches, as `table/chain` (for logs and tests). */
export function touchedChains(d: RenderingDiff): string[] {
  return RENDERED_TABLES.flatMap((t) => [...d.tables[t].upserts.keys(), ...d.tables[t].removes].map((c) => `${t}/${c}`))
}

/**
 * `iptables-restore --noflush` text for a diff. User chains are re-declared (which flushes them)
 * and refilled; removed chains are flushed then deleted; Felix's rules in kernel chains are
 * deleted one by one and re-inserted at the top (the FORWARD tail appended), leaving other
 * owners' rules alone.
 */
export function toIptablesRestoreDelta(prev: NodeRendering | undefined, d: RenderingDiff): string {
  // Pieces joined once at the end: one flat string, without a rope of 100k+ concatenations.
  const out: string[] = []
  for (const t of RENDERED_TABLES) {
    const { upserts, removes } = d.tables[t]
    if (upserts.size === 0 && removes.length === 0) continue
    const kernel = KERNEL_CHAINS[t]
    out.push(`*${t}\n`)
    for (const name of upserts.keys()) if (!kernel.includes(name)) out.push(`:${name} - [0:0]\n`)
    for (const [name, rules] of upserts) {
      if (kernel.includes(name)) continue
      const head = `-A ${name} `
      for (const r of rules) out.push(head, r, '\n')
    }
    for (const [name, rules] of upserts) {
      if (!kernel.includes(name)) continue
      for (const r of prev?.tables[t].get(name) ?? []) out.push(`-D ${name} ${r}\n`)
      const appended = t === 'filter' && name === 'FORWARD' ? APPENDED_HOOK_RULES : 0
      rules.slice(0, rules.length - appended).forEach((r, i) => {
        out.push(`-I ${name} ${i + 1} ${r}\n`)
      })
      for (const r of rules.slice(rules.length - appended)) out.push(`-A ${name} ${r}\n`)
    }
    for (const name of removes)
      if (kernel.includes(name)) for (const r of prev?.tables[t].get(name) ?? []) out.push(`-D ${name} ${r}\n`)
    for (const name of removes) if (!kernel.includes(name)) out.push(`-F ${name}\n`)
    for (const name of removes) if (!kernel.includes(name)) out.push(`-X ${name}\n`)
    out.push('COMMIT\n')
  }
  return out.join('')
}

/** `ipset restore` text for a diff: `before` runs ahead of the iptables update, `after` behind it. */
export function toIpsetRestoreDelta(d: RenderingDiff): { before: string; after: string } {
  let before = ''
  for (const set of d.ipsets.creates) {
    before += `create ${set.name} ${set.type} family inet hashsize 1024 maxelem 1048576\n`
    for (const m of set.members) before += `add ${set.name} ${m}\n`
  }
  for (const [name, adds] of d.ipsets.adds) for (const m of adds) before += `add ${name} ${m}\n`
  for (const [name, dels] of d.ipsets.dels) for (const m of dels) before += `del ${name} ${m}\n`
  let after = ''
  for (const name of d.ipsets.removes) after += `destroy ${name}\n`
  return { before, after }
}
