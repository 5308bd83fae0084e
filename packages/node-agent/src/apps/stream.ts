/**
 * The socket surface apps and tools are written against: the kernel's own socket types
 * (`@calilab/dataplane` kernel/api.ts), less what only the kernel knows (a connection's TCP
 * state). The kernel's Netns satisfies `Sockets`, and so does the in-memory network in
 * `mem-net.ts`, so apps run unchanged on either.
 */

import type { SockAddr, SocketApi, TcpConn, TcpConnectOptions, TcpListener, UdpSocket } from '@calilab/dataplane'

/** A TCP connection as apps see it: the kernel's TcpConn without its TCP state. */
export type ByteStream = Omit<TcpConn, 'state'>
export type StreamListener = TcpListener
export type DatagramSocket = UdpSocket

/** The socket calls apps and tools make (a subset of the kernel's SocketApi). */
export interface Sockets {
  tcpConnect(o: Pick<TcpConnectOptions, 'dst' | 'port' | 'timeoutMs'>): Promise<ByteStream>
  tcpListen(port: number, onConn: (c: ByteStream) => void, o?: { addr?: number }): StreamListener
  udpBind(
    port: number,
    onMsg: (data: Uint8Array, from: SockAddr, to: SockAddr) => void,
    o?: { addr?: number },
  ): DatagramSocket
  ping?: SocketApi['ping']
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
