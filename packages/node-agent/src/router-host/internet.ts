/**
 * The emulated internet behind host1: a dummy link `internet` in host1's root namespace holding
 * well-known addresses (8.8.8.8, www.google.com's 142.250.72.196, google.com's 142.250.72.206 —
 * the same table kube-dns answers from, `EXTERNAL_NAMES`), which answer ping (the kernel does),
 * DNS on UDP 53 and HTTP on TCP 80/443-less (plain HTTP only).
 */
import type { Netns } from '@calilab/dataplane'
import type { Clock } from '@calilab/kit'
import { tryParseIPv4 } from '@calilab/model'
import { answerDns, EXTERNAL_NAMES } from '../apps/apps.ts'
import { serveHttpConnection } from '../apps/http.ts'

export const INTERNET_LINK = 'internet'

/** Addresses the emulated internet holds: every EXTERNAL_NAMES address plus 1.1.1.1. */
export function internetAddresses(): string[] {
  return [...new Set([...Object.values(EXTERNAL_NAMES), '1.1.1.1'])].sort()
}

export const GOOGLE_PAGE =
  '<!doctype html><html itemscope="" itemtype="http://schema.org/WebPage" lang="en"><head><title>Google</title></head><body>Google Search (calilab emulated internet)</body></html>\n'

export interface Internet {
  addresses: string[]
  close(): void
}

/** Adds the internet's addresses and servers to `ns` (host1's root). */
export function attachInternet(ns: Netns, clock: Clock): Internet {
  if (!ns.link(INTERNET_LINK)) ns.addLink(INTERNET_LINK, 'dummy', { up: true })
  const addresses = internetAddresses()
  for (const a of addresses) {
    const ip = tryParseIPv4(a)
    if (ip !== undefined && !ns.isLocal(ip)) ns.addAddr(INTERNET_LINK, ip, 32)
  }
  // The kernel's sockets bind per port: one wildcard DNS and HTTP socket serve every internet
  // address (and nothing else: host1's own address gets no answer on them).
  const ips = new Set(addresses.map((a) => tryParseIPv4(a)))
  const dns = ns.udpBind(53, (data, from, to) => {
    if (!ips.has(to.ip)) return
    const ans = answerDns(data, [])
    if (ans) dns.send(from.ip, from.port, ans, to.ip)
  })
  const web = ns.tcpListen(80, (conn) => {
    if (!ips.has(conn.local.ip)) {
      conn.destroy()
      return
    }
    serveHttpConnection(
      conn,
      (req) =>
        req.method === 'HEAD' || req.method === 'GET'
          ? { status: 200, headers: [['Content-Type', 'text/html; charset=ISO-8859-1']], body: GOOGLE_PAGE }
          : { status: 405, body: '' },
      'gws',
      () => clock.now(),
    )
  })
  const socks = [dns, web]
  return {
    addresses,
    close() {
      for (const x of socks) x.close()
    },
  }
}
