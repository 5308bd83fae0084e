/**
 * The underlay as UDP on the node's real endpoint: one emulated underlay packet (plain, IPIP or
 * VXLAN, as the pipeline built it) per datagram. `send(nextHop, bytes)` finds the peer node's
 * endpoint by its emulated node IP; every datagram received is handed to `onPacket` (wire it to
 * `host.fromUnderlay`). Bind to a loopback address with port 0 and publish the bound address.
 *
 * Sends go out of one connected socket per peer (no per-datagram address lookup); node:dgram has
 * no sendmmsg, so batching sends per tick would save nothing (each datagram is one syscall).
 * This is the thin shell around node:dgram; the Host stays pure.
 *
 * Peers change at runtime: `setPeer` / `deletePeer` one at a time (host1's endpoint once known),
 * `replacePeers` for the whole set the datastore says (a peer whose endpoint is unchanged keeps its
 * connected socket). The node agent and host1's router both run on this class.
 */
import { createSocket, type Socket } from 'node:dgram'
import type { Underlay } from '../kernel/api.ts'

export interface UdpEndpoint {
  address: string
  port: number
}

export interface UdpUnderlayOptions {
  /** Local address to bind (default 127.0.0.1) and port (default 0: ephemeral). */
  address?: string
  port?: number
  /** Called for each datagram received (Node's buffer of that datagram; the callee may rewrite it). */
  onPacket: (bytes: Uint8Array, from: UdpEndpoint) => void
  /** SO_RCVBUF / SO_SNDBUF in bytes (default 4 MiB each: bursts of small datagrams). */
  bufferBytes?: number
}

export interface UdpUnderlayStats {
  sent: number
  received: number
  /** Packets for a next hop with no known endpoint. */
  noPeer: number
  sendErrors: number
}

interface Peer extends UdpEndpoint {
  /**
   * A socket connected to the peer, once connected: send() on a connected socket skips the
   * per-datagram address lookup (a dns.lookup + nextTick even for an IP literal).
   */
  conn: Socket | undefined
}

export class UdpUnderlay implements Underlay {
  readonly stats: UdpUnderlayStats = { sent: 0, received: 0, noPeer: 0, sendErrors: 0 }
  private readonly sock: Socket
  private readonly peers = new Map<number, Peer>()
  private readonly onError = (): void => {
    this.stats.sendErrors++
  }

  private readonly bufferBytes: number

  private constructor(sock: Socket, bufferBytes: number) {
    this.sock = sock
    this.bufferBytes = bufferBytes
  }

  static bind(o: UdpUnderlayOptions): Promise<UdpUnderlay> {
    const sock = createSocket({ type: 'udp4' })
    const u = new UdpUnderlay(sock, o.bufferBytes ?? 4 * 1024 * 1024)
    const onPacket = o.onPacket
    sock.on('message', (msg, rinfo) => {
      u.stats.received++
      // A plain Uint8Array view (Buffer's slice() would not copy); rinfo is an endpoint already.
      onPacket(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), rinfo)
    })
    return new Promise((resolve, reject) => {
      sock.once('error', reject)
      sock.bind(o.port ?? 0, o.address ?? '127.0.0.1', () => {
        sock.off('error', reject)
        sock.on('error', u.onError)
        const size = u.bufferBytes
        try {
          sock.setRecvBufferSize(size)
          sock.setSendBufferSize(size)
        } catch {
          // The OS caps buffer sizes (net.core.rmem_max); the defaults still work.
        }
        resolve(u)
      })
    })
  }

  /** The bound endpoint (publish it so peers can reach this node). */
  get endpoint(): UdpEndpoint {
    const a = this.sock.address()
    return { address: a.address, port: a.port }
  }

  /** `HOST:PORT` of the bound socket (the node's `calilab.dev/underlay` annotation). */
  get address(): string {
    const e = this.endpoint
    return `${e.address}:${e.port}`
  }

  /** Where the node with emulated IP `nodeIp` listens. */
  setPeer(nodeIp: number, ep: UdpEndpoint): void {
    const old = this.peers.get(nodeIp >>> 0)
    if (old && old.address === ep.address && old.port === ep.port) return
    old?.conn?.close()
    const p: Peer = { address: ep.address, port: ep.port, conn: undefined }
    this.peers.set(nodeIp >>> 0, p)
    const c = createSocket({ type: 'udp4' })
    c.on('error', this.onError)
    c.connect(ep.port, ep.address, () => {
      if (this.peers.get(nodeIp >>> 0) !== p) {
        c.close()
        return
      }
      try {
        c.setSendBufferSize(this.bufferBytes)
      } catch {
        // capped by the OS
      }
      p.conn = c
    })
  }

  deletePeer(nodeIp: number): void {
    const p = this.peers.get(nodeIp >>> 0)
    this.peers.delete(nodeIp >>> 0)
    p?.conn?.close()
  }

  /** Makes the peer set exactly `all` (node IP -> endpoint): others are deleted, changed ones reconnected. */
  replacePeers(all: ReadonlyMap<number, UdpEndpoint>): void {
    const want = new Map<number, UdpEndpoint>()
    for (const [k, v] of all) want.set(k >>> 0, v)
    for (const k of [...this.peers.keys()]) if (!want.has(k)) this.deletePeer(k)
    for (const [k, v] of want) this.setPeer(k, v)
  }

  /** The peers, by emulated node IP. */
  peerList(): { nodeIp: number; address: string; port: number }[] {
    return [...this.peers].map(([nodeIp, p]) => ({ nodeIp, address: p.address, port: p.port }))
  }

  send(nextHop: number, bytes: Uint8Array): void {
    const p = this.peers.get(nextHop >>> 0)
    if (!p) {
      this.stats.noPeer++
      return
    }
    this.stats.sent++
    // No per-datagram callback: libuv's immediate send then never calls back into JS; failures
    // arrive as the socket's 'error' event (counted in stats.sendErrors).
    if (p.conn) p.conn.send(bytes)
    else this.sock.send(bytes, p.port, p.address)
  }

  close(): Promise<void> {
    for (const p of this.peers.values()) p.conn?.close()
    this.peers.clear()
    return new Promise((resolve) => this.sock.close(() => resolve()))
  }
}
