/**
 * One TCP connection: the state machine (RFC 793 as Linux runs it, simplified: no window
 * management, no data retransmission; the emulated links do not lose data unless told to) and
 * the stream API apps use. SYNs are retransmitted on the injected clock (1 s, doubling), so a
 * dropped SYN times out like the real tools.
 */
import type { Timer } from '@calilab/kit'
import { buildTcp, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../core/packet/index.ts'
import type { SockAddr, SocketError, SocketErrorCode, TcpConn } from '../kernel/api.ts'

export type TcpStateName =
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'ESTABLISHED'
  | 'FIN_WAIT1'
  | 'FIN_WAIT2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSED'

export interface TcpEnv {
  send(pkt: Uint8Array): void
  setTimeout(fn: () => void, ms: number): Timer
  remove(c: Conn): void
}

export const MSS = 1400
const SYN_RTO_MS = 1000
const SYN_RETRIES = 6

const ERR_TEXT: Record<SocketErrorCode, string> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ECONNRESET: 'Connection reset by peer',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EPIPE: 'Broken pipe',
}

export function socketError(code: SocketErrorCode): SocketError {
  return { code, message: ERR_TEXT[code] }
}

export class Conn implements TcpConn {
  readonly local: SockAddr
  readonly remote: SockAddr
  state: TcpStateName
  sndNxt: number
  rcvNxt = 0
  private readonly env: TcpEnv
  private dataCbs: ((d: Uint8Array) => void)[] = []
  private endCbs: (() => void)[] = []
  private closeCbs: ((err?: SocketError) => void)[] = []
  private pending: Uint8Array[] = []
  private gotFin = false
  private sentFin = false
  private timer: Timer | undefined
  private retries = 0
  /** Settles a pending connect. */
  onConnect: ((err?: SocketError) => void) | undefined = undefined
  key: string

  constructor(env: TcpEnv, local: SockAddr, remote: SockAddr, iss: number, state: TcpStateName, key: string) {
    this.env = env
    this.local = local
    this.remote = remote
    this.sndNxt = iss >>> 0
    this.state = state
    this.key = key
  }

  private seg(flags: number, payload?: Uint8Array, seq = this.sndNxt): void {
    const f: Parameters<typeof buildTcp>[0] = {
      src: this.local.ip,
      dst: this.remote.ip,
      sport: this.local.port,
      dport: this.remote.port,
      seq,
      ack: flags & TCP_ACK ? this.rcvNxt : 0,
      flags,
      window: 64240,
    }
    if (payload) f.payload = payload
    this.env.send(buildTcp(f))
  }

  /** Client side: send the SYN and arm the retransmission timer. */
  startConnect(): void {
    const seq = this.sndNxt
    this.sndNxt = (this.sndNxt + 1) >>> 0
    this.armSyn()
    this.seg(TCP_SYN, undefined, seq)
  }

  private armSyn(): void {
    const rto = SYN_RTO_MS << this.retries
    this.timer = this.env.setTimeout(() => {
      if (this.state !== 'SYN_SENT') return
      if (this.retries >= SYN_RETRIES) return this.fail(socketError('ETIMEDOUT'))
      this.retries++
      this.seg(TCP_SYN, undefined, (this.sndNxt - 1) >>> 0)
      this.armSyn()
    }, rto)
  }

  /** Server side: answer a SYN. */
  acceptSyn(peerSeq: number): void {
    this.rcvNxt = (peerSeq + 1) >>> 0
    const seq = this.sndNxt
    this.sndNxt = (this.sndNxt + 1) >>> 0
    this.seg(TCP_SYN | TCP_ACK, undefined, seq)
  }

  /** A segment for this connection. Returns true when it completed the server handshake. */
  input(flags: number, seq: number, ack: number, payload: Uint8Array): boolean {
    if (flags & TCP_RST) {
      if (this.state === 'SYN_SENT') this.fail(socketError('ECONNREFUSED'))
      else this.fail(socketError('ECONNRESET'))
      return false
    }
    let established = false
    if (this.state === 'SYN_SENT') {
      if (flags & TCP_SYN && flags & TCP_ACK && ack === this.sndNxt) {
        this.timer?.cancel()
        this.rcvNxt = (seq + 1) >>> 0
        this.state = 'ESTABLISHED'
        const cb = this.onConnect
        this.onConnect = undefined
        this.seg(TCP_ACK)
        cb?.()
      }
      return false
    }
    if (this.state === 'SYN_RECV') {
      if (flags & TCP_ACK && ack === this.sndNxt) {
        this.state = 'ESTABLISHED'
        established = true
      } else if (flags & TCP_SYN) {
        this.seg(TCP_SYN | TCP_ACK, undefined, (this.sndNxt - 1) >>> 0)
        return false
      } else return false
    }
    if (payload.length > 0 || flags & TCP_FIN) {
      if (seq !== this.rcvNxt) {
        this.seg(TCP_ACK)
        return established
      }
      if (payload.length > 0) {
        this.rcvNxt = (this.rcvNxt + payload.length) >>> 0
        if (this.dataCbs.length === 0) this.pending.push(payload.slice())
        else for (const cb of this.dataCbs) cb(payload.slice())
      }
      if (flags & TCP_FIN && !this.gotFin) {
        this.gotFin = true
        this.rcvNxt = (this.rcvNxt + 1) >>> 0
        this.state = this.sentFin ? 'TIME_WAIT' : 'CLOSE_WAIT'
        if (this.sentFin) this.finish()
        this.seg(TCP_ACK)
        for (const cb of this.endCbs) cb()
        return established
      }
      if (payload.length > 0) this.seg(TCP_ACK)
    }
    if (flags & TCP_ACK && this.sentFin && ack === this.sndNxt) {
      if (this.state === 'FIN_WAIT1') this.state = 'FIN_WAIT2'
      else if (this.state === 'LAST_ACK' || this.state === 'CLOSING') this.finish()
    }
    return established
  }

  write(data: Uint8Array | string): void {
    if (this.sentFin || this.state === 'CLOSED') return
    const b = typeof data === 'string' ? new TextEncoder().encode(data) : data
    for (let o = 0; o < b.length; o += MSS) {
      const part = b.subarray(o, Math.min(b.length, o + MSS))
      const seq = this.sndNxt
      this.sndNxt = (this.sndNxt + part.length) >>> 0
      this.seg(TCP_PSH | TCP_ACK, part, seq)
    }
  }

  onData(cb: (data: Uint8Array) => void): void {
    this.dataCbs.push(cb)
    const p = this.pending
    this.pending = []
    for (const d of p) cb(d)
  }

  onEnd(cb: () => void): void {
    this.endCbs.push(cb)
    if (this.gotFin) cb()
  }

  onClose(cb: (err?: SocketError) => void): void {
    this.closeCbs.push(cb)
    if (this.state === 'CLOSED') cb()
  }

  end(): void {
    if (this.sentFin || this.state === 'CLOSED' || this.state === 'SYN_SENT') return
    this.sentFin = true
    const seq = this.sndNxt
    this.sndNxt = (this.sndNxt + 1) >>> 0
    this.state = this.gotFin ? 'LAST_ACK' : 'FIN_WAIT1'
    this.seg(TCP_FIN | TCP_ACK, undefined, seq)
  }

  destroy(): void {
    if (this.state === 'CLOSED') return
    if (this.state !== 'SYN_SENT') this.seg(TCP_RST | TCP_ACK)
    this.fail(undefined)
  }

  /** Aborts with an error (RST, ICMP, timeout). */
  fail(err: SocketError | undefined): void {
    this.timer?.cancel()
    const cb = this.onConnect
    this.onConnect = undefined
    if (cb) cb(err ?? socketError('ECONNRESET'))
    this.close(err)
  }

  private finish(): void {
    this.close(undefined)
  }

  private close(err: SocketError | undefined): void {
    if (this.state === 'CLOSED') return
    this.state = 'CLOSED'
    this.env.remove(this)
    for (const cb of this.closeCbs) cb(err)
  }
}
