/**
 * Attaches the eBPF dataplane's tc programs (core/bpf) to a namespace's links, as Felix does in
 * BPF mode: the host interface (eth0) gets the host-endpoint program, every `cali*` veth the
 * workload program; both get the egress program for connections the host opens to services.
 */
import type { BpfEnv, BpfProgram } from '../core/bpf/index.ts'
import type { Netns } from './api.ts'
import type { TcProgram } from './tc.ts'

/** The kernel facts the programs use: the host's clock, local addresses and FIB. */
export function bpfEnv(ns: Netns): BpfEnv {
  return {
    now: () => ns.host.clock.now(),
    isLocal: (ip) => ns.isLocal(ip),
    fib: (dst) => {
      const r = ns.routes.lookup(dst)
      if (r === undefined || r.route.type !== 'unicast') return undefined
      return r.via === undefined ? { dev: r.dev } : { dev: r.dev, via: r.via }
    },
  }
}

export function hepProgram(p: BpfProgram): TcProgram {
  return { name: 'host endpoint', ingress: (pkt, _d, n) => p.fromHep(pkt, n), egress: (pkt, _d, n) => p.toHost(pkt, n) }
}

export function wepProgram(p: BpfProgram): TcProgram {
  return { name: 'workload', ingress: (pkt, _d, n) => p.fromWep(pkt, n), egress: (pkt, _d, n) => p.toHost(pkt, n) }
}

/** Whether a link of the root namespace gets a program: the host interface and workload veths. */
export function bpfKindOf(name: string, kind: string): 'hep' | 'wep' | undefined {
  if (kind === 'ethernet') return 'hep'
  if (kind === 'veth' && name.startsWith('cali')) return 'wep'
  return undefined
}

/** Attaches `p` to every link that takes one and has none yet; returns how many it attached. */
export function attachBpf(ns: Netns, p: BpfProgram, programs = new WeakMap<BpfProgram, TcProgram[]>()): number {
  let pair = programs.get(p)
  if (pair === undefined) {
    pair = [hepProgram(p), wepProgram(p)]
    programs.set(p, pair)
  }
  let n = 0
  for (const l of ns.links()) {
    const k = bpfKindOf(l.name, l.kind)
    if (k === undefined || l.tc !== undefined) continue
    ns.setTc(l.name, k === 'hep' ? pair[0] : pair[1])
    n++
  }
  return n
}

/** Detaches every tc program from the namespace's links. */
export function detachBpf(ns: Netns): void {
  for (const l of ns.links()) if (l.tc !== undefined) ns.setTc(l.name, undefined)
}
