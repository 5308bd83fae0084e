import type { KubeObject } from '@calilab/model'
import t from 'tap'
import {
  checkFieldSelector,
  formatFieldSelector,
  formatLabelSelector,
  labelSelectorFromSpec,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  selectorFromMap,
} from '../src/core/index.ts'
import { ApiError } from '../src/core/status.ts'

function errorOf(fn: () => unknown): ApiError | undefined {
  try {
    fn()
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  return undefined
}

t.test('label selector: parse and canonical form', (t) => {
  const cases: [string, string][] = [
    ['', ''],
    ['app=customer', 'app=customer'],
    ['app==customer', 'app==customer'],
    [' app != customer ', 'app!=customer'],
    ['tier in (web, db),app', 'app,tier in (db,web)'],
    ['tier notin (web)', 'tier notin (web)'],
    ['!canary', '!canary'],
    ['a>1,b<10', 'a>1,b<10'],
    ['env in (a,,b)', 'env in (,a,b)'],
    ['env in ()', 'env in ()'],
    ['app=', 'app='],
    ['x in (in,notin)', 'x in (in,notin)'],
    ['app.kubernetes.io/name=yaobank,z', 'app.kubernetes.io/name=yaobank,z'],
  ]
  for (const [input, want] of cases)
    t.equal(formatLabelSelector(parseLabelSelector(input)), want, JSON.stringify(input))
  t.end()
})

t.test('label selector: matching', (t) => {
  const labels = { app: 'customer', tier: 'web', n: '5' }
  const cases: [string, Record<string, string> | undefined, boolean][] = [
    ['', labels, true],
    ['', undefined, true],
    ['app=customer', labels, true],
    ['app=summary', labels, false],
    ['app!=summary', labels, true],
    ['missing!=x', labels, true],
    ['app in (customer,summary)', labels, true],
    ['app notin (customer)', labels, false],
    ['missing notin (x)', labels, true],
    ['app', labels, true],
    ['missing', labels, false],
    ['!missing', labels, true],
    ['!app', labels, false],
    ['app=customer,tier=db', labels, false],
    ['n>4', labels, true],
    ['n<5', labels, false],
    ['app>1', labels, false],
    ['app=customer', undefined, false],
  ]
  for (const [sel, l, want] of cases)
    t.equal(matchesLabels(parseLabelSelector(sel), l), want, `${sel} on ${JSON.stringify(l)}`)
  t.end()
})

t.test('label selector: errors are 400 with the real parser messages', (t) => {
  const cases: [string, string | RegExp][] = [
    ['app=a,', "found '', expected: identifier after ','"],
    ['=a', "found '=', expected: !, identifier, or 'end of string'"],
    ['app in x', "unable to parse requirement: found 'x' expected: '('"],
    ['app in (a', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['app = a b', "found 'b', expected: ',' or 'end of string'"],
    ['app ( a', "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"],
    ['!app=a', "found '=', expected: ',' or 'end of string'"],
    ['app=a@b', /^unable to parse requirement: values\[0\]\[app\]: Invalid value: "a@b": a valid label must be/],
    ['a b=c', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['-x=1', /^unable to parse requirement: key: Invalid value: "-x": name part must consist of/],
    ['a>b', /the value must be an integer/],
  ]
  for (const [sel, msg] of cases) {
    const e = errorOf(() => parseLabelSelector(sel))
    t.equal(e?.status.code, 400, `${sel}: 400`)
    if (typeof msg === 'string') t.equal(e?.status.message, msg, `${sel}: message`)
    else t.match(e?.status.message, msg, `${sel}: message`)
  }
  t.end()
})

t.test('label selector objects: matchLabels / matchExpressions and Service selectors', (t) => {
  const sel = labelSelectorFromSpec({
    matchLabels: { app: 'customer' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['web', 'api'] },
      { key: 'canary', operator: 'DoesNotExist' },
      { key: 'version', operator: 'Exists' },
    ],
  })
  t.equal(formatLabelSelector(sel), 'app=customer,!canary,tier in (api,web),version')
  t.ok(matchesLabels(sel, { app: 'customer', tier: 'web', version: 'v1' }))
  t.notOk(matchesLabels(sel, { app: 'customer', tier: 'web', version: 'v1', canary: 'y' }))
  t.notOk(matchesLabels(sel, { app: 'customer', tier: 'db', version: 'v1' }))
  t.ok(matchesLabels(labelSelectorFromSpec(undefined), { any: 'x' }), 'absent selects everything')
  t.ok(matchesLabels(labelSelectorFromSpec({}), undefined), '{} selects everything')
  t.equal(errorOf(() => labelSelectorFromSpec({ matchExpressions: [{ key: 'a', operator: 'Foo' }] }))?.status.code, 400)
  t.equal(
    errorOf(() => labelSelectorFromSpec({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }))?.status.code,
    400,
  )
  const svc = selectorFromMap({ app: 'customer', version: 'v1' })
  t.equal(formatLabelSelector(svc), 'app=customer,version=v1')
  t.ok(matchesLabels(svc, { app: 'customer', version: 'v1', pod: 'x' }))
  t.notOk(matchesLabels(svc, { app: 'customer' }))
  t.end()
})

const pod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'customer-7c9d8f-abcde', namespace: 'yaobank' },
  spec: {
    nodeName: 'node1',
    restartPolicy: 'Always',
    schedulerName: 'default-scheduler',
    serviceAccountName: 'customer',
  },
  status: { phase: 'Running', podIP: '198.19.22.11', podIPs: [{ ip: '198.19.22.11' }] },
}

t.test('field selector: parse, match, format', (t) => {
  const cases: [string, boolean][] = [
    ['', true],
    ['metadata.name=customer-7c9d8f-abcde', true],
    ['metadata.name==customer-7c9d8f-abcde', true],
    ['metadata.name!=customer-7c9d8f-abcde', false],
    ['metadata.namespace=yaobank,spec.nodeName=node1', true],
    ['spec.nodeName=node2', false],
    ['spec.nodeName!=node2,status.phase=Running', true],
    ['status.podIP=198.19.22.11', true],
    ['spec.restartPolicy=Always,spec.schedulerName=default-scheduler,spec.serviceAccountName=customer', true],
    ['status.nominatedNodeName=', true],
    ['spec.hostNetwork=false', true],
  ]
  for (const [s, want] of cases) {
    const sel = parseFieldSelector(s)
    checkFieldSelector(sel, 'Pod')
    t.equal(matchesFields(sel, pod), want, s)
  }
  t.same(parseFieldSelector('a=x\\,y,b!=z').requirements, [
    { field: 'a', operator: '=', value: 'x,y' },
    { field: 'b', operator: '!=', value: 'z' },
  ])
  t.equal(formatFieldSelector(parseFieldSelector('b!=z,a==x\\,y')), 'a=x\\,y,b!=z')
  t.end()
})

t.test('field selector: per-kind fields and errors', (t) => {
  const event: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'customer.1', namespace: 'yaobank' },
    involvedObject: { kind: 'Pod', name: 'customer-x', namespace: 'yaobank', uid: 'u1' },
    reason: 'Scheduled',
    type: 'Normal',
    source: { component: 'default-scheduler' },
  }
  t.ok(matchesFields(parseFieldSelector('involvedObject.kind=Pod,involvedObject.name=customer-x,type=Normal'), event))
  t.ok(matchesFields(parseFieldSelector('involvedObject.uid=u1,reason=Scheduled,source=default-scheduler'), event))
  const node: KubeObject = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node1' },
    spec: { unschedulable: true },
  }
  t.ok(matchesFields(parseFieldSelector('spec.unschedulable=true,metadata.namespace='), node))
  const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' }, status: { phase: 'Active' } }
  t.ok(matchesFields(parseFieldSelector('status.phase=Active'), ns))
  const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque' }
  t.ok(matchesFields(parseFieldSelector('type=Opaque'), secret))

  const accepted: [string, string | { group: string; kind: string }][] = [
    ['involvedObject.namespace=a', 'Event'],
    ['type=Opaque', 'secrets'],
    ['spec.unschedulable=false', { group: '', kind: 'Node' }],
    ['status.phase=Active', 'Namespace'],
    ['metadata.name=x', { group: 'projectcalico.org', kind: 'GlobalNetworkPolicy' }],
  ]
  for (const [s, kind] of accepted) t.doesNotThrow(() => checkFieldSelector(parseFieldSelector(s), kind), s)

  const rejected: [string, string | { group: string; kind: string }, string][] = [
    ['spec.foo=x', 'Pod', 'field label not supported: spec.foo'],
    ['spec.nodeName=x', 'Service', 'field label not supported: spec.nodeName'],
    ['status.phase=Active', { group: 'apps', kind: 'Deployment' }, 'field label not supported: status.phase'],
  ]
  for (const [s, kind, msg] of rejected) {
    const e = errorOf(() => checkFieldSelector(parseFieldSelector(s), kind))
    t.equal(e?.status.code, 400, `${s}: 400`)
    t.equal(e?.status.message, msg, `${s}: message`)
  }
  const bad = errorOf(() => parseFieldSelector('metadata.name'))
  t.equal(bad?.status.code, 400)
  t.equal(bad?.status.message, "invalid selector: 'metadata.name'; can't understand 'metadata.name'")
  t.equal(errorOf(() => parseFieldSelector('a=b\\x'))?.status.code, 400, 'bad escape')
  t.end()
})
