/** curl 7.68 (Ubuntu 20.04's): -s -S -I -i -v -o -H -X --connect-timeout -m, http:// only. */

import { httpFetch } from '../apps/http.ts'
import type { Sockets } from '../apps/stream.ts'
import { resolveHost } from './resolver.ts'
import { sleep, type Tool, type ToolEnv, type ToolIo } from './types.ts'

export function sockets(env: ToolEnv): Sockets | undefined {
  return env.netns
}

export const curl: Tool = async (argv, env, io) => {
  let silent = false
  let showErr = false
  let head = false
  let include = false
  let verbose = false
  let connectTimeout: number | undefined
  let maxTime: number | undefined
  let method: string | undefined
  let url: string | undefined
  const headers: [string, string][] = []
  const a = argv.slice(1)
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string
    if (x === '--connect-timeout') connectTimeout = Number(a[++i])
    else if (x === '-m' || x === '--max-time') maxTime = Number(a[++i])
    else if (x === '-o' || x === '--output') i++
    else if (x === '-X' || x === '--request') method = a[++i]
    else if (x === '-H' || x === '--header') {
      const h = a[++i] ?? ''
      const c = h.indexOf(':')
      if (c > 0) headers.push([h.slice(0, c).trim(), h.slice(c + 1).trim()])
    } else if (x === '--silent') silent = true
    else if (x === '--head') head = true
    else if (x === '--include') include = true
    else if (x === '--verbose') verbose = true
    else if (x === '--show-error') showErr = true
    else if (/^-[sSIivLkf]+$/.test(x)) {
      if (x.includes('s')) silent = true
      if (x.includes('S')) showErr = true
      if (x.includes('I')) head = true
      if (x.includes('i')) include = true
      if (x.includes('v')) verbose = true
    } else if (x.startsWith('-')) {
      io.stderr(`curl: option ${x}: is unknown\ncurl: try 'curl --help' or 'curl --manual' for more information\n`)
      return 2
    } else url = x
  }
  const fail = (code: number, msg: string) => {
    if (!silent || showErr) io.stderr(`curl: (${code}) ${msg}\n`)
    return code
  }
  if (!url) {
    io.stderr("curl: try 'curl --help' or 'curl --manual' for more information\n")
    return 2
  }
  const m = /^(?:(\w+):\/\/)?([^/:?#]+)(?::(\d+))?([^#]*)/.exec(url)
  if (!m) return fail(3, 'URL using bad/illegal format or missing URL')
  const scheme = (m[1] ?? 'http').toLowerCase()
  if (scheme !== 'http') return fail(1, `Protocol "${scheme}" not supported or disabled in libcurl`)
  const host = m[2] as string
  const port = m[3] ? Number(m[3]) : 80
  const path = m[4] === '' || m[4] === undefined ? '/' : m[4].startsWith('/') ? m[4] : `/${m[4]}`
  const net = sockets(env)
  if (!net) return fail(7, `Failed to connect to ${host} port ${port}: Network is unreachable`)

  const started = env.clock.monotonic()
  const ac = new AbortController()
  const stopTimer = () => ac.abort()
  io.signal.addEventListener('abort', stopTimer, { once: true })
  const work = (async (): Promise<number> => {
    const resolveMs = connectTimeout !== undefined ? connectTimeout * 1000 : 5000
    const r = await resolveHost(net, env, host, Math.min(5000, resolveMs))
    if (!r.ok) {
      if (r.reason === 'TIMEOUT' && connectTimeout !== undefined)
        return fail(28, `Resolving timed out after ${Math.round(env.clock.monotonic() - started)} milliseconds`)
      return fail(6, `Could not resolve host: ${host}`)
    }
    if (verbose) io.stderr(`*   Trying ${r.ip}:${port}...\n`)
    const remaining =
      connectTimeout !== undefined ? Math.max(1, connectTimeout * 1000 - (env.clock.monotonic() - started)) : undefined
    const res = await httpFetch(net, {
      ip: r.ip,
      port,
      host,
      path,
      method: method ?? (head ? 'HEAD' : 'GET'),
      headers: [['User-Agent', 'curl/7.68.0'], ['Accept', '*/*'], ...headers],
      ...(remaining !== undefined ? { connectTimeoutMs: remaining } : {}),
    })
    if (!res.ok) {
      if (res.code === 'TIMEOUT')
        return fail(
          28,
          `Connection timed out after ${Math.round(connectTimeout !== undefined ? connectTimeout * 1000 + 1 : env.clock.monotonic() - started)} milliseconds`,
        )
      if (res.code === 'CONNECT') {
        const why =
          res.socketCode === 'EHOSTUNREACH'
            ? 'No route to host'
            : res.socketCode === 'ENETUNREACH'
              ? 'Network is unreachable'
              : 'Connection refused'
        return fail(7, `Failed to connect to ${host} port ${port}: ${why}`)
      }
      if (res.code === 'EMPTY') return fail(52, 'Empty reply from server')
      return fail(8, 'Weird server reply')
    }
    const resp = res.response
    const headText = `${resp.version} ${resp.status} ${resp.reason}\r\n${resp.rawHeaders.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
    if (verbose) io.stderr(`* Connected to ${host} (${r.ip}) port ${port} (#0)\n`)
    if (head || include) io.stdout(headText)
    if (!head) io.stdout(resp.body.toString('utf8'))
    return 0
  })()
  const limits: Promise<number>[] = [work]
  if (maxTime !== undefined)
    limits.push(
      sleep(env, maxTime * 1000, ac.signal).then(
        () => fail(28, `Operation timed out after ${maxTime * 1000 + 1} milliseconds with 0 bytes received`),
        () => new Promise<number>(() => {}),
      ),
    )
  limits.push(
    new Promise<number>((resolve) => {
      if (io.signal.aborted) resolve(130)
      io.signal.addEventListener('abort', () => resolve(130), { once: true })
    }),
  )
  const rc = await Promise.race(limits)
  ac.abort()
  io.signal.removeEventListener('abort', stopTimer)
  return rc
}

export type { ToolIo }
