import t from 'tap'
import {
  buildSchema,
  createProtobufDecoder,
  kubernetesProtobufSchema,
  PROTOBUF_ERRORS,
  ProtobufError,
  parseField,
} from '../src/core/protobuf/index.ts'
import { k8sEnvelope, mapEntries, type PbField, pb } from './fixtures/protobuf-encode.ts'

const dec = createProtobufDecoder()

/** What kubectl 1.32 sent for `kubectl create namespace demo` (captured). */
const NAMESPACE_DEMO = Buffer.from(
  '6b3873000a0f0a02763112094e616d657370616365121c0a140a0464656d6f12001a0022002a0032003800420012001a020a001a002200',
  'hex',
)
/** `kubectl create configmap cm1 --from-literal=a=b --from-literal=c=d` (captured). */
const CONFIGMAP_CM1 = Buffer.from(
  '6b3873000a0f0a0276311209436f6e6669674d617012250a130a03636d3112001a0022002a0032003800420012060a016112016212060a01631201641a002200',
  'hex',
)

function ok(body: Uint8Array): Record<string, unknown> {
  const r = dec.decodeObject(body)
  if (!r.ok) throw new Error(`decode failed: ${r.error.code} ${r.error.message}`)
  return r.value
}

function fail(body: Uint8Array): ProtobufError {
  const r = dec.decodeObject(body)
  if (r.ok) throw new Error(`decode unexpectedly succeeded: ${JSON.stringify(r.value)}`)
  return r.error
}

/** ObjectMeta the way Go writes it: every value field, even empty. */
function meta(name: string, extra: PbField[] = []): PbField[] {
  return [[1, name], [2, ''], [3, ''], [4, ''], [5, ''], [6, ''], [7, 0], [8, []], ...extra]
}

t.test('the captured namespace body decodes to what the JSON path would give', async (t) => {
  t.same(ok(NAMESPACE_DEMO), { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'demo' }, spec: {}, status: {} })
})

t.test('maps: configmap data, secret bytes as base64, labels', async (t) => {
  t.same(ok(CONFIGMAP_CM1), {
    kind: 'ConfigMap',
    apiVersion: 'v1',
    metadata: { name: 'cm1' },
    data: { a: 'b', c: 'd' },
  })
  const secret = k8sEnvelope('v1', 'Secret', [
    [1, meta('s1', mapEntries(11, { app: 'x', tier: 'fe' }))],
    ...mapEntries(2, { pw: Buffer.from('secret'), bin: Uint8Array.of(0, 255) }),
    [3, 'Opaque'],
  ])
  t.same(ok(secret), {
    kind: 'Secret',
    apiVersion: 'v1',
    metadata: { name: 's1', labels: { app: 'x', tier: 'fe' } },
    data: { pw: Buffer.from('secret').toString('base64'), bin: 'AP8=' },
    type: 'Opaque',
  })
})

t.test('nested and repeated: a deployment with replicas 0, ports, env, resources, probes, volumes', async (t) => {
  const container: PbField[] = [
    [1, 'web'],
    [2, 'nginx:1.25'],
    [3, 'sh'],
    [3, '-c'],
    [4, 'sleep 1'],
    [
      6,
      [
        [1, 'http'],
        [2, 0],
        [3, 80],
        [4, 'TCP'],
        [5, ''],
      ],
    ],
    [
      7,
      [
        [1, 'A'],
        [2, 'B'],
      ],
    ],
    [8, [...mapEntries(1, { cpu: [[1, '500m']] }), ...mapEntries(2, { memory: [[1, '64Mi']] })]],
    [
      10,
      [
        [
          1,
          [
            [
              2,
              [
                [1, '/healthz'],
                [
                  2,
                  [
                    [1, 1],
                    [2, 0],
                    [3, 'http'],
                  ],
                ],
              ],
            ],
          ],
        ],
        [4, 5],
      ],
    ],
    [14, 'IfNotPresent'],
    [
      9,
      [
        [1, 'cfg'],
        [2, false],
        [3, '/etc/cfg'],
      ],
    ],
  ]
  const podSpec: PbField[] = [
    [
      1,
      [
        [1, 'cfg'],
        [2, [[19, [[1, [[1, 'app-config']]]]]]],
      ],
    ],
    [2, container],
    [3, 'Always'],
    [4, 30],
    [6, 'ClusterFirst'],
    [21, false],
    [25, -5],
  ]
  const body = k8sEnvelope('apps/v1', 'Deployment', [
    [1, meta('web', [[8, [[1, 1_700_000_000]]]])],
    [
      2,
      [
        [1, 0],
        [2, mapEntries(1, { app: 'web' })],
        [
          3,
          [
            [1, meta('', mapEntries(11, { app: 'web' }))],
            [2, podSpec],
          ],
        ],
        [
          4,
          [
            [1, 'RollingUpdate'],
            [
              2,
              [
                [
                  1,
                  [
                    [1, 1],
                    [3, '25%'],
                  ],
                ],
                [2, [[2, 1]]],
              ],
            ],
          ],
        ],
      ],
    ],
    [3, []],
  ])
  t.same(ok(body), {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    metadata: { name: 'web', creationTimestamp: '2023-11-14T22:13:20Z' },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          volumes: [{ name: 'cfg', configMap: { name: 'app-config' } }],
          containers: [
            {
              name: 'web',
              image: 'nginx:1.25',
              command: ['sh', '-c'],
              args: ['sleep 1'],
              ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
              env: [{ name: 'A', value: 'B' }],
              resources: { limits: { cpu: '500m' }, requests: { memory: '64Mi' } },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
              imagePullPolicy: 'IfNotPresent',
              volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }],
            },
          ],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          automountServiceAccountToken: false,
          priority: -5,
        },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: 1 } },
    },
    status: {},
  })
})

t.test('packed repeated scalars are accepted', async (t) => {
  const psc = pb([[4, Uint8Array.from([1, 2, 0xe8, 0x07])]])
  const r = dec.decodeMessageBytes('PodSecurityContext', psc)
  t.ok(r.ok)
  if (r.ok) t.same(r.value, { supplementalGroups: [1, 2, 1000] })
})

t.test('errors: unknown field, unknown kind, truncation, bad magic, wrong wire type', async (t) => {
  const unknownField = fail(k8sEnvelope('v1', 'Pod', [[2, [[99, 'x']]]]))
  t.equal(unknownField.code, 'PB_UNKNOWN_FIELD')
  t.equal(unknownField.http, 415)
  t.match(unknownField.message, /field 99 .* of message PodSpec/)

  const kind = fail(k8sEnvelope('example.com/v1', 'Widget', []))
  t.equal(kind.code, 'PB_UNKNOWN_KIND')
  t.equal(kind.http, 415)
  t.match(kind.message, /"Widget" \(apiVersion "example.com\/v1"\)/)

  // Every cut inside the object is malformed; the envelope's last two (empty, optional) fields may go.
  for (let cut = 5; cut < NAMESPACE_DEMO.length - 4; cut += 3) {
    const e = fail(NAMESPACE_DEMO.subarray(0, cut))
    t.equal(e.http, 400, `cut at ${cut}: ${e.message}`)
  }
  t.equal(fail(NAMESPACE_DEMO.subarray(0, 20)).code, 'PB_TRUNCATED')

  t.equal(fail(Buffer.from('{"kind":"Namespace"}')).code, 'PB_BAD_MAGIC')
  t.equal(fail(Buffer.alloc(0)).code, 'PB_BAD_MAGIC')

  const wrongWire = fail(k8sEnvelope('apps/v1', 'Deployment', [[2, [[1, 'three']]]]))
  t.equal(wrongWire.code, 'PB_BAD_WIRE_TYPE')
  t.match(wrongWire.message, /DeploymentSpec field 1 \(replicas\): expected varint, got length-delimited/)

  const longVarint = Buffer.concat([NAMESPACE_DEMO.subarray(0, 4), Buffer.from([0x08, ...Array(11).fill(0xff)])])
  t.equal(fail(longVarint).http, 400)
})

t.test('fuzz: garbage and mutated bodies end in a ProtobufError, never another exception', async (t) => {
  const seed = 0x5eed1234
  t.comment(`seed ${seed}`)
  let x = seed
  const rnd = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x
  }
  let decoded = 0
  for (let i = 0; i < 3000; i++) {
    let b: Buffer
    if (i % 2 === 0) {
      b = Buffer.from(i % 4 === 0 ? NAMESPACE_DEMO : CONFIGMAP_CM1)
      for (let k = 0; k < 1 + (rnd() % 3); k++) b[4 + (rnd() % (b.length - 4))] = rnd() & 0xff
    } else {
      b = Buffer.alloc(rnd() % 64)
      for (let k = 0; k < b.length; k++) b[k] = rnd() & 0xff
      if (i % 3 === 0) Buffer.from([0x6b, 0x38, 0x73, 0x00]).copy(b)
    }
    const r = dec.decodeObject(b)
    if (r.ok) decoded++
    else if (!(r.error instanceof ProtobufError) || !(r.error.code in PROTOBUF_ERRORS))
      t.fail(`bad error for ${b.toString('hex')}`)
  }
  t.pass(`3000 inputs, ${decoded} decoded`)
})

t.test('schema table: builds, every kind resolves, bad specs are rejected', async (t) => {
  const s = kubernetesProtobufSchema()
  for (const [kind, type] of s.kinds) t.ok(s.messages.has(type), kind)
  t.same(parseField('4:items:[KeyToPath]'), {
    number: 4,
    name: 'items',
    value: { kind: 'message', name: 'KeyToPath' },
    repeated: true,
    map: false,
    pointer: false,
  })
  t.equal(parseField('1:replicas:i32?').pointer, true)
  t.equal(parseField('2:data:{by}').map, true)
  t.throws(() => parseField('x:name'))
  t.throws(() => parseField('1:name:bogus'))
  t.throws(() => buildSchema([{ A: '1:b:Missing' }], {}), /undefined type Missing/)
  t.throws(() => buildSchema([{ A: '1:b 1:c' }], {}), /twice/)
})
