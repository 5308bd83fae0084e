import type { Clock, Logger, Rng } from '@calilab/kit'
import type { Api } from '../api.ts'
import { allControllers, namespaceController } from './defs.ts'
import { type ControllerDef, ControllerManager } from './manager.ts'

export type { ControllerContext, ControllerDef, KindRef } from './manager.ts'
export { ControllerManager } from './manager.ts'

export interface ControllersInit {
  api: Api
  log: Logger
  clock: Clock
  rng: Rng
  /** Default: all (namespace, scheduler, deployment, replicaset, daemonset, endpoints, node lifecycle, GC, operator, kube-controllers). */
  controllers?: ControllerDef[]
  resyncMs?: number
  /** Wait after a namespace's deletion before emptying it (default 5000, as kube-controller-manager). */
  namespaceGraceMs?: number
}

/** Starts the controllers a real cluster runs beside its API server. */
export function startControllers(init: ControllersInit): { stop(): Promise<void>; idle(): Promise<void> } {
  const m = new ControllerManager({
    api: init.api,
    log: init.log,
    clock: init.clock,
    rng: init.rng,
    controllers:
      init.controllers ??
      allControllers.map((c) =>
        c.name === 'namespace' && init.namespaceGraceMs !== undefined ? namespaceController(init.namespaceGraceMs) : c,
      ),
    ...(init.resyncMs !== undefined ? { resyncMs: init.resyncMs } : {}),
  })
  m.start()
  return { stop: () => m.stop(), idle: () => m.idle() }
}
