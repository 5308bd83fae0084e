import type { Clock, Logger, Rng, Timer } from '@calilab/kit'
import { apiVersionOf, type KubeObject, type ResourceInfo } from '@calilab/model'
import type { Api, ApiWatch } from '../api.ts'
import type { Action } from '../core/controllers/types.ts'
import { isApiError } from '../core/status.ts'

export type KindRef = readonly [apiVersion: string, kind: string]

/** What a controller sees on each pass: fresh reads through the Api (level-triggered). */
export interface ControllerContext {
  now(): number
  rng: Rng
  log: Logger
  /** All objects of a kind (all namespaces, or one); [] while the kind is not served (a CRD not yet created). */
  list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, namespace?: string): T[]
  get<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): T | undefined
  served(apiVersion: string, kind: string): boolean
  /** Every namespaced kind served (built-in and CRD-defined), one entry per stored kind. */
  namespacedKinds(): KindRef[]
  /** Run this controller again in `ms` even if nothing it watches changes (a workqueue's AddAfter). */
  after(ms: number): void
}

export interface ControllerDef {
  name: string
  /** Kinds whose changes make this controller run again. */
  watches: KindRef[]
  reconcile(ctx: ControllerContext): Action[]
}

export interface ManagerInit {
  api: Api
  log: Logger
  clock: Clock
  rng: Rng
  controllers: ControllerDef[]
  /** Period of the full resync (also notices newly registered kinds); default 5 s. */
  resyncMs?: number
  /** Delay that batches a burst of events into one pass; default 10 ms. */
  batchMs?: number
}

interface Running {
  def: ControllerDef
  log: Logger
  dirty: boolean
  /** Not before (monotonic ms): backoff after an error. */
  notBefore: number
  /** Monotonic ms at which it asked to run again (ctx.after). */
  wakeAt: number
}

/**
 * Runs controllers: one shared watch per kind marks the controllers that care dirty; a single
 * loop runs dirty controllers one at a time, each computing actions from current state and the
 * shell carrying them out in order. A 409 stops that controller's batch and runs it again.
 */
export class ControllerManager {
  private readonly api: Api
  private readonly log: Logger
  private readonly clock: Clock
  private readonly rng: Rng
  private readonly running: Running[]
  private readonly watches = new Map<string, ApiWatch>()
  private readonly resyncMs: number
  private readonly batchMs: number
  private timer: Timer | undefined
  private resyncTimer: Timer | undefined
  private loop: Promise<void> = Promise.resolve()
  private busy = false
  private stopped = false

  constructor(init: ManagerInit) {
    this.api = init.api
    this.log = init.log
    this.clock = init.clock
    this.rng = init.rng
    this.resyncMs = init.resyncMs ?? 5000
    this.batchMs = init.batchMs ?? 10
    this.running = init.controllers.map((def) => ({
      def,
      log: init.log.child({ component: `controller.${def.name}` }),
      dirty: true,
      notBefore: 0,
      wakeAt: Number.POSITIVE_INFINITY,
    }))
  }

  start(): void {
    this.ensureWatches()
    this.resyncTimer = this.clock.setInterval(() => {
      this.ensureWatches()
      for (const r of this.running) r.dirty = true
      this.kick()
    }, this.resyncMs)
    this.kick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.timer?.cancel()
    this.resyncTimer?.cancel()
    for (const w of this.watches.values()) w.cancel()
    this.watches.clear()
    await this.loop
  }

  /** Resolves once no controller is dirty and nothing is running (tests). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await this.loop
      if (!this.busy && !this.running.some((r) => r.dirty)) return
      await new Promise((r) => setImmediate(r))
    }
  }

  private info(apiVersion: string, kind: string): ResourceInfo | undefined {
    return this.api.resources.byKind(apiVersion, kind)
  }

  private ensureWatches(): void {
    const kinds = new Map<string, KindRef>()
    for (const r of this.running) for (const k of r.def.watches) kinds.set(`${k[0]}/${k[1]}`, k)
    kinds.set('apiextensions.k8s.io/v1/CustomResourceDefinition', [
      'apiextensions.k8s.io/v1',
      'CustomResourceDefinition',
    ])
    for (const [key, [apiVersion, kind]] of kinds) {
      if (this.watches.has(key)) continue
      const info = this.info(apiVersion, kind)
      if (!info) continue
      try {
        const rv = this.api.list(info, undefined, { limit: 1 }).resourceVersion
        const w = this.api.watch(info, undefined, { resourceVersion: rv }, (ev) => {
          if (ev.type === 'BOOKMARK') return
          if (kind === 'CustomResourceDefinition') {
            this.ensureWatches()
            for (const r of this.running) r.dirty = true
          } else {
            for (const r of this.running)
              if (r.def.watches.some((k) => k[0] === apiVersion && k[1] === kind)) r.dirty = true
          }
          this.kick()
        })
        this.watches.set(key, w)
      } catch (err) {
        this.log.warn({ err, kind: key }, 'controller watch failed; retrying on resync')
      }
    }
  }

  private kick(delay = this.batchMs): void {
    if (this.stopped || this.timer) return
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined
      this.loop = this.loop.then(() => this.pass())
    }, delay)
  }

  private context(r: Running): ControllerContext {
    const api = this.api
    const log = r.log
    return {
      after: (ms) => {
        r.wakeAt = Math.min(r.wakeAt, this.clock.monotonic() + Math.max(0, ms))
      },
      now: () => this.clock.now(),
      rng: this.rng,
      log,
      served: (apiVersion, kind) => this.info(apiVersion, kind) !== undefined,
      namespacedKinds: () => {
        const seen = new Set<string>()
        const out: KindRef[] = []
        for (const r of api.resources.all()) {
          const key = `${r.group}/${r.plural}`
          if (!r.namespaced || seen.has(key)) continue
          seen.add(key)
          out.push([apiVersionOf(r), r.kind])
        }
        return out
      },
      list: <T extends KubeObject>(apiVersion: string, kind: string, namespace?: string): T[] => {
        const info = this.info(apiVersion, kind)
        if (!info) return []
        return api.list(info, info.namespaced ? namespace : undefined).items as T[]
      },
      get: <T extends KubeObject>(apiVersion: string, kind: string, namespace: string | undefined, name: string) => {
        const info = this.info(apiVersion, kind)
        if (!info) return undefined
        try {
          return api.get(info, info.namespaced ? namespace : undefined, name) as T
        } catch (err) {
          if (isApiError(err) && err.status.code === 404) return undefined
          throw err
        }
      },
    }
  }

  private async pass(): Promise<void> {
    if (this.stopped) return
    this.busy = true
    let later = Number.POSITIVE_INFINITY
    try {
      const now = this.clock.monotonic()
      for (const r of this.running) {
        if (r.wakeAt > now) continue
        r.wakeAt = Number.POSITIVE_INFINITY
        r.dirty = true
      }
      for (const r of this.running) {
        if (this.stopped) return
        if (!r.dirty) continue
        const mono = this.clock.monotonic()
        if (r.notBefore > mono) {
          later = Math.min(later, r.notBefore - mono)
          continue
        }
        r.dirty = false
        let actions: Action[]
        try {
          actions = r.def.reconcile(this.context(r))
        } catch (err) {
          r.log.error({ err }, 'reconcile failed')
          r.dirty = true
          r.notBefore = mono + 1000
          later = Math.min(later, 1000)
          continue
        }
        const { result: outcome, changed } = await this.apply(r, actions)
        if (outcome === 'retry') {
          r.dirty = true
          r.notBefore = this.clock.monotonic() + 50
          later = Math.min(later, 50)
        } else if (outcome === 'error') {
          r.dirty = true
          r.notBefore = this.clock.monotonic() + 1000
          later = Math.min(later, 1000)
        } else if (changed) {
          // Our own writes come back as events; run again to confirm a fixed point. Writes the
          // store found identical change nothing: running again would only compute them again.
          r.dirty = true
        }
      }
    } finally {
      this.busy = false
    }
    const after = this.clock.monotonic()
    for (const r of this.running) if (Number.isFinite(r.wakeAt)) later = Math.min(later, Math.max(0, r.wakeAt - after))
    if (this.running.some((r) => r.dirty && r.notBefore <= this.clock.monotonic())) this.kick()
    else if (Number.isFinite(later)) this.kick(later)
  }

  /** A pod update that only assigns a node goes through pods/binding, as the real scheduler's does. */
  private bindingTarget(kind: string, obj: KubeObject): string | undefined {
    if (kind !== 'Pod') return undefined
    const node = (obj.spec as { nodeName?: string } | undefined)?.nodeName
    return typeof node === 'string' && node !== '' ? node : undefined
  }

  /**
   * Writes the actions; `changed` says whether any of them changed the store (an update the store
   * found identical to what it holds returns the same resourceVersion and writes nothing).
   */
  private async apply(r: Running, actions: Action[]): Promise<{ result: 'ok' | 'retry' | 'error'; changed: boolean }> {
    let result: 'ok' | 'retry' | 'error' = 'ok'
    let changed = false
    const wrote = (w: { object: KubeObject }, sent: KubeObject) => {
      const rv = sent.metadata.resourceVersion
      if (rv === undefined || w.object.metadata.resourceVersion !== rv) changed = true
    }
    for (const a of actions) {
      if (this.stopped) return { result: 'ok', changed }
      const byRef = a.op === 'delete' || a.op === 'deleteCollection'
      const apiVersion = byRef ? a.apiVersion : a.obj.apiVersion
      const kind = byRef ? a.kind : a.obj.kind
      const info = this.info(apiVersion, kind)
      if (!info) {
        r.log.debug({ apiVersion, kind }, 'kind not served; skipped')
        continue
      }
      const ns = info.namespaced ? (byRef ? a.namespace : a.obj.metadata.namespace) : undefined
      const name = a.op === 'delete' ? a.name : a.op === 'deleteCollection' ? '' : (a.obj.metadata.name ?? '')
      try {
        switch (a.op) {
          case 'create':
            await this.api.create(info, ns, a.obj)
            changed = true
            r.log.debug({ kind, namespace: ns, name }, 'created')
            break
          case 'update': {
            const node = this.bindingTarget(kind, a.obj)
            const cur = node ? this.api.get(info, ns, name) : undefined
            if (node && !(cur?.spec as { nodeName?: string } | undefined)?.nodeName) {
              const binding = {
                apiVersion: 'v1',
                kind: 'Binding',
                metadata: { name },
                target: { kind: 'Node', name: node },
              }
              await this.api.update(info, ns, name, binding, { subresource: 'binding' })
              changed = true
            } else wrote(await this.api.update(info, ns, name, a.obj), a.obj)
            break
          }
          case 'updateStatus':
            wrote(
              await this.api.update(
                info,
                ns,
                name,
                a.obj,
                info.subresources.includes('status') ? { subresource: 'status' } : {},
              ),
              a.obj,
            )
            break
          case 'delete': {
            const opts: { propagationPolicy: 'Background'; preconditions?: { uid: string } } = {
              propagationPolicy: 'Background',
            }
            if (a.uid) opts.preconditions = { uid: a.uid }
            await this.api.delete(info, ns, name, opts)
            changed = true
            r.log.debug({ kind, namespace: ns, name }, 'deleted')
            break
          }
          case 'deleteCollection': {
            const gone = await this.api.deleteCollection(info, ns, { propagationPolicy: 'Background' })
            if (gone.length > 0) changed = true
            r.log.debug({ kind, namespace: ns, count: gone.length }, 'deleted collection')
            break
          }
          case 'finalize':
            await this.api.update(info, ns, name, a.obj, { subresource: 'finalize' })
            changed = true
            r.log.debug({ kind, name }, 'finalized')
            break
        }
      } catch (err) {
        const code = isApiError(err) ? err.status.code : (err as { status?: { code?: number } }).status?.code
        if (code === 404 && a.op !== 'create') continue
        if (code === 403 && a.op === 'create' && namespaceTerminating(err)) {
          // As in a real cluster, a controller racing the namespace's deletion is refused; not an error.
          r.log.debug({ kind, namespace: ns, name }, 'namespace terminating; create skipped')
          continue
        }
        if (code === 409) {
          r.log.debug({ kind, namespace: ns, name, op: a.op }, 'conflict; will run again')
          return { result: 'retry', changed }
        }
        r.log.warn({ err, kind, namespace: ns, name, op: a.op }, 'controller write failed')
        result = 'error'
      }
    }
    return { result, changed }
  }
}

function namespaceTerminating(err: unknown): boolean {
  const causes = isApiError(err) ? err.status.details?.causes : undefined
  return causes?.some((c) => c.reason === 'NamespaceTerminating') ?? false
}
