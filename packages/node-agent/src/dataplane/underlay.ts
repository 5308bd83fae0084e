/**
 * The underlay: one UDP socket on the node's real endpoint; each datagram carries one underlay
 * packet (plain IPv4, IPIP or VXLAN-in-UDP, as the kernel built it). The next hop (an emulated
 * node IP) maps to a real `host:port` learned from the Node objects (annotation
 * `calilab.dev/underlay`) or configured (the gateway, host1).
 */
import dgram from 'node:dgram'
import type { Host, Underlay } from '@calilab/dataplane'
import type { Logger } from '@calilab/kit'

export interface UdpUnderlayInit {
  host: Host
  /** Real address to bind (the node's loopback endpoint). */
  bind: string
  /** 0 = ephemeral (tests); default 4789. */
  port?: number
  log?: Logger
}

export interface UnderlayStats {
  sent: number
  received: number
  /** Packets for a next hop with no known endpoint. */
  noPeer: number
}

export class UdpUnderlay implements Underlay {
  readonly stats: UnderlayStats = { sent: 0, received: 0, noPeer: 0 }
  private readonly peers = new Map<number, { host: string; port: number }>()
  private sock: dgram.Socket | undefined
  private boundPort = 0
  private readonly init: UdpUnderlayInit

  constructor(init: UdpUnderlayInit) {
    this.init = init
  }

  get port(): number {
    return this.boundPort
  }

  /** `HOST:PORT` other hosts send to (the `calilab.dev/underlay` annotation's value). */
  get address(): string {
    return `${this.init.bind}:${this.boundPort}`
  }

  async start(): Promise<void> {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 })
    s.on('message', (msg) => {
      this.stats.received++
      try {
        this.init.host.fromUnderlay(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength))
      } catch (err) {
        this.init.log?.warn({ err }, 'underlay packet failed')
      }
    })
    s.on('error', (err) => this.init.log?.warn({ err }, 'underlay socket error'))
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.bind(this.init.port ?? 4789, this.init.bind, () => {
        s.off('error', reject)
        resolve()
      })
    })
    this.sock = s
    this.boundPort = s.address().port
    this.init.host.setUnderlay(this)
  }

  setPeer(nodeIp: number, ep: { host: string; port: number }): void {
    this.peers.set(nodeIp >>> 0, ep)
  }

  delPeer(nodeIp: number): void {
    this.peers.delete(nodeIp >>> 0)
  }

  /** Replaces every peer except `keep` (the configured gateway). */
  setPeers(
    all: ReadonlyMap<number, { host: string; port: number }>,
    keep: ReadonlyMap<number, { host: string; port: number }>,
  ): void {
    this.peers.clear()
    for (const [k, v] of keep) this.peers.set(k >>> 0, v)
    for (const [k, v] of all) this.peers.set(k >>> 0, v)
  }

  peerList(): { nodeIp: number; host: string; port: number }[] {
    return [...this.peers].map(([nodeIp, e]) => ({ nodeIp, ...e }))
  }

  send(nextHop: number, bytes: Uint8Array): void {
    const ep = this.peers.get(nextHop >>> 0)
    if (!ep || !this.sock) {
      this.stats.noPeer++
      return
    }
    this.stats.sent++
    this.sock.send(Buffer.from(bytes), ep.port, ep.host)
  }

  close(): Promise<void> {
    const s = this.sock
    this.sock = undefined
    if (this.init.host.setUnderlay) this.init.host.setUnderlay(undefined)
    if (!s) return Promise.resolve()
    return new Promise((r) => s.close(() => r()))
  }
}
