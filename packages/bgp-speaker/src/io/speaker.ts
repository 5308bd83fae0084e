/**
 * The BGP speaker: a listener, one controller per configured peer (a main session plus, during a
 * connection collision, a second one), the RIBs, and the export of locally originated prefixes.
 */
import * as net from 'node:net'
import type { Clock, Logger } from '@calilab/kit'
import { formatIPv4, parseIPv4, tryParseCidr } from '@calilab/model'
import type { PathAttributes } from '../core/codec/attrs/types.ts'
import { defaultCapabilities } from '../core/codec/capabilities.ts'
import { CEASE_SUB, ERR } from '../core/codec/errors.ts'
import { encodeNotification, notification } from '../core/codec/notification.ts'
import type { Prefix } from '../core/codec/prefix.ts'
import {
  encodeAnnouncements,
  encodeUpdate,
  encodeWithdrawals,
  isEndOfRib,
  type UpdateMessage,
} from '../core/codec/update.ts'
import { isKeyedEndOfRib, type KeyedUpdate } from '../core/codec/update-keys.ts'
import { FSM_DEFAULTS, fsmConfig, keepLocallyInitiated } from '../core/fsm.ts'
import { type PeerOut, Rib, type RibResult, type RouteChange } from '../core/rib.ts'
import { Session, type SessionHooks } from './session.ts'

export interface PeerConfig {
  /** BIRD-style protocol name; default `peer_<a_b_c_d>`. */
  name?: string
  /** Real address of the peer (loopback in tests). */
  address: string
  port?: number
  asNumber: number
  passive?: boolean
  /** Source address for outgoing connections (BIRD `source address`). */
  localAddress?: string
  /** Next hop advertised as "self" on this session (the emulated node IP). Default: localAddress. */
  nextHopSelf?: string
  holdTime?: number
  keepaliveTime?: number
  connectRetryTime?: number
  /** First connect retry after a failed dial, doubling up to connectRetryTime (s; 0 = off). */
  connectRetryFirst?: number
  /** The peer is a route-reflector client of this speaker. */
  rrClient?: boolean
}

export interface SpeakerInit {
  routerId: string
  asNumber: number
  listen?: { host: string; port: number }
  clock: Clock
  log: Logger
  peers: PeerConfig[]
  /** Route-reflector cluster id (dotted quad). */
  clusterId?: string
  multipath?: boolean
}

export interface PeerStatus {
  name: string
  address: string
  port: number
  asNumber: number
  /** FSM state of the session that counts (the established one, else the main one). */
  state: string
  /** BIRD's protocol state column: up / start / down. */
  protoState: 'up' | 'start' | 'down'
  since: number
  info: string
  lastError?: string
  holdTime: number
  keepaliveTime: number
  peerRouterId?: string
  routesImported: number
  routesExported: number
}

export type RoutesListener = (changes: RouteChange[]) => void
/** Told how many prefixes' Loc-RIB entries changed; no `RouteChange` objects are built for it. */
export type RibChangeListener = (changed: number) => void

const DEFAULT_PORT = 179

class PeerController {
  cfg: PeerConfig
  readonly name: string
  /** The session that dials (unless passive) and restarts; during a collision, one of two. */
  main: Session
  /** A second connection (accepted from the peer) while a collision is being resolved. */
  extra: Session | undefined
  private readonly sp: Speaker

  constructor(sp: Speaker, cfg: PeerConfig) {
    this.sp = sp
    this.cfg = cfg
    this.name = cfg.name ?? `peer_${cfg.address.replace(/\./g, '_')}`
    this.main = this.newSession(false)
  }

  get port(): number {
    return this.cfg.port ?? DEFAULT_PORT
  }

  newSession(inbound: boolean): Session {
    const sp = this.sp
    const fsm = fsmConfig({
      localAs: sp.asNumber,
      routerId: sp.routerId,
      peerAs: this.cfg.asNumber,
      // Even a session created for an accepted connection keeps the peer's own mode: it may
      // become the main session, which reconnects after a failure (it starts passive, below).
      passive: this.cfg.passive === true,
      holdTime: this.cfg.holdTime ?? FSM_DEFAULTS.holdTime,
      connectRetryTime: this.cfg.connectRetryTime ?? FSM_DEFAULTS.connectRetryTime,
      capabilities: defaultCapabilities(sp.asNumber),
      ...(this.cfg.connectRetryFirst !== undefined ? { connectRetryFirst: this.cfg.connectRetryFirst } : {}),
      ...(this.cfg.keepaliveTime !== undefined ? { keepaliveTime: this.cfg.keepaliveTime } : {}),
    })
    const init = {
      peerName: this.name,
      remote: { host: this.cfg.address, port: this.port },
      inbound,
      fsm,
      ...(this.cfg.localAddress !== undefined ? { localAddress: this.cfg.localAddress } : {}),
    }
    return new Session({ clock: sp.clock, log: sp.log.child({ peer: this.name, inbound }) }, init, this.hooks())
  }

  private hooks(): SessionHooks {
    return {
      onEstablished: (s) => {
        if (s === this.extra) this.promote(s)
        this.sp.peerEstablished(this, s)
      },
      onDown: () => this.sp.peerDown(this),
      onUpdate: (_s, u) => this.sp.peerUpdate(this, u),
      onRouteRefresh: () => this.sp.flush(this.sp.rib.refresh(this.name)),
      onOpenConfirm: (s) => this.resolveCollision(s),
      onStateChange: (s) => {
        // The second connection is only a connection: once it is lost it is gone.
        if (s === this.extra && !s.hasSocket) {
          s.close()
          this.extra = undefined
        }
      },
    }
  }

  /** The extra session carries the peering from now on; the old main session goes. */
  private promote(s: Session): void {
    const old = this.main
    this.main = s
    this.extra = undefined
    old.close()
  }

  /** Loses a collision: Cease 6/7 on its connection, and it is gone. */
  private dump(s: Session): void {
    s.event({ type: 'OpenCollisionDump' })
    s.close()
  }

  /** An inbound connection from this peer's address. */
  accept(sock: net.Socket): void {
    const m = this.main
    const up = m.state === 'Established' || this.extra?.state === 'Established'
    if (m.state === 'Idle' || up) {
      // Established (RFC 4271 §6.8: the existing session stays) or Idle (stopped, error wait):
      // refuse with Cease 6/5 (RFC 4486).
      sock.on('error', () => {})
      sock.end(encodeNotification(notification(ERR.CEASE, CEASE_SUB.CONNECTION_REJECTED)))
      // Read (and drop) until the peer closes, else its FIN is never seen and the socket lingers
      // half-open (holding up server.close()); a peer that never closes is cut off after 1 s.
      sock.resume()
      const t = this.sp.clock.setTimeout(() => sock.destroy(), 1000)
      sock.once('close', () => t.cancel())
      return
    }
    if ((m.state === 'Connect' || m.state === 'Active') && !m.hasSocket) {
      m.attach(sock)
      return
    }
    // The main session has a connection: our dial (in flight or in OpenSent/OpenConfirm), or an
    // earlier one from the peer. A speaker dials one connection at a time, so a new one from the
    // peer supersedes the peer's earlier one (which it has given up); against ours, the BGP
    // identifiers decide once an OPEN is in (resolveCollision).
    const fresh = this.newSession(true)
    fresh.event({ type: 'ManualStartPassive' })
    fresh.attach(sock)
    const older = m.hasSocket && m.connInbound ? m : this.extra
    if (older === m) {
      this.dump(m)
      this.main = fresh
    } else {
      if (older) this.dump(older)
      this.extra = fresh
    }
  }

  /**
   * RFC 4271 §6.8, run when a session reaches OpenConfirm (the peer's BGP identifier is known):
   * of two connections in OpenSent/OpenConfirm, the one initiated by the speaker with the higher
   * identifier survives; the other gets Cease 6/7 (RFC 4486 "Connection Collision Resolution").
   */
  private resolveCollision(s: Session): void {
    const other = s === this.main ? this.extra : this.main
    if (!other || !this.extra) return
    if (other.state !== 'OpenSent' && other.state !== 'OpenConfirm') return
    const remoteId = s.fsm.peerOpen?.bgpId ?? other.fsm.peerOpen?.bgpId ?? 0
    const keepOutbound = keepLocallyInitiated(this.sp.routerId, remoteId)
    // Both connections come from different sides here (accept supersedes same-side ones).
    const winner = s.connInbound !== keepOutbound ? s : other
    const loser = winner === s ? other : s
    this.sp.log.info(
      { peer: this.name, kept: winner.connInbound ? 'inbound' : 'outbound' },
      'connection collision resolved',
    )
    this.dump(loser)
    this.main = winner
    this.extra = undefined
  }

  /** Stops both sessions for good; `subcode`: the Cease subcode an open session is told. */
  stop(subcode?: number): void {
    const ev = subcode === undefined ? { type: 'ManualStop' as const } : { type: 'ManualStop' as const, subcode }
    this.extra?.event(ev)
    this.extra?.close()
    this.extra = undefined
    this.main.event(ev)
    this.main.close()
  }

  /** The session whose state the views show. */
  get current(): Session {
    return this.extra && this.extra.state === 'Established' ? this.extra : this.main
  }
}

export class Speaker {
  readonly init: SpeakerInit
  readonly clock: Clock
  readonly log: Logger
  readonly rib: Rib
  readonly routerId: number
  /** Local AS (BIRD `local as`); {@link setAsNumber} changes it live. */
  asNumber: number
  private readonly peers = new Map<string, PeerController>()
  private server: net.Server | undefined
  private listeners: RoutesListener[] = []
  private countListeners: RibChangeListener[] = []
  private bound: { host: string; port: number } | undefined
  private readonly started: number

  constructor(init: SpeakerInit) {
    this.init = init
    this.clock = init.clock
    this.log = init.log.child({ component: 'bgp.speaker' })
    this.routerId = parseIPv4(init.routerId)
    this.asNumber = init.asNumber
    this.started = init.clock.now()
    this.rib = new Rib({
      localAs: init.asNumber,
      routerId: this.routerId,
      ...(init.clusterId !== undefined ? { clusterId: parseIPv4(init.clusterId) } : {}),
      ...(init.multipath !== undefined ? { multipath: init.multipath } : {}),
    })
  }

  /** Starts listening (if configured) and every peer. Returns the bound listen address. */
  async start(): Promise<{ host: string; port: number } | undefined> {
    if (this.init.listen) await this.listen(this.init.listen)
    for (const p of this.init.peers) this.addPeer(p)
    return this.bound
  }

  private async listen(at: { host: string; port: number }): Promise<void> {
    const server = net.createServer((sock) => this.onConnection(sock))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: at.host, port: at.port }, () => resolve())
    })
    this.server = server
    const addr = server.address() as net.AddressInfo
    this.bound = { host: addr.address, port: addr.port }
    this.log.info(this.bound, 'bgp listening')
  }

  /**
   * Moves the listener (BGPConfiguration listenPort): the new socket is bound before the old one
   * closes, so a failure (port taken) leaves the old listener in place and throws. Established
   * sessions are connections of their own and stay up.
   */
  async setListen(at: { host: string; port: number }): Promise<{ host: string; port: number }> {
    const old = this.server
    const was = this.bound
    if (old && was && was.host === at.host && was.port === at.port) return was
    this.server = undefined
    try {
      await this.listen(at)
    } catch (err) {
      this.server = old
      this.bound = was
      throw err
    }
    // Stops accepting at once; its callback would wait for the sessions it accepted, which stay.
    old?.close()
    return this.bound as { host: string; port: number }
  }

  /**
   * Changes the local AS live, as BIRD does on reconfigure: every session (all of them carry the
   * local AS in their OPEN, and it decides iBGP vs eBGP) is reset with Cease 6/6 (Other
   * Configuration Change) and comes back with the new AS; originated routes stay.
   */
  setAsNumber(asn: number): string[] {
    if (asn === this.asNumber) return []
    const names = [...this.peers.keys()]
    for (const pc of this.peers.values()) pc.stop(CEASE_SUB.OTHER_CONFIG_CHANGE)
    this.asNumber = asn
    this.rib.cfg.localAs = asn
    for (const [name, pc] of this.peers) {
      const fresh = new PeerController(this, pc.cfg)
      this.peers.set(name, fresh)
      fresh.main.event({ type: 'ManualStart' })
    }
    this.log.info({ asNumber: asn, reset: names.length }, 'local AS changed')
    return names
  }

  get address(): { host: string; port: number } | undefined {
    return this.bound
  }

  addPeer(cfg: PeerConfig): void {
    const pc = new PeerController(this, cfg)
    if (this.peers.has(pc.name)) throw new Error(`peer ${pc.name} already configured`)
    this.peers.set(pc.name, pc)
    pc.main.event({ type: 'ManualStart' })
  }

  removePeer(name: string): void {
    const pc = this.peers.get(name)
    if (!pc) return
    pc.stop()
    this.peers.delete(name)
  }

  async stop(): Promise<void> {
    for (const pc of this.peers.values()) pc.stop()
    this.peers.clear()
    const s = this.server
    this.server = undefined
    if (s) await new Promise<void>((r) => s.close(() => r()))
  }

  onRoutes(fn: RoutesListener): () => void {
    this.listeners.push(fn)
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn)
    }
  }

  /**
   * Like {@link onRoutes}, for a listener that only needs to know that the Loc-RIB changed (and
   * reads `rib` itself): called once per UPDATE that changed it, with the number of prefixes.
   */
  onRibChange(fn: RibChangeListener): () => void {
    this.countListeners.push(fn)
    return () => {
      this.countListeners = this.countListeners.filter((l) => l !== fn)
    }
  }

  /** Originates prefixes ("198.19.16.0/26" or Prefix, one or a batch) to every peer. */
  originate(prefix: string | Prefix | readonly (string | Prefix)[], attrs: Partial<PathAttributes> = {}): void {
    const list = Array.isArray(prefix) ? prefix.map(toPrefix) : toPrefix(prefix as string | Prefix)
    this.apply(this.rib.originate(list, attrs))
  }

  withdraw(prefix: string | Prefix): void {
    this.apply(this.rib.withdrawLocal(toPrefix(prefix)))
  }

  status(): PeerStatus[] {
    return [...this.peers.values()].map((pc) => {
      const s = pc.current
      const f = s.fsm
      const protoState =
        f.state === 'Established'
          ? 'up'
          : f.state === 'Idle' && pc.main === s && s.lastReason === 'ManualStop'
            ? 'down'
            : 'start'
      const st: PeerStatus = {
        name: pc.name,
        address: pc.cfg.address,
        port: pc.port,
        asNumber: pc.cfg.asNumber,
        state: f.state,
        protoState,
        since: s.since,
        info: f.state === 'Established' ? 'Established' : f.lastError ? `${f.state} ${f.lastError}` : f.state,
        holdTime: f.holdTime,
        keepaliveTime: f.keepaliveTime,
        routesImported: this.rib.adjInCount(pc.name),
        routesExported: this.rib.adjOutCount(pc.name),
      }
      if (f.lastError !== undefined) st.lastError = f.lastError
      if (f.peerOpen) st.peerRouterId = formatIPv4(f.peerOpen.bgpId)
      return st
    })
  }

  /** Since when the speaker runs (clock.now()). */
  get startedAt(): number {
    return this.started
  }

  // --- called by peer controllers ----------------------------------------------------------

  peerEstablished(pc: PeerController, s: Session): void {
    const open = s.fsm.peerOpen
    const self = pc.cfg.nextHopSelf ?? pc.cfg.localAddress ?? this.init.listen?.host ?? this.init.routerId
    const r = this.rib.peerUp({
      id: pc.name,
      address: parseIPv4(pc.cfg.address),
      asn: pc.cfg.asNumber,
      routerId: open?.bgpId ?? 0,
      localAddress: parseIPv4(self),
      ...(pc.cfg.rrClient !== undefined ? { rrClient: pc.cfg.rrClient } : {}),
    })
    this.flush(r.out)
    // End-of-RIB marker (RFC 4724): an empty UPDATE, as BIRD sends it.
    s.send(encodeUpdate({}, { as4: s.fsm.as4 }))
  }

  peerDown(pc: PeerController): void {
    this.apply(this.rib.peerDown(pc.name))
  }

  peerUpdate(pc: PeerController, u: UpdateMessage | KeyedUpdate): void {
    if ('keyed' in u ? isKeyedEndOfRib(u) : isEndOfRib(u)) return
    this.apply(this.rib.applyUpdate(pc.name, u))
  }

  flush(outs: PeerOut[]): void {
    for (const o of outs) {
      const pc = this.peers.get(o.peerId)
      if (!pc) continue
      const s = pc.current
      const ctx = { as4: s.fsm.as4 }
      const parts: Uint8Array[] = encodeWithdrawals(o.withdraw, ctx)
      for (const g of o.announce) parts.push(...encodeAnnouncements(g.attrs, g.prefixes, ctx))
      if (parts.length === 0) continue
      s.send(parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts))
    }
  }

  private apply(r: RibResult): void {
    this.flush(r.out)
    // One listener call per UPDATE (or per originate/withdraw/peer change), not per prefix.
    const n = r.changed
    if (n === 0) return
    for (const l of this.listeners) {
      try {
        l(r.changes)
      } catch (err) {
        this.log.error({ err }, 'routes listener failed')
      }
    }
    for (const l of this.countListeners) {
      try {
        l(n)
      } catch (err) {
        this.log.error({ err }, 'routes listener failed')
      }
    }
  }

  private onConnection(sock: net.Socket): void {
    const remote = (sock.remoteAddress ?? '').replace(/^::ffff:/, '')
    const pc = [...this.peers.values()].find((p) => p.cfg.address === remote)
    if (!pc) {
      this.log.info({ remote }, 'connection from unknown address refused')
      sock.on('error', () => {})
      sock.destroy()
      return
    }
    pc.accept(sock)
  }
}

function toPrefix(p: string | Prefix): Prefix {
  if (typeof p !== 'string') return p
  const r = tryParseCidr(p)
  if (!r.ok) throw r.error
  return { addr: r.cidr.network, len: r.cidr.prefix }
}

export function createSpeaker(init: SpeakerInit): Speaker {
  return new Speaker(init)
}
