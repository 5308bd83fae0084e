import { seededRng, silentLogger } from '@calilab/kit'
import t from 'tap'
import { type RunningApiServer, startApiServer } from '../src/server.ts'
import { k8sEnvelope, mapEntries } from './fixtures/protobuf-encode.ts'

/** Protobuf request bodies over HTTP: decoded, stored, and bad ones answered with a Status. */

let s: RunningApiServer
t.before(async () => {
  s = await startApiServer({ port: 0, log: silentLogger(), rng: seededRng(11), controllers: false })
})
t.teardown(async () => {
  await s.close()
})

const PB = {
  'Content-Type': 'application/vnd.kubernetes.protobuf',
  Accept: 'application/vnd.kubernetes.protobuf,application/json',
}

async function send(method: string, path: string, body: Uint8Array, headers = PB) {
  const r = await fetch(`${s.url}${path}`, { method, headers, body })
  const text = await r.text()
  return { status: r.status, type: r.headers.get('content-type'), json: JSON.parse(text) as Record<string, unknown> }
}

const deployment = (name: string, replicas: number) =>
  k8sEnvelope('apps/v1', 'Deployment', [
    [1, [[1, name]]],
    [
      2,
      [
        [1, replicas],
        [2, mapEntries(1, { app: name })],
        [
          3,
          [
            [1, mapEntries(11, { app: name })],
            [
              2,
              [
                [
                  2,
                  [
                    [1, 'c'],
                    [2, 'nginx'],
                  ],
                ],
              ],
            ],
          ],
        ],
      ],
    ],
  ])

t.test('POST protobuf: 201 with the object as JSON, stored as decoded', async (t) => {
  const r = await send(
    'POST',
    '/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-create',
    deployment('pb', 2),
  )
  t.equal(r.status, 201)
  t.match(r.type, /^application\/json/)
  t.match(r.json, { kind: 'Deployment', metadata: { name: 'pb', namespace: 'default' }, spec: { replicas: 2 } })
  const info = s.api.resources.resolve('deployments')!
  const o = s.api.get(info, 'default', 'pb') as { spec: { template: { spec: { containers: { image: string }[] } } } }
  t.equal(o.spec.template.spec.containers[0]?.image, 'nginx')
})

t.test('PUT a protobuf Scale: replicas 0 is kept', async (t) => {
  const scale = k8sEnvelope('autoscaling/v1', 'Scale', [
    [1, [[1, 'pb']]],
    [2, [[1, 0]]],
  ])
  const r = await send('PUT', '/apis/apps/v1/namespaces/default/deployments/pb/scale', scale)
  t.equal(r.status, 200)
  t.match(r.json, { kind: 'Scale', spec: { replicas: 0 } })
})

t.test('DELETE with protobuf DeleteOptions', async (t) => {
  const opts = k8sEnvelope('meta.k8s.io/v1', 'DeleteOptions', [[4, 'Background']])
  const r = await send('DELETE', '/apis/apps/v1/namespaces/default/deployments/pb', opts)
  t.equal(r.status, 200)
})

t.test('bad protobuf bodies get a Status naming what was wrong', async (t) => {
  const unknown = await send(
    'POST',
    '/api/v1/namespaces/default/configmaps',
    k8sEnvelope('v1', 'ConfigMap', [
      [1, [[1, 'x']]],
      [42, 'what'],
    ]),
  )
  t.equal(unknown.status, 415)
  t.match(unknown.json, { kind: 'Status', reason: 'UnsupportedMediaType', code: 415 })
  t.match(unknown.json['message'], /field 42 .* of message ConfigMap/)

  const whole = k8sEnvelope('v1', 'ConfigMap', [[1, [[1, 'x']]], ...mapEntries(2, { a: 'b' })])
  const cut = await send('POST', '/api/v1/namespaces/default/configmaps', whole.subarray(0, whole.length - 9))
  t.equal(cut.status, 400)
  t.match(cut.json, { kind: 'Status', reason: 'BadRequest' })
  t.match(cut.json['message'], /^protobuf request body: /)

  const kind = await send('POST', '/api/v1/namespaces/default/configmaps', k8sEnvelope('v1', 'Gadget', []))
  t.equal(kind.status, 415)
  t.match(kind.json['message'], /"Gadget"/)
  t.throws(() => s.api.get(s.api.resources.resolve('configmaps')!, 'default', 'x'), 'nothing was stored')
})
