/** Reusable field schemas and value checks shared by every API group. */

import { tryParseCidr } from '../net/cidr.ts'
import { tryParseIPv4 } from '../net/ipv4.ts'
import {
  enumOf,
  int,
  intOrString,
  isObject,
  object,
  openObject,
  type Schema,
  string,
  type ValueCheck,
} from './schema.ts'
import { selectorError } from './selector-check.ts'

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/

export const dns1123Label: ValueCheck<string> = (s) => {
  if (s.length > 63) return 'must be no more than 63 characters'
  if (!DNS1123_LABEL.test(s)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
  }
  return undefined
}

export const dns1035Label: ValueCheck<string> = (s) => {
  if (s.length > 63) return 'must be no more than 63 characters'
  if (!DNS1035_LABEL.test(s)) {
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
  }
  return undefined
}

export const dns1123Subdomain: ValueCheck<string> = (s) => {
  if (s.length > 253) return 'must be no more than 253 characters'
  if (!DNS1123_SUBDOMAIN.test(s)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
  }
  return undefined
}

/** RBAC and a few others: any name that is a valid URL path segment. */
export const pathSegmentName: ValueCheck<string> = (s) => {
  if (s === '.' || s === '..') return `may not be '${s}'`
  if (s.includes('/')) return "may not contain '/'"
  if (s.includes('%')) return "may not contain '%'"
  return undefined
}

/** A label or annotation key: `[prefix/]name`. */
export const qualifiedName: ValueCheck<string> = (s) => {
  const parts = s.split('/')
  let name = s
  if (parts.length === 2) {
    const [prefix = '', n = ''] = parts
    if (prefix.length === 0) return 'prefix part must be non-empty'
    const d = dns1123Subdomain(prefix)
    if (d !== undefined) return `prefix part ${d}`
    name = n
  } else if (parts.length > 2) {
    return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
  }
  if (name.length === 0) return 'name part must be non-empty'
  if (name.length > 63) return 'name part must be no more than 63 characters'
  if (!QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
  }
  return undefined
}

export const labelValue: ValueCheck<string> = (s) => {
  if (s.length > 63) return 'must be no more than 63 characters'
  if (!LABEL_VALUE.test(s)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
  }
  return undefined
}

/** IANA service name (named ports). */
export const portName: ValueCheck<string> = (s) => {
  if (s.length > 15) return 'must be no more than 15 characters'
  if (!IANA_SVC_NAME.test(s)) return "must contain only lowercase alphanumeric characters (a-z, 0-9), and '-'"
  if (!/[a-z]/.test(s)) return 'must contain at least one letter (a-z)'
  if (s.includes('--')) return 'must not contain consecutive hyphens'
  return undefined
}

export const ipv4: ValueCheck<string> = (s) =>
  tryParseIPv4(s) === undefined ? 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)' : undefined

export const cidrCheck: ValueCheck<string> = (s) => {
  const r = tryParseCidr(s)
  return r.ok ? undefined : r.error.message
}

/** IPv4 address or CIDR (Calico `nets`, `expectedIPs` accept both in places). */
export const ipOrCidr: ValueCheck<string> = (s) => (s.includes('/') ? cidrCheck(s) : ipv4(s))

export const portNumber: ValueCheck<number> = (n) =>
  n < 1 || n > 65535 ? 'must be between 1 and 65535, inclusive' : undefined

const QUANTITY = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$/
export const quantityCheck: ValueCheck<string> = (s) =>
  QUANTITY.test(s)
    ? undefined
    : "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

const DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|\u00b5s|ms|s|m|h))+$|^0$/
export const durationCheck: ValueCheck<string> = (s) =>
  DURATION.test(s) ? undefined : 'must be a duration such as "90s", "5m" or "1h30m"'

// ---- schema shorthands ----------------------------------------------------------------------

export const str = (): Schema => string()
export const name63 = (): Schema => string(dns1123Label)
export const cidr = (): Schema => string(cidrCheck)
export const ip = (): Schema => string(ipv4)
export const selector = (): Schema =>
  string((s) => {
    if (s.length > 1024 * 64) return 'selector too long'
    return selectorError(s)
  })
export const quantity = (): Schema => intOrString(undefined, quantityCheck)
export const duration = (): Schema => string(durationCheck)
export const port = (): Schema => int(1, 65535)
/** core/v1 Protocol of a container, service, endpoint or network-policy port. */
export const protocol = (): Schema => enumOf('TCP', 'UDP', 'SCTP')
export const enabledDisabled = (): Schema => enumOf('Enabled', 'Disabled')
export const labelMap = (): Schema => openObject()

/** metav1.LabelSelector. */
export const labelSelector = (): Schema =>
  object({
    matchLabels: openObject(),
    matchExpressions: {
      type: 'array',
      validate(v, path, errs) {
        lsReqList.validate(v, path, errs)
      },
    },
  })

const lsReqList: Schema = {
  type: 'array',
  validate(v, path, errs) {
    if (!Array.isArray(v)) return errs.typeInvalid(path, v, 'array')
    v.forEach((r, i) => {
      const p = `${path}[${i}]`
      lsReq.validate(r, p, errs)
      if (typeof r === 'object' && r !== null && !Array.isArray(r)) {
        const o = r as { operator?: unknown; values?: unknown }
        const vals = Array.isArray(o.values) ? o.values.length : 0
        if ((o.operator === 'In' || o.operator === 'NotIn') && vals === 0) {
          errs.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'")
        }
        if ((o.operator === 'Exists' || o.operator === 'DoesNotExist') && vals > 0) {
          errs.forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        }
      }
    })
  },
}

const lsReq = object(
  {
    key: string(qualifiedName),
    operator: enumOf('In', 'NotIn', 'Exists', 'DoesNotExist'),
    values: { type: 'array', validate: (v, p, e) => (Array.isArray(v) ? undefined : e.typeInvalid(p, v, 'array')) },
  },
  { required: ['key', 'operator'] },
)

/** Each port's protocol defaults to TCP (SetDefaults_ContainerPort, _ServicePort, _EndpointPort, NetworkPolicyPort). */
export function defaultPortProtocols(ports: unknown[]): unknown[] {
  return ports.map((p) => (isObject(p) ? { ...p, protocol: p.protocol ?? 'TCP' } : p))
}
