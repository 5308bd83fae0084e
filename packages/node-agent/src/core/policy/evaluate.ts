/**
 * A small direct evaluator of Felix's policy model (no iptables): the reference the rendered
 * chains are checked against. Tiers in order; in a tier, policies in order, rules in order
 * (Log continues, Pass leaves the tier); a tier with applicable policies and no verdict denies;
 * then profiles (Pass moves to the next profile); no profile allows → deny.
 */
import { cidrContains, type Labels, parseIPv4, parseSelector, type Selector } from '@calilab/model'
import { effectiveLabels } from './convert.ts'
import { sortPolicies } from './render.ts'
import type { FelixPolicy, FelixProfile, FelixRule, PolicyEndpoint, PolicyState, PortRange } from './types.ts'

export interface RefPacket {
  src: string
  dst: string
  protocol: number
  srcPort: number
  dstPort: number
  icmpType?: number
  icmpCode?: number
}

export type RefVerdict = 'allow' | 'deny'
export type Direction = 'ingress' | 'egress'

interface Thing {
  labels: Labels
  nets: string[]
  ports: NonNullable<PolicyEndpoint['ports']>
}

export class ReferenceEvaluator {
  private readonly profiles: Map<string, FelixProfile>
  private readonly sorted: FelixPolicy[]
  private readonly things: Thing[]
  private readonly sels = new Map<string, Selector>()

  constructor(state: PolicyState) {
    this.profiles = new Map(state.profiles.map((p) => [p.id, p]))
    this.sorted = sortPolicies(state.policies)
    this.things = [
      ...state.endpoints.map((e) => ({
        labels: this.labelsOf(e.labels, e.profileIds),
        nets: e.ips.map((i) => `${i}/32`),
        ports: e.ports ?? [],
      })),
      ...state.networkSets.map((s) => ({ labels: this.labelsOf(s.labels, s.profileIds), nets: s.nets, ports: [] })),
    ]
  }

  private labelsOf(own: Labels, parents: readonly string[]): Labels {
    return effectiveLabels(own, parents, this.profiles)
  }

  private sel(s: string): Selector {
    let x = this.sels.get(s)
    if (!x) this.sels.set(s, (x = parseSelector(s)))
    return x
  }

  /** Verdict of a workload endpoint's policy for one direction. */
  endpointVerdict(ep: PolicyEndpoint, dir: Direction, pkt: RefPacket): RefVerdict {
    const labels = this.labelsOf(ep.labels, ep.profileIds)
    const applies = (p: FelixPolicy) =>
      !p.preDNAT && !p.doNotTrack && (dir === 'ingress' ? p.ingress : p.egress) && this.sel(p.selector).evaluate(labels)
    const v = this.policies(this.sorted.filter(applies), dir, pkt)
    if (v !== 'pass') return v
    for (const id of ep.profileIds) {
      const prof = this.profiles.get(id)
      if (!prof) continue
      const r = this.rules(dir === 'ingress' ? prof.inbound : prof.outbound, pkt)
      if (r === 'allow' || r === 'deny') return r
    }
    return 'deny'
  }

  /** Tiers of applicable policies; 'pass' = go on to profiles. */
  policies(list: readonly FelixPolicy[], dir: Direction, pkt: RefPacket): RefVerdict | 'pass' {
    let i = 0
    while (i < list.length) {
      const tier = list[i]!.tier
      let passed = false
      let verdict: RefVerdict | undefined
      for (; i < list.length && list[i]!.tier === tier; i++) {
        if (passed || verdict) continue
        const r = this.rules(dir === 'ingress' ? list[i]!.inbound : list[i]!.outbound, pkt)
        if (r === 'next-tier') passed = true
        else if (r !== undefined) verdict = r
      }
      if (verdict) return verdict
      if (!passed) return 'deny'
    }
    return 'pass'
  }

  private rules(rules: readonly FelixRule[], pkt: RefPacket): RefVerdict | 'next-tier' | undefined {
    for (const r of rules) {
      if (r.ipVersion === 6 || !this.matches(r, pkt)) continue
      if (r.action === 'allow') return 'allow'
      if (r.action === 'deny') return 'deny'
      if (r.action === 'next-tier') return 'next-tier'
    }
    return undefined
  }

  private inSelector(sel: string, ip: string): boolean {
    const s = this.sel(sel)
    const n = parseIPv4(ip)
    return this.things.some((t) => s.evaluate(t.labels) && t.nets.some((c) => cidrContains(c, n)))
  }

  private namedPort(sel: string | undefined, ip: string, proto: number, port: number, name: string): boolean {
    const s = this.sel(sel ?? 'all()')
    const pn = proto === 6 ? 'TCP' : proto === 17 ? 'UDP' : proto === 132 ? 'SCTP' : ''
    return this.things.some(
      (t) =>
        s.evaluate(t.labels) &&
        t.nets.includes(`${ip}/32`) &&
        t.ports.some((p) => p.name === name && p.protocol === pn && p.port === port),
    )
  }

  matches(r: FelixRule, pkt: RefPacket): boolean {
    if (r.protocol !== undefined && pkt.protocol !== r.protocol) return false
    if (r.notProtocol !== undefined && pkt.protocol === r.notProtocol) return false
    const icmpIs = (t: number, c: number | undefined) => pkt.icmpType === t && (c === undefined || pkt.icmpCode === c)
    if (r.icmpType !== undefined && !(pkt.protocol === 1 && icmpIs(r.icmpType, r.icmpCode))) return false
    if (r.notIcmpType !== undefined && pkt.protocol === 1 && icmpIs(r.notIcmpType, r.notIcmpCode)) return false
    const src = parseIPv4(pkt.src)
    const dst = parseIPv4(pkt.dst)
    if (r.srcNets.length > 0 && !r.srcNets.some((c) => cidrContains(c, src))) return false
    if (r.dstNets.length > 0 && !r.dstNets.some((c) => cidrContains(c, dst))) return false
    if (r.notSrcNets.some((c) => cidrContains(c, src))) return false
    if (r.notDstNets.some((c) => cidrContains(c, dst))) return false
    if (r.srcSelector !== undefined && !this.inSelector(r.srcSelector, pkt.src)) return false
    if (r.dstSelector !== undefined && !this.inSelector(r.dstSelector, pkt.dst)) return false
    if (r.notSrcSelector !== undefined && this.inSelector(r.notSrcSelector, pkt.src)) return false
    if (r.notDstSelector !== undefined && this.inSelector(r.notDstSelector, pkt.dst)) return false
    const inRanges = (rs: readonly PortRange[], p: number) => rs.some((x) => p >= x.first && p <= x.last)
    const side = (
      ranges: readonly PortRange[],
      named: readonly string[],
      sel: string | undefined,
      ip: string,
      port: number,
    ): boolean => inRanges(ranges, port) || named.some((n) => this.namedPort(sel, ip, pkt.protocol, port, n))
    if (
      (r.srcPorts.length > 0 || r.srcNamedPorts.length > 0) &&
      !side(r.srcPorts, r.srcNamedPorts, r.srcSelector, pkt.src, pkt.srcPort)
    )
      return false
    if (
      (r.dstPorts.length > 0 || r.dstNamedPorts.length > 0) &&
      !side(r.dstPorts, r.dstNamedPorts, r.dstSelector, pkt.dst, pkt.dstPort)
    )
      return false
    if (side(r.notSrcPorts, r.notSrcNamedPorts, r.srcSelector, pkt.src, pkt.srcPort)) return false
    if (side(r.notDstPorts, r.notDstNamedPorts, r.dstSelector, pkt.dst, pkt.dstPort)) return false
    return true
  }
}

/** Reference verdict of a packet forwarded from `from` to `to` (either may be off this node). */
export function referenceForwardVerdict(
  state: PolicyState,
  pkt: RefPacket,
  from: PolicyEndpoint | undefined,
  to: PolicyEndpoint | undefined,
  ev: ReferenceEvaluator = new ReferenceEvaluator(state),
): RefVerdict {
  if (from && ev.endpointVerdict(from, 'egress', pkt) === 'deny') return 'deny'
  if (to && ev.endpointVerdict(to, 'ingress', pkt) === 'deny') return 'deny'
  return 'allow'
}
