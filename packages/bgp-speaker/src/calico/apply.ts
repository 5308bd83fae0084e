/**
 * Carries a {@link DesiredBgp} out on a speaker: peers added/removed/restarted by name (sessions a
 * change does not touch stay up), exports originated/withdrawn. Emulated addresses (198.19.x.y,
 * port 179) are mapped to real loopback endpoints by a resolver.
 */
import type { PeerConfig } from '../io/speaker.ts'
import { type DesiredBgp, type DesiredPeer, diffExports, diffPeers } from './desired.ts'

/** Real endpoint of an emulated peer address; undefined = cannot be reached (peer skipped). */
export type EndpointResolver = (ip: string, port: number) => { host: string; port: number } | undefined

/**
 * The default mapping: emulated node IP -> its loopback endpoint, with the emulated BGP port 179
 * replaced by the real one; a peer IP that is itself a loopback address is dialled as given
 * (a real daemon, `peerIP: 127.0.0.5:1790`).
 */
export function endpointResolver(endpoints: ReadonlyMap<string, string>, realPort: number): EndpointResolver {
  return (ip, port) => {
    const host = endpoints.get(ip)
    if (host !== undefined) return { host, port: port === 179 ? realPort : port }
    if (ip.startsWith('127.')) return { host: ip, port }
    return undefined
  }
}

export interface SpeakerLike {
  addPeer(cfg: PeerConfig): void
  removePeer(name: string): void
  originate(prefix: readonly string[]): void
  withdraw(prefix: string): void
  /** Live local-AS change: resets every session (returns the names reset). */
  setAsNumber?(asn: number): string[]
}

export function peerConfigFor(
  p: DesiredPeer,
  d: DesiredBgp,
  resolve: EndpointResolver,
  localEndpoint: string,
  timers: Pick<PeerConfig, 'holdTime' | 'keepaliveTime' | 'connectRetryTime'> = {},
): PeerConfig | undefined {
  const ep = resolve(p.address, p.port)
  if (!ep) return undefined
  const cfg: PeerConfig = {
    name: p.name,
    address: ep.host,
    port: ep.port,
    asNumber: p.asNumber,
    passive: p.passive,
    nextHopSelf: d.routerId,
    ...timers,
  }
  if (p.localAddress !== undefined) cfg.localAddress = localEndpoint
  if (p.rrClient) cfg.rrClient = true
  return cfg
}

export interface ApplyResult {
  added: string[]
  removed: string[]
  restarted: string[]
  originated: string[]
  withdrawn: string[]
  /** Local AS changed from `from` to `to` (every remaining session was reset). */
  asChanged?: { from: number; to: number }
}

/** Keeps a speaker in line with successive DesiredBgp values. */
export class CalicoBgpDriver {
  private current: DesiredBgp | undefined
  private readonly sp: SpeakerLike
  private readonly resolve: EndpointResolver
  private readonly localEndpoint: string
  private readonly timers: Pick<PeerConfig, 'holdTime' | 'keepaliveTime' | 'connectRetryTime'>

  constructor(
    sp: SpeakerLike,
    resolve: EndpointResolver,
    localEndpoint: string,
    timers: Pick<PeerConfig, 'holdTime' | 'keepaliveTime' | 'connectRetryTime'> = {},
  ) {
    this.sp = sp
    this.resolve = resolve
    this.localEndpoint = localEndpoint
    this.timers = timers
  }

  get desired(): DesiredBgp | undefined {
    return this.current
  }

  apply(next: DesiredBgp | undefined): ApplyResult {
    const prev = this.current
    const res: ApplyResult = { added: [], removed: [], restarted: [], originated: [], withdrawn: [] }
    const pd = diffPeers(prev?.peers ?? [], next?.peers ?? [])
    const ed = diffExports(prev?.exports ?? [], next?.exports ?? [])
    for (const p of pd.remove) {
      this.sp.removePeer(p.name)
      res.removed.push(p.name)
    }
    for (const { from } of pd.change) this.sp.removePeer(from.name)
    // Local AS (BGPConfiguration asNumber / Node spec.bgp.asNumber): every session of this node
    // carries it, so all of them reset (peers changed above come back below with the new AS).
    // The first desired value sets the AS the speaker was started with (no sessions yet).
    if (next && this.sp.setAsNumber && prev?.asNumber !== next.asNumber) {
      const reset = this.sp.setAsNumber(next.asNumber)
      if (prev) res.asChanged = { from: prev.asNumber, to: next.asNumber }
      res.restarted.push(...reset)
    }
    for (const e of ed.withdraw) {
      this.sp.withdraw(e.prefix)
      res.withdrawn.push(e.prefix)
    }
    if (ed.originate.length > 0) {
      this.sp.originate(ed.originate.map((e) => e.prefix))
      res.originated.push(...ed.originate.map((e) => e.prefix))
    }
    if (next) {
      for (const { to } of pd.change) {
        const cfg = peerConfigFor(to, next, this.resolve, this.localEndpoint, this.timers)
        if (cfg) this.sp.addPeer(cfg)
        res.restarted.push(to.name)
      }
      for (const p of pd.add) {
        const cfg = peerConfigFor(p, next, this.resolve, this.localEndpoint, this.timers)
        if (!cfg) continue
        this.sp.addPeer(cfg)
        res.added.push(p.name)
      }
    }
    this.current = next
    return res
  }
}
