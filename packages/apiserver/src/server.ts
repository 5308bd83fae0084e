import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Clock, createRegistry, type Logger, type Rng, systemClock, systemRng } from '@calilab/kit'
import type { Api } from './api.ts'
import { startControllers } from './controllers/index.ts'
import { attachExecProxy } from './io/http/exec.ts'
import { createHandler } from './io/http/handler.ts'
import { attachInternalStream } from './io/internal-stream.ts'
import { createApi, type ServiceApi } from './io/service/api.ts'
import { openDurableStore } from './io/store/durable-store.ts'
import { MemoryStore } from './io/store/memory-store.ts'
import type { Store } from './io/store/types.ts'
import { createApiServerMetrics } from './metrics.ts'

export interface ApiServerInit {
  host?: string
  /** 0 = ephemeral (default 6443). */
  port?: number
  /** Durable store in this directory; absent = in memory. Ignored when `store` is given. */
  dataDir?: string
  log: Logger
  clock?: Clock
  rng?: Rng
  /** Run the in-process controllers (default true). */
  controllers?: boolean
  store?: Store
  /** Service cluster IP range (default 198.19.32.0/20). */
  serviceCidr?: string
  /** fdatasync the durable store (default true). */
  fsync?: boolean
  /** The namespace controller's wait after a deletion before emptying (default 5000 ms). */
  namespaceGraceMs?: number
}

export interface RunningApiServer {
  url: string
  port: number
  api: ServiceApi & Api
  server: Server
  close(): Promise<void>
}

/** Opens the store, bootstraps built-in objects, serves HTTP (+ the internal watch stream), starts controllers. */
export async function startApiServer(init: ApiServerInit): Promise<RunningApiServer> {
  const log = init.log
  const clock = init.clock ?? systemClock()
  const rng = init.rng ?? systemRng()
  const ownStore = init.store === undefined
  let store: Store
  if (init.store) store = init.store
  else if (init.dataDir) {
    const opts: Parameters<typeof openDurableStore>[0] = {
      dir: init.dataDir,
      log: log.child({ component: 'apiserver.store' }),
    }
    if (init.fsync !== undefined) opts.fsync = init.fsync
    store = await openDurableStore(opts)
  } else store = new MemoryStore()
  const apiInit: Parameters<typeof createApi>[0] = { store, log, clock, rng }
  if (init.serviceCidr) apiInit.serviceCidr = init.serviceCidr
  const api = createApi(apiInit)
  await api.bootstrap()

  const registry = createRegistry({ defaultMetrics: false })
  const metrics = createApiServerMetrics(registry, store)
  let address = ''
  const server = createServer({ keepAlive: true }, createHandler({ api, log, clock, metrics, address: () => address }))
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 70_000
  server.requestTimeout = 0
  const stream = attachInternalStream({ server, store, log: log.child({ component: 'apiserver.internal-stream' }) })
  // pods/exec (kubectl's WebSocket upgrade) is relayed to the pod's node kubelet endpoint.
  const execProxy = attachExecProxy({ server, api, log })
  const host = init.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 6443, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  address = `${host}:${port}`
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const controllers =
    init.controllers === false
      ? undefined
      : startControllers({
          api,
          log: log.child({ component: 'controllers' }),
          clock,
          rng,
          ...(init.namespaceGraceMs !== undefined ? { namespaceGraceMs: init.namespaceGraceMs } : {}),
        })
  log.info({ url, dataDir: init.dataDir, controllers: controllers !== undefined }, 'apiserver serving')

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await controllers?.stop()
      stream.close()
      execProxy.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      if (ownStore) await store.close()
      log.info({ url }, 'apiserver stopped')
    })()
    return closing
  }
  return { url, port, api, server, close }
}
