import net from 'node:net'
import { createLogger, readyLine } from '@calilab/kit'

/**
 * A stand-in process for a component that does not exist yet (Typha: issue 3, the standalone
 * BGP speaker: issue 5). It binds its port when it has one (so addresses are real and the
 * supervisor's bookkeeping is the same), prints its ready line and idles until SIGTERM.
 */
export async function runPlaceholder(init: {
  component: 'typha' | 'bgp-speaker'
  issue: number
  host?: string
  port?: number
  info: Record<string, unknown>
}): Promise<void> {
  const log = createLogger({ name: init.component, pretty: false })
  log.warn({ issue: init.issue, ...init.info }, 'placeholder process: this component is not implemented yet')
  let server: net.Server | undefined
  let port: number | undefined
  if (init.port !== undefined) {
    const srv = net.createServer((sock) => {
      log.info({ remote: `${sock.remoteAddress}:${sock.remotePort}` }, 'placeholder: closing connection')
      sock.destroy()
    })
    server = srv
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen(init.port, init.host ?? '127.0.0.1', () => resolve())
    })
    const addr = srv.address()
    port = typeof addr === 'object' && addr ? addr.port : init.port
  }
  process.stdout.write(
    `${readyLine({ component: init.component, placeholder: true, ...init.info, ...(port !== undefined ? { host: init.host ?? '127.0.0.1', port } : {}) })}\n`,
  )
  // Keeps the event loop alive while idle (a pending promise alone does not).
  const keepAlive = setInterval(() => {}, 1 << 30)
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      clearInterval(keepAlive)
      log.info({ signal: sig }, 'placeholder stopping')
      if (server) server.close(() => resolve())
      else resolve()
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}
