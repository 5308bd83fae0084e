/** apps/v1 workloads: Deployment, ReplicaSet, DaemonSet (all carry a pod template). */

import { labelSelector } from './fields.ts'
import { immutable, type KindDef, specOf } from './kind.ts'
import type { KubeObject, Typed } from './meta.ts'
import { defaultPodTemplate, type PodTemplateSpec, podTemplateSchema } from './pod.ts'
import { bool, type Errs, enumOf, int, intOrString, isObject, type Json, object, openObject } from './schema.ts'

export interface LabelSelectorRequirement {
  key: string
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'
  values?: string[]
}
export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: LabelSelectorRequirement[]
}

export interface DeploymentSpec {
  replicas?: number
  selector: LabelSelector
  template: PodTemplateSpec
  strategy?: {
    type?: 'Recreate' | 'RollingUpdate'
    rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string }
  }
  minReadySeconds?: number
  revisionHistoryLimit?: number
  paused?: boolean
  progressDeadlineSeconds?: number
}
export interface DeploymentStatus {
  observedGeneration?: number
  replicas?: number
  updatedReplicas?: number
  readyReplicas?: number
  availableReplicas?: number
  unavailableReplicas?: number
  conditions?: { type: string; status: string; reason?: string; message?: string }[]
}
export type Deployment = Typed<DeploymentSpec, DeploymentStatus>

export interface ReplicaSetSpec {
  replicas?: number
  minReadySeconds?: number
  selector: LabelSelector
  template?: PodTemplateSpec
}
export type ReplicaSet = Typed<
  ReplicaSetSpec,
  { replicas: number; readyReplicas?: number; availableReplicas?: number; observedGeneration?: number }
>

export interface DaemonSetSpec {
  selector: LabelSelector
  template: PodTemplateSpec
  updateStrategy?: {
    type?: 'RollingUpdate' | 'OnDelete'
    rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string }
  }
  minReadySeconds?: number
  revisionHistoryLimit?: number
}
export type DaemonSet = Typed<DaemonSetSpec, Record<string, unknown>>

/** Does a metav1.LabelSelector match a label set? */
export function labelSelectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key)
    const val = labels[r.key]
    const vals = r.values ?? []
    if (r.operator === 'In' && !(has && val !== undefined && vals.includes(val))) return false
    if (r.operator === 'NotIn' && has && val !== undefined && vals.includes(val)) return false
    if (r.operator === 'Exists' && !has) return false
    if (r.operator === 'DoesNotExist' && has) return false
  }
  return true
}

const percentOrInt = () =>
  intOrString(
    (n) => (n < 0 ? 'must be greater than or equal to 0' : undefined),
    (s) =>
      /^[0-9]+%$/.test(s) ? undefined : "a valid percent string must be a numeric string followed by an ending '%'",
  )

/** selector must be non-empty and match the template's labels. */
function selectorRule(kind: string) {
  return (spec: Json, path: string, errs: Errs) => {
    const sel = spec.selector
    if (!isObject(sel)) return
    const ml = isObject(sel.matchLabels) ? Object.keys(sel.matchLabels).length : 0
    const me = Array.isArray(sel.matchExpressions) ? sel.matchExpressions.length : 0
    if (ml + me === 0) {
      errs.invalid(`${path}.selector`, sel, `empty selector is invalid for ${kind}`)
      return
    }
    const t = spec.template
    if (!isObject(t)) return
    const labels = isObject(t.metadata) && isObject(t.metadata.labels) ? t.metadata.labels : {}
    if (!labelSelectorMatches(sel as LabelSelector, labels as Record<string, string>)) {
      errs.invalid(`${path}.template.metadata.labels`, labels, '`selector` does not match template `labels`')
    }
  }
}

function restartAlways(spec: Json, path: string, errs: Errs): void {
  const t = spec.template
  if (!isObject(t) || !isObject(t.spec)) return
  const rp = t.spec.restartPolicy
  if (rp !== undefined && rp !== 'Always') errs.notSupported(`${path}.template.spec.restartPolicy`, rp, ['Always'])
}

const deploymentSpec = object(
  {
    replicas: int(0),
    selector: labelSelector(),
    template: podTemplateSchema,
    strategy: object({
      type: enumOf('Recreate', 'RollingUpdate'),
      rollingUpdate: object({ maxUnavailable: percentOrInt(), maxSurge: percentOrInt() }),
    }),
    minReadySeconds: int(0),
    revisionHistoryLimit: int(0),
    paused: bool(),
    progressDeadlineSeconds: int(1),
  },
  { required: ['selector', 'template'], rules: [selectorRule('deployment'), restartAlways] },
)

const replicaSetSpec = object(
  { replicas: int(0), minReadySeconds: int(0), selector: labelSelector(), template: podTemplateSchema },
  { required: ['selector'], rules: [selectorRule('replicaset'), restartAlways] },
)

const daemonSetSpec = object(
  {
    selector: labelSelector(),
    template: podTemplateSchema,
    updateStrategy: object({
      type: enumOf('OnDelete', 'RollingUpdate'),
      rollingUpdate: object({ maxUnavailable: percentOrInt(), maxSurge: percentOrInt() }),
    }),
    minReadySeconds: int(0),
    revisionHistoryLimit: int(0),
  },
  { required: ['selector', 'template'], rules: [selectorRule('daemonset'), restartAlways] },
)

function selectorImmutable(o: KubeObject, old: KubeObject, errs: Errs): void {
  immutable(errs, 'spec.selector', specOf(o).selector, specOf(old).selector)
}

function withTemplate(s: Json): Json {
  if (s.template !== undefined) s.template = defaultPodTemplate(s.template)
  return s
}

export const appsKinds: Readonly<Record<string, KindDef>> = Object.freeze({
  'apps/Deployment': {
    root: object({ spec: deploymentSpec, status: openObject() }, { required: ['spec'] }),
    update: selectorImmutable,
    defaults: (o: KubeObject) => {
      const s: Json = { ...specOf(o) }
      s.replicas ??= 1
      const strategy: Json = isObject(s.strategy) ? { ...s.strategy } : {}
      strategy.type ??= 'RollingUpdate'
      if (strategy.type === 'RollingUpdate') {
        const ru: Json = isObject(strategy.rollingUpdate) ? { ...strategy.rollingUpdate } : {}
        ru.maxUnavailable ??= '25%'
        ru.maxSurge ??= '25%'
        strategy.rollingUpdate = ru
      }
      s.strategy = strategy
      s.revisionHistoryLimit ??= 10
      s.progressDeadlineSeconds ??= 600
      return { ...o, spec: withTemplate(s) }
    },
  },
  'apps/ReplicaSet': {
    root: object({ spec: replicaSetSpec, status: openObject() }, { required: ['spec'] }),
    update: selectorImmutable,
    defaults: (o: KubeObject) => {
      const s: Json = { ...specOf(o) }
      s.replicas ??= 1
      return { ...o, spec: withTemplate(s) }
    },
  },
  'apps/DaemonSet': {
    root: object({ spec: daemonSetSpec, status: openObject() }, { required: ['spec'] }),
    update: selectorImmutable,
    defaults: (o: KubeObject) => {
      const s: Json = { ...specOf(o) }
      const us: Json = isObject(s.updateStrategy) ? { ...s.updateStrategy } : {}
      us.type ??= 'RollingUpdate'
      if (us.type === 'RollingUpdate') {
        const ru: Json = isObject(us.rollingUpdate) ? { ...us.rollingUpdate } : {}
        ru.maxUnavailable ??= 1
        ru.maxSurge ??= 0
        us.rollingUpdate = ru
      }
      s.updateStrategy = us
      s.revisionHistoryLimit ??= 10
      return { ...o, spec: withTemplate(s) }
    },
  },
} satisfies Record<string, KindDef>)
