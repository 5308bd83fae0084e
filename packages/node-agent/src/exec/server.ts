/**
 * The kubelet's exec endpoint: `GET /exec/{namespace}/{pod}/{container}?command=…&stdin=…&tty=…`
 * (what the API server proxies `pods/{name}/exec` to) and `GET /exec/host?command=…` (what
 * `calilab ssh` uses), upgraded to a WebSocket speaking the Kubernetes remote-command protocol
 * v5.channel.k8s.io (or v4): every binary message starts with a channel byte — 0 stdin, 1 stdout,
 * 2 stderr, 3 error (a v1 Status when the command ends, exit code in details.causes ExitCode),
 * 4 resize, 255 close (v5: the client closed that channel, [255, 0] = end of stdin).
 */

import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from '@calilab/kit'
import { WebSocket, WebSocketServer } from 'ws'
import { Channel } from '../tools/channel.ts'
import { interactiveShell, runCommand } from '../tools/shell.ts'
import type { ToolEnv, ToolIo } from '../tools/types.ts'

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const

export const CH_STDIN = 0
export const CH_STDOUT = 1
export const CH_STDERR = 2
export const CH_ERROR = 3
export const CH_RESIZE = 4
export const CH_CLOSE = 255

export type ExecTargetResult = { ok: true; env: ToolEnv } | { ok: false; status: number; message: string }

export interface ExecServerInit {
  log: Logger
  /** The environment a pod's container runs commands in. */
  pod(namespace: string, pod: string, container: string): ExecTargetResult
  /** The node's root namespace (`calilab ssh`). */
  host(): ExecTargetResult
}

export interface ExecRequest {
  command: string[]
  stdin: boolean
  tty: boolean
}

export function parseExecQuery(q: URLSearchParams): ExecRequest {
  const on = (k: string) => q.get(k) === 'true' || q.get(k) === '1'
  return { command: q.getAll('command'), stdin: on('stdin'), tty: on('tty') }
}

/** The v1 Status the error channel carries when a command ends. */
export function exitStatus(command: readonly string[], code: number): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: 'Success' }
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  }
}

const SHELLS = new Set(['sh', 'bash', 'ash', '/bin/sh', '/bin/bash', '/bin/ash', '/usr/bin/bash'])

/** How long an exec waits before running the command (a container runtime's process start). */
const EXEC_START_MS = 25

/** Runs one exec session on an accepted WebSocket. */
export function runExecSession(ws: WebSocket, env: ToolEnv, req: ExecRequest, log: Logger): Promise<number> {
  const ac = new AbortController()
  const stdin = req.stdin ? new Channel() : undefined
  const send = (ch: number, s: string | Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) return
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
    if (b.length === 0) return
    ws.send(Buffer.concat([Buffer.from([ch]), b]))
  }
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const b = isBinary ? data : Buffer.from(data.toString('utf8'))
    if (b.length === 0) return
    const ch = b[0]
    if (ch === CH_STDIN) stdin?.push(b.subarray(1).toString('utf8'))
    else if (ch === CH_CLOSE && b[1] === CH_STDIN) stdin?.end()
  })
  ws.on('close', () => {
    stdin?.end()
    ac.abort()
  })
  const io: ToolIo = {
    stdout: (s) => send(CH_STDOUT, s),
    stdoutBytes: (b) => send(CH_STDOUT, Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
    stderr: (s) => send(req.tty ? CH_STDOUT : CH_STDERR, s),
    signal: ac.signal,
    ...(stdin ? { stdin } : {}),
  }
  const argv = req.command
  const run = async (): Promise<number> => {
    // A real exec's first output comes after the runtime has started the process. kubectl's
    // WebSocket client starts reading before it has registered its streams, and drops frames that
    // arrive in between ("Unknown stream id 1, discarding message"): an emulated command that
    // answers at once lost its whole output now and then. Wait as long as a process start takes.
    await new Promise((r) => setTimeout(r, EXEC_START_MS))
    if (argv.length === 0) {
      io.stderr('you must specify at least one command for the container\n')
      return 1
    }
    if (argv.length === 1 && SHELLS.has(argv[0] as string)) return interactiveShell(env, io, { tty: req.tty })
    return runCommand(argv, env, io)
  }
  return run()
    .catch((err) => {
      log.warn({ err }, 'exec command failed')
      io.stderr(`${(err as Error).message}\n`)
      return 1
    })
    .then((code) => {
      send(CH_ERROR, JSON.stringify(exitStatus(argv, code)))
      if (ws.readyState === WebSocket.OPEN) ws.close(1000)
      return code
    })
}

function reject(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: status === 404 ? 'NotFound' : 'BadRequest',
    code: status,
  })
  socket.end(
    `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

/** Serves `/exec/...` upgrades on the kubelet's HTTP server; other upgrade paths are left alone. */
export function attachExecServer(server: Server, init: ExecServerInit): { close(): void } {
  const log = init.log.child({ component: 'kubelet.exec' })
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false,
  })
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (!url.pathname.startsWith('/exec/')) return
    const parts = url.pathname.split('/').slice(2).map(decodeURIComponent)
    const target =
      parts.length === 1 && parts[0] === 'host'
        ? init.host()
        : parts.length === 3
          ? init.pod(parts[0] as string, parts[1] as string, parts[2] as string)
          : ({ ok: false, status: 404, message: `unknown exec path ${url.pathname}` } as const)
    if (!target.ok) return reject(socket, target.status, target.message)
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    if (!EXEC_PROTOCOLS.some((p) => offered.includes(p)))
      return reject(socket, 400, `unsupported exec protocol "${offered}"; want ${EXEC_PROTOCOLS.join(', ')}`)
    const ex = parseExecQuery(url.searchParams)
    wss.handleUpgrade(req, socket, head, (ws) => {
      log.debug({ path: url.pathname, command: ex.command, protocol: ws.protocol }, 'exec session')
      void runExecSession(ws, target.env, ex, log)
    })
  }
  server.on('upgrade', onUpgrade)
  return {
    close() {
      server.off('upgrade', onUpgrade)
      for (const c of wss.clients) c.terminate()
      wss.close()
    },
  }
}
