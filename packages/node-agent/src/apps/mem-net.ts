/**
 * An in-memory network of hosts (by IPv4 address) implementing `Sockets`: TCP streams as paired
 * buffers, UDP datagrams, ping. For tests of apps and tools without the kernel, and a fallback
 * where no kernel is wired. `dnat` maps a service address to a backend; `drop` makes an address
 * swallow everything (a policy drop: connects time out).
 */

import type { PingOptions, PingResult, SockAddr, SocketError } from '@calilab/dataplane'
import type { Clock } from '@calilab/kit'
import type { ByteStream, DatagramSocket, Sockets, StreamListener } from './stream.ts'
import { ipToNumber } from './stream.ts'

type Key = string
const key = (ip: number, port: number): Key => `${ip}:${port}`

class MemStream implements ByteStream {
  peer: MemStream | undefined
  private dataCbs: ((d: Uint8Array) => void)[] = []
  private endCbs: (() => void)[] = []
  private closeCbs: ((e?: SocketError) => void)[] = []
  private pending: Uint8Array[] = []
  private ended = false
  private closed = false
  private sentFin = false
  readonly local: SockAddr
  readonly remote: SockAddr
  constructor(local: SockAddr, remote: SockAddr) {
    this.local = local
    this.remote = remote
  }
  write(data: Uint8Array | string): void {
    if (this.sentFin || this.closed) return
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    const p = this.peer
    queueMicrotask(() => p?.deliver(b))
  }
  deliver(b: Uint8Array): void {
    if (this.closed) return
    if (this.dataCbs.length === 0) this.pending.push(b)
    else for (const cb of this.dataCbs) cb(b)
  }
  onData(cb: (d: Uint8Array) => void): void {
    this.dataCbs.push(cb)
    for (const b of this.pending.splice(0)) cb(b)
  }
  onEnd(cb: () => void): void {
    this.endCbs.push(cb)
    if (this.ended) queueMicrotask(cb)
  }
  onClose(cb: (e?: SocketError) => void): void {
    this.closeCbs.push(cb)
  }
  end(): void {
    if (this.sentFin) return
    this.sentFin = true
    const p = this.peer
    queueMicrotask(() => {
      p?.fin()
      if (this.ended) this.close()
    })
  }
  fin(): void {
    if (this.ended) return
    this.ended = true
    for (const cb of this.endCbs) cb()
    if (this.sentFin) this.close()
  }
  destroy(): void {
    const p = this.peer
    this.close()
    queueMicrotask(() => p?.close({ code: 'ECONNRESET', message: 'Connection reset by peer' }))
  }
  close(e?: SocketError): void {
    if (this.closed) return
    this.closed = true
    for (const cb of this.closeCbs) cb(e)
  }
}

export class MemNet {
  private readonly listeners = new Map<Key, (c: ByteStream) => void>()
  private readonly udp = new Map<Key, (d: Uint8Array, from: SockAddr, to: SockAddr) => void>()
  private readonly nat = new Map<Key, { ip: number; port: number }>()
  private readonly dropped = new Set<number>()
  private readonly hosts = new Set<number>()
  private nextPort = 32768
  private readonly clock: Clock
  constructor(clock: Clock) {
    this.clock = clock
  }

  private ip(x: number | string): number {
    const n = typeof x === 'number' ? x : ipToNumber(x)
    if (n === undefined) throw new Error(`bad address ${x}`)
    return n
  }

  /** Traffic to `ip:port` goes to `to` (a Service's cluster IP, kube-proxy style). */
  dnat(ip: string, port: number, toIp: string, toPort: number): void {
    this.nat.set(key(this.ip(ip), port), { ip: this.ip(toIp), port: toPort })
  }

  /** Everything sent to `ip` is dropped (connects and queries time out). */
  drop(ip: string, on = true): void {
    if (on) this.dropped.add(this.ip(ip))
    else this.dropped.delete(this.ip(ip))
  }

  private target(ip: number, port: number): { ip: number; port: number } {
    return this.nat.get(key(ip, port)) ?? { ip, port }
  }

  /** The socket layer of the host at `address`. */
  host(address: string): Sockets {
    const self = this.ip(address)
    this.hosts.add(self)
    const net = this
    return {
      tcpListen(port, onConn, _o): StreamListener {
        const k = key(self, port)
        net.listeners.set(k, onConn)
        return { port, close: () => net.listeners.delete(k) }
      },
      tcpConnect(o) {
        const t = net.target(net.ip(o.dst), o.port)
        const sport = net.nextPort++
        return new Promise<ByteStream>((resolve, reject) => {
          if (net.dropped.has(t.ip) || net.dropped.has(net.ip(o.dst))) {
            net.clock.setTimeout(
              () => reject(Object.assign(new Error('Connection timed out'), { code: 'ETIMEDOUT' })),
              o.timeoutMs ?? 127_000,
            )
            return
          }
          const l = net.listeners.get(key(t.ip, t.port))
          if (!l) {
            queueMicrotask(() => reject(Object.assign(new Error('Connection refused'), { code: 'ECONNREFUSED' })))
            return
          }
          const a = new MemStream({ ip: self, port: sport }, { ip: net.ip(o.dst), port: o.port })
          const b = new MemStream({ ip: t.ip, port: t.port }, { ip: self, port: sport })
          a.peer = b
          b.peer = a
          queueMicrotask(() => {
            l(b)
            resolve(a)
          })
        })
      },
      udpBind(port, onMsg, _o): DatagramSocket {
        const k = key(self, port)
        net.udp.set(k, onMsg)
        return {
          port,
          send(dst, dport, data, _src) {
            const d = net.ip(dst)
            if (net.dropped.has(d)) return
            const t = net.target(d, dport)
            const h = net.udp.get(key(t.ip, t.port))
            const b = typeof data === 'string' ? Buffer.from(data) : data
            if (h) queueMicrotask(() => h(b, { ip: self, port }, { ip: d, port: dport }))
          },
          close: () => net.udp.delete(k),
        }
      },
      ping(dst: number | string, o?: PingOptions): Promise<PingResult> {
        const d = net.ip(dst)
        const count = o?.count ?? 1
        const ok = !net.dropped.has(d) && net.hosts.has(d)
        return new Promise((resolve) => {
          const finish = () =>
            resolve({
              dst: d,
              transmitted: count,
              received: ok ? count : 0,
              replies: ok
                ? Array.from({ length: count }, (_, i) => ({ seq: i + 1, from: d, ttl: 64, rttMs: 0.05, bytes: 64 }))
                : [],
              errors: [],
            })
          if (ok) queueMicrotask(finish)
          else net.clock.setTimeout(finish, o?.timeoutMs ?? 1000)
        })
      },
    }
  }
}
