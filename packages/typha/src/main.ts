import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createLogger, createRegistry, type Logger, readyLine } from '@calilab/kit'
import { allSyncerPrefixes, connectInternalStream, TYPHA_DEFAULT_PORT } from '@calilab/proto'
import { startMetricsHttp } from './io/metrics-http.ts'
import { startTyphaServer, type TyphaServer, type TyphaTlsInit } from './io/server.ts'
import { createTyphaMetrics } from './metrics.ts'

export interface TyphaProcess {
  server: TyphaServer
  metricsPort: number
  close(): Promise<void>
}

/** ws://host:port/internal/watch from the API server's http(s) URL (or a ws URL as given). */
export function internalStreamUrl(apiserver: string): string {
  const u = new URL(apiserver)
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return apiserver
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:'
  u.pathname = '/internal/watch'
  return u.toString()
}

export interface TyphaMainOptions {
  apiserver: string
  host: string
  port: number
  metricsPort: number
  index: number
  maxQueueBytes?: number
  maxLagRevisions?: number
  /** Fan-out pacing (TyphaServerInit): µs of gap per live client between delta fan-outs, and its cap. */
  flushGapPerClientUs?: number
  maxFlushGapMs?: number
  tls?: TyphaTlsInit
  log?: Logger
}

/** Start a whole Typha process's worth of components (used by runTypha and by tests). */
export async function startTypha(o: TyphaMainOptions): Promise<TyphaProcess> {
  const log = o.log ?? createLogger({ name: 'typha' })
  const registry = createRegistry({ defaultMetrics: true, labels: { typha: String(o.index) } })
  const metrics = createTyphaMetrics(registry)
  const url = internalStreamUrl(o.apiserver)
  const server = await startTyphaServer({
    log: log.child({ component: 'typha.server' }),
    host: o.host,
    port: o.port,
    metrics,
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.maxQueueBytes !== undefined ? { maxQueueBytes: o.maxQueueBytes } : {}),
    ...(o.maxLagRevisions !== undefined ? { maxLagRevisions: o.maxLagRevisions } : {}),
    ...(o.flushGapPerClientUs !== undefined ? { flushGapPerClientUs: o.flushGapPerClientUs } : {}),
    ...(o.maxFlushGapMs !== undefined ? { maxFlushGapMs: o.maxFlushGapMs } : {}),
    upstream: (handler) =>
      connectInternalStream({
        url,
        prefixes: allSyncerPrefixes(),
        log: log.child({ component: 'typha.upstream' }),
        handler,
      }),
  })
  const http = await startMetricsHttp({
    registry,
    host: o.host,
    port: o.metricsPort,
    status: () => ({
      serverId: server.serverId,
      inSync: server.inSync,
      revision: server.cache.revision,
      entries: server.cache.size,
      clients: server.clients(),
    }),
  })
  return {
    server,
    metricsPort: http.port,
    async close() {
      await server.close()
      await http.close()
    },
  }
}

/**
 * `calilab run typha --apiserver URL [--host IP] [--port N] [--metrics-port N] [--index N] [TLS flags]
 *   [--max-queue-bytes N] [--max-lag-revisions N] [--flush-gap-per-client-us N] [--max-flush-gap-ms N]`
 */
export async function runTypha(argv: string[]): Promise<TyphaProcess> {
  const { values } = parseArgs({
    args: argv,
    options: {
      apiserver: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: String(TYPHA_DEFAULT_PORT) },
      'metrics-port': { type: 'string', default: '0' },
      index: { type: 'string', default: '0' },
      'max-queue-bytes': { type: 'string' },
      'max-lag-revisions': { type: 'string' },
      'flush-gap-per-client-us': { type: 'string' },
      'max-flush-gap-ms': { type: 'string' },
      'server-cert': { type: 'string' },
      'server-key': { type: 'string' },
      ca: { type: 'string' },
      'client-cn': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
    },
    strict: false,
  })
  const str = (k: keyof typeof values): string | undefined => {
    const v = values[k]
    return typeof v === 'string' ? v : undefined
  }
  const apiserver = str('apiserver')
  if (!apiserver) throw new Error('typha: --apiserver URL is required (e.g. http://127.0.0.1:6443)')
  const num = (k: keyof typeof values, name: string): number | undefined => {
    const v = str(k)
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new Error(`typha: --${name} must be a non-negative integer, got ${v}`)
    return n
  }
  const cert = str('server-cert')
  const key = str('server-key')
  const ca = str('ca')
  let tls: TyphaTlsInit | undefined
  if (cert || key || ca) {
    if (!cert || !key || !ca) throw new Error('typha: TLS needs all of --server-cert, --server-key and --ca')
    tls = { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca) }
    const cn = str('client-cn')
    if (cn) tls.clientCN = cn
  }
  const log = createLogger({ name: 'typha', level: str('log-level') ?? 'info', destination: 2 })
  const maxQueueBytes = num('max-queue-bytes', 'max-queue-bytes')
  const maxLagRevisions = num('max-lag-revisions', 'max-lag-revisions')
  const flushGapPerClientUs = num('flush-gap-per-client-us', 'flush-gap-per-client-us')
  const maxFlushGapMs = num('max-flush-gap-ms', 'max-flush-gap-ms')
  const p = await startTypha({
    apiserver,
    host: str('host') ?? '127.0.0.1',
    port: num('port', 'port') ?? TYPHA_DEFAULT_PORT,
    metricsPort: num('metrics-port', 'metrics-port') ?? 0,
    index: num('index', 'index') ?? 0,
    log,
    ...(tls ? { tls } : {}),
    ...(maxQueueBytes !== undefined ? { maxQueueBytes } : {}),
    ...(maxLagRevisions !== undefined ? { maxLagRevisions } : {}),
    ...(flushGapPerClientUs !== undefined ? { flushGapPerClientUs } : {}),
    ...(maxFlushGapMs !== undefined ? { maxFlushGapMs } : {}),
  })
  process.stdout.write(
    `${readyLine({ component: 'typha', host: p.server.host, port: p.server.port, metricsPort: p.metricsPort, pid: process.pid })}\n`,
  )
  const stop = () => {
    void p.close().then(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  return p
}
