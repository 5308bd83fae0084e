/**
 * The socket layer of one namespace: TCP listeners and connections, UDP sockets, ICMP echo
 * (answers for the namespace's own addresses, and ping), and the kernel's answers for closed
 * ports (TCP RST, ICMP port unreachable).
 */
import type { Clock, Rng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import {
  buildIcmpEcho,
  buildIcmpError,
  buildTcpResetFor,
  buildUdp,
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_PORT_UNREACH,
  ICMP_TIME_EXCEEDED,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type PacketView,
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
} from '../core/packet/index.ts'
import type {
  PingOptions,
  PingReply,
  PingResult,
  SockAddr,
  SocketApi,
  TcpConn,
  TcpConnectOptions,
  TcpListener,
  UdpSocket,
} from '../kernel/api.ts'
import { Conn, socketError, type TcpEnv } from './tcp.ts'

export interface StackEnv {
  clock: Clock
  rng: Rng
  /** Sends a locally generated packet through the namespace's OUTPUT path. */
  output(pkt: Uint8Array): void
  sourceFor(dst: number): number | undefined
  isLocal(ip: number): boolean
}

/** A socket error as thrown by tcpConnect (code + message). */
export class SocketErrorImpl extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
    this.name = 'SocketError'
  }
}

function toIp(x: number | string): number {
  return typeof x === 'string' ? parseIPv4(x) : x >>> 0
}

interface Listener {
  addr: number
  onConn: (c: TcpConn) => void
}

interface UdpEntry {
  addr: number
  onMsg: (data: Uint8Array, from: SockAddr, to: SockAddr) => void
  /** The last local address a datagram came to (SockAddr is readonly: one object per address). */
  to: SockAddr | undefined
}

interface PingWait {
  dst: number
  onReply(v: PacketView, now: number): void
  onError(seq: number, from: number, type: number, code: number): void
}

export class Stack implements SocketApi {
  private readonly env: StackEnv
  private readonly conns = new Map<string, Conn>()
  private readonly listeners = new Map<number, Listener>()
  private readonly udp = new Map<number, UdpEntry>()
  private readonly pings = new Map<number, PingWait>()
  private readonly tcpEnv: TcpEnv

  constructor(env: StackEnv) {
    this.env = env
    this.tcpEnv = {
      send: (p) => env.output(p),
      setTimeout: (fn, ms) => env.clock.setTimeout(fn, ms),
      remove: (c) => this.conns.delete(c.key),
    }
  }

  private ephemeral(used: (p: number) => boolean): number {
    for (let i = 0; i < 100; i++) {
      const p = 32768 + this.env.rng.int(60999 - 32768 + 1)
      if (!used(p)) return p
    }
    for (let p = 32768; p <= 60999; p++) if (!used(p)) return p
    return 0
  }

  // ------------------------------------------------------------------ TCP

  tcpConnect(o: TcpConnectOptions): Promise<TcpConn> {
    const dst = toIp(o.dst)
    const src = o.src !== undefined ? toIp(o.src) : this.env.sourceFor(dst)
    if (src === undefined) return Promise.reject(new SocketErrorImpl('ENETUNREACH', 'Network is unreachable'))
    const key = (sp: number) => `${src}:${sp}:${dst}:${o.port}`
    const sport = o.sport ?? this.ephemeral((p) => this.conns.has(key(p)))
    const k = key(sport)
    if (this.conns.has(k)) return Promise.reject(new SocketErrorImpl('EADDRINUSE', 'Address already in use'))
    const c = new Conn(this.tcpEnv, { ip: src, port: sport }, { ip: dst, port: o.port }, this.iss(), 'SYN_SENT', k)
    this.conns.set(k, c)
    return new Promise<TcpConn>((resolve, reject) => {
      let timer: { cancel(): void } | undefined
      c.onConnect = (err) => {
        timer?.cancel()
        if (err) reject(new SocketErrorImpl(err.code, err.message))
        else resolve(c)
      }
      if (o.timeoutMs !== undefined)
        timer = this.env.clock.setTimeout(() => {
          if (c.state === 'SYN_SENT') c.fail(socketError('ETIMEDOUT'))
        }, o.timeoutMs)
      c.startConnect()
    })
  }

  tcpListen(port: number, onConn: (c: TcpConn) => void, o: { addr?: number } = {}): TcpListener {
    if (this.listeners.has(port)) throw new SocketErrorImpl('EADDRINUSE', 'Address already in use')
    this.listeners.set(port, { addr: o.addr ?? 0, onConn })
    return { port, close: () => this.listeners.delete(port) }
  }

  private iss(): number {
    return this.env.rng.int(0x7fffffff) >>> 0
  }

  private tcpInput(v: PacketView): boolean {
    const k = `${v.dst}:${v.dport}:${v.src}:${v.sport}`
    const payload = v.buf.subarray(v.payloadOff, v.payloadOff + v.payloadLen)
    const c = this.conns.get(k)
    if (c) {
      if (c.input(v.tcpFlags, v.seq, v.ack, payload)) {
        const l = this.listeners.get(c.local.port)
        l?.onConn(c)
      }
      return true
    }
    const l = this.listeners.get(v.dport)
    if (l && (l.addr === 0 || l.addr === v.dst) && v.tcpFlags & TCP_SYN && !(v.tcpFlags & TCP_ACK)) {
      const nc = new Conn(
        this.tcpEnv,
        { ip: v.dst, port: v.dport },
        { ip: v.src, port: v.sport },
        this.iss(),
        'SYN_RECV',
        k,
      )
      this.conns.set(k, nc)
      nc.acceptSyn(v.seq)
      return true
    }
    // Closed port: RST (never in answer to a RST).
    if (!(v.tcpFlags & TCP_RST)) {
      this.env.output(buildTcpResetFor(v))
    }
    return false
  }

  // ------------------------------------------------------------------ UDP

  udpBind(
    port: number,
    onMsg: (data: Uint8Array, from: SockAddr, to: SockAddr) => void,
    o: { addr?: number } = {},
  ): UdpSocket {
    const p = port === 0 ? this.ephemeral((x) => this.udp.has(x)) : port
    if (this.udp.has(p)) throw new SocketErrorImpl('EADDRINUSE', 'Address already in use')
    const addr = o.addr ?? 0
    this.udp.set(p, { addr, onMsg, to: undefined })
    // The last destination given as a string, parsed (apps send many datagrams to one peer).
    let lastDstText = ''
    let lastDst = 0
    return {
      port: p,
      send: (dst, dport, data, src) => {
        let d: number
        if (typeof dst === 'number') d = dst >>> 0
        else if (dst === lastDstText) d = lastDst
        else {
          d = parseIPv4(dst)
          lastDstText = dst
          lastDst = d
        }
        const s = src ?? (addr !== 0 ? addr : this.env.sourceFor(d))
        if (s === undefined) return
        const payload = typeof data === 'string' ? new TextEncoder().encode(data) : data
        this.env.output(buildUdp({ src: s, dst: d, sport: p, dport, payload }))
      },
      close: () => this.udp.delete(p),
    }
  }

  // ------------------------------------------------------------------ ICMP

  ping(dst: number | string, o: PingOptions = {}): Promise<PingResult> {
    const d = toIp(dst)
    const count = o.count ?? 1
    const wait = o.timeoutMs ?? 1000
    const interval = o.intervalMs ?? 1000
    const clock = this.env.clock
    const src = this.env.sourceFor(d)
    let id = 1 + this.env.rng.int(0xfffe)
    while (this.pings.has(id)) id = (id % 0xfffe) + 1
    const sentAt = new Map<number, number>()
    const replies: PingReply[] = []
    const errors: { seq: number; from: number; type: number; code: number }[] = []
    let transmitted = 0
    return new Promise<PingResult>((resolve) => {
      let finished = false
      let lastWait: { cancel(): void } | undefined
      const done = () => {
        if (finished) return
        finished = true
        lastWait?.cancel()
        this.pings.delete(id)
        resolve({ dst: d, transmitted, received: replies.length, replies, errors })
      }
      // Like ping -c N: once the last probe is answered there is nothing left to wait for.
      const answeredAll = () => transmitted === count && replies.length + errors.length >= count
      this.pings.set(id, {
        dst: d,
        onReply: (v, now) => {
          const t = sentAt.get(v.icmpSeq)
          if (t === undefined || replies.some((r) => r.seq === v.icmpSeq)) return
          replies.push({ seq: v.icmpSeq, from: v.src, ttl: v.ttl, rttMs: now - t, bytes: v.l4len })
          if (answeredAll()) done()
        },
        onError: (seq, from, type, code) => {
          errors.push({ seq, from, type, code })
          if (answeredAll()) done()
        },
      })
      const send = (seq: number) => {
        transmitted++
        sentAt.set(seq, clock.monotonic())
        if (src !== undefined) {
          const f: Parameters<typeof buildIcmpEcho>[0] = {
            src,
            dst: d,
            kind: 'request',
            icmpId: id,
            icmpSeq: seq,
            payload: new Uint8Array(o.payloadSize ?? 56),
          }
          if (o.ttl !== undefined) f.ttl = o.ttl
          this.env.output(buildIcmpEcho(f))
        }
        if (seq < count) clock.setTimeout(() => send(seq + 1), interval)
        else lastWait = clock.setTimeout(done, wait)
      }
      send(1)
    })
  }

  private icmpInput(v: PacketView): boolean {
    if (v.icmpType === ICMP_ECHO_REQUEST) {
      this.env.output(
        buildIcmpEcho({
          src: v.dst,
          dst: v.src,
          kind: 'reply',
          icmpId: v.icmpId,
          icmpSeq: v.icmpSeq,
          payload: v.buf.slice(v.payloadOff, v.payloadOff + v.payloadLen),
        }),
      )
      return true
    }
    if (v.icmpType === ICMP_ECHO_REPLY) {
      const w = this.pings.get(v.icmpId)
      w?.onReply(v, this.env.clock.monotonic())
      return w !== undefined
    }
    if (v.icmpType === ICMP_DEST_UNREACH || v.icmpType === ICMP_TIME_EXCEEDED) {
      this.quotedError(v.buf, v.payloadOff, v.icmpType, v.icmpCode, v.src)
      return true
    }
    return false
  }

  /** An ICMP error quoting one of our packets: fail the connection or note it for ping. */
  private quotedError(b: Uint8Array, q: number, type: number, code: number, from: number): void {
    if (b.length < q + 28) return
    const ihl = (b[q]! & 0x0f) << 2
    const proto = b[q + 9]!
    const src = ((b[q + 12]! << 24) | (b[q + 13]! << 16) | (b[q + 14]! << 8) | b[q + 15]!) >>> 0
    const dst = ((b[q + 16]! << 24) | (b[q + 17]! << 16) | (b[q + 18]! << 8) | b[q + 19]!) >>> 0
    const l4 = q + ihl
    if (proto === IPPROTO_TCP) {
      const sp = (b[l4]! << 8) | b[l4 + 1]!
      const dp = (b[l4 + 2]! << 8) | b[l4 + 3]!
      const c = this.conns.get(`${src}:${sp}:${dst}:${dp}`)
      if (!c) return
      if (type === ICMP_DEST_UNREACH && code === ICMP_PORT_UNREACH) c.fail(socketError('ECONNREFUSED'))
      else if (type === ICMP_DEST_UNREACH && c.state === 'SYN_SENT')
        c.fail(socketError(code === 0 ? 'ENETUNREACH' : 'EHOSTUNREACH'))
    } else if (proto === IPPROTO_ICMP) {
      const id = (b[l4 + 4]! << 8) | b[l4 + 5]!
      const seq = (b[l4 + 6]! << 8) | b[l4 + 7]!
      this.pings.get(id)?.onError(seq, from, type, code)
    }
  }

  /** The namespace had no route for one of our packets (ENETUNREACH for a connect). */
  localUnreachable(v: PacketView, pkt: Uint8Array): void {
    this.quotedError(pkt, 0, ICMP_DEST_UNREACH, 0, v.src)
  }

  // ------------------------------------------------------------------ delivery

  /** A packet for this namespace passed INPUT: hand it to a socket. Returns whether one took it. */
  deliver(v: PacketView): boolean {
    if (v.proto === IPPROTO_TCP && v.hasL4) return this.tcpInput(v)
    if (v.proto === IPPROTO_UDP && v.hasL4) {
      const s = this.udp.get(v.dport)
      if (s && (s.addr === 0 || s.addr === v.dst)) {
        let to = s.to
        if (to === undefined || to.ip !== v.dst) {
          to = { ip: v.dst, port: v.dport }
          s.to = to
        }
        s.onMsg(v.buf.slice(v.payloadOff, v.payloadOff + v.payloadLen), { ip: v.src, port: v.sport }, to)
        return true
      }
      this.env.output(
        buildIcmpError({
          src: v.dst,
          dst: v.src,
          type: ICMP_DEST_UNREACH,
          code: ICMP_PORT_UNREACH,
          original: v.buf.subarray(v.off, v.off + v.totalLen),
        }),
      )
      return false
    }
    if (v.proto === IPPROTO_ICMP && v.hasL4) return this.icmpInput(v)
    return false
  }
}
