/**
 * Field selectors (k8s.io/apimachinery/pkg/fields) and the fields each kind lets you select on,
 * as kube-apiserver's field label conversion functions allow. Pure.
 */
import type { KubeObject } from '@calilab/model'
import { getPath, isObject } from './json.ts'
import { apiErrors } from './status.ts'

export interface FieldRequirement {
  field: string
  operator: '=' | '==' | '!='
  value: string
}

export interface FieldSelector {
  requirements: FieldRequirement[]
}

function splitTerms(s: string): string[] {
  const terms: string[] = []
  let cur = ''
  let escaped = false
  for (const c of s) {
    if (escaped) {
      cur += c
      escaped = false
    } else if (c === '\\') {
      cur += c
      escaped = true
    } else if (c === ',') {
      terms.push(cur)
      cur = ''
    } else cur += c
  }
  terms.push(cur)
  return terms
}

const OPERATORS = ['!=', '==', '='] as const

function splitTerm(term: string): { lhs: string; op: FieldRequirement['operator']; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of OPERATORS) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) }
    }
  }
  return undefined
}

function unescapeValue(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string
    if (c === '\\') {
      const n = s[i + 1]
      if (n === '\\' || n === ',' || n === '=') {
        out += n
        i++
        continue
      }
      throw apiErrors.badRequest(`invalid field selector: invalid escape sequence: ${s.slice(i, i + 2)}`)
    }
    if (c === ',' || c === '=') throw apiErrors.badRequest(`invalid field selector: unescaped ${c}`)
    out += c
  }
  return out
}

/** Parses `a=b,c!=d` (also `==`; `\,`, `\=` and `\\` escape in values). Empty selects everything. */
export function parseFieldSelector(s: string): FieldSelector {
  const reqs: FieldRequirement[] = []
  for (const part of splitTerms(s).sort()) {
    if (part === '') continue
    const t = splitTerm(part)
    if (!t) throw apiErrors.badRequest(`invalid selector: '${s}'; can't understand '${part}'`)
    reqs.push({ field: t.lhs.trim(), operator: t.op, value: unescapeValue(t.rhs) })
  }
  return { requirements: reqs }
}

/** The canonical string form: `a=b,c!=d` (`==` is written `=`), with values escaped. */
export function formatFieldSelector(sel: FieldSelector): string {
  return sel.requirements
    .map((r) => `${r.field}${r.operator === '!=' ? '!=' : '='}${r.value.replace(/[\\,=]/g, (c) => `\\${c}`)}`)
    .join(',')
}

/** Selectable fields beyond metadata.name / metadata.namespace, by lower-case kind. */
const KIND_FIELDS: Readonly<Record<string, readonly string[]>> = {
  pod: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.podIPs',
    'status.nominatedNodeName',
  ],
  event: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  secret: ['type'],
  node: ['spec.unschedulable'],
  namespace: ['status.phase'],
  replicaset: ['status.replicas'],
  replicationcontroller: ['status.replicas'],
  job: ['status.successful'],
  certificatesigningrequest: ['spec.signerName'],
}

/** Plural resource names accepted in place of kinds. */
const PLURALS: Readonly<Record<string, string>> = {
  pods: 'pod',
  events: 'event',
  secrets: 'secret',
  nodes: 'node',
  namespaces: 'namespace',
  replicasets: 'replicaset',
  replicationcontrollers: 'replicationcontroller',
  jobs: 'job',
  certificatesigningrequests: 'certificatesigningrequest',
}

function kindKey(kind: string | { group: string; kind: string }): string {
  const k = (typeof kind === 'string' ? kind : kind.kind).toLowerCase()
  return PLURALS[k] ?? k
}

/** The fields a kind lets you select on. */
export function selectableFields(kind: string | { group: string; kind: string }): string[] {
  return ['metadata.name', 'metadata.namespace', ...(KIND_FIELDS[kindKey(kind)] ?? [])]
}

/** Throws 400 `field label not supported: <field>` for a field the kind does not support. */
export function checkFieldSelector(sel: FieldSelector, kind: string | { group: string; kind: string }): void {
  const allowed = selectableFields(kind)
  for (const r of sel.requirements) {
    if (!allowed.includes(r.field)) throw apiErrors.badRequest(`field label not supported: ${r.field}`)
  }
}

function str(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}

/** The value a field has for selection (the field set the real registry builds). */
export function fieldValue(obj: KubeObject, field: string): string {
  const kind = obj.kind.toLowerCase()
  if (field === 'metadata.name') return obj.metadata.name ?? ''
  if (field === 'metadata.namespace') return obj.metadata.namespace ?? ''
  if (kind === 'pod') {
    if (field === 'status.podIP' || field === 'status.podIPs') {
      const ips = getPath(obj, ['status', 'podIPs'])
      const first = Array.isArray(ips) && isObject(ips[0]) ? ips[0]['ip'] : undefined
      return str(first ?? getPath(obj, ['status', 'podIP']))
    }
    if (field === 'spec.hostNetwork') return getPath(obj, ['spec', 'hostNetwork']) === true ? 'true' : 'false'
  }
  if (kind === 'node' && field === 'spec.unschedulable')
    return getPath(obj, ['spec', 'unschedulable']) === true ? 'true' : 'false'
  if (kind === 'event' && field === 'source') return str(getPath(obj, ['source', 'component']))
  if ((kind === 'replicaset' || kind === 'replicationcontroller') && field === 'status.replicas')
    return str(getPath(obj, ['status', 'replicas']) ?? 0)
  if (kind === 'job' && field === 'status.successful') return str(getPath(obj, ['status', 'succeeded']) ?? 0)
  return str(getPath(obj, field.split('.')))
}

/** Whether the object satisfies every requirement (a missing field reads as ""). */
export function matchesFields(sel: FieldSelector, obj: KubeObject): boolean {
  return sel.requirements.every((r) => {
    const v = fieldValue(obj, r.field)
    return r.operator === '!=' ? v !== r.value : v === r.value
  })
}
