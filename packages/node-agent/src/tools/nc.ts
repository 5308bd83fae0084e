/** netcat-openbsd: nc [-v] [-z] [-w N] [-u] host port — prints what the peer sends. */

import type { ByteStream } from '../apps/stream.ts'
import { sockets } from './curl.ts'
import { resolveHost } from './resolver.ts'
import type { Tool } from './types.ts'

const SERVICES: Record<number, string> = {
  21: 'ftp',
  22: 'ssh',
  53: 'domain',
  80: 'http',
  179: 'bgp',
  443: 'https',
  2379: '*',
}

export const nc: Tool = async (argv, env, io) => {
  let wait: number | undefined
  let zero = false
  let verbose = false
  const pos: string[] = []
  const a = argv.slice(1)
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string
    if (x === '-w') wait = Number(a[++i])
    else if (/^-w\d+$/.test(x)) wait = Number(x.slice(2))
    else if (/^-[vznN]+$/.test(x)) {
      if (x.includes('z')) zero = true
      if (x.includes('v')) verbose = true
    } else if (x.startsWith('-')) continue
    else pos.push(x)
  }
  const [host, portS] = pos
  if (!host || !portS) {
    io.stderr(
      'usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n\t  [-m minttl] [-O length] [-P proxy_username] [-p source_port]\n\t  [-q seconds] [-s source] [-T keyword] [-V rtable] [-W recvlimit] [-w timeout]\n\t  [-X proxy_protocol] [-x proxy_address[:port]] \t  [destination] [port]\n',
    )
    return 1
  }
  const port = Number(portS)
  const net = sockets(env)
  if (!net) {
    if (verbose) io.stderr(`nc: connect to ${host} port ${port} (tcp) failed: Network is unreachable\n`)
    return 1
  }
  const r = await resolveHost(net, env, host)
  if (!r.ok) {
    io.stderr(`nc: getaddrinfo for host "${host}" port ${port}: Name or service not known\n`)
    return 1
  }
  let conn: ByteStream
  try {
    conn = await net.tcpConnect({ dst: r.ip, port, ...(wait !== undefined ? { timeoutMs: wait * 1000 } : {}) })
  } catch (e) {
    const code = (e as { code?: string }).code
    if (verbose) {
      if (code === 'ETIMEDOUT')
        io.stderr(`nc: connect to ${host} port ${port} (tcp) timed out: Operation now in progress\n`)
      else io.stderr(`nc: connect to ${host} port ${port} (tcp) failed: Connection refused\n`)
    }
    return 1
  }
  if (verbose) io.stderr(`Connection to ${host} ${port} port [tcp/${SERVICES[port] ?? '*'}] succeeded!\n`)
  if (zero) {
    conn.end()
    return 0
  }
  return new Promise<number>((resolve) => {
    let done = false
    let idle: { cancel(): void } | undefined
    const finish = () => {
      if (done) return
      done = true
      idle?.cancel()
      conn.end()
      resolve(0)
    }
    const arm = () => {
      idle?.cancel()
      if (wait !== undefined) idle = env.clock.setTimeout(finish, wait * 1000)
    }
    arm()
    conn.onData((d) => {
      io.stdout(Buffer.from(d).toString('utf8'))
      arm()
    })
    conn.onEnd(finish)
    conn.onClose(finish)
    io.signal.addEventListener('abort', finish, { once: true })
    if (io.stdin)
      void (async () => {
        for await (const c of io.stdin ?? []) if (!done) conn.write(c)
      })()
  })
}
