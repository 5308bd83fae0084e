/** validateObject and applyDefaults: the entry points the API server calls on every write. */

import { appsKinds } from './apps.ts'
import { calicoInfraKinds } from './calico-infra.ts'
import { calicoPolicyKinds } from './calico-policy.ts'
import { coreKinds } from './core.ts'
import { felixKinds } from './felix.ts'
import { dns1123Label, dns1123Subdomain, labelValue, pathSegmentName, qualifiedName } from './fields.ts'
import type { KindDef } from './kind.ts'
import { apiVersionOf, type FieldError, type KubeObject, type ResourceInfo } from './meta.ts'
import { networkingKinds } from './networking.ts'
import { operatorKinds } from './operator.ts'
import { Errs, isObject, type Json, type ValueCheck } from './schema.ts'

const KINDS: Readonly<Record<string, KindDef>> = Object.freeze({
  ...coreKinds,
  ...appsKinds,
  ...networkingKinds,
  ...calicoPolicyKinds,
  ...calicoInfraKinds,
  ...felixKinds,
  ...operatorKinds,
})

/** The schema-backed definition of a kind, if model/ has one. */
export function kindDef(info: Pick<ResourceInfo, 'group' | 'kind'>): KindDef | undefined {
  return KINDS[`${info.group}/${info.kind}`]
}

const META_FIELDS: ReadonlySet<string> = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
])
const TOP_FIELDS: ReadonlySet<string> = new Set(['apiVersion', 'kind', 'metadata'])
const MAX_ANNOTATIONS_BYTES = 256 * 1024

function nameRule(info: ResourceInfo, def: KindDef | undefined): ValueCheck<string> {
  if (def?.name !== undefined) return def.name
  if (info.group === 'rbac.authorization.k8s.io') return pathSegmentName
  return dns1123Subdomain
}

function validateMeta(info: ResourceInfo, obj: Json, def: KindDef | undefined, errs: Errs): void {
  const meta = obj.metadata
  if (meta === undefined || meta === null) {
    errs.required('metadata.name', 'name or generateName is required')
    return
  }
  if (!isObject(meta)) {
    errs.typeInvalid('metadata', meta, 'object')
    return
  }
  for (const k of Object.keys(meta)) if (!META_FIELDS.has(k)) errs.unknown(`metadata.${k}`)
  const check = nameRule(info, def)
  const name = meta.name
  if (name === undefined || name === null || name === '') {
    const gen = meta.generateName
    if (typeof gen !== 'string' || gen === '') errs.required('metadata.name', 'name or generateName is required')
    else {
      // generateName is a prefix: validate it with a placeholder suffix
      const d = check(`${gen}x`)
      if (d !== undefined) errs.invalid('metadata.generateName', gen, d)
    }
  } else if (typeof name !== 'string') {
    errs.typeInvalid('metadata.name', name, 'string')
  } else {
    const d = check(name)
    if (d !== undefined) errs.invalid('metadata.name', name, d)
    if (info.kind === 'CustomResourceDefinition' && info.group === 'apiextensions.k8s.io') crdName(obj, name, errs)
  }
  const ns = meta.namespace
  if (ns !== undefined && ns !== null && ns !== '') {
    if (typeof ns !== 'string') errs.typeInvalid('metadata.namespace', ns, 'string')
    else {
      const d = dns1123Label(ns)
      if (d !== undefined) errs.invalid('metadata.namespace', ns, d)
    }
  }
  const labels = meta.labels
  if (labels !== undefined && labels !== null) {
    if (!isObject(labels)) errs.typeInvalid('metadata.labels', labels, 'object')
    else {
      for (const [k, v] of Object.entries(labels)) {
        const dk = qualifiedName(k)
        if (dk !== undefined) errs.invalid('metadata.labels', k, dk)
        if (typeof v !== 'string') errs.typeInvalid(`metadata.labels[${k}]`, v, 'string')
        else {
          const dv = labelValue(v)
          if (dv !== undefined) errs.invalid('metadata.labels', v, dv)
        }
      }
    }
  }
  const ann = meta.annotations
  if (ann !== undefined && ann !== null) {
    if (!isObject(ann)) errs.typeInvalid('metadata.annotations', ann, 'object')
    else {
      let size = 0
      for (const [k, v] of Object.entries(ann)) {
        const dk = qualifiedName(k.toLowerCase())
        if (dk !== undefined) errs.invalid('metadata.annotations', k, dk)
        if (typeof v !== 'string') errs.typeInvalid(`metadata.annotations[${k}]`, v, 'string')
        else size += k.length + v.length
      }
      if (size > MAX_ANNOTATIONS_BYTES) {
        errs.tooLong('metadata.annotations', `may not be more than ${MAX_ANNOTATIONS_BYTES} bytes`)
      }
    }
  }
  const fin = meta.finalizers
  if (fin !== undefined && fin !== null) {
    if (!Array.isArray(fin)) errs.typeInvalid('metadata.finalizers', fin, 'array')
    else {
      fin.forEach((f, i) => {
        if (typeof f !== 'string') errs.typeInvalid(`metadata.finalizers[${i}]`, f, 'string')
        else {
          const d = qualifiedName(f)
          if (d !== undefined) errs.invalid(`metadata.finalizers[${i}]`, f, d)
        }
      })
    }
  }
  const owners = meta.ownerReferences
  if (Array.isArray(owners)) {
    owners.forEach((o, i) => {
      if (!isObject(o)) {
        errs.typeInvalid(`metadata.ownerReferences[${i}]`, o, 'object')
        return
      }
      for (const f of ['apiVersion', 'kind', 'name', 'uid']) {
        if (typeof o[f] !== 'string' || o[f] === '') errs.required(`metadata.ownerReferences[${i}].${f}`)
      }
    })
  }
}

function crdName(obj: Json, name: string, errs: Errs): void {
  const spec = obj.spec
  if (!isObject(spec) || !isObject(spec.names)) return
  const want = `${String(spec.names.plural)}.${String(spec.group)}`
  if (name !== want) errs.invalid('metadata.name', name, 'must be spec.names.plural+"."+spec.group')
}

/**
 * Validates an object for the kind `info` describes; [] when valid. With `opts.old` (an update)
 * immutable fields are checked too. Unknown fields of modeled kinds come back as
 * FieldValueUnknown; the caller decides whether they are errors or warnings.
 */
export function validateObject(info: ResourceInfo, obj: unknown, opts: { old?: KubeObject } = {}): FieldError[] {
  const errs = new Errs()
  if (!isObject(obj)) {
    errs.typeInvalid('', obj, 'object')
    return errs.list
  }
  const want = apiVersionOf(info)
  if (obj.apiVersion !== want) {
    if (obj.apiVersion === undefined || obj.apiVersion === '') errs.required('apiVersion')
    else errs.invalid('apiVersion', obj.apiVersion, `must be ${want}`)
  }
  if (obj.kind !== info.kind) {
    if (obj.kind === undefined || obj.kind === '') errs.required('kind')
    else errs.invalid('kind', obj.kind, `must be ${info.kind}`)
  }
  const def = info.modeled ? kindDef(info) : undefined
  validateMeta(info, obj, def, errs)
  if (def !== undefined) {
    const rest: Json = {}
    for (const [k, v] of Object.entries(obj)) if (!TOP_FIELDS.has(k)) rest[k] = v
    def.root.validate(rest, '', errs)
    if (opts.old !== undefined && def.update !== undefined) def.update(obj as KubeObject, opts.old, errs)
  }
  return errs.list
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T)
}

/** A new object with the defaults the real server (or Calico's client) applies on create. */
export function applyDefaults(info: ResourceInfo, obj: KubeObject): KubeObject {
  return applyDefaultsInPlace(info, clone(obj))
}

/**
 * applyDefaults on an object the caller owns outright (a private deep copy with JSON semantics,
 * sharing nothing): defaults are filled into it, no copy is made.
 */
export function applyDefaultsInPlace(info: ResourceInfo, obj: KubeObject): KubeObject {
  const def = info.modeled ? kindDef(info) : undefined
  return def?.defaults === undefined ? obj : def.defaults(obj)
}
