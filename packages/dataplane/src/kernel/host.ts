/**
 * A node: its root namespace (lo, eth0 with the node IP) plus pod namespaces joined by veth
 * pairs. Packets between namespaces go through one FIFO per host, so processing is iterative
 * (never recursive) and deterministic.
 */
import type { Clock, Rng } from '@calilab/kit'
import type { Host, HostInit, LinkInfo, Netns, PacketOptions, PacketOutcome, PacketTraceStep, Underlay } from './api.ts'
import { Link } from './links.ts'
import { NetnsImpl } from './netns.ts'

const EMPTY = new Uint8Array(0)

interface Pending {
  ns: NetnsImpl
  pkt: Uint8Array
  dev: string
  trace: PacketTraceStep[] | undefined
  fn: (() => void) | undefined
}

export class HostImpl implements Host {
  readonly name: string
  readonly nodeIp: number
  readonly clock: Clock
  readonly rng: Rng
  readonly root: NetnsImpl
  underlay: Underlay | undefined
  private readonly nsMap = new Map<string, NetnsImpl>()
  private nextNsid = 0
  /** Queued packets queue[head..tail); entries are reused (no object per packet). */
  private readonly queue: Pending[] = []
  private head = 0
  private tail = 0
  private pumping = false

  constructor(init: HostInit) {
    this.name = init.name
    this.nodeIp = init.nodeIp >>> 0
    this.clock = init.clock
    this.rng = init.rng
    this.underlay = init.underlay
    this.root = new NetnsImpl(this, '', undefined)
    this.nsMap.set('', this.root)
    this.root.addLink('eth0', 'ethernet', { up: true })
    this.root.addAddr('eth0', this.nodeIp, init.nodePrefix ?? 20)
    if (init.gateway !== undefined) this.root.routes.add({ dst: 0, prefix: 0, via: init.gateway, dev: 'eth0' })
  }

  setUnderlay(u: Underlay | undefined): void {
    this.underlay = u
  }

  fromUnderlay(bytes: Uint8Array, o: PacketOptions = {}): PacketOutcome {
    return this.root.receive(bytes, 'eth0', o)
  }

  createPodNetns(name: string): Netns {
    if (this.nsMap.has(name)) throw new Error(`Cannot create namespace file "/var/run/netns/${name}": File exists`)
    const ns = new NetnsImpl(this, name, this.nextNsid++)
    this.nsMap.set(name, ns)
    return ns
  }

  deletePodNetns(name: string): boolean {
    const ns = this.nsMap.get(name)
    if (!ns || ns === this.root) return false
    for (const l of ns.links()) if (l.kind === 'veth') ns.delLink(l.name)
    this.nsMap.delete(name)
    return true
  }

  netns(name: string): NetnsImpl | undefined {
    return this.nsMap.get(name)
  }

  namespaces(): Netns[] {
    return [...this.nsMap.values()]
  }

  addVethPair(hostNs: Netns, hostName: string, podNs: Netns, podName: string): { host: LinkInfo; pod: LinkInfo } {
    const h = hostNs as NetnsImpl
    const p = podNs as NetnsImpl
    if (h.linkMap.has(hostName)) throw new Error('RTNETLINK answers: File exists')
    if (p.linkMap.has(podName)) throw new Error('RTNETLINK answers: File exists')
    const hl = new Link(h.allocIfindex(), hostName, 'veth', 1500, 'ee:ee:ee:ee:ee:ee')
    const pl = new Link(p.allocIfindex(), podName, 'veth', 1500, this.randomMac())
    hl.peer = { ns: p.name, dev: podName }
    pl.peer = { ns: h.name, dev: hostName }
    hl.peerIfindex = pl.ifindex
    pl.peerIfindex = hl.ifindex
    // netnsid of the other side as each sees it: pods see the root as 0; the root sees pods by creation order.
    hl.linkNetnsid = p.id ?? 0
    pl.linkNetnsid = h === this.root ? 0 : (h.id ?? 0)
    hl.up = true
    pl.up = true
    hl.proxyArp = true
    h.attach(hl)
    p.attach(pl)
    return { host: hl, pod: pl }
  }

  /** A locally administered unicast MAC from the host's rng. */
  randomMac(): string {
    const b: string[] = []
    for (let i = 0; i < 6; i++) {
      let x = this.rng.int(256)
      if (i === 0) x = (x & 0xfc) | 0x02
      b.push(x.toString(16).padStart(2, '0'))
    }
    return b.join(':')
  }

  /** Queues a packet for `ns` received on `dev`. */
  enqueue(ns: NetnsImpl, pkt: Uint8Array, dev: string, trace: PacketTraceStep[] | undefined): void {
    this.push(ns, pkt, dev, trace, undefined)
  }

  /** Runs `fn` after the current packet (kernel-generated replies). */
  defer(fn: () => void): void {
    this.push(this.root, EMPTY, '', undefined, fn)
  }

  private push(
    ns: NetnsImpl,
    pkt: Uint8Array,
    dev: string,
    trace: PacketTraceStep[] | undefined,
    fn: (() => void) | undefined,
  ): void {
    const q = this.queue
    const p = q[this.tail]
    if (p === undefined) q.push({ ns, pkt, dev, trace, fn })
    else {
      p.ns = ns
      p.pkt = pkt
      p.dev = dev
      p.trace = trace
      p.fn = fn
    }
    this.tail++
  }

  /** Processes queued packets until none is left (re-entrant calls return at once). */
  pump(): void {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.head < this.tail) {
        const p = this.queue[this.head++]!
        const fn = p.fn
        const pkt = p.pkt
        const trace = p.trace
        // Let go of what the entry held (it is reused, and may sit idle a long time).
        p.fn = undefined
        p.pkt = EMPTY
        p.trace = undefined
        if (fn) fn()
        else p.ns.pipeline.receive(pkt, p.dev, trace)
      }
    } finally {
      // An exception leaves the rest of the queue unprocessed, as before: drop it.
      for (let k = this.head; k < this.tail; k++) {
        const p = this.queue[k]!
        p.fn = undefined
        p.pkt = EMPTY
        p.trace = undefined
      }
      this.head = 0
      this.tail = 0
      // Entries kept for reuse: as many as a burst needed, within reason.
      if (this.queue.length > 4096) this.queue.length = 4096
      this.pumping = false
    }
  }
}

export function createHost(init: HostInit): Host {
  return new HostImpl(init)
}
