import { CodedError } from '@calilab/kit'
import { type FieldError, formatFieldError, type ResourceInfo } from '@calilab/model'

/** metav1.Status as the real API server sends it. */
export interface K8sStatus {
  kind: 'Status'
  apiVersion: 'v1'
  metadata: Record<string, never>
  status: 'Failure' | 'Success'
  message: string
  reason: string
  details?: {
    name?: string
    group?: string
    kind?: string
    causes?: { reason: string; message: string; field: string }[]
    retryAfterSeconds?: number
  }
  code: number
}

/** An API failure; `status` is what goes on the wire, with `status.code` as the HTTP code. */
export class ApiError extends CodedError {
  readonly status: K8sStatus
  constructor(status: K8sStatus, options?: { cause?: unknown }) {
    super({ code: `API_${status.reason.toUpperCase()}`, message: status.message, httpCode: status.code }, options)
    this.name = 'ApiError'
    this.status = status
  }
}

type Details = NonNullable<K8sStatus['details']>

function make(code: number, reason: string, message: string, details?: Details): ApiError {
  const s: K8sStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }
  if (details) s.details = details
  return new ApiError(s)
}

/** `pods "customer" not found` */
function qualified(info: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural
}

function details(info: Pick<ResourceInfo, 'group' | 'plural'>, name: string): Details {
  const d: Details = { name, kind: info.plural }
  if (info.group) d.group = info.group
  return d
}

export const apiErrors = {
  notFound: (info: Pick<ResourceInfo, 'group' | 'plural'>, name: string) =>
    make(404, 'NotFound', `${qualified(info)} "${name}" not found`, details(info, name)),
  alreadyExists: (info: Pick<ResourceInfo, 'group' | 'plural'>, name: string) =>
    make(409, 'AlreadyExists', `${qualified(info)} "${name}" already exists`, details(info, name)),
  conflict: (info: Pick<ResourceInfo, 'group' | 'plural'>, name: string, why: string) =>
    make(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(info)} "${name}": ${why}`, details(info, name)),
  /** 422 with one cause per field error: `Kind.group "name" is invalid: [a, b]`. */
  invalid: (info: Pick<ResourceInfo, 'group' | 'kind'>, name: string, errors: FieldError[]) => {
    const lines = errors.map(formatFieldError)
    const kindName = info.group ? `${info.kind}.${info.group}` : info.kind
    const msg = `${kindName} "${name}" is invalid: ${lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`}`
    const d: Details = {
      name,
      kind: info.kind,
      // The cause message leaves the field out (the client prints `field: message`).
      causes: errors.map((e, i) => ({
        reason: e.type,
        message: (lines[i] as string).startsWith(`${e.field}: `)
          ? (lines[i] as string).slice(e.field.length + 2)
          : (lines[i] as string),
        field: e.field,
      })),
    }
    if (info.group) d.group = info.group
    return make(422, 'Invalid', msg, d)
  },
  badRequest: (message: string) => make(400, 'BadRequest', message),
  gone: (message: string) => make(410, 'Expired', message),
  methodNotAllowed: (message: string) => make(405, 'MethodNotAllowed', message),
  unsupportedMediaType: (message: string) => make(415, 'UnsupportedMediaType', message),
  notAcceptable: (message: string) => make(406, 'NotAcceptable', message),
  forbidden: (message: string) => make(403, 'Forbidden', message),
  /** What the NamespaceLifecycle admission answers a create in a Terminating namespace. */
  namespaceTerminating: (info: Pick<ResourceInfo, 'group' | 'plural'>, name: string, namespace: string) =>
    make(
      403,
      'Forbidden',
      `${qualified(info)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
      {
        ...details(info, name),
        causes: [
          {
            reason: 'NamespaceTerminating',
            message: `namespace ${namespace} is being terminated`,
            field: 'metadata.namespace',
          },
        ],
      },
    ),
  tooLarge: (message: string) => make(413, 'RequestEntityTooLarge', message),
  internal: (message: string) => make(500, 'InternalError', message),
  unavailable: (message: string) => make(503, 'ServiceUnavailable', message),
  /** 404 for a URL that names no served resource. */
  noRoute: () => make(404, 'NotFound', 'the server could not find the requested resource'),
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError
}
