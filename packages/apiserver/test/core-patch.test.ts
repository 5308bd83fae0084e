import type { KubeObject } from '@calilab/model'
import fc from 'fast-check'
import t from 'tap'
import {
  createTwoWayMergePatch,
  deepClone,
  deepEqual,
  jsonMergePatch,
  jsonPatch,
  strategicMergePatch,
} from '../src/core/index.ts'
import { ApiError } from '../src/core/status.ts'

// biome-ignore lint/suspicious/noExplicitAny: the cases read nested JSON from patched objects
type Json = any

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn()
  } catch (e) {
    if (e instanceof ApiError) return e.status.code
    throw e
  }
  return undefined
}

t.test('RFC 7386 appendix A', (t) => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ]
  for (const [target, patch, want] of cases) {
    const before = deepClone(target)
    t.same(jsonMergePatch(target, patch), want, `${JSON.stringify(target)} + ${JSON.stringify(patch)}`)
    t.same(target, before, 'target not modified')
  }
  t.end()
})

t.test('RFC 6902 appendix A', (t) => {
  const ok: [string, unknown, unknown[], unknown][] = [
    ['A.1 add object member', { foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { baz: 'qux', foo: 'bar' }],
    [
      'A.2 add array element',
      { foo: ['bar', 'baz'] },
      [{ op: 'add', path: '/foo/1', value: 'qux' }],
      { foo: ['bar', 'qux', 'baz'] },
    ],
    ['A.3 remove object member', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    [
      'A.4 remove array element',
      { foo: ['bar', 'qux', 'baz'] },
      [{ op: 'remove', path: '/foo/1' }],
      { foo: ['bar', 'baz'] },
    ],
    [
      'A.5 replace',
      { baz: 'qux', foo: 'bar' },
      [{ op: 'replace', path: '/baz', value: 'boo' }],
      { baz: 'boo', foo: 'bar' },
    ],
    [
      'A.6 move',
      { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    ],
    [
      'A.7 move array element',
      { foo: ['all', 'grass', 'cows', 'eat'] },
      [{ op: 'move', from: '/foo/1', path: '/foo/3' }],
      { foo: ['all', 'cows', 'eat', 'grass'] },
    ],
    [
      'A.8 test',
      { baz: 'qux', foo: ['a', 2, 'c'] },
      [
        { op: 'test', path: '/baz', value: 'qux' },
        { op: 'test', path: '/foo/1', value: 2 },
      ],
      { baz: 'qux', foo: ['a', 2, 'c'] },
    ],
    [
      'A.10 add nested member',
      { foo: 'bar' },
      [{ op: 'add', path: '/child', value: { grandchild: {} } }],
      { foo: 'bar', child: { grandchild: {} } },
    ],
    [
      'A.11 ignore unrecognised members',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }],
      { foo: 'bar', baz: 'qux' },
    ],
    ['A.14 ~ escaping', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
    [
      'A.16 add array value',
      { foo: ['bar'] },
      [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }],
      { foo: ['bar', ['abc', 'def']] },
    ],
    ['copy', { a: { b: 1 } }, [{ op: 'copy', from: '/a', path: '/c' }], { a: { b: 1 }, c: { b: 1 } }],
    ['replace whole document', { a: 1 }, [{ op: 'replace', path: '', value: [1] }], [1]],
    ['add null value', { a: 1 }, [{ op: 'add', path: '/b', value: null }], { a: 1, b: null }],
    [
      'labels with a slash',
      { metadata: { labels: { 'app.kubernetes.io/name': 'x' } } },
      [{ op: 'remove', path: '/metadata/labels/app.kubernetes.io~1name' }],
      { metadata: { labels: {} } },
    ],
  ]
  for (const [name, doc, ops, want] of ok) {
    const before = deepClone(doc)
    t.same(jsonPatch(doc, ops), want, name)
    t.same(doc, before, `${name}: target not modified`)
  }
  const failing: [string, unknown, unknown, number, RegExp][] = [
    [
      'A.9 test error',
      { baz: 'qux' },
      [{ op: 'test', path: '/baz', value: 'bar' }],
      422,
      /test operation 0 on path "\/baz"/,
    ],
    [
      'A.12 add to missing parent',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz/bat', value: 'qux' }],
      422,
      /add operation 0/,
    ],
    ['A.15 string vs number', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }], 422, /test failed/],
    ['not an array', { a: 1 }, { op: 'add' }, 400, /must be an array/],
    ['unknown op', { a: 1 }, [{ op: 'frob', path: '/a' }], 400, /operation 0: unexpected op "frob"/],
    ['missing value', { a: 1 }, [{ op: 'add', path: '/b' }], 400, /operation 0 \(add \/b\): missing "value"/],
    ['bad pointer', { a: 1 }, [{ op: 'remove', path: 'a' }], 400, /invalid path/],
    [
      'second op names its index',
      { a: 1 },
      [
        { op: 'remove', path: '/a' },
        { op: 'replace', path: '/a', value: 2 },
      ],
      422,
      /replace operation 1 on path "\/a"/,
    ],
    ['index out of range', { a: [1] }, [{ op: 'add', path: '/a/5', value: 2 }], 422, /out of range/],
    ['move into own child', { a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }], 422, /children/],
  ]
  for (const [name, doc, ops, code, msg] of failing) {
    t.equal(
      codeOf(() => jsonPatch(doc, ops)),
      code,
      `${name}: code`,
    )
    try {
      jsonPatch(doc, ops)
    } catch (e) {
      t.match((e as ApiError).status.message, msg, `${name}: message`)
    }
  }
  t.end()
})

const DEPLOY = { group: 'apps', kind: 'Deployment' }
const POD = { group: '', kind: 'Pod' }

function customerDeployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'customer',
      namespace: 'yaobank',
      labels: { app: 'customer' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"old":true}\n' },
      generation: 1,
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'customer' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'customer', version: 'v1' } },
        spec: {
          serviceAccountName: 'customer',
          containers: [
            {
              name: 'customer',
              image: 'calico/yaobank-customer:certification',
              ports: [{ containerPort: 80, protocol: 'TCP' }],
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
          tolerations: [{ key: 'a', operator: 'Exists' }],
        },
      },
    },
  }
}

t.test('strategic merge: the kubectl apply body from kubectl-wire.md', (t) => {
  const target = customerDeployment()
  const before = deepClone(target)
  const patch = {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"new":true}\n' } },
    spec: {
      replicas: 2,
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'customer' }],
          containers: [{ image: 'calico/yaobank-customer:v2', name: 'customer' }],
        },
      },
    },
  }
  const out = strategicMergePatch(target, patch, DEPLOY) as KubeObject & { spec: Json }
  t.same(target, before, 'target not modified')
  t.equal(out.spec.replicas, 2)
  t.equal(out.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], '{"new":true}\n')
  t.same(out.spec.template.spec.containers, [
    {
      name: 'customer',
      image: 'calico/yaobank-customer:v2',
      ports: [{ containerPort: 80, protocol: 'TCP' }],
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
      ],
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
    },
  ])
  t.same(out.spec.selector, { matchLabels: { app: 'customer' } }, 'untouched fields kept')
  t.notOk(JSON.stringify(out).includes('$setElementOrder'), 'directives are not stored')
  t.end()
})

t.test('strategic merge: table of cases', (t) => {
  type Case = [string, KubeObject, unknown, { group: string; kind: string }, (o: Json) => unknown, unknown]
  const d = customerDeployment
  const c0 = (o: Json) => o.spec.template.spec.containers[0]
  const cases: Case[] = [
    [
      'new container appended by name',
      d(),
      { spec: { template: { spec: { containers: [{ name: 'side', image: 'busybox' }] } } } },
      DEPLOY,
      (o) => o.spec.template.spec.containers.map((c: Json) => c.name),
      ['customer', 'side'],
    ],
    [
      'env merges by name, null deletes a key inside an element',
      d(),
      {
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'customer',
                  env: [
                    { name: 'B', value: null, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                    { name: 'C', value: '3' },
                  ],
                },
              ],
            },
          },
        },
      },
      DEPLOY,
      (o) => c0(o).env,
      [
        { name: 'A', value: '1' },
        { name: 'B', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'C', value: '3' },
      ],
    ],
    [
      '$patch: delete removes a list element',
      d(),
      { spec: { template: { spec: { containers: [{ name: 'customer', env: [{ name: 'A', $patch: 'delete' }] }] } } } },
      DEPLOY,
      (o) => c0(o).env,
      [{ name: 'B', value: '2' }],
    ],
    [
      '$patch: replace replaces a merging list',
      d(),
      {
        spec: {
          template: {
            spec: { containers: [{ name: 'customer', env: [{ $patch: 'replace' }, { name: 'Z', value: '9' }] }] },
          },
        },
      },
      DEPLOY,
      (o) => c0(o).env,
      [{ name: 'Z', value: '9' }],
    ],
    [
      'container ports merge by containerPort',
      d(),
      {
        spec: {
          template: { spec: { containers: [{ name: 'customer', ports: [{ containerPort: 443, name: 'https' }] }] } },
        },
      },
      DEPLOY,
      (o) => c0(o).ports,
      [
        { containerPort: 80, protocol: 'TCP' },
        { containerPort: 443, name: 'https' },
      ],
    ],
    [
      'volumeMounts merge by mountPath',
      d(),
      {
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'customer',
                  volumeMounts: [
                    { mountPath: '/data', readOnly: true },
                    { mountPath: '/etc/x', name: 'x' },
                  ],
                },
              ],
            },
          },
        },
      },
      DEPLOY,
      (o) => c0(o).volumeMounts,
      [
        { name: 'data', mountPath: '/data', readOnly: true },
        { mountPath: '/etc/x', name: 'x' },
      ],
    ],
    [
      'volumes merge by name',
      d(),
      { spec: { template: { spec: { volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }] } } } },
      DEPLOY,
      (o) => o.spec.template.spec.volumes.map((v: Json) => v.name),
      ['data', 'cfg'],
    ],
    [
      'tolerations have no merge key: replaced',
      d(),
      { spec: { template: { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } } } },
      DEPLOY,
      (o) => o.spec.template.spec.tolerations,
      [{ key: 'b', operator: 'Exists' }],
    ],
    [
      '$retainKeys clears keys not listed (strategy type change)',
      d(),
      { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } } },
      DEPLOY,
      (o) => o.spec.strategy,
      { type: 'Recreate' },
    ],
    [
      '$patch: replace in a map replaces it',
      d(),
      { metadata: { labels: { $patch: 'replace', tier: 'web' } } },
      DEPLOY,
      (o) => o.metadata.labels,
      { tier: 'web' },
    ],
    [
      '$patch: delete in a map removes it',
      d(),
      { spec: { strategy: { $patch: 'delete' } } },
      DEPLOY,
      (o) => 'strategy' in o.spec,
      false,
    ],
    ['null deletes a key', d(), { metadata: { labels: { app: null } } }, DEPLOY, (o) => o.metadata.labels, {}],
    [
      'finalizers (merging scalar list) take the union',
      { ...d(), metadata: { name: 'x', finalizers: ['a', 'b'] } },
      { metadata: { finalizers: ['b', 'c'] } },
      DEPLOY,
      (o) => o.metadata.finalizers,
      ['a', 'b', 'c'],
    ],
    [
      '$deleteFromPrimitiveList removes scalars',
      { ...d(), metadata: { name: 'x', finalizers: ['a', 'b', 'c'] } },
      { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } },
      DEPLOY,
      (o) => o.metadata.finalizers,
      ['a', 'c'],
    ],
    [
      // mergeSortedSlice: "server" (live index 1) goes before "c" (live index 3), as in apimachinery.
      '$setElementOrder reorders, server-only items keep their place',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p' },
        spec: { containers: [{ name: 'a' }, { name: 'server' }, { name: 'b' }, { name: 'c' }] },
      },
      { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'b' }, { name: 'a' }] } },
      POD,
      (o) => o.spec.containers.map((c: Json) => c.name),
      ['server', 'c', 'b', 'a'],
    ],
    [
      '$setElementOrder places a new element',
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }, { name: 'c' }] } },
      {
        spec: {
          '$setElementOrder/containers': [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
          containers: [{ name: 'b', image: 'x' }],
        },
      },
      POD,
      (o) => o.spec.containers.map((c: Json) => c.name),
      ['a', 'b', 'c'],
    ],
    [
      'service ports merge by port; externalIPs replaced',
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'customer' },
        spec: { ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }], externalIPs: ['1.1.1.1'] },
      },
      { spec: { externalIPs: ['198.19.48.10'], ports: [{ port: 80, nodePort: 30180 }] } },
      { group: '', kind: 'Service' },
      (o) => o.spec,
      { ports: [{ port: 80, targetPort: 80, protocol: 'TCP', nodePort: 30180 }], externalIPs: ['198.19.48.10'] },
    ],
    [
      'serviceaccount: secrets merge by name, labels merge',
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'customer', labels: { app: 'customer' } },
        secrets: [{ name: 'customer-token' }],
      },
      { metadata: { labels: { 'internet-egress': 'allowed' } }, secrets: [{ name: 'extra' }] },
      { group: '', kind: 'ServiceAccount' },
      (o) => [o.metadata.labels, o.secrets],
      [{ app: 'customer', 'internet-egress': 'allowed' }, [{ name: 'customer-token' }, { name: 'extra' }]],
    ],
    [
      'namespace: annotations merge and null deletes, metadata.finalizers merge, spec.finalizers replaced',
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'external-ns', annotations: { a: '1', b: '2' }, finalizers: ['x'] } as Json,
        spec: { finalizers: ['kubernetes'] },
      },
      {
        metadata: {
          annotations: { a: null, 'cni.projectcalico.org/ipv4pools': '["external-pool"]' },
          finalizers: ['y'],
        },
        spec: { finalizers: [] },
      },
      { group: '', kind: 'Namespace' },
      (o) => [o.metadata.annotations, o.metadata.finalizers, o.spec.finalizers],
      [{ b: '2', 'cni.projectcalico.org/ipv4pools': '["external-pool"]' }, ['x', 'y'], []],
    ],
    [
      'ownerReferences merge by uid',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', ownerReferences: [{ uid: 'u1', name: 'rs1', kind: 'ReplicaSet' }] } as Json,
      },
      { metadata: { ownerReferences: [{ uid: 'u2', name: 'rs2', kind: 'ReplicaSet' }] } },
      POD,
      (o) => o.metadata.ownerReferences.map((r: Json) => r.uid),
      ['u1', 'u2'],
    ],
    [
      'pod status conditions merge by type',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p' },
        status: {
          conditions: [
            { type: 'Ready', status: 'False' },
            { type: 'PodScheduled', status: 'True' },
          ],
        },
      },
      { status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      POD,
      (o) => o.status.conditions,
      [
        { type: 'Ready', status: 'True' },
        { type: 'PodScheduled', status: 'True' },
      ],
    ],
    [
      'new map from the patch drops nulls and directives',
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } },
      { spec: { containers: [{ name: 'a', env: [{ name: 'X', value: null }] }], nodeSelector: { a: 'b', c: null } } },
      POD,
      (o) => o.spec,
      { containers: [{ name: 'a', env: [{ name: 'X' }] }], nodeSelector: { a: 'b' } },
    ],
    [
      'custom resources behave like JSON merge patch (lists replaced)',
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'x' },
        spec: { ingress: [{ action: 'Allow' }], order: 10 },
      },
      { spec: { ingress: [{ action: 'Deny' }], order: null } },
      { group: 'projectcalico.org', kind: 'GlobalNetworkPolicy' },
      (o) => o.spec,
      { ingress: [{ action: 'Deny' }] },
    ],
  ]
  for (const [name, target, patch, kind, pick, want] of cases) {
    const before = deepClone(target)
    t.same(pick(strategicMergePatch(target, patch, kind)), want, name)
    t.same(target, before, `${name}: target not modified`)
  }
  t.end()
})

t.test('strategic merge: malformed patches are 400', (t) => {
  const bad: [string, unknown][] = [
    ['not an object', [1, 2]],
    ['element without merge key', { spec: { template: { spec: { containers: [{ image: 'x' }] } } } }],
    ['unknown $patch', { spec: { $patch: 'frob' } }],
    ['$setElementOrder not a list', { spec: { template: { spec: { '$setElementOrder/containers': 'x' } } } }],
    ['$retainKeys not matching patch', { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } }],
  ]
  for (const [name, patch] of bad) {
    t.equal(
      codeOf(() => strategicMergePatch(customerDeployment(), patch, DEPLOY)),
      400,
      name,
    )
  }
  try {
    strategicMergePatch(
      customerDeployment(),
      { spec: { template: { spec: { containers: [{ image: 'x' }] } } } },
      DEPLOY,
    )
  } catch (e) {
    t.match((e as ApiError).status.message, 'does not contain declared merge key: name')
  }
  t.end()
})

t.test('createTwoWayMergePatch', (t) => {
  t.same(createTwoWayMergePatch({ a: 1, b: { c: 2, d: 3 } }, { a: 1, b: { c: 2, d: 4 }, e: [1] }), {
    b: { d: 4 },
    e: [1],
  })
  t.same(createTwoWayMergePatch({ a: 1, b: 2 }, { a: 1 }), { b: null })
  t.same(createTwoWayMergePatch({ a: [1, 2] }, { a: [1] }), { a: [1] })
  t.same(createTwoWayMergePatch({ a: 1 }, { a: 1 }), {})
  t.end()
})

t.test('property: jsonMergePatch(a, createTwoWayMergePatch(a, b)) equals b', (t) => {
  // Merge patches cannot express a null value (null means delete), so the generated JSON has none.
  const { json } = fc.letrec((tie) => ({
    json: fc.oneof(
      { depthSize: 'small' },
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.array(tie('json'), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 4 }), tie('json'), { maxKeys: 4 }),
    ),
  }))
  const obj = fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 5 })
  const seed = 20260411
  fc.assert(
    fc.property(obj, obj, (a, b) => {
      const patch = createTwoWayMergePatch(a, b)
      return deepEqual(jsonMergePatch(a, patch), b)
    }),
    { seed, numRuns: 300 },
  )
  t.pass(`300 random pairs (seed ${seed})`)
  t.end()
})
