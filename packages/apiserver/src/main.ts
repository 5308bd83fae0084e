import { createLogger, type Logger, readyLine } from '@calilab/kit'
import { startApiServer } from './server.ts'

export interface ApiServerConfig {
  host?: string
  port?: number
  dataDir?: string
  logLevel?: string
  controllers?: boolean
  serviceCidr?: string
  /** fdatasync the store (default true). */
  fsync?: boolean
  /** Install SIGTERM/SIGINT handlers that stop the server and exit (default true). */
  handleSignals?: boolean
  /** Where the ready line goes (default process.stdout). */
  out?: { write(s: string): unknown }
  log?: Logger
}

/**
 * `calilab run apiserver --port --host --data-dir`: starts the server, prints the ready line
 * `CALILAB_READY {"component":"apiserver","url":...,"port":...,"pid":...}` once serving, and
 * stops cleanly on SIGTERM/SIGINT.
 */
export async function runApiServer(
  config: ApiServerConfig = {},
): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const log = config.log ?? createLogger({ name: 'apiserver', level: config.logLevel ?? 'info', destination: 2 })
  const init: Parameters<typeof startApiServer>[0] = {
    log,
    port: config.port ?? 6443,
    host: config.host ?? '127.0.0.1',
  }
  if (config.dataDir) init.dataDir = config.dataDir
  if (config.controllers !== undefined) init.controllers = config.controllers
  if (config.serviceCidr) init.serviceCidr = config.serviceCidr
  if (config.fsync !== undefined) init.fsync = config.fsync
  const s = await startApiServer(init)
  const out = config.out ?? process.stdout
  out.write(`${readyLine({ component: 'apiserver', url: s.url, port: s.port, pid: process.pid })}\n`)
  const stop = async () => {
    await s.close()
  }
  if (config.handleSignals !== false) {
    const onSignal = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'stopping')
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'stop failed')
          process.exit(1)
        },
      )
    }
    process.once('SIGTERM', onSignal)
    process.once('SIGINT', onSignal)
  }
  return { url: s.url, port: s.port, stop }
}
