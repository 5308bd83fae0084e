/**
 * `calilab ssh NODE [-- CMD...]`: a command (or a shell) in a node's host namespace, through the
 * node's kubelet endpoint (`/exec/host`, node annotation `calilab.dev/kubelet-endpoint`), speaking
 * the same remote-command WebSocket protocol as `calilab exec`. `sudo` is accepted and ignored.
 */

import { CliError } from '../io.ts'
import { type ConnectOpts, connect, isNotFound, serverErrorLine } from '../kubectl/client.ts'
import { execStream } from './exec.ts'

export const KUBELET_ENDPOINT_ANNOTATION = 'calilab.dev/kubelet-endpoint'

export async function sshCommand(node: string, command: string[], o: ConnectOpts): Promise<number> {
  const { client } = connect(o)
  let endpoint: string | undefined
  try {
    const n = await client.get(`/api/v1/nodes/${encodeURIComponent(node)}`)
    endpoint = n.metadata.annotations?.[KUBELET_ENDPOINT_ANNOTATION]
  } catch (e) {
    if (isNotFound(e)) throw new CliError(`ssh: Could not resolve hostname ${node}: Name or service not known`, 255)
    throw new CliError(serverErrorLine(e))
  } finally {
    client.close()
  }
  if (!endpoint)
    throw new CliError(`ssh: connect to host ${node} port 22: Connection refused (no kubelet endpoint)`, 255)
  const interactive = command.length === 0
  const q = new URLSearchParams()
  for (const c of interactive ? ['/bin/bash'] : command) q.append('command', c)
  q.set('stdout', 'true')
  const tty = interactive && process.stdin.isTTY === true
  if (interactive) q.set('stdin', 'true')
  if (tty) q.set('tty', 'true')
  else q.set('stderr', 'true')
  return execStream({ url: `ws://${endpoint}/exec/host?${q}`, stdin: interactive, tty })
}
