/** HorizontalPodAutoscaler rows, as kube-apiserver's printHorizontalPodAutoscaler (from the v2 form). */
import type { KubeObject } from '@calilab/model'
import { hpaFromV1 } from './hpa-convert.ts'
import { AGE_COL, age, arr, col, get, NAME_COL, num, type Printer, str } from './printer-kit.ts'

const quantity = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '0')
const percent = (v: unknown): string => (typeof v === 'number' ? `${v}%` : '<unknown>')

/** One metric of the TARGETS cell: `cpu: <unknown>/50%`, `100/200 (avg)`... */
function formatMetric(spec: unknown, status: unknown): string {
  switch (get(spec, 'type')) {
    case 'External':
    case 'Object': {
      const k = get(spec, 'type') === 'External' ? 'external' : 'object'
      const avg = get(spec, k, 'target', 'averageValue')
      if (avg !== undefined) {
        const cur = get(status, k, 'current', 'averageValue')
        return `${cur === undefined ? '<unknown>' : quantity(cur)}/${quantity(avg)} (avg)`
      }
      const cur = get(status, k) === undefined ? '<unknown>' : quantity(get(status, k, 'current', 'value'))
      return `${cur}/${quantity(get(spec, k, 'target', 'value'))}`
    }
    case 'Pods': {
      const cur =
        get(status, 'pods') === undefined ? '<unknown>' : quantity(get(status, 'pods', 'current', 'averageValue'))
      return `${cur}/${quantity(get(spec, 'pods', 'target', 'averageValue'))}`
    }
    case 'Resource':
    case 'ContainerResource': {
      const k = get(spec, 'type') === 'Resource' ? 'resource' : 'containerResource'
      const name = str(get(spec, k, 'name'))
      const avg = get(spec, k, 'target', 'averageValue')
      if (avg !== undefined) {
        const cur = get(status, k) === undefined ? '<unknown>' : quantity(get(status, k, 'current', 'averageValue'))
        return `${name}: ${cur}/${quantity(avg)}`
      }
      const target = get(spec, k, 'target', 'averageUtilization')
      const cur = percent(get(status, k, 'current', 'averageUtilization'))
      return `${name}: ${cur}/${typeof target === 'number' ? `${target}%` : '<auto>'}`
    }
    default:
      return '<unknown type>'
  }
}

/** formatHPAMetrics: at most two metrics, then `+ N more...`. */
export function formatHpaMetrics(specs: unknown[], statuses: unknown[]): string {
  if (specs.length === 0) return '<none>'
  const all = specs.map((s, i) => formatMetric(s, statuses[i]))
  const shown = all.slice(0, 2).join(', ')
  return all.length > 2 ? `${shown} + ${all.length - 2} more...` : shown
}

export const hpaPrinter: Printer = {
  columns: [
    NAME_COL,
    col(
      'Reference',
      'string',
      'reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.',
    ),
    col(
      'Targets',
      'string',
      'metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).',
    ),
    col(
      'MinPods',
      'string',
      'minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.',
    ),
    col(
      'MaxPods',
      'string',
      'maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.',
    ),
    col('Replicas', 'string', 'currentReplicas is current number of replicas of pods managed by this autoscaler.'),
    AGE_COL,
  ],
  row(o: KubeObject, now) {
    const h = o.apiVersion === 'autoscaling/v1' ? hpaFromV1(o) : o
    const ref = `${str(get(h.spec, 'scaleTargetRef', 'kind'))}/${str(get(h.spec, 'scaleTargetRef', 'name'))}`
    const min = get(h.spec, 'minReplicas')
    return {
      cells: [
        o.metadata.name ?? '',
        ref,
        formatHpaMetrics(arr(get(h.spec, 'metrics')), arr(get(h.status, 'currentMetrics'))),
        typeof min === 'number' ? String(min) : '<unset>',
        num(get(h.spec, 'maxReplicas')),
        num(get(h.status, 'currentReplicas')),
        age(o, now),
      ],
    }
  },
}
