/**
 * IP-set members (calico.md §3.8): what one endpoint or network set contributes to a selector set
 * (`hash:net`: its IPs, or its CIDRs) or a named-port set (`hash:ip,port`: IP,proto:port for
 * each port of that name and protocol). Pure; shared by the full and the incremental rendering.
 */
import { parseCidr } from '@calilab/model'
import type { IpSetRef } from './rules.ts'
import type { FelixNetworkSet, NamedPort, PolicyEndpoint } from './types.ts'

/** Something an IP set's selector can match: an endpoint (any node) or a network set. */
export interface SetMemberSource {
  /** CIDRs (`a.b.c.d/32` for an endpoint's IPs). */
  ips: readonly string[]
  ports: readonly NamedPort[]
}

export function endpointSource(e: PolicyEndpoint): SetMemberSource {
  return { ips: e.ips.map((i) => `${i}/32`), ports: e.ports ?? [] }
}

export function networkSetSource(s: FelixNetworkSet): SetMemberSource {
  return { ips: s.nets, ports: [] }
}

/** The members `src` contributes to the set `ref` when the set's selector matches it. */
export function memberContribution(ref: IpSetRef, src: SetMemberSource): string[] {
  const out: string[] = []
  if (ref.kind === 'selector') {
    for (const ip of src.ips) {
      const c = parseCidr(ip)
      out.push(c.prefix === 32 ? ip.slice(0, -3) : `${ip}`)
    }
    return out
  }
  for (const p of src.ports)
    if (p.name === ref.portName && p.protocol.toLowerCase() === ref.protocol)
      for (const ip of src.ips) if (ip.endsWith('/32')) out.push(`${ip.slice(0, -3)},${ref.protocol}:${p.port}`)
  return out
}

export function ipSetType(ref: IpSetRef): 'hash:net' | 'hash:ip,port' {
  return ref.kind === 'selector' ? 'hash:net' : 'hash:ip,port'
}
