/** Builds a namespace's fast-path snapshot (routes, local addresses, established flows). */
import { IPS_CONFIRMED, IPS_SEEN_REPLY } from '../core/conntrack/index.ts'
import type { NetnsImpl } from '../kernel/netns.ts'
import type { SnapFlow, Snapshot } from './messages.ts'

export function snapshotOf(ns: NetnsImpl, now: number, version: number): Snapshot {
  const s = tablesSnapshot(ns, version)
  s.flows = establishedFlows(ns, now)
  return s
}

/** Routes and local addresses only (the live node takes flows from the kernel's conntrack itself). */
export function tablesSnapshot(ns: NetnsImpl, version: number): Snapshot {
  // Policy-routing tables (WireGuard's) come first: the fast path keeps the first route per prefix.
  const tables = [
    ...ns.routes.rules().map((r) => ns.routes.list({ table: r.table })),
    ns.routes.list({ table: 'main' }),
  ]
  const routes = tables.flat().map((r) => ({
    dst: r.dst,
    prefix: r.prefix,
    type: r.type,
    nexthops: r.nexthops.map((n) =>
      n.via === undefined ? { dev: n.dev, weight: n.weight } : { dev: n.dev, via: n.via, weight: n.weight },
    ),
  }))
  return { version, ns: ns.name, local: [...ns.local], routes, flows: [] }
}

function establishedFlows(ns: NetnsImpl, now: number): SnapFlow[] {
  const flows: SnapFlow[] = []
  for (const e of ns.conntrack.list(now)) {
    if ((e.status & (IPS_CONFIRMED | IPS_SEEN_REPLY)) !== (IPS_CONFIRMED | IPS_SEEN_REPLY)) continue
    if (e.tcpState !== 'NONE' && e.tcpState !== 'ESTABLISHED') continue
    const o = e.orig
    const r = e.reply
    // Original direction leaves as the reversed reply tuple; reply direction as the reversed original.
    flows.push({
      proto: o.proto,
      src: o.src,
      dst: o.dst,
      sport: o.sport,
      dport: o.dport,
      toSrc: r.dst,
      toDst: r.src,
      toSport: r.dport,
      toDport: r.sport,
    })
    flows.push({
      proto: r.proto,
      src: r.src,
      dst: r.dst,
      sport: r.sport,
      dport: r.dport,
      toSrc: o.dst,
      toDst: o.src,
      toSport: o.dport,
      toDport: o.sport,
    })
  }
  return flows
}

/** Serializes a snapshot once into shared memory (workers decode it once per version). */
export function encodeSnapshot(s: Snapshot): { buf: SharedArrayBuffer; len: number } {
  const bytes = new TextEncoder().encode(JSON.stringify(s))
  const buf = new SharedArrayBuffer(bytes.length)
  new Uint8Array(buf).set(bytes)
  return { buf, len: bytes.length }
}

export function decodeSnapshot(buf: SharedArrayBuffer, len: number): Snapshot {
  // TextDecoder refuses shared views: copy once per version.
  const copy = new Uint8Array(len)
  copy.set(new Uint8Array(buf, 0, len))
  return JSON.parse(new TextDecoder().decode(copy)) as Snapshot
}
