/**
 * The fast path in a live node: established flows through the root namespace skip the hook
 * traversals, while conntrack and iptables counters stay what the full pipeline would make them.
 *
 * `LiveFastPath.attach(host)` puts itself in front of the root namespace's pipeline (every packet
 * the root receives: from the underlay, from a pod's veth, decapsulated from tunl0/vxlan.calico).
 * For each packet:
 *   1. a lean parse (TCP without SYN/FIN/RST, or UDP; no fragments) and a conntrack lookup in the
 *      kernel's own table: no entry, a TCP flow not ESTABLISHED, a UDP flow without a reply, a
 *      caller's trace, a tap or a tc program on the ingress link -> the full pipeline, untouched;
 *   2. the flow direction must be "learned" in the current table generation: its first packet runs
 *      the full pipeline with a trace, and the rules and chain policies it matched in this
 *      namespace (exactly the counters the traversal bumped) are kept for that conntrack tuple; a
 *      packet that was dropped, delivered locally, logged or that matched anything odd leaves the
 *      direction on the slow path for this generation;
 *   3. `FastPath.forwardFlow` (routes and local addresses from a versioned snapshot) NATs the packet
 *      to the conntrack entry's tuple, decrements the TTL and picks the device; anything but a
 *      forward comes back untouched and goes slow;
 *   4. conntrack is updated as the pipeline does (`update`: counters, TCP state, timeout), the
 *      learned rules and policies are counted, and the packet leaves through the pipeline's own
 *      `transmit` (veth -> the pod, eth0 -> underlay, tunl0/vxlan.calico -> encapsulation; egress
 *      taps still see it).
 *
 * Invalidation: the generation moves, so the snapshot is rebuilt and every learned path dropped,
 * when the namespace's version (links, addresses, routes, VXLAN peers: rules match -o) moves or an
 * iptables table, chain, rule or policy or an IP set changes: the namespace's Netfilter and
 * IpSetStore mutators are wrapped on the instance (they carry no generation counter of their own).
 * A learned path also belongs to the link the packet came in on (rules match -i).
 */
import { type CtTuple, IPS_SEEN_REPLY, ORIGINAL } from '../core/conntrack/index.ts'
import type { IpSetStore, Netfilter, TableName } from '../core/netfilter/index.ts'
import type { Host, PacketOutcome, PacketTraceStep } from '../kernel/api.ts'
import type { NetnsImpl } from '../kernel/netns.ts'
import { FWD_FORWARD, FWD_FORWARD_VIA } from './batch.ts'
import { FastPath } from './fastpath.ts'
import { tablesSnapshot } from './snapshot.ts'

/** A rule or a built-in chain: what a traversal counts. */
interface Counted {
  pkts: number
  bytes: number
}

interface Learned {
  gen: number
  /** The link it came in on (rules match -i). */
  dev: string
  /** Counters to bump per packet; undefined: this direction stays on the full pipeline. */
  path: Counted[] | undefined
}

export interface LiveFastPathStats {
  /** Packets forwarded by the fast path. */
  fast: number
  /** Packets through the full pipeline (not established, not learned yet, or not forwardable). */
  slow: number
  /** Flow directions learned (a traced full-pipeline packet). */
  learned: number
  /** Snapshots of routes and addresses built. */
  snapshots: number
  /** Table or IP set changes seen (each drops every learned path). */
  tableChanges: number
}

const NF_MUTATORS = [
  'append',
  'insert',
  'replace',
  'delete',
  'newChain',
  'deleteChain',
  'renameChain',
  'flush',
  'setPolicy',
  'commitTable',
] as const satisfies readonly (keyof Netfilter)[]
const SET_MUTATORS = [
  'create',
  'add',
  'del',
  'swap',
  'flush',
  'destroy',
  'rename',
] as const satisfies readonly (keyof IpSetStore)[]

type AnyFn = (...a: unknown[]) => unknown
type Receive = (pkt: Uint8Array, dev: string, trace?: PacketTraceStep[]) => PacketOutcome

export class LiveFastPath {
  readonly stats: LiveFastPathStats = { fast: 0, slow: 0, learned: 0, snapshots: 0, tableChanges: 0 }
  private readonly ns: NetnsImpl
  private readonly host: Host
  private readonly orig: Receive
  private readonly undo: (() => void)[] = []
  private gen = 1
  /** The namespace version the generation was last checked against (a route change relearns: rules match -o). */
  private nsVersion = -1
  private nfGen = -1
  private setsVersion = -1
  private fp: FastPath | undefined
  private fpGen = 0
  private fpNsVersion = -1
  private snapVersion = 0
  /** The clock at the last lookup (the same packet's update uses it). */
  private now = 0
  private readonly learned = new WeakMap<CtTuple, Learned>()

  private constructor(host: Host) {
    this.host = host
    this.ns = host.root as NetnsImpl
    const pl = this.ns.pipeline
    this.orig = pl.receive.bind(pl)
    const receive: Receive = (pkt, dev, trace) => this.receive(pkt, dev, trace)
    pl.receive = receive
    this.undo.push(() => {
      if (pl.receive === receive) delete (pl as { receive?: Receive }).receive
    })
    this.wrap(this.ns.nf as unknown as Record<string, AnyFn>, NF_MUTATORS)
    this.wrap(this.ns.sets as unknown as Record<string, AnyFn>, SET_MUTATORS)
  }

  /** Puts the fast path in front of `host`'s root namespace. */
  static attach(host: Host): LiveFastPath {
    return new LiveFastPath(host)
  }

  /** Restores the pipeline and the table objects as they were. */
  detach(): void {
    for (const u of this.undo.splice(0)) u()
    this.fp = undefined
  }

  private wrap(obj: Record<string, AnyFn>, names: readonly string[]): void {
    for (const n of names) {
      const f = obj[n]
      if (typeof f !== 'function') continue
      const w: AnyFn = (...a) => {
        this.gen++
        this.stats.tableChanges++
        return f.apply(obj, a)
      }
      obj[n] = w
      this.undo.push(() => {
        if (obj[n] === w) delete obj[n]
      })
    }
  }

  private receive(pkt: Uint8Array, dev: string, trace: PacketTraceStep[] | undefined): PacketOutcome {
    if (trace === undefined) {
      const t = this.established(pkt, dev)
      if (t !== undefined) {
        // Generation counters, where Netfilter / IpSetStore keep them (also caught by the wrappers).
        const nfGen = (this.ns.nf as { gen?: number }).gen ?? 0
        const setsVersion = (this.ns.sets as { version?: number }).version ?? 0
        if (this.ns.version !== this.nsVersion || nfGen !== this.nfGen || setsVersion !== this.setsVersion) {
          this.nsVersion = this.ns.version
          this.nfGen = nfGen
          this.setsVersion = setsVersion
          this.gen++
        }
        const l = this.learned.get(t)
        if (l === undefined || l.gen !== this.gen || l.dev !== dev) return this.learn(pkt, dev, t)
        if (l.path !== undefined) {
          const out = this.forward(pkt, t, l.path)
          if (out !== undefined) return out
        }
      }
    }
    this.stats.slow++
    return this.orig(pkt, dev, trace)
  }

  /** The conntrack tuple of an established TCP/UDP packet the fast path may take, else undefined. */
  private established(pkt: Uint8Array, dev: string): CtTuple | undefined {
    const len = pkt.length
    if (len < 20) return undefined
    const vihl = pkt[0]!
    if (vihl >> 4 !== 4) return undefined
    const ihl = (vihl & 0x0f) << 2
    const totalLen = (pkt[2]! << 8) | pkt[3]!
    if (ihl < 20 || totalLen < ihl || totalLen > len) return undefined
    if (((pkt[6]! << 8) | pkt[7]!) & 0x1fff) return undefined
    const proto = pkt[9]!
    if (proto === 6) {
      if (totalLen - ihl < 20 || pkt[ihl + 13]! & 0x07) return undefined
    } else if (proto !== 17 || totalLen - ihl < 8) return undefined
    const link = this.ns.linkMap.get(dev)
    // A tap sees every packet; a tc program (eBPF mode) decides the packet's path itself.
    if (link === undefined || !link.up || link.taps.length > 0 || link.tc !== undefined) return undefined
    const src = ((pkt[12]! << 24) | (pkt[13]! << 16) | (pkt[14]! << 8) | pkt[15]!) >>> 0
    const dst = ((pkt[16]! << 24) | (pkt[17]! << 16) | (pkt[18]! << 8) | pkt[19]!) >>> 0
    const sport = (pkt[ihl]! << 8) | pkt[ihl + 1]!
    const dport = (pkt[ihl + 2]! << 8) | pkt[ihl + 3]!
    const now = this.host.clock.now()
    this.now = now
    const t = this.ns.conntrack.lookup(proto, src, dst, sport, dport, now)
    if (t === undefined) return undefined
    const e = t.entry
    if (proto === 6 ? e.tcpState !== 'ESTABLISHED' : (e.status & IPS_SEEN_REPLY) === 0) return undefined
    return t
  }

  /** Runs the full pipeline with a trace and keeps what it counted in this namespace. */
  private learn(pkt: Uint8Array, dev: string, t: CtTuple): PacketOutcome {
    const gen = this.gen
    const trace: PacketTraceStep[] = []
    this.stats.slow++
    const out = this.orig(pkt, dev, trace)
    let ok = out.kind === 'forwarded' || out.kind === 'underlay'
    const path: Counted[] = []
    const nf = this.ns.nf
    const name = this.ns.name
    for (const s of trace) {
      if (!ok) break
      if (s.ns !== name) continue
      if (s.kind === 'drop' || s.kind === 'deliver' || s.kind === 'decap' || s.kind === 'icmp-error') ok = false
      if (s.kind !== 'rule' || s.step.kind === 'return') continue
      const chain = nf.chain(s.step.table as TableName, s.step.chain)
      if (chain === undefined) ok = false
      else if (s.step.kind === 'policy') path.push(chain)
      else {
        const r = chain.rules[s.step.rule - 1]
        const target = r?.spec.target?.t
        // LOG writes a line per packet; NAT and CT targets act on new connections only.
        if (r === undefined || target === 'LOG' || target === 'CT') ok = false
        else path.push(r)
      }
    }
    // A table change during the traversal (a socket answering) makes what was seen stale.
    if (gen === this.gen) {
      this.learned.set(t, { gen, dev, path: ok ? path : undefined })
      this.stats.learned++
    }
    return out
  }

  private forward(pkt: Uint8Array, t: CtTuple, path: Counted[]): PacketOutcome | undefined {
    const ns = this.ns
    if (this.fp === undefined || this.fpGen !== this.gen || this.fpNsVersion !== ns.version) {
      this.fp = new FastPath(tablesSnapshot(ns, ++this.snapVersion), { onlyForward: true })
      this.fpGen = this.gen
      this.fpNsVersion = ns.version
      this.stats.snapshots++
    }
    const fp = this.fp
    const ihl = (pkt[0]! & 0x0f) << 2
    const e = t.entry
    // The packet leaves with the other direction's tuple reversed (DNAT/SNAT and their undoing).
    const o = t.dir === ORIGINAL ? e.reply : e.orig
    const action = fp.forwardFlow(
      pkt,
      0,
      ihl,
      t.proto,
      t.src | 0,
      t.dst | 0,
      t.sport,
      t.dport,
      o.dst | 0,
      o.src | 0,
      o.dport,
      o.sport,
    )
    if (action !== FWD_FORWARD && action !== FWD_FORWARD_VIA) return undefined
    const totalLen = (pkt[2]! << 8) | pkt[3]!
    ns.conntrack.update(t, t.proto === 6 ? pkt[ihl + 13]! : 0, totalLen, this.now)
    for (let i = 0; i < path.length; i++) {
      const c = path[i]!
      c.pkts++
      c.bytes += totalLen
    }
    this.stats.fast++
    const dev = fp.devs[fp.outArg]!
    return ns.pipeline.transmit(pkt, dev, action === FWD_FORWARD_VIA ? fp.outVia : undefined)
  }
}
