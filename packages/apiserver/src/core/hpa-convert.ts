/**
 * HorizontalPodAutoscaler autoscaling/v1 <-> autoscaling/v2, as kube-apiserver converts
 * (pkg/apis/autoscaling/v1/conversion.go). One object is stored, in the v2 form; a v1 client sees
 * `spec.targetCPUUtilizationPercentage` for the CPU-utilization metric, and everything v1 cannot
 * say (other metrics, current metrics, conditions, behavior) rides in `autoscaling.alpha.kubernetes.io/*`
 * annotations, which a v1 write turns back into v2 fields. Pure; no I/O.
 */
import type { KubeObject } from '@calilab/model'
import { isObject } from './json.ts'

type Obj = Record<string, unknown>

export const HPA_METRICS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/metrics'
export const HPA_CURRENT_METRICS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/current-metrics'
export const HPA_CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions'
export const HPA_BEHAVIOR_ANNOTATION = 'autoscaling.alpha.kubernetes.io/behavior'
const ROUND_TRIP = [
  HPA_METRICS_ANNOTATION,
  HPA_CURRENT_METRICS_ANNOTATION,
  HPA_CONDITIONS_ANNOTATION,
  HPA_BEHAVIOR_ANNOTATION,
]
/** autoscaling.DefaultCPUUtilization: what a v1 object without a target means. */
export const DEFAULT_CPU_UTILIZATION = 80

const rec = (v: unknown): Obj => (isObject(v) ? (v as Obj) : {})
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObject).map((x) => x as Obj) : [])
/** Copies the members of `from` that are set (JSON: undefined members are absent). */
function pick(from: Obj): Obj {
  const out: Obj = {}
  for (const [k, v] of Object.entries(from)) if (v !== undefined && v !== null) out[k] = v
  return out
}

const isCpuUtilization = (m: Obj): boolean => {
  const r = rec(m['resource'])
  return m['type'] === 'Resource' && r['name'] === 'cpu' && rec(r['target'])['averageUtilization'] !== undefined
}

function cpuMetric(utilization: unknown): Obj {
  return {
    type: 'Resource',
    resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: utilization } },
  }
}

// ---- v2 MetricSpec / MetricStatus <-> v1 (v2beta1-shaped) ----
// A spec's metric holds a `target` (v1: `target*` fields), a status's a `current` (v1: `current*`
// fields, where v1 requires the values: '0' when v2 has none). The shapes are otherwise the same.

type Side = 'target' | 'current'

function metricToV1(m: Obj, side: Side): Obj {
  const out: Obj = { type: m['type'] }
  const src = (k: string) => rec(m[k])
  const val = (k: string) => rec(src(k)[side])
  const metric = (k: string) => rec(src(k)['metric'])
  const zero = side === 'current' ? '0' : undefined
  switch (m['type']) {
    case 'Resource':
    case 'ContainerResource': {
      const k = m['type'] === 'Resource' ? 'resource' : 'containerResource'
      out[k] = pick({
        name: src(k)['name'],
        container: src(k)['container'],
        [`${side}AverageUtilization`]: val(k)['averageUtilization'],
        [`${side}AverageValue`]: val(k)['averageValue'] ?? zero,
      })
      break
    }
    case 'Pods':
      out['pods'] = pick({
        metricName: metric('pods')['name'],
        selector: metric('pods')['selector'],
        [`${side}AverageValue`]: val('pods')['averageValue'] ?? zero,
      })
      break
    case 'Object':
      out['object'] = pick({
        target: src('object')['describedObject'],
        metricName: metric('object')['name'],
        selector: metric('object')['selector'],
        [`${side}Value`]: val('object')['value'] ?? zero,
        averageValue: val('object')['averageValue'],
      })
      break
    case 'External':
      out['external'] = pick({
        metricName: metric('external')['name'],
        metricSelector: metric('external')['selector'],
        [`${side}Value`]: val('external')['value'] ?? zero,
        [`${side}AverageValue`]: val('external')['averageValue'],
      })
      break
  }
  return out
}

function metricFromV1(m: Obj, side: Side): Obj {
  const out: Obj = { type: m['type'] }
  const ident = (name: unknown, selector: unknown) => pick({ name, selector })
  // A spec's target says which of its values counts; a status's current has no type.
  const held = (type: string, values: Obj): Obj => (side === 'target' ? pick({ type, ...values }) : pick(values))
  switch (m['type']) {
    case 'Resource':
    case 'ContainerResource': {
      const k = m['type'] === 'Resource' ? 'resource' : 'containerResource'
      const s = rec(m[k])
      const util = s[`${side}AverageUtilization`]
      out[k] = pick({
        name: s['name'],
        container: s['container'],
        [side]: held(util === undefined ? 'AverageValue' : 'Utilization', {
          averageUtilization: util,
          averageValue: s[`${side}AverageValue`],
        }),
      })
      break
    }
    case 'Pods': {
      const s = rec(m['pods'])
      out['pods'] = {
        metric: ident(s['metricName'], s['selector']),
        [side]: held('AverageValue', { averageValue: s[`${side}AverageValue`] }),
      }
      break
    }
    case 'Object': {
      const s = rec(m['object'])
      out['object'] = pick({
        describedObject: s['target'],
        metric: ident(s['metricName'], s['selector']),
        [side]: held(s['averageValue'] === undefined ? 'Value' : 'AverageValue', {
          value: s[`${side}Value`],
          averageValue: s['averageValue'],
        }),
      })
      break
    }
    case 'External': {
      const s = rec(m['external'])
      out['external'] = {
        metric: ident(s['metricName'], s['metricSelector']),
        [side]: held(s[`${side}Value`] === undefined ? 'AverageValue' : 'Value', {
          value: s[`${side}Value`],
          averageValue: s[`${side}AverageValue`],
        }),
      }
      break
    }
  }
  return out
}

// ---- whole objects ----

function withoutRoundTrip(annotations: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(annotations ?? {})) if (!ROUND_TRIP.includes(k)) out[k] = v
  return out
}

function parseAnnotation(annotations: Record<string, string> | undefined, key: string): unknown {
  const text = annotations?.[key]
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined // as the real conversion: an unreadable annotation is ignored
  }
}

/** The autoscaling/v1 view of a stored (v2-shaped) HorizontalPodAutoscaler. */
export function hpaToV1(o: KubeObject): KubeObject {
  const spec = rec(o.spec)
  const status = rec(o.status)
  const metrics = list(spec['metrics'])
  const annotations = withoutRoundTrip(o.metadata.annotations)
  const outSpec: Obj = pick({
    scaleTargetRef: spec['scaleTargetRef'],
    minReplicas: spec['minReplicas'],
    maxReplicas: spec['maxReplicas'],
  })
  const cpu = metrics.find((m) => m['type'] === 'Resource' && rec(m['resource'])['name'] === 'cpu')
  const cpuTarget = rec(rec(cpu?.['resource'])['target'])['averageUtilization']
  if (cpuTarget !== undefined) outSpec['targetCPUUtilizationPercentage'] = cpuTarget
  const other = metrics.filter((m) => !isCpuUtilization(m)).map((m) => metricToV1(m, 'target'))
  if (other.length) annotations[HPA_METRICS_ANNOTATION] = JSON.stringify(other)
  const current = list(status['currentMetrics'])
  if (current.length)
    annotations[HPA_CURRENT_METRICS_ANNOTATION] = JSON.stringify(current.map((m) => metricToV1(m, 'current')))
  if (spec['behavior'] !== undefined) annotations[HPA_BEHAVIOR_ANNOTATION] = JSON.stringify(spec['behavior'])
  const conditions = list(status['conditions'])
  if (conditions.length) annotations[HPA_CONDITIONS_ANNOTATION] = JSON.stringify(conditions)

  const outStatus: Obj = pick({
    observedGeneration: status['observedGeneration'],
    lastScaleTime: status['lastScaleTime'],
    currentReplicas: status['currentReplicas'] ?? 0,
    desiredReplicas: status['desiredReplicas'] ?? 0,
  })
  for (const m of current) {
    const r = rec(m['resource'])
    const u = rec(r['current'])['averageUtilization']
    if (m['type'] === 'Resource' && r['name'] === 'cpu' && u !== undefined)
      outStatus['currentCPUUtilizationPercentage'] = u
  }
  const metadata = { ...o.metadata }
  if (Object.keys(annotations).length) metadata.annotations = annotations
  else delete metadata.annotations
  const out: KubeObject = { ...o, apiVersion: 'autoscaling/v1', metadata, spec: outSpec }
  if (o.status === undefined) delete out.status
  else out.status = outStatus
  return out
}

/** The stored (autoscaling/v2) form of a HorizontalPodAutoscaler written as autoscaling/v1. */
export function hpaFromV1(o: KubeObject): KubeObject {
  const spec = rec(o.spec)
  const status = rec(o.status)
  const ann = o.metadata.annotations
  const outSpec: Obj = pick({
    scaleTargetRef: spec['scaleTargetRef'],
    minReplicas: spec['minReplicas'],
    maxReplicas: spec['maxReplicas'],
  })
  const metrics: Obj[] = list(parseAnnotation(ann, HPA_METRICS_ANNOTATION)).map((m) => metricFromV1(m, 'target'))
  const cpu = spec['targetCPUUtilizationPercentage']
  if (cpu !== undefined && cpu !== null) metrics.push(cpuMetric(cpu))
  // autoscaling/v1's implicit default, made explicit (the v1 controller used to apply it).
  outSpec['metrics'] = metrics.length ? metrics : [cpuMetric(DEFAULT_CPU_UTILIZATION)]
  const behavior = parseAnnotation(ann, HPA_BEHAVIOR_ANNOTATION)
  if (isObject(behavior)) outSpec['behavior'] = behavior

  const outStatus: Obj = pick({
    observedGeneration: status['observedGeneration'],
    lastScaleTime: status['lastScaleTime'],
    currentReplicas: status['currentReplicas'],
    desiredReplicas: status['desiredReplicas'] ?? 0,
  })
  const cpuNow = status['currentCPUUtilizationPercentage']
  if (cpuNow !== undefined && cpuNow !== null) {
    outStatus['currentMetrics'] = [
      { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: cpuNow } } },
    ]
  }
  const current = parseAnnotation(ann, HPA_CURRENT_METRICS_ANNOTATION)
  if (Array.isArray(current)) outStatus['currentMetrics'] = list(current).map((m) => metricFromV1(m, 'current'))
  const conditions = parseAnnotation(ann, HPA_CONDITIONS_ANNOTATION)
  if (Array.isArray(conditions)) outStatus['conditions'] = conditions

  const metadata = { ...o.metadata }
  const annotations = withoutRoundTrip(ann)
  if (Object.keys(annotations).length) metadata.annotations = annotations
  else delete metadata.annotations
  const out: KubeObject = { ...o, apiVersion: 'autoscaling/v2', metadata, spec: outSpec }
  if (o.status === undefined) delete out.status
  else out.status = outStatus
  return out
}

/** Converts between a served version and the stored one, for kinds whose versions differ in shape. */
export interface VersionConversion {
  /** The version objects are stored (and validated) as. */
  storageVersion: string
  toStorage(o: KubeObject): KubeObject
  fromStorage(o: KubeObject): KubeObject
}

const CONVERSIONS: Readonly<Record<string, VersionConversion>> = {
  'autoscaling/v1/HorizontalPodAutoscaler': { storageVersion: 'v2', toStorage: hpaFromV1, fromStorage: hpaToV1 },
}

/** The conversion for `group/version/Kind`, when that version is not the stored shape. */
export function versionConversion(r: { group: string; version: string; kind: string }): VersionConversion | undefined {
  // Called for every object served (lists, watch events): most kinds leave at the first compare.
  if (r.group !== 'autoscaling') return undefined
  return CONVERSIONS[`${r.group}/${r.version}/${r.kind}`]
}
