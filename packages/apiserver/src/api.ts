import type { KubeObject, ResourceInfo } from '@calilab/model'

/**
 * The API server's service layer: what HTTP handlers, the internal stream and the in-process
 * controllers all call. Validation, defaulting, metadata (uid, creationTimestamp, generation,
 * resourceVersion), generateName, patching, the namespace lifecycle (Terminating, finalize) and
 * the CRD cascade live behind it.
 * Failures throw ApiError carrying a Kubernetes Status.
 */

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore'

export interface WriteOptions {
  dryRun?: boolean
  /** kubectl 1.32 sends Strict; older clients send nothing (treated as Warn). */
  fieldValidation?: FieldValidation
  fieldManager?: string
  /**
   * Write only this subresource: `status` (the main object is left alone, and vice versa), or
   * `binding` for pods (the body is a Binding; sets spec.nodeName once, as the scheduler does),
   * `finalize` for namespaces (only spec.finalizers is taken from the body, as the namespace
   * controller's PUT /api/v1/namespaces/NAME/finalize).
   */
  subresource?: 'status' | 'binding' | 'finalize'
}

export interface ListOptions {
  labelSelector?: string
  fieldSelector?: string
  limit?: number
  continue?: string
  resourceVersion?: string
}

export interface WatchOptions {
  labelSelector?: string
  fieldSelector?: string
  /** Start after this revision; absent or '0' = current state as ADDED events first. */
  resourceVersion?: string
  allowWatchBookmarks?: boolean
}

export interface DeleteOptions {
  dryRun?: boolean
  preconditions?: { resourceVersion?: string; uid?: string }
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply'

export interface WriteResult {
  object: KubeObject
  /** Sent to the client as `Warning: 299 - "..."` headers. */
  warnings: string[]
}

export interface ListResult {
  items: KubeObject[]
  resourceVersion: string
  continue?: string
}

export interface ApiWatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'
  object: KubeObject
}

export interface ApiWatch {
  cancel(): void
}

/** Lookup of served kinds (built-ins plus CRD-registered ones). */
export interface ResourceTable {
  all(): ResourceInfo[]
  /** By group + plural (URL form). */
  byPlural(group: string, plural: string): ResourceInfo | undefined
  /** By apiVersion + kind (object form). */
  byKind(apiVersion: string, kind: string): ResourceInfo | undefined
  /** By any name a user may type: plural, singular, kind, short name, `plural.group`. */
  resolve(name: string): ResourceInfo | undefined
}

export interface Api {
  readonly resources: ResourceTable
  get(r: ResourceInfo, namespace: string | undefined, name: string): KubeObject
  list(r: ResourceInfo, namespace: string | undefined, opts?: ListOptions): ListResult
  create(r: ResourceInfo, namespace: string | undefined, body: unknown, opts?: WriteOptions): Promise<WriteResult>
  update(
    r: ResourceInfo,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts?: WriteOptions,
  ): Promise<WriteResult>
  patch(
    r: ResourceInfo,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    body: unknown,
    opts?: WriteOptions,
  ): Promise<WriteResult>
  delete(r: ResourceInfo, namespace: string | undefined, name: string, opts?: DeleteOptions): Promise<KubeObject>
  deleteCollection(
    r: ResourceInfo,
    namespace: string | undefined,
    opts?: ListOptions & DeleteOptions,
  ): Promise<KubeObject[]>
  /** Throws ApiError 410 (Expired) when resourceVersion is older than the retained history. */
  watch(
    r: ResourceInfo,
    namespace: string | undefined,
    opts: WatchOptions,
    onEvent: (e: ApiWatchEvent) => void,
  ): ApiWatch
}
