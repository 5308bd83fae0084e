/**
 * `calilab trace` on the node side: runs one packet through the node's emulated kernel with
 * tracing on, then tells a learner what happened — each hook, table and chain, the rule that
 * matched (as `iptables -S` prints it, with its counters), the verdict, and one line of why,
 * with Felix's hashed chain names mapped back to the policy, profile or endpoint they belong to.
 * The verdict is the kernel's (the rendered rules), never a second evaluator's.
 */
import {
  buildIcmpEcho,
  buildTcp,
  buildUdp,
  type Host,
  type Netns,
  type PacketTraceStep,
  saveRule,
  TCP_SYN,
} from '@calilab/dataplane'
import { formatIPv4, parseIPv4 } from '@calilab/model'
import { chainNames as N, type PolicyState } from '../core/policy/index.ts'
import { formatDecap, formatEncap, formatTcStep, isQuietTc } from './trace-tc.ts'

// ---------------------------------------------------------------------------------------------
// Chain names → owners

export type ChainOwner =
  | { kind: 'policy'; id: string; direction: 'ingress' | 'egress' }
  | { kind: 'profile'; id: string; direction: 'ingress' | 'egress' }
  | { kind: 'workload'; id: string; direction: 'ingress' | 'egress' }
  | { kind: 'host'; id: string; direction: 'ingress' | 'egress'; forward?: boolean }

export type ChainNameTable = ReadonlyMap<string, ChainOwner>

/** The rendering's name table: every policy/profile/endpoint chain name → what it belongs to. */
export function chainNameTable(state: PolicyState, node: string): Map<string, ChainOwner> {
  const m = new Map<string, ChainOwner>()
  for (const p of state.policies) {
    m.set(N.policyIn(p.id), { kind: 'policy', id: p.id, direction: 'ingress' })
    m.set(N.policyOut(p.id), { kind: 'policy', id: p.id, direction: 'egress' })
  }
  for (const p of state.profiles) {
    m.set(N.profileIn(p.id), { kind: 'profile', id: p.id, direction: 'ingress' })
    m.set(N.profileOut(p.id), { kind: 'profile', id: p.id, direction: 'egress' })
  }
  for (const e of state.endpoints) {
    if (e.node !== node || e.iface === '') continue
    if (e.kind === 'workload') {
      m.set(N.toWorkload(e.iface), { kind: 'workload', id: e.id, direction: 'ingress' })
      m.set(N.fromWorkload(e.iface), { kind: 'workload', id: e.id, direction: 'egress' })
    } else {
      m.set(N.fromHost(e.iface), { kind: 'host', id: e.id, direction: 'ingress' })
      m.set(N.toHost(e.iface), { kind: 'host', id: e.id, direction: 'egress' })
      m.set(N.fromHostForward(e.iface), { kind: 'host', id: e.id, direction: 'ingress', forward: true })
      m.set(N.toHostForward(e.iface), { kind: 'host', id: e.id, direction: 'egress', forward: true })
    }
  }
  return m
}

export function describeOwner(o: ChainOwner): string {
  const dir = o.direction
  switch (o.kind) {
    case 'policy':
      return `policy ${o.id} (${dir})`
    case 'profile':
      return `profile ${o.id} (${dir})`
    case 'workload':
      return dir === 'ingress' ? `to workload ${o.id}` : `from workload ${o.id}`
    case 'host':
      return `${dir === 'ingress' ? 'from' : 'to'} host endpoint ${o.id}${o.forward ? ' (forwarded traffic)' : ''}`
  }
}

// ---------------------------------------------------------------------------------------------
// The packet

export type TraceProto = 'tcp' | 'udp' | 'icmp'

export interface TraceSpec {
  src: string
  dst: string
  proto: TraceProto
  /** Destination port (tcp/udp). */
  dport?: number
  sport?: number
  /** Inject as received on this root-namespace link (default: from the namespace that owns src, else eth0). */
  iif?: string
}

export interface RuleInfo {
  /** As `iptables -S` prints it. */
  text: string
  pkts: number
  bytes: number
}

/** Looks up rule `n` (1-based) of a chain in a namespace as it is now. */
export type RuleLookup = (ns: string, table: string, chain: string, n: number) => RuleInfo | undefined

export type TraceVerdict = 'allowed' | 'denied' | 'dropped'

/** The underlay packet a held trace would have sent to the next node (plain, IPIP or VXLAN). */
export interface HeldUnderlay {
  nextHop: string
  packet: Uint8Array
}

export interface TraceReport {
  spec: TraceSpec
  verdict: TraceVerdict
  /** One line: why. */
  reason: string
  /** The whole walk, formatted for a person. */
  text: string
  steps: PacketTraceStep[]
  /** With `hold`: the packet left for another node and was kept here, to be traced there. */
  underlay?: HeldUnderlay
}

export interface TraceOptions {
  /**
   * Keep the packet this trace sends into the underlay instead of sending it, so the caller can
   * walk it through the next node with `traceArrival` (a real send would reach that node untraced
   * and leave conntrack state there that the traced copy would then match).
   */
  hold?: boolean
}

function buildPacket(s: TraceSpec, sport: number): Uint8Array {
  const src = parseIPv4(s.src)
  const dst = parseIPv4(s.dst)
  if (s.proto === 'tcp') return buildTcp({ src, dst, sport, dport: s.dport ?? 0, flags: TCP_SYN, seq: 1, ttl: 64 })
  if (s.proto === 'udp') return buildUdp({ src, dst, sport, dport: s.dport ?? 0, ttl: 64 })
  return buildIcmpEcho({ src, dst, kind: 'request', icmpId: sport & 0xffff, icmpSeq: 1, ttl: 64 })
}

/** A rule lookup over a host's namespaces (counters as they are after the packet). */
export function hostRuleLookup(host: Host): RuleLookup {
  return (nsName, table, chain, n) => {
    const ns = host.namespaces().find((x) => x.name === nsName)
    const r = ns?.nf.chain(table as 'filter', chain)?.rules[n - 1]
    if (!r) return undefined
    return { text: saveRule(chain, r), pkts: r.pkts, bytes: r.bytes }
  }
}

/**
 * Runs a packet through `host`: from the namespace that owns `src` (a pod's: its own stack first),
 * or received on `iif` / eth0 of the root namespace. The packet is real: a SYN to a listening pod
 * is answered (and the stray answer reset by the source), and counters move. Source port: `spec.sport`,
 * else 61000 (above the ephemeral range, so it never collides with a real connection's tuple).
 */
export function tracePacket(host: Host, spec: TraceSpec, names: ChainNameTable, o: TraceOptions = {}): TraceReport {
  const steps: PacketTraceStep[] = []
  const sport = spec.sport ?? 61000
  const pkt = buildPacket(spec, sport)
  const src = parseIPv4(spec.src)
  const owner: Netns | undefined = spec.iif ? undefined : host.namespaces().find((n) => n.isLocal(src))
  const held = holding(host, steps, o.hold === true, () => {
    if (owner) owner.output(pkt, { trace: steps })
    else host.root.receive(pkt, spec.iif ?? 'eth0', { trace: steps })
  })
  const full: TraceSpec = { ...spec, sport }
  const r = formatTrace(full, steps, hostRuleLookup(host), names)
  return { spec: full, steps, ...r, ...(held ? { underlay: held } : {}) }
}

/**
 * The second half of a trace that crossed nodes: `packet` (what the previous node's held trace
 * sent into the underlay) arrives on `iif` (eth0) of this node and walks its kernel, decap and
 * policy included. `spec` describes the inner packet for the report's first line.
 */
export function traceArrival(
  host: Host,
  spec: TraceSpec,
  packet: Uint8Array,
  names: ChainNameTable,
  o: TraceOptions = {},
): TraceReport {
  const steps: PacketTraceStep[] = []
  const iif = spec.iif ?? 'eth0'
  const held = holding(host, steps, o.hold === true, () => host.root.receive(packet, iif, { trace: steps }))
  const full: TraceSpec = { ...spec, iif }
  const r = formatTrace(full, steps, hostRuleLookup(host), names)
  return { spec: full, steps, ...r, ...(held ? { underlay: held } : {}) }
}

/** Runs `walk` with the host's underlay swapped for one that keeps the traced packet's send. */
function holding(host: Host, steps: PacketTraceStep[], hold: boolean, walk: () => void): HeldUnderlay | undefined {
  const real = host.underlay
  if (!hold || !real) {
    walk()
    return undefined
  }
  let held: HeldUnderlay | undefined
  host.setUnderlay({
    send(nextHop, bytes) {
      // The traced packet's send comes right after its `underlay` step; anything else (a stray
      // answer, another flow's packet) goes out as usual.
      const last = steps[steps.length - 1]
      if (!held && last?.kind === 'underlay' && last.nextHop === nextHop)
        held = { nextHop: formatIPv4(nextHop), packet: bytes.slice() }
      else real.send(nextHop, bytes)
    },
  })
  try {
    walk()
  } finally {
    host.setUnderlay(real)
  }
  return held
}

// ---------------------------------------------------------------------------------------------
// Formatting (pure given the lookups)

const DROP_TEXT: Record<string, string> = {
  NO_ROUTE: 'no route to the destination',
  BLACKHOLE: 'a blackhole route',
  UNREACHABLE: 'an unreachable route',
  TTL_EXCEEDED: 'TTL exceeded',
  LINK_DOWN: 'the link is down',
  NO_SOCKET: 'no socket is listening',
  NO_NEIGHBOUR: 'no neighbour answers on the next hop',
  CT_FULL: 'the conntrack table is full',
  NO_UNDERLAY: 'no underlay to the next node',
  PARSE_ERROR: 'a malformed packet',
  BAD_CHECKSUM: 'a bad checksum',
  TC_DROP: 'the eBPF tc program dropped it',
  WG_NO_PEER: 'no WireGuard peer owns the destination',
  WG_AUTH: 'a WireGuard message that did not authenticate (unknown peer, replay, bad tag or source not allowed)',
}

function specLine(s: TraceSpec): string {
  const port = s.proto === 'icmp' ? '' : `:${s.dport ?? 0}`
  const sport = s.proto === 'icmp' || s.sport === undefined ? '' : `:${s.sport}`
  return `${s.proto.toUpperCase()} ${s.src}${sport} -> ${s.dst}${port}${s.proto === 'tcp' ? ' [SYN]' : ''}`
}

const isEndpointOwner = (o: ChainOwner | undefined) => o?.kind === 'workload' || o?.kind === 'host'

interface Decision {
  verdict: TraceVerdict
  reason: string
}

/** Why: from the rule steps (in order) and the final step. */
export function explain(
  steps: readonly PacketTraceStep[],
  rules: RuleLookup,
  names: ChainNameTable,
  spec?: TraceSpec,
): Decision {
  const drop = steps.find((s) => s.kind === 'drop')
  const ruleSteps = steps.filter((s): s is Extract<PacketTraceStep, { kind: 'rule' }> => s.kind === 'rule')
  if (drop && drop.kind === 'drop' && (drop.reason === 'NF_DROP' || drop.reason === 'NF_REJECT')) {
    const mine = ruleSteps.filter((s) => s.ns === drop.ns)
    const last = [...mine].reverse().find((s) => s.step.kind === 'policy' || ['DROP', 'REJECT'].includes(s.step.target))
    if (!last) return { verdict: 'denied', reason: `dropped by netfilter in ${drop.ns}` }
    const st = last.step
    if (st.kind === 'policy')
      return { verdict: 'denied', reason: `dropped by the ${st.table} ${st.chain} chain policy` }
    const text = rules(last.ns, st.table, st.chain, st.rule)?.text ?? ''
    const owner = names.get(st.chain)
    // Policies visited since the last endpoint chain was entered.
    const idx = mine.indexOf(last)
    const visited: ChainOwner[] = []
    for (let i = idx; i >= 0; i--) {
      const step = mine[i]!.step
      if (isEndpointOwner(names.get(step.chain)) && step.chain !== st.chain) break
      for (const o of [names.get(step.chain), names.get(step.target)])
        if (o && (o.kind === 'policy' || o.kind === 'profile') && !visited.some((v) => v.id === o.id))
          visited.unshift(o)
    }
    const pols = visited.filter((v) => v.kind === 'policy').map((v) => v.id)
    const profs = visited.filter((v) => v.kind === 'profile').map((v) => v.id)
    if (owner?.kind === 'policy')
      return { verdict: 'denied', reason: `denied by policy ${owner.id}: a Deny rule matched` }
    if (owner?.kind === 'profile')
      return { verdict: 'denied', reason: `denied by profile ${owner.id}: a Deny rule matched` }
    if (text.includes('Drop if no policies passed packet')) {
      const who = pols.length > 1 ? `policies ${pols.join(', ')}` : `policy ${pols[0] ?? '(none)'}`
      return { verdict: 'denied', reason: `denied by ${who}: no rule allowed it (default deny)` }
    }
    if (text.includes('Drop if no profiles matched')) {
      const who = profs.length > 0 ? profs.join(', ') : 'none'
      return {
        verdict: 'denied',
        reason: `denied: no policy applies and no profile allowed it (profiles: ${who})`,
      }
    }
    if (text.includes('Endpoint admin disabled')) return { verdict: 'denied', reason: 'denied: the endpoint is down' }
    if (text.includes('DefaultEndpointToHostAction'))
      return { verdict: 'denied', reason: 'denied: workload to host traffic (DefaultEndpointToHostAction DROP)' }
    if (text.includes('Unknown interface'))
      return { verdict: 'denied', reason: `denied: unknown Calico interface (no endpoint for it on this node)` }
    if (text.includes('IPinIP') || text.includes('VXLAN'))
      return { verdict: 'denied', reason: 'denied: encapsulated packets from workloads are dropped' }
    return { verdict: 'denied', reason: `dropped by ${st.table} ${st.chain} rule ${st.rule}: ${text}` }
  }
  if (drop && drop.kind === 'drop') {
    const d = DROP_TEXT[drop.reason] ?? drop.reason
    return {
      verdict: 'dropped',
      reason: `dropped in ${drop.ns || 'root'}: ${d}${drop.detail ? ` (${drop.detail})` : ''}`,
    }
  }
  // Allowed: who accepted it, per endpoint chain.
  const allowedBy: string[] = []
  let lastOwner: ChainOwner | undefined
  let sawEndpoint = false
  for (const s of ruleSteps) {
    const o = names.get(s.step.chain)
    for (const x of [o, names.get(s.step.target)]) if (x && (x.kind === 'policy' || x.kind === 'profile')) lastOwner = x
    if (!isEndpointOwner(o)) continue
    sawEndpoint = true
    const text = rules(s.ns, s.step.table, s.step.chain, s.step.rule)?.text ?? ''
    if ((text.includes('Return if policy accepted') || text.includes('Return if profile accepted')) && lastOwner) {
      allowedBy.push(`${lastOwner.kind} ${lastOwner.id}`)
      lastOwner = undefined
    } else if (text.includes('Allow forwarded traffic by default')) {
      allowedBy.push('default (no forward policy)')
    }
  }
  const tail = steps[steps.length - 1]
  let where = ''
  if (tail?.kind === 'deliver' && !tail.socket && tail.proto !== 1)
    where = ` (no socket listens on that port: the destination answers with ${tail.proto === 6 ? 'a reset' : 'ICMP port unreachable'})`
  if (tail?.kind === 'underlay') where = ` (left the node for ${formatIPv4(tail.nextHop)})`
  if (allowedBy.length === 0)
    return {
      verdict: 'allowed',
      reason: `allowed: ${sawEndpoint ? 'accepted' : 'no Calico endpoint on this path, no policy applies'}${where}`,
    }
  const uniq = [...new Set(allowedBy)]
  void spec
  return { verdict: 'allowed', reason: `allowed by ${uniq.join(' and ')}${where}` }
}

const counters = (r: RuleInfo | undefined) => (r ? `   [${r.pkts} pkts, ${r.bytes} bytes]` : '')

/** The walk as text (one block per hook) plus the verdict and reason. */
export function formatTrace(
  spec: TraceSpec,
  steps: readonly PacketTraceStep[],
  rules: RuleLookup,
  names: ChainNameTable,
  o: { verbose?: boolean } = {},
): { verdict: TraceVerdict; reason: string; text: string } {
  const out: string[] = [`packet ${specLine(spec)}`]
  const nsOf = (s: { ns: string }) => `[${s.ns === '' ? 'root' : s.ns}]`
  let pending: Extract<PacketTraceStep, { kind: 'rule' }>[] = []
  for (const s of steps) {
    switch (s.kind) {
      case 'rule':
        pending.push(s)
        break
      case 'hook': {
        // A hook with no rules (only the built-in chain's ACCEPT policy) is noise unless asked for.
        if (!o.verbose && s.verdict === 'ACCEPT' && pending.every((r) => r.step.kind === 'policy')) {
          pending = []
          break
        }
        out.push(`${nsOf(s)} ${s.table} ${s.hook}`)
        let chain = ''
        for (let i = 0; i < pending.length; i++) {
          const r = pending[i]!
          const st = r.step
          if (st.chain !== chain) {
            chain = st.chain
            const o = names.get(chain)
            out.push(`    ${chain}${o ? `  (${describeOwner(o)})` : ''}`)
          }
          if (st.kind === 'return') out.push(`      <- back in ${st.chain} after rule ${st.rule}`)
          else if (st.kind === 'policy') out.push(`      policy ${st.target}`)
          else {
            const info = rules(r.ns, st.table, st.chain, st.rule)
            const to = names.get(st.target)
            const annotate = to?.kind === 'policy' || to?.kind === 'profile'
            out.push(
              `      ${info?.text ?? `rule ${st.rule} -> ${st.target}`}${counters(info)}${annotate ? `  # ${describeOwner(to)}` : ''}`,
            )
            const next = pending[i + 1]
            if (st.target.startsWith('cali-') && next && next.step.chain !== st.target && next.step.kind !== 'return')
              out.push(`        (no rule in ${st.target} matched)`)
          }
        }
        pending = []
        out.push(`  => ${s.verdict}`)
        break
      }
      case 'rx':
        out.push(`${nsOf(s)} received on ${s.dev}: ${s.summary}`)
        break
      case 'tx':
        out.push(`${nsOf(s)} sent on ${s.dev}: ${s.summary}`)
        break
      case 'conntrack':
        out.push(`${nsOf(s)} conntrack ${s.state}${s.nat ? ` (${s.nat})` : ''}`)
        break
      case 'route':
        out.push(
          `${nsOf(s)} route: ${s.decision}${s.dev ? ` dev ${s.dev}` : ''}${s.via !== undefined ? ` via ${formatIPv4(s.via)}` : ''}${s.route ? ` (${s.route})` : ''}`,
        )
        break
      case 'encap':
        out.push(formatEncap(s, nsOf(s)))
        break
      case 'decap':
        out.push(formatDecap(s, nsOf(s)))
        break
      case 'tc':
        if (o.verbose || !isQuietTc(s)) out.push(...formatTcStep(s, nsOf(s)))
        break
      case 'underlay':
        out.push(`${nsOf(s)} to the underlay, next hop ${formatIPv4(s.nextHop)}`)
        break
      case 'deliver':
        out.push(
          `${nsOf(s)} delivered locally${s.proto === 1 ? '' : ` to port ${s.port}`}${s.socket ? '' : ' (no socket)'}`,
        )
        break
      case 'drop':
        out.push(`${nsOf(s)} DROPPED: ${s.reason}${s.detail ? ` (${s.detail})` : ''}`)
        break
      case 'icmp-error':
        out.push(`${nsOf(s)} ICMP error type ${s.type} code ${s.code} sent back`)
        break
    }
  }
  const d = explain(steps, rules, names, spec)
  out.push(`verdict: ${d.verdict.toUpperCase()}: ${d.reason}`)
  return { ...d, text: `${out.join('\n')}\n` }
}
