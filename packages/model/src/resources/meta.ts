/**
 * The shapes every stored object shares, the resource table entry the API server serves a kind
 * by, and the field error every validator returns. Pure data; no I/O.
 */

export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
}

export interface ObjectMeta {
  name?: string
  generateName?: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  generation?: number
  creationTimestamp?: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: OwnerReference[]
  finalizers?: string[]
  managedFields?: unknown[]
}

/** Any Kubernetes-shaped object as it is stored and served (JSON-compatible). */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  spec?: unknown
  status?: unknown
  [field: string]: unknown
}

/** A typed view of a KubeObject with a known spec/status. */
export interface Typed<S, T = unknown> extends KubeObject {
  spec: S
  status?: T
}

/** How the API server serves one kind (one row of discovery). */
export interface ResourceInfo {
  /** '' for the core group. */
  group: string
  version: string
  kind: string
  listKind: string
  /** Lower-case plural used in URLs: `pods`, `globalnetworkpolicies`. */
  plural: string
  singular: string
  namespaced: boolean
  shortNames: readonly string[]
  categories: readonly string[]
  verbs: readonly string[]
  /** Subresources served (`status`, `log`, `exec`, `scale`). */
  subresources: readonly string[]
  /** True when model/ has a schema for the kind; false for CRD-defined or generic kinds. */
  modeled: boolean
}

/** `group/version`, or `version` for the core group. */
export function apiVersionOf(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`
}

/** Kubernetes StatusCause reasons (metav1.CauseType). */
export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTypeInvalid'
  /** A field the schema does not know (strict decoding). */
  | 'FieldValueUnknown'

export interface FieldError {
  type: FieldErrorType
  /** Dotted path with indexes, as the real API server prints it: `spec.ingress[0].ports[1]`. */
  field: string
  /** The offending value, when there is one. */
  value?: unknown
  /** The reason, e.g. `prefix length must be 0-32`. */
  detail: string
}

/**
 * The line the real API server prints for a field error:
 *   spec.cidr: Invalid value: "198.19.0.0/33": prefix length must be 0-32
 *   metadata.name: Required value: name or generateName is required
 *   spec.ipipMode: Unsupported value: "Sometimes": supported values: "Always", "CrossSubnet", "Never"
 *   unknown field "spec.foo"
 */
export function formatFieldError(e: FieldError): string {
  const v = e.value === undefined ? '' : `${JSON.stringify(e.value)}: `
  switch (e.type) {
    case 'FieldValueRequired':
      return `${e.field}: Required value${e.detail ? `: ${e.detail}` : ''}`
    case 'FieldValueNotSupported':
      return `${e.field}: Unsupported value: ${v}${e.detail}`
    case 'FieldValueDuplicate':
      return `${e.field}: Duplicate value: ${v}${e.detail}`
    case 'FieldValueForbidden':
      return `${e.field}: Forbidden: ${e.detail}`
    case 'FieldValueTooLong':
      return `${e.field}: Too long: ${e.detail}`
    case 'FieldValueTypeInvalid':
      return `${e.field}: Invalid value: ${v}${e.detail}`
    case 'FieldValueUnknown':
      return `unknown field "${e.field}"`
    default:
      return `${e.field}: Invalid value: ${v}${e.detail}`
  }
}
