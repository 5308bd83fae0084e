import type { Clock, Logger, Rng } from '@calilab/kit'
import {
  apiVersionOf,
  applyDefaultsInPlace,
  builtinResources,
  type KubeObject,
  type ResourceInfo,
} from '@calilab/model'
import type {
  Api,
  DeleteOptions,
  ListOptions,
  ListResult,
  PatchType,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from '../../api.ts'
import { versionConversion } from '../../core/hpa-convert.ts'
import {
  deepEqual,
  generateName,
  jsonMergePatch,
  jsonPatch,
  newUid,
  rfc3339,
  strategicMergePatch,
} from '../../core/index.ts'
import { ApiError, apiErrors } from '../../core/status.ts'
import { storeKey, storePrefix } from '../store/keys.ts'
import type { Store, StoreOp } from '../store/types.ts'
import { markTerminating, purge, specFinalizers, withFinalizers } from './namespaces.ts'
import { asObject, checkName, clone, isRecord, specChanged, validate } from './objects.ts'
import { createResourceTable, type ServedResources } from './resource-table.ts'
import { compileFilter } from './selectors.ts'
import { createServiceAllocator, type ServiceAllocator } from './service-alloc.ts'
import { startWatch } from './watch.ts'
import { bindPod, storeFailure } from './writes.ts'

export interface ApiInit {
  store: Store
  log: Logger
  clock: Clock
  rng: Rng
  /** Built-in kinds; default: model's builtinResources(). */
  builtins?: readonly ResourceInfo[]
  /** Service cluster IP range; default 198.19.32.0/20. */
  serviceCidr?: string
}

export interface ServiceApi extends Api {
  readonly store: Store
  readonly resources: ServedResources
  readonly services: ServiceAllocator
  /** Creates the built-in namespaces and the `kubernetes` service when missing. Idempotent. */
  bootstrap(): Promise<void>
}

export const DEFAULT_SERVICE_CIDR = '198.19.32.0/20'
export const BUILTIN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const
const UNDELETABLE_NAMESPACES = new Set(['default', 'kube-system', 'kube-public'])
const PATCH_RETRIES = 5
const GENERATE_NAME_RETRIES = 8

const CRD_GROUP = 'apiextensions.k8s.io'

export function createApi(init: ApiInit): ServiceApi {
  const { store, clock, rng } = init
  const log = init.log.child({ component: 'apiserver.service' })
  const resources = createResourceTable(init.builtins ?? builtinResources())
  const services = createServiceAllocator(init.serviceCidr ?? DEFAULT_SERVICE_CIDR, rng)

  const nsInfo = () => resources.byPlural('', 'namespaces')
  const svcInfo = () => resources.byPlural('', 'services')
  const isKind = (r: ResourceInfo, group: string, plural: string) => r.group === group && r.plural === plural

  // Rebuild CRD-defined kinds from what is stored.
  const crdInfo = resources.byPlural(CRD_GROUP, 'customresourcedefinitions')
  if (crdInfo) for (const crd of store.list(storePrefix(crdInfo)).items) resources.registerCrd(crd)

  const nsOf = (r: ResourceInfo, namespace: string | undefined): string | undefined => {
    if (!r.namespaced) return undefined
    if (namespace === undefined || namespace === '') throw apiErrors.badRequest('a namespace must be specified')
    return namespace
  }

  /**
   * Served form: the apiVersion of the version asked for (CRD kinds share storage across versions);
   * a kind whose versions differ in shape (autoscaling/v1 HPAs) is converted from the stored one.
   */
  const present = (r: ResourceInfo, o: KubeObject): KubeObject => {
    const conv = versionConversion(r)
    if (conv) return conv.fromStorage(o)
    const av = apiVersionOf(r)
    return o.apiVersion === av ? o : { ...o, apiVersion: av }
  }

  /** A written object in the stored shape (the identity for most kinds). */
  const toStorage = (r: ResourceInfo, o: KubeObject): KubeObject => versionConversion(r)?.toStorage(o) ?? o
  /** The kind as stored (what validation and defaulting see): the storage version of a converted one. */
  const storageOf = (r: ResourceInfo): ResourceInfo => {
    const v = versionConversion(r)?.storageVersion
    return (v && resources.byGroupVersionPlural(r.group, v, r.plural)) || r
  }

  /** NamespaceLifecycle admission: the namespace must exist and not be Terminating. */
  const checkNamespace = (r: ResourceInfo, name: string, ns: string): void => {
    const ni = nsInfo()
    if (!ni) return
    const n = store.get(storeKey(ni, undefined, ns))
    if (!n) throw apiErrors.notFound(ni, ns)
    const phase = isRecord(n.status) ? n.status['phase'] : undefined
    if (n.metadata.deletionTimestamp || phase === 'Terminating') throw apiErrors.namespaceTerminating(r, name, ns)
  }

  /** Kind-specific shaping on create/update (main resource). Returns an allocation token to release. */
  const shape = (r: ResourceInfo, o: KubeObject, old: KubeObject | undefined): number | undefined => {
    if (isKind(r, '', 'namespaces')) {
      const name = o.metadata.name as string
      o.metadata.labels = { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name }
      if (!old) {
        const spec = isRecord(o.spec) ? o.spec : {}
        if (spec['finalizers'] === undefined) spec['finalizers'] = ['kubernetes']
        o.spec = spec
        o.status = { phase: 'Active' }
      }
      return undefined
    }
    if (isKind(r, '', 'pods') && !old) {
      // As the real pod strategy: a new pod is Pending until the scheduler and kubelet say otherwise.
      const st = isRecord(o.status) ? o.status : {}
      if (st['phase'] === undefined) o.status = { ...st, phase: 'Pending' }
      return undefined
    }
    if (isKind(r, '', 'secrets') && (o['type'] === undefined || o['type'] === '')) {
      // As the real API server's defaulting: a secret without a type is Opaque.
      o['type'] = 'Opaque'
      return undefined
    }
    if (isKind(r, '', 'services')) {
      if (!isRecord(o.spec)) o.spec = {}
      const si = svcInfo() as ResourceInfo
      const res = services.allocate(o, old, store.list(storePrefix(si)).items)
      if (res.errors.length) throw apiErrors.invalid(r, o.metadata.name ?? '', res.errors)
      return res.token
    }
    if (isKind(r, CRD_GROUP, 'customresourcedefinitions')) {
      const spec = isRecord(o.spec) ? o.spec : {}
      const names = isRecord(spec['names']) ? spec['names'] : {}
      const want = `${String(names['plural'] ?? '')}.${String(spec['group'] ?? '')}`
      if (o.metadata.name !== want) {
        throw apiErrors.invalid(r, o.metadata.name ?? '', [
          {
            type: 'FieldValueInvalid',
            field: 'metadata.name',
            value: o.metadata.name,
            detail: `must be spec.names.plural+"."+spec.group`,
          },
        ])
      }
      const versions = Array.isArray(spec['versions']) ? (spec['versions'] as unknown[]).filter(isRecord) : []
      const storage = versions.find((v) => v['storage'] === true)?.['name']
      const accepted = { ...names }
      if (accepted['singular'] === undefined && typeof names['kind'] === 'string')
        accepted['singular'] = names['kind'].toLowerCase()
      if (accepted['listKind'] === undefined && typeof names['kind'] === 'string')
        accepted['listKind'] = `${names['kind']}List`
      const t = rfc3339(clock.now())
      o.status = {
        acceptedNames: accepted,
        conditions: [
          {
            type: 'NamesAccepted',
            status: 'True',
            reason: 'NoConflicts',
            message: 'no conflicts found',
            lastTransitionTime: t,
          },
          {
            type: 'Established',
            status: 'True',
            reason: 'InitialNamesAccepted',
            message: 'the initial names have been accepted',
            lastTransitionTime: t,
          },
        ],
        storedVersions: storage ? [storage] : [],
      }
    }
    return undefined
  }

  const afterWrite = (r: ResourceInfo, o: KubeObject, deleted: boolean): void => {
    if (!isKind(r, CRD_GROUP, 'customresourcedefinitions')) return
    if (deleted) resources.unregisterCrd(o.metadata.name ?? '')
    else resources.registerCrd(o)
    log.info({ crd: o.metadata.name, deleted }, deleted ? 'crd unregistered' : 'crd registered')
  }

  const commitOne = async (r: ResourceInfo, op: StoreOp, name: string): Promise<KubeObject> => {
    try {
      const events = await store.commit([op])
      const ev = events[0]
      if (!ev) throw apiErrors.internal('store returned no event')
      return ev.object
    } catch (e) {
      return storeFailure(e, r, name)
    }
  }

  const get = (r: ResourceInfo, namespace: string | undefined, name: string): KubeObject => {
    const ns = nsOf(r, namespace)
    const o = store.get(storeKey(r, ns, name))
    if (!o) throw apiErrors.notFound(r, name)
    return present(r, o)
  }

  const list = (r: ResourceInfo, namespace: string | undefined, opts: ListOptions = {}): ListResult => {
    const prefix = r.namespaced && namespace ? storePrefix(r, namespace) : storePrefix(r)
    const filter = compileFilter(r, opts.labelSelector, opts.fieldSelector)
    const { items, revision } = store.list(prefix)
    let start = 0
    let rv = String(revision)
    if (opts.continue) {
      let tok: { k?: unknown; rv?: unknown }
      try {
        tok = JSON.parse(Buffer.from(opts.continue, 'base64url').toString('utf8')) as { k?: unknown; rv?: unknown }
      } catch {
        throw apiErrors.badRequest('continue key is not valid: illegal base64 data')
      }
      if (typeof tok.k !== 'string') throw apiErrors.badRequest('continue key is not valid')
      const after = tok.k
      start = items.findIndex((o) => storeKey(r, o.metadata.namespace, o.metadata.name ?? '') > after)
      if (start < 0) start = items.length
      if (typeof tok.rv === 'string') rv = tok.rv
    }
    const out: KubeObject[] = []
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Number.POSITIVE_INFINITY
    let i = start
    for (; i < items.length && out.length < limit; i++) {
      const o = items[i] as KubeObject
      if (!filter || filter(o)) out.push(present(r, o))
    }
    const res: ListResult = { items: out, resourceVersion: rv }
    if (out.length >= limit && i < items.length) {
      const last = out[out.length - 1] as KubeObject
      const k = storeKey(r, last.metadata.namespace, last.metadata.name ?? '')
      // Only hand out a token when something after it could still match.
      const more = items.slice(i).some((o) => !filter || filter(o))
      if (more) res.continue = Buffer.from(JSON.stringify({ k, rv }), 'utf8').toString('base64url')
    }
    return res
  }

  const create = async (
    r: ResourceInfo,
    namespace: string | undefined,
    body: unknown,
    opts: WriteOptions = {},
  ): Promise<WriteResult> => {
    const ns = nsOf(r, namespace)
    const o0 = toStorage(r, asObject(r, body, apiVersionOf(r)))
    const md = o0.metadata
    if (r.namespaced) {
      if (md.namespace !== undefined && md.namespace !== '' && md.namespace !== ns) {
        throw apiErrors.badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        )
      }
      md.namespace = ns as string
    } else {
      delete md.namespace
    }
    if (md.resourceVersion !== undefined && md.resourceVersion !== '') {
      throw apiErrors.badRequest('resourceVersion should not be set on objects to be created')
    }
    // Admission (NamespaceLifecycle) comes before naming and validation, as in kube-apiserver.
    if (ns !== undefined) checkNamespace(r, md.name ?? '', ns)
    const useGenerate =
      (md.name === undefined || md.name === '') && typeof md.generateName === 'string' && md.generateName !== ''
    if (useGenerate) md.name = generateName(md.generateName as string, rng)
    checkName(r, o0)
    const warnings = validate(storageOf(r), o0, undefined, opts)
    let o: KubeObject
    try {
      // o0 is asObject's private copy: defaults go into it.
      o = applyDefaultsInPlace(storageOf(r), o0)
    } catch (e) {
      throw apiErrors.badRequest(`invalid object: ${e instanceof Error ? e.message : String(e)}`)
    }
    o.metadata.uid = newUid(rng)
    o.metadata.creationTimestamp = rfc3339(clock.now())
    o.metadata.generation = 1
    delete o.metadata.resourceVersion
    delete o.metadata.deletionTimestamp
    delete o.metadata.deletionGracePeriodSeconds
    for (let attempt = 0; ; attempt++) {
      const token = shape(r, o, undefined)
      try {
        if (opts.dryRun) return { object: present(r, o), warnings }
        const stored = await commitOne(
          r,
          { op: 'create', key: storeKey(r, ns, o.metadata.name as string), object: o },
          o.metadata.name as string,
        )
        afterWrite(r, stored, false)
        return { object: present(r, stored), warnings }
      } catch (e) {
        if (
          useGenerate &&
          e instanceof ApiError &&
          e.status.reason === 'AlreadyExists' &&
          attempt < GENERATE_NAME_RETRIES
        ) {
          o.metadata.name = generateName(md.generateName as string, rng)
          continue
        }
        throw e
      } finally {
        if (token !== undefined) services.release(token)
      }
    }
  }

  const update = async (
    r: ResourceInfo,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions = {},
  ): Promise<WriteResult> => {
    const ns = nsOf(r, namespace)
    const key = storeKey(r, ns, name)
    const old = store.get(key)
    if (!old) throw apiErrors.notFound(r, name)
    const incoming =
      opts.subresource === 'binding'
        ? { apiVersion: 'v1', kind: 'Binding', metadata: {} }
        : toStorage(r, asObject(r, body, apiVersionOf(r)))
    const md = incoming.metadata
    if (md.name !== undefined && md.name !== name) {
      throw apiErrors.badRequest('the name of the object does not match the name on the URL')
    }
    if (r.namespaced && md.namespace !== undefined && md.namespace !== '' && md.namespace !== ns) {
      throw apiErrors.badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      )
    }
    const oldRv = old.metadata.resourceVersion
    if (md.resourceVersion !== undefined && md.resourceVersion !== '' && md.resourceVersion !== oldRv) {
      throw apiErrors.conflict(
        r,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      )
    }
    let next: KubeObject
    let warnings: string[] = []
    let token: number | undefined
    if (opts.subresource === 'binding') {
      next = bindPod(r, old, name, body)
    } else if (opts.subresource === 'status') {
      next = clone(old)
      if (incoming.status === undefined) delete next.status
      else next.status = clone(incoming.status)
      validate(storageOf(r), next, old, { ...opts, fieldValidation: 'Ignore' })
    } else if (opts.subresource === 'finalize') {
      if (!isKind(r, '', 'namespaces')) throw apiErrors.noRoute()
      next = withFinalizers(r, old, incoming)
    } else {
      // incoming is asObject's private copy (JSON semantics): it becomes the candidate as it is.
      const cand = incoming
      cand.metadata = { ...cand.metadata, name }
      if (old.metadata.uid !== undefined) cand.metadata.uid = old.metadata.uid
      else delete cand.metadata.uid
      if (old.metadata.creationTimestamp !== undefined) cand.metadata.creationTimestamp = old.metadata.creationTimestamp
      else delete cand.metadata.creationTimestamp
      if (r.namespaced) cand.metadata.namespace = ns as string
      else delete cand.metadata.namespace
      if (old.metadata.deletionTimestamp) cand.metadata.deletionTimestamp = old.metadata.deletionTimestamp
      if (r.subresources.includes('status')) {
        if (old.status === undefined) delete cand.status
        else cand.status = clone(old.status)
      }
      warnings = validate(storageOf(r), cand, old, opts)
      try {
        next = applyDefaultsInPlace(storageOf(r), cand)
      } catch (e) {
        throw apiErrors.badRequest(`invalid object: ${e instanceof Error ? e.message : String(e)}`)
      }
      // Allocations (cluster IP, node ports) first: the spec is compared as it will be stored.
      token = shape(r, next, old)
      next.metadata.generation = (old.metadata.generation ?? 1) + (specChanged(old, next) ? 1 : 0)
    }
    try {
      next.metadata.resourceVersion = oldRv as string
      if (opts.dryRun) return { object: present(r, next), warnings }
      // Like kube-apiserver, an update that changes nothing is not written (no new resourceVersion,
      // no watch event): controllers that re-assert their state cost nothing.
      if (deepEqual(next, old)) return { object: present(r, old), warnings }
      const op: StoreOp = { op: 'update', key, object: next }
      if (oldRv !== undefined) op.expectRevision = Number(oldRv)
      const stored = await commitOne(r, op, name)
      afterWrite(r, stored, false)
      return { object: present(r, stored), warnings }
    } finally {
      if (token !== undefined) services.release(token)
    }
  }

  const patch = async (
    r: ResourceInfo,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    body: unknown,
    opts: WriteOptions = {},
  ): Promise<WriteResult> => {
    if (type === 'apply')
      throw apiErrors.unsupportedMediaType('server-side apply (application/apply-patch+yaml) is not supported')
    for (let attempt = 0; ; attempt++) {
      const cur = get(r, namespace, name)
      // None of the three modifies its target (the stored object); what they return may share
      // parts with it and with the body until update's asObject takes its private copy.
      let patched: unknown
      try {
        if (type === 'json') {
          if (!Array.isArray(body)) throw apiErrors.badRequest('json patch must be a JSON array of operations')
          patched = jsonPatch(cur, body)
        } else if (type === 'merge' || !r.modeled) {
          if (!isRecord(body)) throw apiErrors.badRequest('merge patch must be a JSON object')
          patched = jsonMergePatch(cur, body)
        } else {
          if (!isRecord(body)) throw apiErrors.badRequest('strategic merge patch must be a JSON object')
          patched = strategicMergePatch(cur, body, { group: r.group, kind: r.kind })
        }
      } catch (e) {
        if (e instanceof ApiError) throw e
        throw apiErrors.invalid(r, name, [
          {
            type: 'FieldValueInvalid',
            field: '',
            detail: `unable to apply patch: ${e instanceof Error ? e.message : String(e)}`,
          },
        ])
      }
      if (!isRecord(patched)) throw apiErrors.badRequest('the patch result is not an object')
      const pm = isRecord(patched['metadata']) ? patched['metadata'] : undefined
      const explicitRv = pm !== undefined && pm['resourceVersion'] !== cur.metadata.resourceVersion
      if (pm && !explicitRv) pm['resourceVersion'] = cur.metadata.resourceVersion
      try {
        return await update(r, namespace, name, patched, opts)
      } catch (e) {
        if (!explicitRv && attempt < PATCH_RETRIES && e instanceof ApiError && e.status.reason === 'Conflict') continue
        throw e
      }
    }
  }

  const checkPreconditions = (r: ResourceInfo, o: KubeObject, opts: DeleteOptions): void => {
    const p = opts.preconditions
    if (p?.uid !== undefined && p.uid !== o.metadata.uid) {
      throw apiErrors.conflict(
        r,
        o.metadata.name ?? '',
        `Precondition failed: UID in precondition: ${p.uid}, UID in object meta: ${o.metadata.uid}`,
      )
    }
    if (p?.resourceVersion !== undefined && p.resourceVersion !== o.metadata.resourceVersion) {
      throw apiErrors.conflict(
        r,
        o.metadata.name ?? '',
        `Precondition failed: ResourceVersion in precondition: ${p.resourceVersion}, ResourceVersion in object meta: ${o.metadata.resourceVersion}`,
      )
    }
  }

  const del = async (
    r: ResourceInfo,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<KubeObject> => {
    const ns = nsOf(r, namespace)
    const key = storeKey(r, ns, name)
    const cur = store.get(key)
    if (!cur) throw apiErrors.notFound(r, name)
    checkPreconditions(r, cur, opts)
    if (opts.dryRun) return present(r, cur)
    if (isKind(r, '', 'namespaces')) {
      if (UNDELETABLE_NAMESPACES.has(name))
        throw apiErrors.forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`)
      // As kube-apiserver: the first DELETE only marks it Terminating (the namespace controller
      // empties it and finalizes); one with spec.finalizers left answers the object unchanged.
      if (!cur.metadata.deletionTimestamp) {
        const op: StoreOp = { op: 'update', key, object: markTerminating(cur, rfc3339(clock.now())) }
        if (cur.metadata.resourceVersion !== undefined) op.expectRevision = Number(cur.metadata.resourceVersion)
        const terminating = await commitOne(r, op, name)
        log.info({ namespace: name }, 'namespace terminating')
        return present(r, terminating)
      }
      if (specFinalizers(cur).length) return present(r, cur)
    }
    if (isKind(r, CRD_GROUP, 'customresourcedefinitions')) {
      const kinds = resources.all().filter((k) => !resources.isBuiltin(k))
      const spec = isRecord(cur.spec) ? cur.spec : {}
      const names = isRecord(spec['names']) ? spec['names'] : {}
      const mine = kinds.filter((k) => k.group === spec['group'] && k.plural === names['plural'])
      if (mine[0]) await purge(store, [storePrefix(mine[0])])
    }
    const op: StoreOp = { op: 'delete', key }
    if (cur.metadata.resourceVersion !== undefined) op.expectRevision = Number(cur.metadata.resourceVersion)
    const gone = await commitOne(r, op, name)
    afterWrite(r, gone, true)
    if (isKind(r, '', 'namespaces')) log.info({ namespace: name }, 'namespace deleted')
    return present(r, gone)
  }

  const deleteCollection = async (
    r: ResourceInfo,
    namespace: string | undefined,
    opts: ListOptions & DeleteOptions = {},
  ): Promise<KubeObject[]> => {
    // A whole namespace's worth of one kind (what the namespace controller asks): batched commits.
    const whole = !opts.labelSelector && !opts.fieldSelector && !opts.preconditions && !opts.dryRun
    if (r.namespaced && namespace && whole) {
      return (await purge(store, [storePrefix(r, namespace)])).map((o) => present(r, o))
    }
    const { items } = list(r, namespace, { ...opts, limit: 0 } as ListOptions)
    const out: KubeObject[] = []
    for (const o of items) {
      try {
        out.push(await del(r, o.metadata.namespace, o.metadata.name ?? '', opts))
      } catch (e) {
        if (e instanceof ApiError && e.status.code === 404) continue
        throw e
      }
    }
    return out
  }

  const bootstrap = async (): Promise<void> => {
    const ni = nsInfo()
    if (ni) {
      for (const n of BUILTIN_NAMESPACES) {
        if (!store.get(storeKey(ni, undefined, n))) {
          await create(ni, undefined, { metadata: { name: n } }).catch((e: unknown) => {
            if (!(e instanceof ApiError && e.status.reason === 'AlreadyExists')) throw e
          })
        }
      }
    }
    const si = svcInfo()
    if (si && !store.get(storeKey(si, 'default', 'kubernetes'))) {
      await create(si, 'default', {
        metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
        spec: {
          type: 'ClusterIP',
          clusterIP: services.firstIp,
          ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
          sessionAffinity: 'None',
        },
      }).catch((e: unknown) => {
        if (!(e instanceof ApiError && e.status.reason === 'AlreadyExists')) throw e
      })
    }
  }

  return {
    store,
    resources,
    services,
    bootstrap,
    get,
    list,
    create,
    update,
    patch,
    delete: del,
    deleteCollection,
    watch: (r: ResourceInfo, namespace: string | undefined, opts: WatchOptions, onEvent) =>
      startWatch({ store, clock, log }, r, r.namespaced ? namespace : undefined, opts, (e) =>
        onEvent(e.type === 'BOOKMARK' ? e : { type: e.type, object: present(r, e.object) }),
      ),
  }
}
