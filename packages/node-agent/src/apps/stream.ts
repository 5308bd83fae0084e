/**
 * The small byte-stream interface apps and tools are written against. The kernel's TcpConn
 * (`@calilab/dataplane` kernel/api.ts) satisfies it, and so does the in-memory pipe in
 * `mem-net.ts`, so apps run unchanged on either.
 */

import type { PingOptions, PingResult, SockAddr, SocketError } from '@calilab/dataplane'

export interface ByteStream {
  readonly local: SockAddr
  readonly remote: SockAddr
  write(data: Uint8Array | string): void
  onData(cb: (data: Uint8Array) => void): void
  onEnd(cb: () => void): void
  onClose(cb: (err?: SocketError) => void): void
  end(): void
  destroy(): void
}

export interface StreamListener {
  readonly port: number
  close(): void
}

export interface DatagramSocket {
  readonly port: number
  send(dst: number | string, port: number, data: Uint8Array | string, src?: number): void
  close(): void
}

/** The socket calls apps and tools make (a subset of the kernel's SocketApi). */
export interface Sockets {
  tcpConnect(o: { dst: number | string; port: number; timeoutMs?: number }): Promise<ByteStream>
  tcpListen(port: number, onConn: (c: ByteStream) => void, o?: { addr?: number }): StreamListener
  udpBind(
    port: number,
    onMsg: (data: Uint8Array, from: SockAddr, to: SockAddr) => void,
    o?: { addr?: number },
  ): DatagramSocket
  ping?(dst: number | string, o?: PingOptions): Promise<PingResult>
}

export function ipToString(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

export function ipToNumber(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
  if (!m) return undefined
  const p = m.slice(1).map(Number)
  if (p.some((x) => x > 255)) return undefined
  return (((p[0] as number) << 24) | ((p[1] as number) << 16) | ((p[2] as number) << 8) | (p[3] as number)) >>> 0
}
