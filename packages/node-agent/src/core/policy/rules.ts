/**
 * One Felix rule → iptables rules (felix/rules/policy.go): inline when it fits, else "match
 * blocks" that AND/OR through the scratch mark bits. Pure; reports the IP sets it uses.
 */
import { parseSelector } from '@calilab/model'
import { comment, MARK_ACCEPT, MARK_PASS, MARK_SCRATCH0, MARK_SCRATCH1, markIs, setMark } from './marks.ts'
import { ipSetName, namedPortSetId } from './names.ts'
import type { FelixRule, PortRange } from './types.ts'

export const MULTIPORT_SLOTS = 15

export interface IpSetRef {
  kind: 'selector' | 'named-port'
  /** Set id (`s:…` / `n:…`). */
  id: string
  selector: string
  protocol?: 'tcp' | 'udp' | 'sctp'
  portName?: string
}

export interface RuleRenderContext {
  logPrefix: string
  /** Raw-table (untracked) chains allow with NOTRACK. */
  untracked: boolean
  /** Collected IP sets, keyed by set name. */
  sets: Map<string, IpSetRef>
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp', 136: 'udplite' }
const protoText = (n: number): string => PROTO_NAMES[n] ?? String(n)

function selectorSet(ctx: RuleRenderContext, sel: string): string {
  const s = parseSelector(sel)
  const name = ipSetName(s.uniqueId)
  if (!ctx.sets.has(name)) ctx.sets.set(name, { kind: 'selector', id: s.uniqueId, selector: s.toString() })
  return name
}

function namedPortSet(ctx: RuleRenderContext, sel: string | undefined, proto: number, port: string): string {
  const selector = parseSelector(sel ?? 'all()').toString()
  const p = (PROTO_NAMES[proto] ?? 'tcp') as 'tcp' | 'udp' | 'sctp'
  const id = namedPortSetId(selector, p, port)
  const name = ipSetName(id)
  if (!ctx.sets.has(name)) ctx.sets.set(name, { kind: 'named-port', id, selector, protocol: p, portName: port })
  return name
}

function portText(r: PortRange): string {
  return r.first === r.last ? `${r.first}` : `${r.first}:${r.last}`
}

/** Splits port ranges into multiport lists of at most 15 slots (a range costs 2). */
export function splitPorts(ranges: readonly PortRange[]): string[] {
  const out: string[] = []
  let cur: string[] = []
  let slots = 0
  for (const r of ranges) {
    const cost = r.first === r.last ? 1 : 2
    if (slots + cost > MULTIPORT_SLOTS) {
      out.push(cur.join(','))
      cur = []
      slots = 0
    }
    cur.push(portText(r))
    slots += cost
  }
  if (cur.length > 0) out.push(cur.join(','))
  return out
}

/** Match fragments that are ORed (one of them must match) — a "positive block". */
type Block = string[]

function actionRules(r: FelixRule, match: string, ctx: RuleRenderContext): string[] {
  const m = match === '' ? '' : `${match} `
  switch (r.action) {
    case 'allow':
      return ctx.untracked
        ? [
            `${m}-j NOTRACK`,
            `${m}${setMark(MARK_ACCEPT, MARK_ACCEPT)}`,
            `${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j RETURN`,
          ]
        : [`${m}${setMark(MARK_ACCEPT, MARK_ACCEPT)}`, `${markIs(MARK_ACCEPT, MARK_ACCEPT)} -j RETURN`]
    case 'next-tier':
      return [`${m}${setMark(MARK_PASS, MARK_PASS)}`, `${markIs(MARK_PASS, MARK_PASS)} -j RETURN`]
    case 'deny':
      return [`${m}-j DROP`]
    case 'log':
      return [`${m}-j LOG --log-prefix "${ctx.logPrefix}: " --log-level 5`]
  }
}

/** Renders one rule to iptables rule bodies (without `-A chain`); IPv6-only rules render nothing. */
export function renderRule(r: FelixRule, ctx: RuleRenderContext): string[] {
  if (r.ipVersion === 6) return []
  const inline: string[] = []
  const positive: Block[] = []
  const negative: Block[] = []
  const anns = Object.entries(r.annotations ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => comment(`${k}=${v}`))
  const proto = r.protocol !== undefined ? `-p ${protoText(r.protocol)}` : ''
  if (proto) inline.push(proto)
  if (r.notProtocol !== undefined) inline.push(`! -p ${protoText(r.notProtocol)}`)
  const withProto = (x: string): string => (proto ? `${proto} ${x}` : x)

  // Nets: one positive CIDR per side inline; several → a block. One negated CIDR inline; several → block.
  for (const [nets, flag] of [
    [r.srcNets, '-s'],
    [r.dstNets, '-d'],
  ] as const) {
    if (nets.length === 1) inline.push(`${flag} ${nets[0]}`)
    else if (nets.length > 1) positive.push(nets.map((n) => `${flag} ${n}`))
  }
  for (const [nets, flag, pos] of [
    [r.notSrcNets, '-s', r.srcNets.length],
    [r.notDstNets, '-d', r.dstNets.length],
  ] as const) {
    // iptables takes one -s/-d per rule: a negated CIDR next to an inline positive one goes to a block.
    if (nets.length === 1 && pos !== 1) inline.push(`! ${flag} ${nets[0]}`)
    else if (nets.length > 0) negative.push(nets.map((n) => `${flag} ${n}`))
  }

  // Selectors and ports, per side.
  for (const side of ['src', 'dst'] as const) {
    const sel = side === 'src' ? r.srcSelector : r.dstSelector
    const notSel = side === 'src' ? r.notSrcSelector : r.notDstSelector
    const ports = side === 'src' ? r.srcPorts : r.dstPorts
    const named = side === 'src' ? r.srcNamedPorts : r.dstNamedPorts
    const notPorts = side === 'src' ? r.notSrcPorts : r.notDstPorts
    const notNamed = side === 'src' ? r.notSrcNamedPorts : r.notDstNamedPorts
    const pflag = side === 'src' ? '--sports' : '--dports'
    const selMatch = sel !== undefined ? `-m set --match-set ${selectorSet(ctx, sel)} ${side}` : undefined
    const portLists = splitPorts(ports)
    if (named.length === 0 && portLists.length <= 1) {
      if (selMatch) inline.push(selMatch)
      if (portLists.length === 1) inline.push(`-m multiport ${pflag} ${portLists[0]}`)
    } else {
      // Alternatives: (selector AND numeric chunk) or (named-port set, which already carries the selector).
      const alts: string[] = []
      for (const pl of portLists) alts.push(withProto(`${selMatch ? `${selMatch} ` : ''}-m multiport ${pflag} ${pl}`))
      for (const n of named)
        alts.push(`-m set --match-set ${namedPortSet(ctx, sel, r.protocol ?? 6, n)} ${side},${side}`)
      positive.push(alts)
    }
    if (notSel !== undefined) inline.push(`-m set ! --match-set ${selectorSet(ctx, notSel)} ${side}`)
    const notLists = splitPorts(notPorts)
    if (notLists.length === 1 && notNamed.length === 0) {
      inline.push(`-m multiport ! ${pflag} ${notLists[0]}`)
    } else {
      const alts: string[] = notLists.map((pl) => withProto(`-m multiport ${pflag} ${pl}`))
      for (const n of notNamed)
        alts.push(`-m set --match-set ${namedPortSet(ctx, sel, r.protocol ?? 6, n)} ${side},${side}`)
      if (alts.length > 0) negative.push(alts)
    }
  }

  if (r.icmpType !== undefined)
    inline.push(`-m icmp --icmp-type ${r.icmpType}${r.icmpCode !== undefined ? `/${r.icmpCode}` : ''}`)
  if (r.notIcmpType !== undefined)
    inline.push(`-m icmp ! --icmp-type ${r.notIcmpType}${r.notIcmpCode !== undefined ? `/${r.notIcmpCode}` : ''}`)

  const head = anns.join(' ')
  const join = (...xs: string[]) => xs.filter((x) => x !== '').join(' ')
  if (positive.length === 0 && negative.length === 0) {
    return actionRules(r, join(head, ...inline), ctx)
  }
  const out: string[] = []
  if (positive.length === 0) out.push(setMark(MARK_SCRATCH0, MARK_SCRATCH0 | MARK_SCRATCH1))
  positive.forEach((alts, i) => {
    if (i === 0) {
      out.push(setMark(0, MARK_SCRATCH0 | MARK_SCRATCH1))
      for (const a of alts) out.push(`${a} ${setMark(MARK_SCRATCH0, MARK_SCRATCH0)}`)
    } else {
      out.push(setMark(0, MARK_SCRATCH1))
      for (const a of alts) out.push(`${a} ${setMark(MARK_SCRATCH1, MARK_SCRATCH1)}`)
      out.push(`${markIs(0, MARK_SCRATCH1)} ${setMark(0, MARK_SCRATCH0)}`)
    }
  })
  for (const alts of negative) for (const a of alts) out.push(`${a} ${setMark(0, MARK_SCRATCH0)}`)
  out.push(...actionRules(r, join(head, ...inline, markIs(MARK_SCRATCH0, MARK_SCRATCH0)), ctx))
  return out
}
