import t from 'tap'
import type { KubeObject, ResourceInfo } from '../src/resources/meta.ts'
import { builtinResources, findResource } from '../src/resources/table.ts'
import { applyDefaults, validateObject } from '../src/resources/validate.ts'

const table = builtinResources()
function info(apiVersion: string, kind: string): ResourceInfo {
  const i = findResource(table, apiVersion, kind)
  if (i === undefined) throw new Error(`no ${apiVersion} ${kind}`)
  return i
}
// biome-ignore lint/suspicious/noExplicitAny: test access into defaulted JSON
type AnyObj = any

t.test('Service defaults', async (t) => {
  const i = info('v1', 'Service')
  const obj: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'summary', namespace: 'yaobank' },
    spec: {
      ports: [
        { port: 80, name: 'http' },
        { port: 53, name: 'dns', protocol: 'UDP', targetPort: 5353 },
      ],
      selector: { app: 'summary' },
    },
  }
  const d = applyDefaults(i, obj) as AnyObj
  t.equal(d.spec.type, 'ClusterIP')
  t.equal(d.spec.sessionAffinity, 'None')
  t.equal(d.spec.internalTrafficPolicy, 'Cluster')
  t.same(d.spec.ipFamilies, ['IPv4'])
  t.equal(d.spec.ipFamilyPolicy, 'SingleStack')
  t.same(d.spec.ports, [
    { port: 80, name: 'http', protocol: 'TCP', targetPort: 80 },
    { port: 53, name: 'dns', protocol: 'UDP', targetPort: 5353 },
  ])
  t.equal(d.spec.externalTrafficPolicy, undefined, 'no externalTrafficPolicy for ClusterIP')
  t.not(d, obj, 'a new object')
  t.equal((obj.spec as AnyObj).type, undefined, 'input untouched')
  const np = applyDefaults(i, { ...obj, spec: { type: 'NodePort', ports: [{ port: 80 }] } }) as AnyObj
  t.equal(np.spec.externalTrafficPolicy, 'Cluster')
  t.same(validateObject(i, d), [])
})

t.test('Pod defaults', async (t) => {
  const i = info('v1', 'Pod')
  const d = applyDefaults(i, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      serviceAccountName: 'summary',
      containers: [
        { name: 'a', image: 'nginx', ports: [{ containerPort: 80 }] },
        { name: 'b', image: 'nginx:latest' },
        { name: 'c', image: 'calico/yaobank-summary:multiarch' },
        { name: 'd', image: 'registry:5000/x' },
        { name: 'e', image: 'x@sha256:abc', imagePullPolicy: 'Never' },
      ],
    },
  }) as AnyObj
  t.equal(d.spec.restartPolicy, 'Always')
  t.equal(d.spec.dnsPolicy, 'ClusterFirst')
  t.equal(d.spec.schedulerName, 'default-scheduler')
  t.equal(d.spec.terminationGracePeriodSeconds, 30)
  t.equal(d.spec.serviceAccount, 'summary')
  t.same(
    d.spec.containers.map((c: AnyObj) => c.imagePullPolicy),
    ['Always', 'Always', 'IfNotPresent', 'Always', 'Never'],
  )
  t.equal(d.spec.containers[0].terminationMessagePath, '/dev/termination-log')
  t.equal(d.spec.containers[0].terminationMessagePolicy, 'File')
  t.same(d.spec.containers[0].ports, [{ containerPort: 80, protocol: 'TCP' }])
  t.same(validateObject(i, d), [])
})

t.test('Deployment defaults include the pod template', async (t) => {
  const i = info('apps/v1', 'Deployment')
  const d = applyDefaults(i, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'a' } },
      template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
    },
  }) as AnyObj
  t.equal(d.spec.replicas, 1)
  t.same(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } })
  t.equal(d.spec.revisionHistoryLimit, 10)
  t.equal(d.spec.progressDeadlineSeconds, 600)
  t.equal(d.spec.template.spec.restartPolicy, 'Always')
  t.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent')
  const recreate = applyDefaults(i, { ...d, spec: { ...d.spec, strategy: { type: 'Recreate' } } }) as AnyObj
  t.same(recreate.spec.strategy, { type: 'Recreate' })
  const ds = applyDefaults(info('apps/v1', 'DaemonSet'), {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'x' },
    spec: { selector: {}, template: { spec: { containers: [] } } },
  }) as AnyObj
  t.same(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } })
})

t.test('IPPool defaults', async (t) => {
  const i = info('projectcalico.org/v3', 'IPPool')
  const d = applyDefaults(i, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'p' },
    spec: { cidr: '198.19.16.5/21', natOutgoing: true },
  }) as AnyObj
  t.same(d.spec, {
    cidr: '198.19.16.0/21',
    natOutgoing: true,
    blockSize: 26,
    ipipMode: 'Never',
    vxlanMode: 'Never',
    nodeSelector: 'all()',
    allowedUses: ['Workload', 'Tunnel'],
  })
  const ext = applyDefaults(i, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'external-pool' },
    spec: { cidr: '198.19.24.0/21', blockSize: 29, nodeSelector: '!all()' },
  }) as AnyObj
  t.equal(ext.spec.blockSize, 29)
  t.equal(ext.spec.nodeSelector, '!all()')
})

t.test('Calico policy types defaulting (calico.md 1.1)', async (t) => {
  const i = info('projectcalico.org/v3', 'GlobalNetworkPolicy')
  const mk = (spec: object): AnyObj =>
    applyDefaults(i, { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'g' }, spec })
  const rule = { action: 'Allow' }
  t.same(mk({}).spec.types, ['Ingress'])
  t.same(mk({ ingress: [rule] }).spec.types, ['Ingress'])
  t.same(mk({ egress: [rule] }).spec.types, ['Egress'])
  t.same(mk({ ingress: [rule], egress: [rule] }).spec.types, ['Ingress', 'Egress'])
  t.same(mk({ types: ['Egress'], ingress: [rule] }).spec.types, ['Egress'], 'explicit types kept')
  const np = applyDefaults(info('projectcalico.org/v3', 'NetworkPolicy'), {
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: 'n', namespace: 'x' },
    spec: { egress: [rule] },
  }) as AnyObj
  t.same(np.spec.types, ['Egress'])
})

t.test('Kubernetes NetworkPolicy policyTypes', async (t) => {
  const i = info('networking.k8s.io/v1', 'NetworkPolicy')
  const mk = (spec: object): AnyObj =>
    applyDefaults(i, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'n' }, spec })
  t.same(mk({ podSelector: {} }).spec.policyTypes, ['Ingress'])
  t.same(mk({ podSelector: {}, egress: [{ to: [] }] }).spec.policyTypes, ['Ingress', 'Egress'])
  t.same(mk({ podSelector: {}, egress: [] }).spec.policyTypes, ['Ingress'])
  t.same(mk({ podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] }).spec.ingress[0].ports[0], {
    port: 80,
    protocol: 'TCP',
  })
})

t.test('kinds without server-side defaults are returned unchanged (as a copy)', async (t) => {
  const i = info('projectcalico.org/v3', 'BGPPeer')
  const obj: KubeObject = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'BGPPeer',
    metadata: { name: 'bgppeer-global-host1' },
    spec: { peerIP: '198.19.15.254', asNumber: 64512 },
  }
  const d = applyDefaults(i, obj)
  t.same(d, obj)
  t.not(d.spec, obj.spec)
  const sec = info('v1', 'Secret')
  t.same(applyDefaults(sec, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's' },
  })
})

t.test('built-in table', async (t) => {
  const a = builtinResources()
  const b = builtinResources()
  t.not(a, b)
  t.not(a[0], b[0])
  t.same(a, b)
  const pods = findResource(a, 'v1', 'Pod')
  t.match(pods, {
    plural: 'pods',
    singular: 'pod',
    shortNames: ['po'],
    namespaced: true,
    modeled: true,
    categories: ['all'],
  })
  t.ok(pods?.subresources.includes('log') && pods.subresources.includes('exec') && pods.subresources.includes('status'))
  t.match(findResource(a, 'apps/v1', 'Deployment'), { shortNames: ['deploy'], subresources: ['status', 'scale'] })
  t.match(findResource(a, 'apiextensions.k8s.io/v1', 'CustomResourceDefinition'), {
    shortNames: ['crd', 'crds'],
    modeled: false,
  })
  t.match(findResource(a, 'projectcalico.org/v3', 'NetworkPolicy'), {
    shortNames: ['cnp', 'caliconetworkpolicy', 'caliconetworkpolicies'],
    namespaced: true,
  })
  t.match(findResource(a, 'projectcalico.org/v3', 'Node'), { plural: 'nodes', namespaced: false, modeled: true })
  t.match(findResource(a, 'projectcalico.org/v3', 'Profile'), { modeled: false })
  t.match(findResource(a, 'operator.tigera.io/v1', 'Installation'), { plural: 'installations', modeled: true })
  t.match(findResource(a, 'operator.tigera.io/v1', 'APIServer'), { plural: 'apiservers', modeled: false })
  const keys = a.map((r) => `${r.group}/${r.version}/${r.plural}`)
  t.equal(new Set(keys).size, keys.length, 'no duplicate group/version/plural')
  // One kind is served at two versions from the same storage: HPAs (autoscaling/v2 preferred, then v1).
  const multi = a.filter((r) => a.some((o) => o !== r && o.group === r.group && o.plural === r.plural))
  t.same(
    multi.map((r) => `${r.group}/${r.version}/${r.plural}`),
    ['autoscaling/v2/horizontalpodautoscalers', 'autoscaling/v1/horizontalpodautoscalers'],
  )
  for (const r of a) t.equal(r.listKind, `${r.kind}List`)
})
