/**
 * `calilab ssh NODE [-- CMD...]`: a command (or a shell) in a node's host namespace, through the
 * node's kubelet endpoint (`/exec/host`, node annotation `calilab.dev/kubelet-endpoint`), speaking
 * the same remote-command WebSocket protocol as `calilab exec`. `sudo` is accepted and ignored.
 */

import { readFileSync } from 'node:fs'
import { resolveHome } from '../home.ts'
import { CliError } from '../io.ts'
import { type ConnectOpts, connect, isNotFound, serverErrorLine } from '../kubectl/client.ts'
import { rewriteCapture } from './capture.ts'
import { execStream } from './exec.ts'

export const KUBELET_ENDPOINT_ANNOTATION = 'calilab.dev/kubelet-endpoint'

/** Port of an external router's exec endpoint (node-agent's ROUTER_EXEC_PORT). */
const ROUTER_EXEC_PORT = 10250

/** An external router (host1) is no Node: its exec endpoint is `<endpoint>:10250` from the topology. */
function routerEndpoint(name: string, o: ConnectOpts): string | undefined {
  try {
    const t = JSON.parse(readFileSync(resolveHome(o.home).topology, 'utf8')) as {
      hosts?: { name: string; role: string; endpoint: string }[]
    }
    const h = t.hosts?.find((x) => x.name === name && x.role === 'router')
    return h ? `${h.endpoint}:${ROUTER_EXEC_PORT}` : undefined
  } catch {
    return undefined
  }
}

export async function sshCommand(node: string, command: string[], o: ConnectOpts): Promise<number> {
  const { client } = connect(o)
  let endpoint: string | undefined
  try {
    const n = await client.get(`/api/v1/nodes/${encodeURIComponent(node)}`)
    endpoint = n.metadata.annotations?.[KUBELET_ENDPOINT_ANNOTATION]
  } catch (e) {
    endpoint = isNotFound(e) ? routerEndpoint(node, o) : undefined
    if (!endpoint && isNotFound(e))
      throw new CliError(`ssh: Could not resolve hostname ${node}: Name or service not known`, 255)
    if (!endpoint) throw new CliError(serverErrorLine(e))
  } finally {
    client.close()
  }
  if (!endpoint)
    throw new CliError(`ssh: connect to host ${node} port 22: Connection refused (no kubelet endpoint)`, 255)
  const interactive = command.length === 0
  const cap = rewriteCapture(command)
  const q = new URLSearchParams()
  for (const c of interactive ? ['/bin/bash'] : cap.command) q.append('command', c)
  q.set('stdout', 'true')
  const tty = interactive && process.stdin.isTTY === true
  if (interactive) q.set('stdin', 'true')
  if (tty) q.set('tty', 'true')
  else q.set('stderr', 'true')
  return execStream({
    url: `ws://${endpoint}/exec/host?${q}`,
    stdin: interactive,
    tty,
    ...(cap.stdoutFile !== undefined ? { stdoutFile: cap.stdoutFile } : {}),
  })
}
