import type { KubeObject } from '@calilab/model'
import t from 'tap'
import {
  HPA_BEHAVIOR_ANNOTATION,
  HPA_CONDITIONS_ANNOTATION,
  HPA_CURRENT_METRICS_ANNOTATION,
  HPA_METRICS_ANNOTATION,
  hpaFromV1,
  hpaToV1,
  versionConversion,
} from '../src/core/hpa-convert.ts'
import { formatHpaMetrics, hpaPrinter } from '../src/core/printers-autoscaling.ts'
import { tokenClaims, tokenSpec } from '../src/core/token-request.ts'

// biome-ignore lint/suspicious/noExplicitAny: a test walks converted objects freely
type Any = any

const meta = {
  name: 'web',
  namespace: 'demo',
  uid: 'u1',
  resourceVersion: '7',
  creationTimestamp: '2026-11-23T05:00:00Z',
}
const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }
const cpu = (n: number) => ({
  type: 'Resource',
  resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: n } },
})

const v1 = (spec: Any, extra: Any = {}): KubeObject => ({
  apiVersion: 'autoscaling/v1',
  kind: 'HorizontalPodAutoscaler',
  metadata: { ...meta, ...extra.metadata },
  spec,
  ...(extra.status ? { status: extra.status } : {}),
})
const v2 = (spec: Any, status?: Any, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: { ...meta, ...(annotations ? { annotations } : {}) },
  spec,
  ...(status ? { status } : {}),
})

t.test('v1 targetCPUUtilizationPercentage <-> v2 Resource cpu Utilization metric', (t) => {
  const stored = hpaFromV1(
    v1(
      { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 50 },
      { status: { currentReplicas: 0, desiredReplicas: 0 } },
    ),
  )
  t.equal(stored.apiVersion, 'autoscaling/v2')
  t.same(stored.spec, { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 3, metrics: [cpu(50)] })
  t.same(stored.status, { currentReplicas: 0, desiredReplicas: 0 })
  const back = hpaToV1(stored)
  t.equal(back.apiVersion, 'autoscaling/v1')
  t.same(back.spec, { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 50 })
  t.same(back.metadata, meta, 'no round-trip annotations when v1 can say everything')
  t.end()
})

t.test('a v1 object without a CPU target gets the implicit 80% made explicit', (t) => {
  const stored = hpaFromV1(v1({ scaleTargetRef: ref, maxReplicas: 5 }))
  t.same((stored.spec as Any).metrics, [cpu(80)])
  t.equal(stored.status, undefined)
  t.end()
})

t.test('what v1 cannot say rides in annotations and comes back intact', (t) => {
  const metrics = [
    cpu(60),
    { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '200Mi' } } },
    {
      type: 'Pods',
      pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '10' } },
    },
    {
      type: 'Object',
      object: {
        describedObject: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'main' },
        metric: { name: 'hits' },
        target: { type: 'Value', value: '2k' },
      },
    },
    {
      type: 'External',
      external: {
        metric: { name: 'queue', selector: { matchLabels: { q: 'a' } } },
        target: { type: 'AverageValue', averageValue: '30' },
      },
    },
  ]
  const behavior = { scaleDown: { stabilizationWindowSeconds: 60 } }
  const status = {
    currentReplicas: 2,
    desiredReplicas: 3,
    currentMetrics: [
      { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 75, averageValue: '150m' } } },
    ],
    conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale' }],
  }
  const stored = v2({ scaleTargetRef: ref, minReplicas: 2, maxReplicas: 9, metrics, behavior }, status, {
    keep: 'me',
  })
  const view = hpaToV1(stored) as Any
  t.same(view.spec, { scaleTargetRef: ref, minReplicas: 2, maxReplicas: 9, targetCPUUtilizationPercentage: 60 })
  t.same(view.status, { currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 75 })
  const ann = view.metadata.annotations
  t.equal(ann.keep, 'me')
  t.same(JSON.parse(ann[HPA_METRICS_ANNOTATION]), [
    { type: 'Resource', resource: { name: 'memory', targetAverageValue: '200Mi' } },
    { type: 'Pods', pods: { metricName: 'rps', targetAverageValue: '10' } },
    {
      type: 'Object',
      object: {
        target: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'main' },
        metricName: 'hits',
        targetValue: '2k',
      },
    },
    {
      type: 'External',
      external: { metricName: 'queue', metricSelector: { matchLabels: { q: 'a' } }, targetAverageValue: '30' },
    },
  ])
  t.same(JSON.parse(ann[HPA_BEHAVIOR_ANNOTATION]), behavior)
  t.ok(ann[HPA_CONDITIONS_ANNOTATION])
  t.ok(ann[HPA_CURRENT_METRICS_ANNOTATION])

  // A v1 client writes the view back: the stored object is what it was (CPU moves to the end, as in Go).
  const again = hpaFromV1(view) as Any
  t.same(again.metadata.annotations, { keep: 'me' }, 'round-trip annotations are dropped on the way in')
  t.same(again.spec.metrics, [...metrics.slice(1), metrics[0]])
  t.same(again.spec.behavior, behavior)
  t.same(again.status, status)

  // A v1 edit of the CPU target changes only that metric.
  view.spec.targetCPUUtilizationPercentage = 40
  t.same((hpaFromV1(view).spec as Any).metrics.at(-1), cpu(40))
  t.end()
})

t.test('stale round-trip annotations on a stored object are not served', (t) => {
  const stored = v2({ scaleTargetRef: ref, maxReplicas: 2, metrics: [cpu(50)] }, undefined, {
    [HPA_METRICS_ANNOTATION]: '[{"type":"Pods"}]',
  })
  t.same(hpaToV1(stored).metadata.annotations, undefined)
  t.same(
    (
      hpaFromV1(v1({ maxReplicas: 2 }, { metadata: { annotations: { [HPA_METRICS_ANNOTATION]: 'not json' } } }))
        .spec as Any
    ).metrics,
    [cpu(80)],
    'an unreadable annotation is ignored',
  )
  t.end()
})

t.test('conversion table: only autoscaling/v1 HPAs are converted, stored as v2', (t) => {
  t.equal(
    versionConversion({ group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' })?.storageVersion,
    'v2',
  )
  t.equal(versionConversion({ group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler' }), undefined)
  t.equal(versionConversion({ group: 'apps', version: 'v1', kind: 'Deployment' }), undefined)
  t.end()
})

t.test('HPA rows: REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE, from either version', (t) => {
  t.same(
    hpaPrinter.columns.map((c) => c.name),
    ['Name', 'Reference', 'Targets', 'MinPods', 'MaxPods', 'Replicas', 'Age'],
  )
  const now = Date.parse(meta.creationTimestamp) + 5_000
  const asV2 = v2({ scaleTargetRef: ref, minReplicas: 1, maxReplicas: 3, metrics: [cpu(50)] }, { desiredReplicas: 0 })
  const row = ['web', 'Deployment/web', 'cpu: <unknown>/50%', '1', 3, 0, '5s']
  t.same(hpaPrinter.row(asV2, now).cells, row)
  t.same(hpaPrinter.row(hpaToV1(asV2), now).cells, row)
  const many = [cpu(50), cpu(60), cpu(70)]
  t.equal(
    formatHpaMetrics(many, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 12 } } }]),
    'cpu: 12%/50%, cpu: <unknown>/60% + 1 more...',
  )
  t.equal(formatHpaMetrics([], []), '<none>')
  t.end()
})

t.test('TokenRequest: defaults, validation, claims', (t) => {
  const d = tokenSpec({ spec: {} }) as Any
  t.same(d.spec, { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 })
  const short = tokenSpec({ spec: { expirationSeconds: 1 } }) as Any
  t.same(short.errors, [
    {
      type: 'FieldValueInvalid',
      field: 'spec.expirationSeconds',
      value: 1,
      detail: 'may not specify a duration less than 10 minutes',
    },
  ])
  t.match((tokenSpec({ spec: { expirationSeconds: 2 ** 33 } }) as Any).errors[0].detail, /larger than 2\^32/)
  t.same((tokenSpec({ spec: { expirationSeconds: 600, audiences: ['a'] } }) as Any).spec.audiences, ['a'])
  const sa: KubeObject = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'bot', namespace: 'demo', uid: 'sa-uid' },
  }
  const c = tokenClaims(sa, { audiences: ['x'], expirationSeconds: 600 }, 1_000_500, 'jti-1')
  t.same(c, {
    aud: ['x'],
    exp: 1600,
    iat: 1000,
    iss: 'https://kubernetes.default.svc.cluster.local',
    jti: 'jti-1',
    'kubernetes.io': { namespace: 'demo', serviceaccount: { name: 'bot', uid: 'sa-uid' } },
    nbf: 1000,
    sub: 'system:serviceaccount:demo:bot',
  })
  t.end()
})
