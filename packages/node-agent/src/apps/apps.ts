/**
 * The emulated apps pods run, chosen by container image (table in docs/apps.md). Each app is
 * written against `Sockets` (the kernel's socket layer, or the in-memory net in tests) and
 * writes its access log to the container log.
 */

import type { Clock } from '@calilab/kit'
import dnsPacket from 'dns-packet'
import { resolveHost } from '../tools/resolver.ts'
import { podResolvConf } from '../tools/types.ts'
import { type HttpHandler, httpFetch, serveHttpConnection } from './http.ts'
import { ipToString, type Sockets } from './stream.ts'

export interface AppContext {
  net: Sockets
  clock: Clock
  /** Appends one line to this container's log (`kubectl logs`). */
  log(line: string): void
  namespace: string
  podName: string
  /** For kube-dns: the cluster's Services. */
  services?: () => readonly { name: string; namespace: string; clusterIP: string }[]
}

export interface RunningApp {
  stop(): void
}

export type AppStarter = (ctx: AppContext) => RunningApp

/** `10.0.0.1 - - [25/Oct/2021:10:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/7.68.0"` */
function accessLine(
  clock: Clock,
  src: string,
  method: string,
  path: string,
  status: number,
  size: number,
  ua: string,
): string {
  const d = new Date(clock.now())
  const mon = d.toUTCString().slice(8, 11)
  const ts = `${String(d.getUTCDate()).padStart(2, '0')}/${mon}/${d.getUTCFullYear()}:${d.toISOString().slice(11, 19)} +0000`
  return `${src} - - [${ts}] "${method} ${path} HTTP/1.1" ${status} ${size} "-" "${ua}"`
}

/** An HTTP/1.1 server on `port` that logs every request with its source IP. */
export function httpApp(ctx: AppContext, port: number, server: string, handler: HttpHandler): RunningApp {
  const l = ctx.net.tcpListen(port, (conn) =>
    serveHttpConnection(
      conn,
      async (req, c) => {
        const r = await handler(req, c)
        const size = Buffer.byteLength(r.body ?? '')
        ctx.log(
          accessLine(
            ctx.clock,
            ipToString(c.remote.ip),
            req.method,
            req.path,
            r.status,
            size,
            req.headers['user-agent'] ?? '-',
          ),
        )
        return r
      },
      server,
      () => ctx.clock.now(),
    ),
  )
  return { stop: () => l.close() }
}

export const ACCOUNTS = [{ id: 1, name: 'Spike Curtis', balance: 2389.45 }]

function etcdJson(): string {
  const nodes = ACCOUNTS.map((a, i) => ({
    key: `/accounts/${a.id}`,
    dir: true,
    nodes: [
      { key: `/accounts/${a.id}/name`, value: a.name, modifiedIndex: 4 + i * 2, createdIndex: 4 + i * 2 },
      {
        key: `/accounts/${a.id}/balance`,
        value: a.balance.toFixed(2),
        modifiedIndex: 5 + i * 2,
        createdIndex: 5 + i * 2,
      },
    ],
    modifiedIndex: 4 + i * 2,
    createdIndex: 4 + i * 2,
  }))
  return `${JSON.stringify({ action: 'get', node: { dir: true, nodes: [{ key: '/accounts', dir: true, nodes, modifiedIndex: 4, createdIndex: 4 }] } })}\n`
}

/** YAO Bank database: etcd v2 on 2379. */
export const yaobankDatabase: AppStarter = (ctx) =>
  httpApp(ctx, 2379, 'etcd', (req) => {
    if (req.path.startsWith('/v2/keys'))
      return {
        status: 200,
        headers: [
          ['Content-Type', 'application/json'],
          ['X-Etcd-Cluster-Id', '7e27652122e8b2ae'],
        ],
        body: etcdJson(),
      }
    if (req.path === '/version')
      return {
        status: 200,
        headers: [['Content-Type', 'application/json']],
        body: '{"etcdserver":"3.3.11","etcdcluster":"3.3.0"}',
      }
    if (req.path === '/health')
      return { status: 200, headers: [['Content-Type', 'application/json']], body: '{"health":"true"}' }
    return { status: 404, body: '404 page not found\n' }
  })

async function fetchVia(ctx: AppContext, host: string, port: number, path: string): Promise<string | undefined> {
  const env = { hostname: ctx.podName, files: { '/etc/resolv.conf': podResolvConf(ctx.namespace) }, clock: ctx.clock }
  const r = await resolveHost(ctx.net, env, host, 2000)
  if (!r.ok) return undefined
  const res = await httpFetch(ctx.net, { ip: r.ip, port, host, path, connectTimeoutMs: 3000 })
  return res.ok && res.response.status === 200 ? res.response.body.toString('utf8') : undefined
}

/** YAO Bank summary (port 80): reads the database, answers the account summary as JSON. */
export const yaobankSummary: AppStarter = (ctx) =>
  httpApp(ctx, 80, 'Werkzeug/0.12.2 Python/2.7.12', async () => {
    const raw = await fetchVia(ctx, 'database', 2379, '/v2/keys?recursive=true')
    if (raw === undefined) return { status: 500, body: 'Internal Server Error\n' }
    const parsed = JSON.parse(raw) as { node: { nodes: { nodes: { nodes: { key: string; value: string }[] }[] }[] } }
    const acct = parsed.node.nodes[0]?.nodes[0]?.nodes ?? []
    const get = (k: string) => acct.find((n) => n.key.endsWith(`/${k}`))?.value ?? ''
    return {
      status: 200,
      headers: [['Content-Type', 'application/json']],
      body: `${JSON.stringify({ name: get('name'), balance: get('balance') })}\n`,
    }
  })

export function yaobankPage(name: string, balance: string): string {
  return `<html>
  <head>
    <title>YAO Bank</title>
  </head>
  <body>
    <h2>Welcome to YAO Bank</h2>
    <h2>Name: ${name}</h2>
    <h2>Balance: ${balance}</h2>
    <p><a href="/logout">Log Out >></a></p>
  </body>
</html>
`
}

/** YAO Bank customer (port 80): fetches the summary, renders the page. */
export const yaobankCustomer: AppStarter = (ctx) =>
  httpApp(ctx, 80, 'Werkzeug/0.12.2 Python/2.7.12', async () => {
    const raw = await fetchVia(ctx, 'summary', 80, '/')
    if (raw === undefined) return { status: 500, body: 'Internal Server Error\n' }
    const s = JSON.parse(raw) as { name: string; balance: string }
    return {
      status: 200,
      headers: [['Content-Type', 'text/html; charset=utf-8']],
      body: yaobankPage(s.name, s.balance),
    }
  })

export const NGINX_PAGE = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`

export const nginx: AppStarter = (ctx) =>
  httpApp(ctx, 80, 'nginx/1.21.6', (req) =>
    req.path === '/' || req.path === '/index.html'
      ? {
          status: 200,
          headers: [
            ['Content-Type', 'text/html'],
            ['ETag', '"61f01158-267"'],
          ],
          body: NGINX_PAGE,
        }
      : {
          status: 404,
          headers: [['Content-Type', 'text/html']],
          body: '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.21.6</center>\r\n</body>\r\n</html>\r\n',
        },
  )

/** Names outside the cluster kube-dns answers itself (the emulated internet; see docs/apps.md). */
export const EXTERNAL_NAMES: Readonly<Record<string, string>> = {
  'www.google.com': '142.250.72.196',
  'google.com': '142.250.72.206',
  'dns.google': '8.8.8.8',
}

/** Answers one DNS query message (pure: services in, answer bytes out). */
export function answerDns(
  query: Uint8Array,
  services: readonly { name: string; namespace: string; clusterIP: string }[],
): Buffer | undefined {
  let q: dnsPacket.Packet
  try {
    q = dnsPacket.decode(Buffer.from(query))
  } catch {
    return undefined
  }
  const question = q.questions?.[0]
  if (!question) return undefined
  const name = question.name.toLowerCase().replace(/\.$/, '')
  let ip: string | undefined
  let authoritative = false
  const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(name)
  if (m) {
    authoritative = true
    const s = services.find((x) => x.name === m[1] && x.namespace === m[2] && x.clusterIP && x.clusterIP !== 'None')
    ip = s?.clusterIP
  } else if (name.endsWith('cluster.local')) authoritative = true
  else ip = EXTERNAL_NAMES[name]
  const found = ip !== undefined
  const answers: dnsPacket.Answer[] =
    found && question.type === 'A'
      ? [{ type: 'A', name: question.name, ttl: authoritative ? 5 : 30, class: 'IN', data: ip as string }]
      : []
  const flags =
    dnsPacket.RECURSION_DESIRED |
    dnsPacket.RECURSION_AVAILABLE |
    (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    (found ? 0 : 3)
  return dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags, questions: [question], answers })
}

/** CoreDNS (k8s-app=kube-dns) on UDP 53. */
export const kubeDns: AppStarter = (ctx) => {
  ctx.log('.:53')
  ctx.log('[INFO] plugin/reload: Running configuration MD5 = db32ca3650231d74073ff4cf814959a7')
  ctx.log('CoreDNS-1.6.3')
  ctx.log('linux/amd64, go1.12.9, 37b9550')
  const sock = ctx.net.udpBind(53, (data, from, to) => {
    const ans = answerDns(data, ctx.services?.() ?? [])
    if (ans) sock.send(from.ip, from.port, ans, to.ip)
  })
  return { stop: () => sock.close() }
}

export const FTP_BANNER = '220 (vsFTPd 3.0.3)\r\n'

/** vsftpd's greeting on port 21 of each node's host namespace. */
export const ftpBanner: AppStarter = (ctx) => {
  const l = ctx.net.tcpListen(21, (conn) => {
    conn.write(FTP_BANNER)
    conn.onData((d) => {
      const cmd = Buffer.from(d).toString('latin1').trim().toUpperCase()
      if (cmd.startsWith('QUIT')) {
        conn.write('221 Goodbye.\r\n')
        conn.end()
      } else conn.write('530 Please login with USER and PASS.\r\n')
    })
    conn.onEnd(() => conn.end())
  })
  return { stop: () => l.close() }
}

/** Which app a container runs (see docs/apps.md). */
export function appForContainer(
  image: string | undefined,
  podLabels: Readonly<Record<string, string>>,
): AppStarter | undefined {
  const img = image ?? ''
  if (podLabels['k8s-app'] === 'kube-dns' || /coredns/.test(img)) return kubeDns
  if (img.includes('yaobank-customer')) return yaobankCustomer
  if (img.includes('yaobank-summary')) return yaobankSummary
  if (img.includes('yaobank-database')) return yaobankDatabase
  if (/(^|\/)nginx(:|$)/.test(img) || img.includes('nginx')) return nginx
  return undefined
}
