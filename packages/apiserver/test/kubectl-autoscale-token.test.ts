import t, { type Test } from 'tap'
import { haveKubectl, header, KUBECTL_120, KUBECTL_132, type Lab, type Run, startLab } from './kubectl-harness.ts'

/**
 * `kubectl autoscale` (an autoscaling/v1 HPA: protobuf from 1.32, JSON from 1.20) served from the
 * one stored autoscaling/v2 object, and `kubectl create token` (1.32 only: 1.20 lacks it).
 */

// biome-ignore lint/suspicious/noExplicitAny: a test walks kubectl's JSON freely
type Any = any

function exitsZero(t: Test, r: Run, what: string): void {
  t.equal(r.code, 0, `${what} exits 0${r.code ? `: ${r.stderr}` : ''}`)
}

function autoscaleSuite(bin: string, version: string): void {
  t.test(`kubectl ${version} autoscale, get hpa in v1 and v2, delete`, async (t) => {
    const lab: Lab = await startLab(bin)
    t.teardown(() => lab.close())
    exitsZero(t, await lab.kubectl(['create', 'namespace', 'demo']), 'create namespace')
    exitsZero(t, await lab.kubectl(['create', 'deployment', 'web', '-n', 'demo', '--image=nginx']), 'create deployment')

    const as = await lab.kubectl([
      'autoscale',
      'deployment',
      'web',
      '-n',
      'demo',
      '--min=1',
      '--max=3',
      '--cpu-percent=50',
    ])
    exitsZero(t, as, 'autoscale')
    t.match(as.stdout.trim(), /^horizontalpodautoscaler\.autoscaling\/web autoscaled$/)

    const get = await lab.kubectl(['get', 'hpa', '-n', 'demo'])
    exitsZero(t, get, 'get hpa')
    t.equal(header(get.stdout), 'NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE')
    t.match(get.stdout.split('\n')[1], /^web\s+Deployment\/web\s+cpu: <unknown>\/50%\s+1\s+3\s+0\s+\d+s$/)

    // One stored object, two views. (kubectl expands a short name to the preferred version: the
    // v1 view needs the full resource name.)
    const asV1 = await lab.kubectl([
      'get',
      'horizontalpodautoscalers.v1.autoscaling',
      'web',
      '-n',
      'demo',
      '-o',
      'json',
    ])
    exitsZero(t, asV1, 'get hpa v1 -o json')
    const o1 = JSON.parse(asV1.stdout) as Any
    t.equal(o1.apiVersion, 'autoscaling/v1')
    t.same(o1.spec, {
      maxReplicas: 3,
      minReplicas: 1,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      targetCPUUtilizationPercentage: 50,
    })
    const asV2 = await lab.kubectl(['get', 'hpa.v2.autoscaling', 'web', '-n', 'demo', '-o', 'yaml'])
    exitsZero(t, asV2, 'get hpa.v2 -o yaml')
    t.match(asV2.stdout, /^apiVersion: autoscaling\/v2$/m)
    t.match(
      asV2.stdout,
      /metrics:\n {2}- resource:\n {6}name: cpu\n {6}target:\n {8}averageUtilization: 50\n {8}type: Utilization\n {4}type: Resource/,
    )
    t.notMatch(asV2.stdout, /targetCPUUtilizationPercentage/)
    const o2 = JSON.parse(
      (await lab.kubectl(['get', 'hpa.v2.autoscaling', 'web', '-n', 'demo', '-o', 'json'])).stdout,
    ) as Any
    t.equal(o2.metadata.uid, o1.metadata.uid, 'the same object')
    t.equal(o2.metadata.resourceVersion, o1.metadata.resourceVersion)

    // A v1 patch lands in the v2 metric.
    const patch = await lab.kubectl([
      'patch',
      'horizontalpodautoscalers.v1.autoscaling',
      'web',
      '-n',
      'demo',
      '--type=merge',
      '-p',
      '{"spec":{"targetCPUUtilizationPercentage":70}}',
    ])
    exitsZero(t, patch, 'patch v1')
    const info = lab.server.api.resources.byKind('autoscaling/v2', 'HorizontalPodAutoscaler')
    if (!info) throw new Error('no autoscaling/v2 HPA')
    const stored = lab.server.api.get(info, 'demo', 'web') as Any
    t.same(stored.spec.metrics, [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
    ])
    t.equal(stored.metadata.generation, 2)

    const del = await lab.kubectl(['delete', 'hpa', 'web', '-n', 'demo'])
    exitsZero(t, del, 'delete hpa')
    t.match(del.stdout, /horizontalpodautoscaler\.autoscaling "web" deleted/)
    const gone = await lab.kubectl(['get', 'hpa', '-n', 'demo'])
    t.match(gone.stdout + gone.stderr, /No resources found in demo namespace/)
  })
}

function decodePart(part: string | undefined): Any {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'))
}

t.test('kubectl 1.32 create token', { skip: haveKubectl(KUBECTL_132) ? false : 'no kubectl 1.32' }, async (t) => {
  const lab = await startLab(KUBECTL_132)
  t.teardown(() => lab.close())
  exitsZero(t, await lab.kubectl(['create', 'namespace', 'demo']), 'create namespace')
  exitsZero(t, await lab.kubectl(['create', 'serviceaccount', 'bot', '-n', 'demo']), 'create sa')
  const before = Math.floor(Date.now() / 1000)
  const r = await lab.kubectl(['create', 'token', 'bot', '-n', 'demo', '--duration', '10m'])
  exitsZero(t, r, 'create token')
  const parts = r.stdout.trim().split('.')
  t.equal(parts.length, 3, 'header.payload.signature')
  for (const p of parts) t.match(p, /^[A-Za-z0-9_-]+$/, 'base64url without padding')
  t.match(decodePart(parts[0]), { alg: 'RS256', kid: String })
  const c = decodePart(parts[1])
  const sa = lab.server.api.get(lab.server.api.resources.resolve('serviceaccounts') as Any, 'demo', 'bot')
  t.equal(c.sub, 'system:serviceaccount:demo:bot')
  t.equal(c.iss, 'https://kubernetes.default.svc.cluster.local')
  t.same(c.aud, ['https://kubernetes.default.svc.cluster.local'])
  t.same(c['kubernetes.io'], { namespace: 'demo', serviceaccount: { name: 'bot', uid: sa.metadata.uid } })
  t.equal(c.exp - c.iat, 600)
  t.equal(c.nbf, c.iat)
  t.ok(c.iat >= before - 1 && c.iat <= Math.floor(Date.now() / 1000) + 1, 'issued now')

  const aud = await lab.kubectl(['create', 'token', 'bot', '-n', 'demo', '--audience', 'vault', '-o', 'json'])
  exitsZero(t, aud, 'create token --audience -o json')
  const tr = JSON.parse(aud.stdout) as Any
  t.equal(tr.kind, 'TokenRequest')
  t.equal(tr.spec.expirationSeconds, 3600, 'defaults to an hour')
  t.same(decodePart(tr.status.token.split('.')[1]).aud, ['vault'])
  t.match(tr.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)

  const missing = await lab.kubectl(['create', 'token', 'nobody', '-n', 'demo'])
  t.not(missing.code, 0)
  t.match(missing.stderr, /error: failed to create token: serviceaccounts "nobody" not found/)

  const short = await lab.kubectl(['create', 'token', 'bot', '-n', 'demo', '--duration', '1s'])
  t.not(short.code, 0)
  t.match(
    short.stderr,
    'error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 1: may not specify a duration less than 10 minutes',
  )
})

if (haveKubectl(KUBECTL_132)) autoscaleSuite(KUBECTL_132, '1.32')
else t.test('kubectl 1.32', { skip: `kubectl 1.32 not found at ${KUBECTL_132}` }, () => {})
if (haveKubectl(KUBECTL_120)) autoscaleSuite(KUBECTL_120, '1.20')
else t.test('kubectl 1.20', { skip: `kubectl 1.20 not found at ${KUBECTL_120}` }, () => {})
