/** Small helpers of the packet pipeline: netfilter packet views, flow hashing, trace lines. */
/**
 * The packet pipeline of one namespace, in the kernel's hook order:
 *
 *   receive: [decap] raw PREROUTING -> conntrack -> mangle PREROUTING -> nat PREROUTING (NEW only)
 *            -> routing -> INPUT (mangle, filter) -> confirm -> socket layer
 *                        -> FORWARD (mangle, filter) -> TTL -> POSTROUTING (mangle, nat on NEW) -> confirm -> egress
 *   output:  routing -> raw OUTPUT -> conntrack -> mangle OUTPUT -> nat OUTPUT (NEW) -> reroute
 *            -> filter OUTPUT -> POSTROUTING (mangle, nat on NEW) -> confirm -> egress
 *
 * Egress: veth -> the peer namespace (host queue), lo -> this namespace again, eth0 -> the
 * underlay, tunl0 -> IPIP to the gateway node, vxlan.calico -> VXLAN to the VTEP's node.
 */
import { formatIPv4 } from '@calilab/model'
import { tupleHash as tupleHashFlow } from '../core/conntrack/index.ts'
import { CT_NEW, type Hook, type NfPacket, type TableName } from '../core/netfilter/index.ts'
import type { PacketView } from '../core/packet/index.ts'
import type { PacketOutcome, PacketTraceStep } from './api.ts'

export const LOCAL: PacketOutcome = Object.freeze({ kind: 'local' })

/** The (table, built-in chain) pairs a packet traverses, by number (what `Pipeline.hook` takes). */
export const HOOK_TABLE: readonly TableName[] = [
  'raw',
  'raw',
  'mangle',
  'mangle',
  'mangle',
  'mangle',
  'mangle',
  'nat',
  'nat',
  'nat',
  'nat',
  'filter',
  'filter',
  'filter',
]
export const HOOK_CHAIN: readonly Hook[] = [
  'PREROUTING',
  'OUTPUT',
  'PREROUTING',
  'INPUT',
  'FORWARD',
  'OUTPUT',
  'POSTROUTING',
  'PREROUTING',
  'INPUT',
  'OUTPUT',
  'POSTROUTING',
  'INPUT',
  'FORWARD',
  'OUTPUT',
]
export const RAW_PRE = 0
export const RAW_OUT = 1
export const MANGLE_PRE = 2
export const MANGLE_IN = 3
export const MANGLE_FWD = 4
export const MANGLE_OUT = 5
export const MANGLE_POST = 6
export const NAT_PRE = 7
export const NAT_IN = 8
export const NAT_OUT = 9
export const NAT_POST = 10
export const FILTER_IN = 11
export const FILTER_FWD = 12
export const FILTER_OUT = 13

/** Refills a reused NfPacket from a freshly parsed view (iif/oif are set by the caller). */
export function resetNfPacket(p: NfPacket, v: PacketView): void {
  p.src = v.src
  p.dst = v.dst
  p.proto = v.proto
  p.sport = v.sport
  p.dport = v.dport
  p.icmpType = v.icmpType
  p.icmpCode = v.icmpCode
  p.tcpFlags = v.tcpFlags
  p.len = v.totalLen
  p.mark = 0
  p.ctstate = CT_NEW
}

export function nfPacket(v: PacketView, iif: string, oif: string): NfPacket {
  return {
    src: v.src,
    dst: v.dst,
    proto: v.proto,
    sport: v.sport,
    dport: v.dport,
    icmpType: v.icmpType,
    icmpCode: v.icmpCode,
    tcpFlags: v.tcpFlags,
    len: v.totalLen,
    iif,
    oif,
    mark: 0,
    ctstate: CT_NEW,
  }
}

/** Flow hash for ECMP (the kernel's L3+L4 multipath hash, fib_multipath_hash_policy=1). */
export function flowHash(v: PacketView): number {
  let h = tupleHashFlow(v.proto, v.src, v.dst, v.proto === 1 ? v.icmpId : v.sport, v.dport)
  // fmix32: spread every input bit to the low bits the nexthop choice uses.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export function routeStep(ns: string, dev: string, via: number | undefined): PacketTraceStep {
  return via === undefined
    ? { kind: 'route', ns, decision: 'forward', dev }
    : { kind: 'route', ns, decision: 'forward', dev, via }
}

export function summary(v: PacketView): string {
  const ports = v.proto === 6 || v.proto === 17 ? [`.${v.sport}`, `.${v.dport}`] : ['', '']
  const p = v.proto === 6 ? 'tcp' : v.proto === 17 ? 'udp' : v.proto === 1 ? 'icmp' : `proto ${v.proto}`
  return `${formatIPv4(v.src)}${ports[0]} > ${formatIPv4(v.dst)}${ports[1]} ${p}`
}
