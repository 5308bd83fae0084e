import { createLogger, readyLine, systemClock } from '@calilab/kit'
import { startNode } from './kubelet/agent.ts'

/** `calilab run node --name N --ip IP --endpoint ADDR --role control|worker --calico installed|operator [--pod-block CIDR] [--apiserver URL]` */
export async function runNode(argv: string[]): Promise<{ close(): Promise<void> }> {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (!a.startsWith('--')) continue
    const eq = a.indexOf('=')
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1))
    else flags.set(a.slice(2), argv[++i] ?? '')
  }
  const need = (k: string) => {
    const v = flags.get(k)
    if (!v) throw new Error(`--${k} is required`)
    return v
  }
  const role = flags.get('role') ?? 'worker'
  const calico = flags.get('calico') ?? 'installed'
  if (role !== 'control' && role !== 'worker') throw new Error(`--role: must be control or worker, got "${role}"`)
  if (calico !== 'installed' && calico !== 'operator')
    throw new Error(`--calico: must be installed or operator, got "${calico}"`)
  const nodeName = need('name')
  const log = createLogger({ name: `node-${nodeName}`, destination: 2 })
  const podBlock = flags.get('pod-block')
  const node = await startNode({
    apiServer: flags.get('apiserver') ?? 'http://127.0.0.1:6443',
    nodeName,
    nodeIP: need('ip'),
    endpoint: need('endpoint'),
    role,
    calico,
    ...(podBlock ? { podBlock } : {}),
    log,
    clock: systemClock(),
  })
  process.stdout.write(
    `${readyLine({ component: 'node', node: nodeName, pid: process.pid, kubeletPort: node.kubeletPort })}\n`,
  )
  return node
}
