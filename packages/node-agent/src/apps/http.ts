/**
 * HTTP/1.1 over a ByteStream: an incremental request/response parser (Content-Length and
 * chunked bodies), a keep-alive server, and a one-shot client (what curl and the YAO Bank apps
 * use).
 */

import type { ByteStream, Sockets } from './stream.ts'

export interface HttpRequest {
  method: string
  path: string
  version: string
  headers: Record<string, string>
  body: Buffer
}

export interface HttpResponse {
  version: string
  status: number
  reason: string
  /** Header names as sent, in order. */
  rawHeaders: [string, string][]
  headers: Record<string, string>
  body: Buffer
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  301: 'Moved Permanently',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
}

type Head = { start: string; headers: [string, string][] }

/** Incremental parser of HTTP/1.x messages from a byte stream. */
export class HttpParser {
  private buf: Buffer = Buffer.alloc(0)
  private head: Head | undefined
  private bodyMode: { kind: 'length'; n: number } | { kind: 'chunked'; parts: Buffer[] } | { kind: 'close' } | undefined
  private readonly isResponse: boolean
  private readonly noBody: () => boolean

  constructor(kind: 'request' | 'response', noBody: () => boolean = () => false) {
    this.isResponse = kind === 'response'
    this.noBody = noBody
  }

  /** Feeds bytes; returns every complete message (start line, headers, body). */
  push(data: Uint8Array): { head: Head; body: Buffer }[] {
    this.buf = Buffer.concat([this.buf, Buffer.from(data)])
    const out: { head: Head; body: Buffer }[] = []
    for (;;) {
      if (!this.head) {
        const end = this.buf.indexOf('\r\n\r\n')
        if (end < 0) {
          if (this.buf.length > 65536) throw new Error('header too large')
          break
        }
        const text = this.buf.subarray(0, end).toString('latin1')
        this.buf = this.buf.subarray(end + 4)
        const [start, ...hl] = text.split('\r\n')
        const headers: [string, string][] = []
        for (const l of hl) {
          const i = l.indexOf(':')
          if (i > 0) headers.push([l.slice(0, i).trim(), l.slice(i + 1).trim()])
        }
        this.head = { start: start ?? '', headers }
        const get = (k: string) => headers.find(([n]) => n.toLowerCase() === k)?.[1]
        const te = get('transfer-encoding')
        const cl = get('content-length')
        if (this.isResponse && this.noBody()) this.bodyMode = { kind: 'length', n: 0 }
        else if (te?.toLowerCase().includes('chunked')) this.bodyMode = { kind: 'chunked', parts: [] }
        else if (cl !== undefined) this.bodyMode = { kind: 'length', n: Number(cl) || 0 }
        else if (this.isResponse && !/^HTTP\/\S+ (1\d\d|204|304)/.test(start ?? '')) this.bodyMode = { kind: 'close' }
        else this.bodyMode = { kind: 'length', n: 0 }
      }
      const m = this.bodyMode
      if (!m || m.kind === 'close') break
      if (m.kind === 'length') {
        if (this.buf.length < m.n) break
        out.push({ head: this.head, body: Buffer.from(this.buf.subarray(0, m.n)) })
        this.buf = this.buf.subarray(m.n)
      } else {
        let done = false
        for (;;) {
          const nl = this.buf.indexOf('\r\n')
          if (nl < 0) break
          const size = Number.parseInt(this.buf.subarray(0, nl).toString('latin1'), 16)
          if (!Number.isFinite(size)) throw new Error('bad chunk size')
          if (size === 0) {
            const end = this.buf.indexOf('\r\n\r\n', nl)
            const end2 = this.buf.subarray(nl, nl + 4).toString() === '\r\n\r\n' ? nl : end
            if (end2 < 0) break
            this.buf = this.buf.subarray(end2 + 4)
            done = true
            break
          }
          if (this.buf.length < nl + 2 + size + 2) break
          m.parts.push(Buffer.from(this.buf.subarray(nl + 2, nl + 2 + size)))
          this.buf = this.buf.subarray(nl + 2 + size + 2)
        }
        if (!done) break
        out.push({ head: this.head, body: Buffer.concat(m.parts) })
      }
      this.head = undefined
      this.bodyMode = undefined
    }
    return out
  }

  /** The peer closed: a read-until-close body ends here. */
  finish(): { head: Head; body: Buffer } | undefined {
    if (this.head && this.bodyMode?.kind === 'close') {
      const r = { head: this.head, body: this.buf }
      this.head = undefined
      return r
    }
    return undefined
  }
}

function lowerHeaders(h: [string, string][]): Record<string, string> {
  const o: Record<string, string> = {}
  for (const [k, v] of h) o[k.toLowerCase()] = v
  return o
}

export function toRequest(m: { head: Head; body: Buffer }): HttpRequest | undefined {
  const p = /^(\S+) (\S+) (HTTP\/1\.[01])$/.exec(m.head.start)
  if (!p) return undefined
  return {
    method: p[1] as string,
    path: p[2] as string,
    version: p[3] as string,
    headers: lowerHeaders(m.head.headers),
    body: m.body,
  }
}

export function toResponse(m: { head: Head; body: Buffer }): HttpResponse | undefined {
  const p = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(m.head.start)
  if (!p) return undefined
  return {
    version: p[1] as string,
    status: Number(p[2]),
    reason: p[3] as string,
    rawHeaders: m.head.headers,
    headers: lowerHeaders(m.head.headers),
    body: m.body,
  }
}

export interface HttpReply {
  status: number
  headers?: [string, string][]
  body?: string | Buffer
}

export type HttpHandler = (req: HttpRequest, conn: ByteStream) => HttpReply | Promise<HttpReply>

/** Serves HTTP/1.1 on one connection: keep-alive unless `Connection: close` or HTTP/1.0. */
export function serveHttpConnection(
  conn: ByteStream,
  handler: HttpHandler,
  serverName: string,
  now: () => number,
): void {
  const parser = new HttpParser('request')
  let queue: Promise<void> = Promise.resolve()
  let closed = false
  conn.onClose(() => {
    closed = true
  })
  conn.onEnd(() => {
    void queue.then(() => {
      if (!closed) conn.end()
    })
  })
  conn.onData((d) => {
    let msgs: { head: Head; body: Buffer }[]
    try {
      msgs = parser.push(d)
    } catch {
      conn.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
      conn.end()
      return
    }
    for (const m of msgs) {
      queue = queue.then(async () => {
        if (closed) return
        const req = toRequest(m)
        if (!req) {
          conn.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
          conn.end()
          closed = true
          return
        }
        let reply: HttpReply
        try {
          reply = await handler(req, conn)
        } catch {
          reply = { status: 500, body: 'Internal Server Error\n' }
        }
        const keep = req.version === 'HTTP/1.1' && req.headers['connection']?.toLowerCase() !== 'close'
        const body = Buffer.from(reply.body ?? '')
        const hs: [string, string][] = [
          ['Server', serverName],
          ['Date', new Date(now()).toUTCString()],
          ...(reply.headers ?? []),
          ['Content-Length', String(body.length)],
          ['Connection', keep ? 'keep-alive' : 'close'],
        ]
        const head = `HTTP/1.1 ${reply.status} ${STATUS_TEXT[reply.status] ?? ''}\r\n${hs.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
        if (closed) return
        conn.write(Buffer.concat([Buffer.from(head, 'latin1'), req.method === 'HEAD' ? Buffer.alloc(0) : body]))
        if (!keep) {
          conn.end()
          closed = true
        }
      })
    }
  })
}

export type HttpFetchResult =
  | { ok: true; response: HttpResponse }
  | { ok: false; code: 'CONNECT' | 'TIMEOUT' | 'EMPTY' | 'PROTOCOL'; message: string; socketCode?: string }

/** One request on a fresh connection (Connection: close). */
export async function httpFetch(
  net: Sockets,
  o: {
    ip: string
    port: number
    host: string
    path: string
    method?: string
    headers?: [string, string][]
    connectTimeoutMs?: number
  },
): Promise<HttpFetchResult> {
  let conn: ByteStream
  try {
    conn = await net.tcpConnect({
      dst: o.ip,
      port: o.port,
      ...(o.connectTimeoutMs ? { timeoutMs: o.connectTimeoutMs } : {}),
    })
  } catch (e) {
    const code = (e as { code?: string }).code
    return {
      ok: false,
      code: code === 'ETIMEDOUT' ? 'TIMEOUT' : 'CONNECT',
      message: (e as Error).message ?? String(e),
      ...(code ? { socketCode: code } : {}),
    }
  }
  const method = o.method ?? 'GET'
  const hostHeader = o.port === 80 ? o.host : `${o.host}:${o.port}`
  const hs: [string, string][] = [
    ['Host', hostHeader],
    ...(o.headers ?? [
      ['User-Agent', 'calilab'],
      ['Accept', '*/*'],
    ]),
    ['Connection', 'close'],
  ]
  return new Promise((resolve) => {
    const parser = new HttpParser('response', () => method === 'HEAD')
    let done = false
    const finish = (r: HttpFetchResult) => {
      if (done) return
      done = true
      resolve(r)
      conn.end()
    }
    conn.onData((d) => {
      try {
        const msgs = parser.push(d)
        const m = msgs[0]
        if (m) {
          const res = toResponse(m)
          finish(res ? { ok: true, response: res } : { ok: false, code: 'PROTOCOL', message: 'bad status line' })
        }
      } catch (e) {
        finish({ ok: false, code: 'PROTOCOL', message: (e as Error).message })
      }
    })
    const onEnd = () => {
      const m = parser.finish()
      const res = m ? toResponse(m) : undefined
      finish(res ? { ok: true, response: res } : { ok: false, code: 'EMPTY', message: 'Empty reply from server' })
    }
    conn.onEnd(onEnd)
    conn.onClose(onEnd)
    conn.write(`${method} ${o.path} HTTP/1.1\r\n${hs.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
  })
}
