import t from 'tap'
import type { FieldErrorType, KubeObject, ResourceInfo } from '../src/resources/meta.ts'
import { formatFieldError } from '../src/resources/meta.ts'
import { builtinResources, findResource } from '../src/resources/table.ts'
import { validateObject } from '../src/resources/validate.ts'

const table = builtinResources()
function info(apiVersion: string, kind: string): ResourceInfo {
  const i = findResource(table, apiVersion, kind)
  if (i === undefined) throw new Error(`no ${apiVersion} ${kind}`)
  return i
}

type Spec = Record<string, unknown>
const pod = (spec: Spec, meta: Record<string, unknown> = { name: 'p', namespace: 'default' }) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: meta,
  spec: { containers: [{ name: 'c', image: 'nginx' }], ...spec },
})
const svc = (spec: Spec, name = 'web') => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { ports: [{ port: 80 }], ...spec },
})
const ippool = (spec: Spec) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'IPPool',
  metadata: { name: 'p' },
  spec: { cidr: '198.19.16.0/21', ...spec },
})
const gnp = (spec: Spec) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: 'g' },
  spec,
})
const cnp = (spec: Spec) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name: 'n', namespace: 'default' },
  spec,
})
const knp = (spec: Spec) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'n', namespace: 'default' },
  spec: { podSelector: {}, ...spec },
})
const peer = (spec: Spec) => ({ apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'b' }, spec })
const deploy = (spec: Spec) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd', namespace: 'default' },
  spec: {
    selector: { matchLabels: { app: 'a' } },
    template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    ...spec,
  },
})
const allow = (extra: Spec = {}) => ({ action: 'Allow', ...extra })

/** [description, object, expected field, expected type] — the first error must match. */
const CASES: [string, Record<string, unknown>, string, FieldErrorType][] = [
  ['ippool prefix 33', ippool({ cidr: '198.19.0.0/33' }), 'spec.cidr', 'FieldValueInvalid'],
  ['ippool bad ip', ippool({ cidr: '198.19.0.300/24' }), 'spec.cidr', 'FieldValueInvalid'],
  ['ippool missing cidr', { ...ippool({}), spec: {} }, 'spec.cidr', 'FieldValueRequired'],
  ['ippool blockSize 19', ippool({ blockSize: 19 }), 'spec.blockSize', 'FieldValueInvalid'],
  ['ippool blockSize 33', ippool({ blockSize: 33 }), 'spec.blockSize', 'FieldValueInvalid'],
  ['ippool cidr smaller than block', ippool({ cidr: '198.19.16.0/28' }), 'spec.cidr', 'FieldValueInvalid'],
  ['ippool link local', ippool({ cidr: '169.254.0.0/20' }), 'spec.cidr', 'FieldValueInvalid'],
  ['ippool ipipMode', ippool({ ipipMode: 'Sometimes' }), 'spec.ipipMode', 'FieldValueNotSupported'],
  [
    'ippool ipip+vxlan',
    ippool({ ipipMode: 'Always', vxlanMode: 'CrossSubnet' }),
    'spec.vxlanMode',
    'FieldValueInvalid',
  ],
  ['ippool natOutgoing type', ippool({ natOutgoing: 'yes' }), 'spec.natOutgoing', 'FieldValueTypeInvalid'],
  ['ippool allowedUses', ippool({ allowedUses: ['Everything'] }), 'spec.allowedUses[0]', 'FieldValueNotSupported'],
  ['gnp action', gnp({ ingress: [{ action: 'Accept' }] }), 'spec.ingress[0].action', 'FieldValueNotSupported'],
  ['gnp missing action', gnp({ egress: [{ protocol: 'TCP' }] }), 'spec.egress[0].action', 'FieldValueRequired'],
  [
    'gnp protocol name',
    gnp({ ingress: [allow({ protocol: 'TCPX' })] }),
    'spec.ingress[0].protocol',
    'FieldValueNotSupported',
  ],
  ['gnp protocol 256', gnp({ ingress: [allow({ protocol: 256 })] }), 'spec.ingress[0].protocol', 'FieldValueInvalid'],
  [
    'gnp ports need tcp',
    gnp({ ingress: [allow({ protocol: 'ICMP', destination: { ports: [80] } })] }),
    'spec.ingress[0].protocol',
    'FieldValueInvalid',
  ],
  [
    'gnp ports need protocol',
    gnp({ ingress: [allow({ destination: { ports: [80] } })] }),
    'spec.ingress[0].protocol',
    'FieldValueInvalid',
  ],
  [
    'gnp port 0',
    gnp({ ingress: [allow({ protocol: 'TCP', destination: { ports: [80, 0] } })] }),
    'spec.ingress[0].destination.ports[1]',
    'FieldValueInvalid',
  ],
  [
    'gnp port range reversed',
    gnp({ ingress: [allow({ protocol: 'UDP', source: { ports: ['90:80'] } })] }),
    'spec.ingress[0].source.ports[0]',
    'FieldValueInvalid',
  ],
  [
    'gnp port range 65536',
    gnp({ ingress: [allow({ protocol: 'UDP', destination: { notPorts: ['1:65536'] } })] }),
    'spec.ingress[0].destination.notPorts[0]',
    'FieldValueInvalid',
  ],
  [
    'gnp icmp code without type',
    gnp({ ingress: [allow({ protocol: 'ICMP', icmp: { code: 1 } })] }),
    'spec.ingress[0].icmp.code',
    'FieldValueInvalid',
  ],
  [
    'gnp icmp type 255',
    gnp({ ingress: [allow({ protocol: 'ICMP', icmp: { type: 255 } })] }),
    'spec.ingress[0].icmp.type',
    'FieldValueInvalid',
  ],
  [
    'gnp bad net',
    gnp({ egress: [allow({ destination: { nets: ['10.0.0.0/8', '10.0.0/8'] } })] }),
    'spec.egress[0].destination.nets[1]',
    'FieldValueInvalid',
  ],
  ['gnp bad selector', gnp({ selector: 'app == "x' }), 'spec.selector', 'FieldValueInvalid'],
  [
    'gnp bad rule selector',
    gnp({ ingress: [allow({ source: { selector: 'has(x' } })] }),
    'spec.ingress[0].source.selector',
    'FieldValueInvalid',
  ],
  ['gnp types', gnp({ types: ['Inbound'] }), 'spec.types[0]', 'FieldValueNotSupported'],
  [
    'gnp preDNAT+doNotTrack',
    gnp({ preDNAT: true, doNotTrack: true, applyOnForward: true }),
    'spec.preDNAT',
    'FieldValueInvalid',
  ],
  [
    'gnp preDNAT egress',
    gnp({ preDNAT: true, applyOnForward: true, egress: [allow()] }),
    'spec.egress',
    'FieldValueInvalid',
  ],
  [
    'gnp preDNAT Egress type',
    gnp({ preDNAT: true, applyOnForward: true, types: ['Egress'] }),
    'spec.types',
    'FieldValueInvalid',
  ],
  ['gnp preDNAT needs applyOnForward', gnp({ preDNAT: true }), 'spec.applyOnForward', 'FieldValueInvalid'],
  [
    'gnp doNotTrack needs applyOnForward',
    gnp({ doNotTrack: true, applyOnForward: false }),
    'spec.applyOnForward',
    'FieldValueInvalid',
  ],
  ['gnp order type', gnp({ order: '100' }), 'spec.order', 'FieldValueTypeInvalid'],
  [
    'cnp no namespaceSelector field',
    cnp({ namespaceSelector: 'all()' }),
    'spec.namespaceSelector',
    'FieldValueUnknown',
  ],
  [
    'cnp ipVersion 5',
    cnp({ ingress: [allow({ ipVersion: 5 })] }),
    'spec.ingress[0].ipVersion',
    'FieldValueNotSupported',
  ],
  [
    'bgppeer node+nodeSelector',
    peer({ node: 'node1', nodeSelector: 'all()', peerIP: '10.0.0.1', asNumber: 64512 }),
    'spec.node',
    'FieldValueForbidden',
  ],
  [
    'bgppeer peerSelector+peerIP',
    peer({ peerSelector: 'all()', peerIP: '10.0.0.1' }),
    'spec.peerIP',
    'FieldValueForbidden',
  ],
  [
    'bgppeer peerSelector+asNumber',
    peer({ peerSelector: 'all()', asNumber: 65000 }),
    'spec.asNumber',
    'FieldValueForbidden',
  ],
  ['bgppeer asNumber range', peer({ peerIP: '10.0.0.1', asNumber: 4294967296 }), 'spec.asNumber', 'FieldValueInvalid'],
  ['bgppeer bad peerIP', peer({ peerIP: '10.0.0', asNumber: 1 }), 'spec.peerIP', 'FieldValueInvalid'],
  [
    'bgpconfig listenPort',
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'BGPConfiguration',
      metadata: { name: 'default' },
      spec: { listenPort: 70000 },
    },
    'spec.listenPort',
    'FieldValueInvalid',
  ],
  [
    'bgpconfig serviceClusterIPs',
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'BGPConfiguration',
      metadata: { name: 'default' },
      spec: { serviceClusterIPs: [{ cidr: 'x' }] },
    },
    'spec.serviceClusterIPs[0].cidr',
    'FieldValueInvalid',
  ],
  [
    'hep no iface or ips',
    { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'h' }, spec: { node: 'n1' } },
    'spec.interfaceName',
    'FieldValueRequired',
  ],
  [
    'hep bad expectedIP',
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: 'h' },
      spec: { node: 'n1', expectedIPs: ['1.2.3.4.5'] },
    },
    'spec.expectedIPs[0]',
    'FieldValueInvalid',
  ],
  [
    'networkset bad net',
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkSet',
      metadata: { name: 's' },
      spec: { nets: ['1.2.3.0/40'] },
    },
    'spec.nets[0]',
    'FieldValueInvalid',
  ],
  ['service type', svc({ type: 'Internal' }), 'spec.type', 'FieldValueNotSupported'],
  ['service port 0', svc({ ports: [{ port: 0 }] }), 'spec.ports[0].port', 'FieldValueInvalid'],
  [
    'service protocol',
    svc({ ports: [{ port: 80, protocol: 'ICMP' }] }),
    'spec.ports[0].protocol',
    'FieldValueNotSupported',
  ],
  ['service no ports', svc({ ports: [] }), 'spec.ports', 'FieldValueRequired'],
  [
    'service unnamed ports',
    svc({ ports: [{ port: 80, name: 'a' }, { port: 81 }] }),
    'spec.ports[1].name',
    'FieldValueRequired',
  ],
  [
    'service nodePort on ClusterIP',
    svc({ ports: [{ port: 80, nodePort: 30080 }] }),
    'spec.ports[0].nodePort',
    'FieldValueForbidden',
  ],
  [
    'service nodePort range',
    svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }),
    'spec.ports[0].nodePort',
    'FieldValueInvalid',
  ],
  [
    'service targetPort name',
    svc({ ports: [{ port: 80, targetPort: 'HTTP_PORT' }] }),
    'spec.ports[0].targetPort',
    'FieldValueInvalid',
  ],
  ['service name dns1035', svc({}, '1web'), 'metadata.name', 'FieldValueInvalid'],
  ['service clusterIP', svc({ clusterIP: '10.0.0' }), 'spec.clusterIP', 'FieldValueInvalid'],
  ['pod no containers', pod({ containers: [] }), 'spec.containers', 'FieldValueRequired'],
  ['pod restartPolicy', pod({ restartPolicy: 'Sometimes' }), 'spec.restartPolicy', 'FieldValueNotSupported'],
  [
    'pod container port',
    pod({ containers: [{ name: 'c', ports: [{ containerPort: 70000 }] }] }),
    'spec.containers[0].ports[0].containerPort',
    'FieldValueInvalid',
  ],
  [
    'pod dup container',
    pod({ containers: [{ name: 'c' }, { name: 'c' }] }),
    'spec.containers[1].name',
    'FieldValueDuplicate',
  ],
  ['pod container name', pod({ containers: [{ name: 'C_1' }] }), 'spec.containers[0].name', 'FieldValueInvalid'],
  ['pod name', pod({}, { name: 'Bad_Name' }), 'metadata.name', 'FieldValueInvalid'],
  ['pod missing name', pod({}, { namespace: 'default' }), 'metadata.name', 'FieldValueRequired'],
  ['pod label key', pod({}, { name: 'p', labels: { 'bad key': 'x' } }), 'metadata.labels', 'FieldValueInvalid'],
  ['pod label value', pod({}, { name: 'p', labels: { app: 'has space' } }), 'metadata.labels', 'FieldValueInvalid'],
  ['pod metadata unknown', pod({}, { name: 'p', labelz: {} }), 'metadata.labelz', 'FieldValueUnknown'],
  ['pod spec unknown', pod({ nodeSelectr: {} }), 'spec.nodeSelectr', 'FieldValueUnknown'],
  [
    'deploy selector mismatch',
    deploy({ selector: { matchLabels: { app: 'b' } } }),
    'spec.template.metadata.labels',
    'FieldValueInvalid',
  ],
  ['deploy replicas', deploy({ replicas: -1 }), 'spec.replicas', 'FieldValueInvalid'],
  ['deploy strategy', deploy({ strategy: { type: 'BlueGreen' } }), 'spec.strategy.type', 'FieldValueNotSupported'],
  [
    'deploy maxSurge',
    deploy({ strategy: { rollingUpdate: { maxSurge: '25' } } }),
    'spec.strategy.rollingUpdate.maxSurge',
    'FieldValueInvalid',
  ],
  [
    'deploy restartPolicy',
    deploy({
      template: { metadata: { labels: { app: 'a' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c' }] } },
    }),
    'spec.template.spec.restartPolicy',
    'FieldValueNotSupported',
  ],
  ['knp policyTypes', knp({ policyTypes: ['Both'] }), 'spec.policyTypes[0]', 'FieldValueNotSupported'],
  [
    'knp ipBlock cidr',
    knp({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] }),
    'spec.ingress[0].from[0].ipBlock.cidr',
    'FieldValueInvalid',
  ],
  [
    'knp ipBlock except',
    knp({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] }] }),
    'spec.egress[0].to[0].ipBlock.except[0]',
    'FieldValueInvalid',
  ],
  [
    'knp ipBlock + podSelector',
    knp({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }),
    'spec.ingress[0].from[0]',
    'FieldValueForbidden',
  ],
  ['knp empty peer', knp({ ingress: [{ from: [{}] }] }), 'spec.ingress[0].from[0]', 'FieldValueRequired'],
  [
    'knp port',
    knp({ ingress: [{ ports: [{ port: 80 }, { port: 0 }] }] }),
    'spec.ingress[0].ports[1].port',
    'FieldValueInvalid',
  ],
  [
    'knp endPort < port',
    knp({ ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }),
    'spec.ingress[0].ports[0].endPort',
    'FieldValueInvalid',
  ],
  [
    'knp matchExpressions operator',
    knp({ podSelector: { matchExpressions: [{ key: 'a', operator: 'Is' }] } }),
    'spec.podSelector.matchExpressions[0].operator',
    'FieldValueNotSupported',
  ],
  [
    'namespace name',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } },
    'metadata.name',
    'FieldValueInvalid',
  ],
  [
    'configmap key',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { 'a b': 'x' } },
    'data',
    'FieldValueInvalid',
  ],
  [
    'configmap value type',
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 1 } },
    'data[a]',
    'FieldValueTypeInvalid',
  ],
  [
    'wrong apiVersion',
    { apiVersion: 'v2', kind: 'ConfigMap', metadata: { name: 'c' } },
    'apiVersion',
    'FieldValueInvalid',
  ],
  [
    'installation encapsulation',
    {
      apiVersion: 'operator.tigera.io/v1',
      kind: 'Installation',
      metadata: { name: 'default' },
      spec: { calicoNetwork: { ipPools: [{ cidr: '10.0.0.0/16', encapsulation: 'GRE' }] } },
    },
    'spec.calicoNetwork.ipPools[0].encapsulation',
    'FieldValueNotSupported',
  ],
  [
    'installation linuxDataplane',
    {
      apiVersion: 'operator.tigera.io/v1',
      kind: 'Installation',
      metadata: { name: 'default' },
      spec: { calicoNetwork: { linuxDataplane: 'eBPF' } },
    },
    'spec.calicoNetwork.linuxDataplane',
    'FieldValueNotSupported',
  ],
  [
    'felix bpfEnabled type',
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'FelixConfiguration',
      metadata: { name: 'default' },
      spec: { bpfEnabled: 'true' },
    },
    'spec.bpfEnabled',
    'FieldValueTypeInvalid',
  ],
  [
    'felix unknown',
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'FelixConfiguration',
      metadata: { name: 'default' },
      spec: { bpfEnable: true },
    },
    'spec.bpfEnable',
    'FieldValueUnknown',
  ],
  [
    'kcc autoCreate',
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'KubeControllersConfiguration',
      metadata: { name: 'default' },
      spec: { controllers: { node: { hostEndpoint: { autoCreate: 'Yes' } } } },
    },
    'spec.controllers.node.hostEndpoint.autoCreate',
    'FieldValueNotSupported',
  ],
  [
    'crd name',
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'foos.example.com' },
      spec: { group: 'example.com', names: { plural: 'bars' } },
    },
    'metadata.name',
    'FieldValueInvalid',
  ],
]

t.test('invalid objects report the real field path and type', async (t) => {
  t.ok(CASES.length >= 40, `${CASES.length} cases`)
  for (const [desc, obj, field, type] of CASES) {
    const i = info(String(obj.apiVersion) === 'v2' ? 'v1' : String(obj.apiVersion), String(obj.kind))
    const errs = validateObject(i, obj)
    t.equal(errs.length >= 1, true, `${desc}: has errors`)
    t.match(errs[0], { field, type }, `${desc}: ${errs.map((e) => formatFieldError(e)).join('; ')}`)
  }
})

t.test('IPPool prefix error has the exact shape', async (t) => {
  const errs = validateObject(info('projectcalico.org/v3', 'IPPool'), ippool({ cidr: '198.19.0.0/33' }))
  t.same(errs, [
    { type: 'FieldValueInvalid', field: 'spec.cidr', value: '198.19.0.0/33', detail: 'prefix length must be 0-32' },
  ])
  t.equal(formatFieldError(errs[0] as never), 'spec.cidr: Invalid value: "198.19.0.0/33": prefix length must be 0-32')
})

t.test('valid variants produce no errors', async (t) => {
  const ok: Record<string, unknown>[] = [
    gnp({ ingress: [allow({ protocol: 6, destination: { ports: [80, '8080:8090', 'http'] } })] }),
    gnp({ ingress: [allow({ protocol: 'ICMP', icmp: { type: 8, code: 0 } })] }),
    gnp({ doNotTrack: true, applyOnForward: true, ingress: [allow()] }),
    peer({ peerSelector: 'has(route-reflector)', nodeSelector: 'all()' }),
    peer({ peerIP: '198.19.15.254:1790', asNumber: 64512, node: 'node1' }),
    ippool({ cidr: '10.0.0.0/8', blockSize: 20, vxlanMode: 'Always' }),
    svc({ clusterIP: 'None', ports: [] }),
    svc({ type: 'ExternalName', externalName: 'example.com', ports: [] }),
    knp({ ingress: [{ ports: [{ port: 8000, endPort: 9000 }] }] }),
  ]
  for (const obj of ok)
    t.same(validateObject(info(String(obj.apiVersion), String(obj.kind)), obj), [], JSON.stringify(obj.spec))
})

t.test('unknown fields are reported, never dropped', async (t) => {
  const obj: KubeObject = { ...(ippool({ foo: 1 }) as KubeObject), extra: true }
  const errs = validateObject(info('projectcalico.org/v3', 'IPPool'), obj)
  t.same(
    errs.filter((e) => e.type === 'FieldValueUnknown').map((e) => e.field),
    ['spec.foo', 'extra'],
  )
  t.equal(formatFieldError({ type: 'FieldValueUnknown', field: 'spec.foo', detail: '' }), 'unknown field "spec.foo"')
  // deep: inside a rule's entity rule
  const deep = validateObject(
    info('projectcalico.org/v3', 'GlobalNetworkPolicy'),
    gnp({ ingress: [allow({ source: { nett: [] } })] }),
  )
  t.same(deep, [{ type: 'FieldValueUnknown', field: 'spec.ingress[0].source.nett', detail: '' }])
  // status and known metadata are not flagged
  const withStatus = {
    ...pod(
      {},
      { name: 'p', namespace: 'default', uid: 'u', resourceVersion: '5', creationTimestamp: 'x', managedFields: [] },
    ),
    status: { phase: 'Running', anything: 1 },
  }
  t.same(validateObject(info('v1', 'Pod'), withStatus), [])
  // unmodeled kinds: only metadata is checked
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, whatever: { x: 1 } }
  t.same(validateObject(info('v1', 'Secret'), secret), [])
  t.same(validateObject(info('v1', 'Secret'), { ...secret, metadata: { name: 's', bogus: 1 } }), [
    { type: 'FieldValueUnknown', field: 'metadata.bogus', detail: '' },
  ])
})

t.test('update rules (immutable fields)', async (t) => {
  const pool = info('projectcalico.org/v3', 'IPPool')
  const old = ippool({ blockSize: 26 }) as KubeObject
  t.same(validateObject(pool, ippool({ blockSize: 26, natOutgoing: true }), { old }), [])
  t.match(validateObject(pool, ippool({ blockSize: 28 }), { old }), [
    { field: 'spec.blockSize', type: 'FieldValueInvalid' },
  ])
  t.match(validateObject(pool, ippool({ cidr: '198.19.24.0/21' }), { old }), [
    { field: 'spec.cidr', type: 'FieldValueInvalid' },
  ])
  const s = info('v1', 'Service')
  const oldSvc = svc({ clusterIP: '198.19.32.10' }) as KubeObject
  t.match(validateObject(s, svc({ clusterIP: '198.19.32.11' }), { old: oldSvc }), [
    { field: 'spec.clusterIP', type: 'FieldValueInvalid', detail: 'field is immutable' },
  ])
  t.same(validateObject(s, svc({ clusterIP: '198.19.32.10', type: 'NodePort' }), { old: oldSvc }), [])
  const p = info('v1', 'Pod')
  const oldPod = pod({}) as KubeObject
  t.same(validateObject(p, pod({ containers: [{ name: 'c', image: 'nginx:1.25' }] }), { old: oldPod }), [])
  t.match(validateObject(p, pod({ nodeName: 'node1' }), { old: oldPod }), [
    { field: 'spec', type: 'FieldValueForbidden' },
  ])
  const d = info('apps/v1', 'Deployment')
  const oldD = deploy({}) as KubeObject
  t.same(validateObject(d, deploy({ replicas: 3 }), { old: oldD }), [])
  const changed = deploy({
    selector: { matchLabels: { app: 'a', v: '2' } },
    template: { metadata: { labels: { app: 'a', v: '2' } }, spec: { containers: [{ name: 'c' }] } },
  })
  t.match(validateObject(d, changed, { old: oldD }), [{ field: 'spec.selector', detail: 'field is immutable' }])
  const cm = info('v1', 'ConfigMap')
  const oldCm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' }, immutable: true }
  t.match(validateObject(cm, { ...oldCm, data: { a: '2' } }, { old: oldCm }), [
    { field: 'data', type: 'FieldValueForbidden' },
  ])
})
