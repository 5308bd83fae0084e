/**
 * `calilab exec [-n NS] POD|deploy/NAME [-c C] [-i] [-t] -- CMD...`: the remote-command WebSocket
 * (v5.channel.k8s.io) through the API server's pods/exec, like kubectl 1.30+. Exit codes of the
 * command become this process's exit code.
 */

import { closeSync, openSync, writeSync } from 'node:fs'
import WebSocket from 'ws'
import { CliError, err } from '../io.ts'
import type { KubeClient } from '../kube.ts'
import { type ConnectOpts, connect, serverErrorLine } from '../kubectl/client.ts'
import { rewriteCapture } from './capture.ts'

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io']

export interface ExecStreamOpts {
  /** ws:// URL of the exec endpoint (API server pods/exec, or a kubelet's /exec/host). */
  url: string
  stdin: boolean
  tty: boolean
  /** Write the stdout channel's bytes to this file instead of the terminal (`tcpdump -w FILE`). */
  stdoutFile?: string
}

/** Runs one remote-command session with this process's stdio; resolves to the exit code. */
export function execStream(o: ExecStreamOpts): Promise<number> {
  return new Promise((resolve, reject) => {
    let fd: number | undefined
    if (o.stdoutFile !== undefined) {
      try {
        fd = openSync(o.stdoutFile, 'w')
      } catch (e) {
        reject(new CliError(`error: ${o.stdoutFile}: ${(e as Error).message}`))
        return
      }
    }
    const ws = new WebSocket(o.url, EXEC_PROTOCOLS)
    let code: number | undefined
    let rawSet = false
    const restore = () => {
      if (rawSet && process.stdin.isTTY) process.stdin.setRawMode(false)
      process.stdin.pause()
    }
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        try {
          const s = JSON.parse(text) as { reason?: string; message?: string }
          reject(new CliError(`Error from server (${s.reason ?? 'Unknown'}): ${s.message ?? text}`))
        } catch {
          reject(new CliError(`error: ${res.statusCode}: ${text}`))
        }
      })
    })
    ws.on('error', (e) => reject(new CliError(`error: ${e.message}`)))
    ws.on('open', () => {
      if (!o.stdin) return
      if (o.tty && process.stdin.isTTY) {
        process.stdin.setRawMode(true)
        rawSet = true
      }
      process.stdin.on('data', (d: Buffer) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([0]), d]))
      })
      process.stdin.on('end', () => {
        if (ws.readyState === WebSocket.OPEN && ws.protocol.startsWith('v5')) ws.send(Buffer.from([255, 0]))
      })
      process.stdin.resume()
    })
    ws.on('message', (data: Buffer) => {
      const ch = data[0]
      const body = data.subarray(1)
      if (ch === 1) {
        if (fd !== undefined) writeSync(fd, body)
        else process.stdout.write(body)
      } else if (ch === 2) process.stderr.write(body)
      else if (ch === 3) {
        try {
          const s = JSON.parse(body.toString('utf8')) as {
            status?: string
            message?: string
            details?: { causes?: { reason?: string; message?: string }[] }
          }
          if (s.status === 'Success') code = 0
          else {
            const ec = s.details?.causes?.find((c) => c.reason === 'ExitCode')?.message
            if (ec !== undefined) code = Number(ec)
            else {
              err(`error: ${s.message ?? 'exec failed'}`)
              code = 1
            }
          }
        } catch {
          code = 1
        }
      }
    })
    ws.on('close', () => {
      if (fd !== undefined) closeSync(fd)
      restore()
      resolve(code ?? 0)
    })
  })
}

function wsUrl(server: string, path: string): string {
  return `${server.replace(/^http/, 'ws').replace(/\/$/, '')}${path}`
}

async function resolvePod(client: KubeClient, ns: string, ref: string): Promise<string> {
  const m = /^(deploy|deployment|deployments|deployment\.apps)\/(.+)$/.exec(ref)
  if (!m) return ref.replace(/^(pod|pods)\//, '')
  const d = await client.get<{ spec?: { selector?: { matchLabels?: Record<string, string> } } }>(
    `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/deployments/${encodeURIComponent(m[2] as string)}`,
  )
  const sel = Object.entries(d.spec?.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
  const pods = await client.list<{ metadata: { name?: string }; status?: { phase?: string } }>(
    `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`,
    { labelSelector: sel },
  )
  const p = pods.items.find((x) => x.status?.phase === 'Running') ?? pods.items[0]
  if (!p?.metadata.name) throw new CliError(`error: no pods found for deployment ${m[2]}`)
  return p.metadata.name
}

export interface ExecCliOpts extends ConnectOpts {
  namespace?: string
  container?: string
  stdin?: boolean
  tty?: boolean
}

/** `calilab exec`. */
export async function execCommand(ref: string, command: string[], o: ExecCliOpts): Promise<number> {
  if (command.length === 0) throw new CliError('error: you must specify at least one command for the container')
  const { client, namespace } = connect(o)
  try {
    const ns = o.namespace ?? namespace
    let pod: string
    try {
      pod = await resolvePod(client, ns, ref)
    } catch (e) {
      if (e instanceof CliError) throw e
      throw new CliError(serverErrorLine(e))
    }
    const cap = rewriteCapture(command)
    const q = new URLSearchParams()
    for (const c of cap.command) q.append('command', c)
    if (o.container) q.set('container', o.container)
    q.set('stdout', 'true')
    if (o.stdin) q.set('stdin', 'true')
    if (o.tty) q.set('tty', 'true')
    else q.set('stderr', 'true')
    const url = wsUrl(
      client.server,
      `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/exec?${q}`,
    )
    const code = await execStream({
      url,
      stdin: o.stdin === true,
      tty: o.tty === true,
      ...(cap.stdoutFile !== undefined ? { stdoutFile: cap.stdoutFile } : {}),
    })
    if (code !== 0 && !o.tty) err(`command terminated with exit code ${code}`)
    return code
  } finally {
    client.close()
  }
}
