/**
 * Loads a rendering into an emulated kernel (@calilab/dataplane) and walks packets through it:
 * the shared mechanism the differential test, the table tests and `calilab trace` use.
 */
import {
  type EvalContext,
  emptyPacket,
  IpSetStore,
  ipsetRestore,
  iptablesRestore,
  Netfilter,
  type NfPacket,
  type TraceStep,
} from '@calilab/dataplane'
import { parseIPv4 } from '@calilab/model'
import type { RefPacket } from './evaluate.ts'
import { type NodeRendering, toIpsetRestore, toIptablesRestore } from './render.ts'

export function loadRendering(r: NodeRendering): Netfilter {
  const nf = new Netfilter(new IpSetStore())
  ipsetRestore(nf.sets, toIpsetRestore(r))
  iptablesRestore(nf, toIptablesRestore(r))
  return nf
}

export function nfPacket(p: RefPacket, iif: string, oif: string): NfPacket {
  const pkt = emptyPacket()
  pkt.src = parseIPv4(p.src)
  pkt.dst = parseIPv4(p.dst)
  pkt.proto = p.protocol
  pkt.sport = p.srcPort
  pkt.dport = p.dstPort
  if (p.protocol === 1) {
    pkt.icmpType = p.icmpType ?? 8
    pkt.icmpCode = p.icmpCode ?? 0
  }
  pkt.iif = iif
  pkt.oif = oif
  pkt.len = 60
  return pkt
}

export interface WalkResult {
  verdict: 'ACCEPT' | 'DROP'
  trace: TraceStep[]
}

/** One hook of one table; the verdict after a RETURN from a builtin is its policy (ACCEPT). */
export function walk(
  nf: Netfilter,
  table: 'raw' | 'mangle' | 'filter',
  hook: string,
  pkt: NfPacket,
  local: (ip: number) => boolean = () => false,
): WalkResult {
  const trace: TraceStep[] = []
  const ctx: EvalContext = { rng: { next: () => 0 }, isLocal: local, trace }
  const v = nf.traverse(table, hook, pkt, ctx)
  return { verdict: v.verdict === 'DROP' || v.verdict === 'REJECT' ? 'DROP' : 'ACCEPT', trace }
}
