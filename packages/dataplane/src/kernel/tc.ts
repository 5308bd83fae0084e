/**
 * tc (traffic control) program hooks on a link, as the eBPF dataplane attaches them: ingress runs
 * when a packet arrives on the link, before PREROUTING (after packet taps, as on Linux); egress
 * runs when a packet leaves through it, after POSTROUTING and before the taps. A link without a
 * program costs one `undefined` check.
 */
import type { BpfNote } from '../core/bpf/index.ts'
import { PacketView, parsePacket } from '../core/packet/index.ts'
import type { PacketOutcome, PacketTraceStep } from './api.ts'
import type { Link } from './links.ts'
import type { Pipeline } from './pipeline.ts'
import { summary } from './pipeline-util.ts'

/** What a program decides; `undefined` passes the packet unchanged. */
export type TcAction =
  | { act: 'drop'; reason: string }
  /** Ingress: continue up the stack with these bytes; egress: transmit these bytes. */
  | { act: 'pass'; pkt: Uint8Array }
  /** Transmit out of `dev` toward `via` (or the packet's destination), skipping the stack. */
  | { act: 'redirect'; pkt: Uint8Array; dev: string; via?: number }

/** `notes`: given only when a trace is on; the program pushes what it did (`calilab trace`). */
export interface TcProgram {
  /** What a trace calls it (`host endpoint`, `workload`). */
  readonly name?: string
  ingress?(pkt: Uint8Array, dev: string, notes?: BpfNote[]): TcAction | undefined
  egress?(pkt: Uint8Array, dev: string, notes?: BpfNote[]): TcAction | undefined
}

type TcStep = Extract<PacketTraceStep, { kind: 'tc' }>

function describe(pkt: Uint8Array): string {
  const v = new PacketView()
  return parsePacket(pkt, v) === 'ok' ? summary(v) : `${pkt.length} bytes`
}

/** Runs the link's program for `dir`; with a trace, records a `tc` step of what it saw, did and decided. */
function run(
  link: Link,
  dir: 'ingress' | 'egress',
  ns: string,
  pkt: Uint8Array,
  dev: string,
  trace: PacketTraceStep[] | undefined,
): TcAction | undefined {
  const prog = link.tc
  if (trace === undefined) return dir === 'ingress' ? prog?.ingress?.(pkt, dev) : prog?.egress?.(pkt, dev)
  if (prog?.[dir] === undefined) return undefined
  const seen = describe(pkt) // before: the program may rewrite the bytes in place
  const notes: BpfNote[] = []
  const a = dir === 'ingress' ? prog.ingress?.(pkt, dev, notes) : prog.egress?.(pkt, dev, notes)
  const step: TcStep = {
    kind: 'tc',
    ns,
    dev,
    dir,
    program: prog.name ?? 'tc',
    summary: seen,
    notes,
    action: 'unchanged',
  }
  if (a?.act === 'drop') Object.assign(step, { action: 'drop', reason: a.reason })
  else if (a?.act === 'pass') Object.assign(step, { action: 'pass', after: describe(a.pkt) })
  else if (a?.act === 'redirect')
    Object.assign(
      step,
      { action: 'redirect', after: describe(a.pkt), to: a.dev },
      a.via === undefined ? {} : { via: a.via },
    )
  trace.push(step)
  return a
}

const TC_DROPPED: PacketOutcome = Object.freeze({ kind: 'dropped', reason: 'TC_DROP' })

function dropped(ns: string, trace: PacketTraceStep[] | undefined, reason: string): PacketOutcome {
  trace?.push({ kind: 'drop', ns, reason: 'TC_DROP', detail: reason })
  return TC_DROPPED
}

/**
 * A packet arriving on `link`, which has a program: the program's verdict, or the packet goes on
 * through the stack (the nested walk skips the link's taps and program: `tcSkipIn`).
 */
export function tcIngress(
  p: Pipeline,
  ns: string,
  link: Link,
  pkt: Uint8Array,
  dev: string,
  trace: PacketTraceStep[] | undefined,
): PacketOutcome {
  const a = run(link, 'ingress', ns, pkt, dev, trace)
  if (a?.act === 'drop') return dropped(ns, trace, a.reason)
  if (a?.act === 'redirect') return p.transmit(a.pkt, a.dev, a.via, trace)
  const next = a === undefined ? pkt : a.pkt
  const prev = link.tcSkipIn
  link.tcSkipIn = next
  try {
    return p.receive(next, dev, trace)
  } finally {
    link.tcSkipIn = prev
  }
}

/** A packet leaving through `link`, which has a program (after POSTROUTING, before the taps). */
export function tcEgress(
  p: Pipeline,
  ns: string,
  link: Link,
  pkt: Uint8Array,
  dev: string,
  via: number | undefined,
  trace: PacketTraceStep[] | undefined,
  parsed: PacketView,
): PacketOutcome {
  const a = run(link, 'egress', ns, pkt, dev, trace)
  if (a?.act === 'drop') return dropped(ns, trace, a.reason)
  if (a?.act === 'redirect') return p.transmit(a.pkt, a.dev, a.via, trace)
  const prev = link.tcSkipOut
  link.tcSkipOut = a === undefined ? pkt : a.pkt
  try {
    return a === undefined ? p.transmit(pkt, dev, via, trace, parsed) : p.transmit(a.pkt, dev, via, trace)
  } finally {
    link.tcSkipOut = prev
  }
}
