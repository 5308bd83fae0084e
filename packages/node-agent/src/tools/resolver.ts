/** A stub resolver over the namespace's UDP sockets (glibc's search-list rules, one nameserver). */

import dnsPacket from 'dns-packet'
import { ipToNumber, type Sockets } from '../apps/stream.ts'
import { parseResolvConf, type ToolEnv } from './types.ts'

export type DnsQueryResult =
  | { ok: true; rcode: string; flags: number; id: number; answers: dnsPacket.Answer[]; size: number; ms: number }
  | { ok: false; reason: 'TIMEOUT' }

let nextPort = 40000
/** One UDP query to `server`, waiting `timeoutMs` for the answer. */
export function dnsQuery(
  net: Sockets,
  env: Pick<ToolEnv, 'clock'>,
  server: string,
  name: string,
  type: 'A' | 'AAAA' = 'A',
  timeoutMs = 5000,
): Promise<DnsQueryResult> {
  const id = (env.clock.now() * 7 + nextPort) & 0xffff
  nextPort = nextPort >= 60999 ? 40000 : nextPort + 1
  const started = env.clock.monotonic()
  return new Promise((resolve) => {
    let done = false
    const sock = net.udpBind(nextPort, (data) => {
      let msg: dnsPacket.Packet
      try {
        msg = dnsPacket.decode(Buffer.from(data))
      } catch {
        return
      }
      if (msg.id !== id || done) return
      done = true
      timer.cancel()
      sock.close()
      resolve({
        ok: true,
        rcode: (msg as { rcode?: string }).rcode ?? 'NOERROR',
        flags: msg.flags ?? 0,
        id,
        answers: msg.answers ?? [],
        size: data.length,
        ms: Math.round(env.clock.monotonic() - started),
      })
    })
    const timer = env.clock.setTimeout(() => {
      if (done) return
      done = true
      sock.close()
      resolve({ ok: false, reason: 'TIMEOUT' })
    }, timeoutMs)
    const q = dnsPacket.encode({
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name, class: 'IN' }],
    })
    sock.send(server, 53, q)
  })
}

export type ResolveResult = { ok: true; ip: string } | { ok: false; reason: 'NXDOMAIN' | 'TIMEOUT' | 'NOSERVER' }

/** getaddrinfo for IPv4: literal, /etc/hosts, then DNS through the search list. */
export async function resolveHost(net: Sockets, env: ToolEnv, name: string, timeoutMs = 5000): Promise<ResolveResult> {
  if (ipToNumber(name) !== undefined) return { ok: true, ip: name }
  if (name === 'localhost') return { ok: true, ip: '127.0.0.1' }
  if (name === env.hostname) {
    const own = env.netns?.addrs().find((a) => a.scope === 'global')
    if (own)
      return { ok: true, ip: `${own.ip >>> 24}.${(own.ip >>> 16) & 255}.${(own.ip >>> 8) & 255}.${own.ip & 255}` }
  }
  const rc = parseResolvConf(env.files['/etc/resolv.conf'] ?? '')
  const server = rc.nameservers[0]
  if (!server) return { ok: false, reason: 'NOSERVER' }
  const abs = name.endsWith('.')
  const base = abs ? name.slice(0, -1) : name
  const dots = (base.match(/\./g) ?? []).length
  const candidates = abs
    ? [base]
    : dots >= rc.ndots
      ? [base, ...rc.search.map((s) => `${base}.${s}`)]
      : [...rc.search.map((s) => `${base}.${s}`), base]
  for (const c of candidates) {
    const r = await dnsQuery(net, env, server, c, 'A', timeoutMs)
    if (!r.ok) return { ok: false, reason: 'TIMEOUT' }
    const a = r.answers.find((x) => x.type === 'A') as { data?: unknown } | undefined
    if (r.rcode === 'NOERROR' && a) return { ok: true, ip: String(a.data) }
  }
  return { ok: false, reason: 'NXDOMAIN' }
}
