import { createLogger, readyLine, systemClock, systemRng } from '@calilab/kit'
import { type FelixAgent, type FelixSource, startFelix } from './felix/agent.ts'
import { startNode } from './kubelet/agent.ts'

/**
 * `calilab run node --name N --ip IP --endpoint ADDR --role control|worker --calico installed|operator
 *   [--pod-block CIDR] [--apiserver URL] [--typha HOST:PORT,...] [--syncer typha|direct]`
 * The Felix-like agent reads the datastore through Typha when Typha addresses are given (the
 * default whenever Typha runs), or straight from the API server's stream with `--syncer direct`.
 */
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
  const apiServer = flags.get('apiserver') ?? 'http://127.0.0.1:6443'
  const typhas = (flags.get('typha') ?? '').split(',').filter((a) => a !== '')
  const syncer = flags.get('syncer') ?? (typhas.length ? 'typha' : 'direct')
  if (syncer !== 'typha' && syncer !== 'direct') throw new Error(`--syncer: must be typha or direct, got "${syncer}"`)
  if (syncer === 'typha' && !typhas.length) throw new Error('--syncer typha needs --typha HOST:PORT[,HOST:PORT...]')
  const wsUrl = new URL(apiServer)
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:'
  wsUrl.pathname = '/internal/watch'
  const source: FelixSource =
    syncer === 'typha' ? { kind: 'typha', addresses: typhas } : { kind: 'direct', url: wsUrl.toString() }
  const clock = systemClock()
  const felix: FelixAgent = startFelix({ nodeName, source, log, rng: systemRng(), clock })
  const node = await startNode({
    statusRoutes: { '/felix/status': () => felix.status() },
    apiServer,
    nodeName,
    nodeIP: need('ip'),
    endpoint: need('endpoint'),
    role,
    calico,
    ...(podBlock ? { podBlock } : {}),
    log,
    clock,
  })
  process.stdout.write(
    `${readyLine({ component: 'node', node: nodeName, pid: process.pid, kubeletPort: node.kubeletPort })}\n`,
  )
  return {
    ...node,
    async close() {
      felix.close()
      await node.close()
    },
  }
}
