import type { KubeObject } from '@calilab/model'
import t, { type Test } from 'tap'
import { haveKubectl, KUBECTL_120, KUBECTL_132, type Lab, type Run, startLab } from './kubectl-harness.ts'

/**
 * kubectl's imperative commands. kubectl 1.32's typed clients (create namespace|configmap|secret|
 * deployment|job|..., autoscale) send `application/vnd.kubernetes.protobuf`; run, expose, scale and
 * set image send JSON or patches. Each command must print what it prints against a real cluster,
 * and the stored object must hold what the flags said.
 */

type Tap = Test

interface Step {
  args: string[]
  out: RegExp
  /** Where the object lands: [resource, namespace, name], and what to check on it. */
  check?: [string, string | undefined, string, (t: Tap, o: KubeObject) => void]
  /** Commands kubectl 1.20 lacks or words differently. */
  only132?: boolean
}

// biome-ignore lint/suspicious/noExplicitAny: a test walks stored objects freely
type Any = any

const spec = (o: KubeObject): Any => o.spec as Any
const b64 = (s: string) => Buffer.from(s).toString('base64')

const STEPS: Step[] = [
  {
    args: ['create', 'namespace', 'demo'],
    out: /^namespace\/demo created$/,
    check: ['namespaces', undefined, 'demo', (t, o) => t.equal(o.metadata.name, 'demo')],
  },
  {
    args: ['create', 'configmap', 'cm1', '-n', 'demo', '--from-literal=a=b', '--from-literal=c=d'],
    out: /^configmap\/cm1 created$/,
    check: ['configmaps', 'demo', 'cm1', (t, o) => t.same((o as Any).data, { a: 'b', c: 'd' })],
  },
  {
    args: ['create', 'secret', 'generic', 's1', '-n', 'demo', '--from-literal=pw=s3cr3t'],
    out: /^secret\/s1 created$/,
    check: [
      'secrets',
      'demo',
      's1',
      (t, o) => {
        t.same((o as Any).data, { pw: b64('s3cr3t') })
        // kubectl sends type ""; a real API server then defaults it to Opaque.
        t.equal((o as Any).type, 'Opaque')
      },
    ],
  },
  {
    args: ['create', 'serviceaccount', 'sa1', '-n', 'demo'],
    out: /^serviceaccount\/sa1 created$/,
    check: ['serviceaccounts', 'demo', 'sa1', (t, o) => t.equal(o.metadata.namespace, 'demo')],
  },
  {
    args: ['create', 'deployment', 'web', '-n', 'demo', '--image=nginx:1.25', '--replicas=2', '--port=80'],
    out: /^deployment\.apps\/web created$/,
    check: [
      'deployments',
      'demo',
      'web',
      (t, o) => {
        const s = spec(o)
        t.equal(s.replicas, 2)
        t.same(s.selector, { matchLabels: { app: 'web' } })
        t.same(o.metadata.labels, { app: 'web' })
        t.equal(s.template.spec.containers[0].image, 'nginx:1.25')
        t.equal(s.template.spec.containers[0].ports[0].containerPort, 80)
      },
    ],
  },
  {
    args: ['create', 'service', 'clusterip', 'svc1', '-n', 'demo', '--tcp=80:8080'],
    out: /^service\/svc1 created$/,
    check: [
      'services',
      'demo',
      'svc1',
      (t, o) => {
        t.equal(spec(o).type, 'ClusterIP')
        t.match(spec(o).ports[0], { port: 80, targetPort: 8080, protocol: 'TCP' })
        t.same(spec(o).selector, { app: 'svc1' })
      },
    ],
  },
  {
    args: ['create', 'job', 'j1', '-n', 'demo', '--image=busybox', '--', 'echo', 'hi'],
    out: /^job\.batch\/j1 created$/,
    check: [
      'jobs',
      'demo',
      'j1',
      (t, o) => {
        const ps = spec(o).template.spec
        t.same(ps.containers[0].command, ['echo', 'hi'])
        t.equal(ps.restartPolicy, 'Never')
      },
    ],
  },
  {
    args: ['run', 'p1', '-n', 'demo', '--image=nginx', '--labels=app=p1,tier=fe', '--port=80', '--env=A=B'],
    out: /^pod\/p1 created$/,
    check: [
      'pods',
      'demo',
      'p1',
      (t, o) => {
        t.same(o.metadata.labels, { app: 'p1', tier: 'fe' })
        t.same(spec(o).containers[0].env, [{ name: 'A', value: 'B' }])
        t.equal(spec(o).containers[0].ports[0].containerPort, 80)
      },
    ],
  },
  {
    args: ['expose', 'deployment', 'web', '-n', 'demo', '--port=8080', '--target-port=80'],
    out: /^service\/web exposed$/,
    check: [
      'services',
      'demo',
      'web',
      (t, o) => {
        t.match(spec(o).ports[0], { port: 8080, targetPort: 80 })
        t.same(spec(o).selector, { app: 'web' })
      },
    ],
  },
  {
    args: ['scale', 'deployment', 'web', '-n', 'demo', '--replicas=3'],
    out: /^deployment\.apps\/web scaled$/,
    check: ['deployments', 'demo', 'web', (t, o) => t.equal(spec(o).replicas, 3)],
  },
  {
    args: ['set', 'image', 'deployment/web', '-n', 'demo', 'nginx=nginx:1.26'],
    out: /^deployment\.apps\/web image updated$/,
    check: ['deployments', 'demo', 'web', (t, o) => t.equal(spec(o).template.spec.containers[0].image, 'nginx:1.26')],
  },
  {
    args: ['create', 'role', 'r1', '-n', 'demo', '--verb=get,list', '--resource=pods'],
    out: /^role\.rbac\.authorization\.k8s\.io\/r1 created$/,
    check: [
      'roles',
      'demo',
      'r1',
      (t, o) => t.same((o as Any).rules, [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }]),
    ],
  },
  {
    args: ['create', 'rolebinding', 'rb1', '-n', 'demo', '--role=r1', '--serviceaccount=demo:sa1'],
    out: /^rolebinding\.rbac\.authorization\.k8s\.io\/rb1 created$/,
    check: [
      'rolebindings',
      'demo',
      'rb1',
      (t, o) => {
        t.same((o as Any).subjects, [{ kind: 'ServiceAccount', name: 'sa1', namespace: 'demo' }])
        t.same((o as Any).roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r1' })
      },
    ],
  },
  {
    args: ['create', 'clusterrole', 'cr1', '--verb=get', '--resource=nodes'],
    out: /^clusterrole\.rbac\.authorization\.k8s\.io\/cr1 created$/,
    check: ['clusterroles', undefined, 'cr1', (t, o) => t.same((o as Any).rules[0].resources, ['nodes'])],
  },
  {
    args: ['create', 'clusterrolebinding', 'crb1', '--clusterrole=cr1', '--user=bob'],
    out: /^clusterrolebinding\.rbac\.authorization\.k8s\.io\/crb1 created$/,
    check: [
      'clusterrolebindings',
      undefined,
      'crb1',
      (t, o) => t.match((o as Any).subjects[0], { kind: 'User', name: 'bob' }),
    ],
  },
  {
    args: ['create', 'cronjob', 'cj1', '-n', 'demo', '--image=busybox', '--schedule=*/5 * * * *', '--', 'echo', 'hi'],
    out: /^cronjob\.batch\/cj1 created$/,
    // kubectl 1.20 posts batch/v1beta1 CronJobs, a version this server does not serve.
    only132: true,
    check: [
      'cronjobs',
      'demo',
      'cj1',
      (t, o) => {
        t.equal(spec(o).schedule, '*/5 * * * *')
        t.same(spec(o).jobTemplate.spec.template.spec.containers[0].command, ['echo', 'hi'])
      },
    ],
  },
  {
    args: ['create', 'quota', 'q1', '-n', 'demo', '--hard=pods=2,requests.cpu=500m'],
    out: /^resourcequota\/q1 created$/,
    check: ['resourcequotas', 'demo', 'q1', (t, o) => t.same(spec(o).hard, { pods: '2', 'requests.cpu': '500m' })],
  },
  {
    args: ['create', 'service', 'nodeport', 'np1', '-n', 'demo', '--tcp=80:8080', '--node-port=30080'],
    out: /^service\/np1 created$/,
    check: [
      'services',
      'demo',
      'np1',
      (t, o) => t.match(spec(o).ports[0], { port: 80, targetPort: 8080, nodePort: 30080 }),
    ],
  },
  {
    args: [
      'create',
      'secret',
      'docker-registry',
      'reg',
      '-n',
      'demo',
      '--docker-server=r.io',
      '--docker-username=u',
      '--docker-password=p',
    ],
    out: /^secret\/reg created$/,
    check: ['secrets', 'demo', 'reg', (t, o) => t.equal((o as Any).type, 'kubernetes.io/dockerconfigjson')],
  },
  {
    args: ['create', 'ingress', 'ing1', '-n', 'demo', '--rule=foo.example/bar=svc1:80'],
    out: /^ingress\.networking\.k8s\.io\/ing1 created$/,
    only132: true,
    check: [
      'ingresses',
      'demo',
      'ing1',
      (t, o) =>
        t.match(spec(o).rules[0], { host: 'foo.example', http: { paths: [{ path: '/bar', pathType: 'Exact' }] } }),
    ],
  },
  {
    args: ['create', 'poddisruptionbudget', 'pdb1', '-n', 'demo', '--selector=app=web', '--min-available=1'],
    out: /^poddisruptionbudget\.policy\/pdb1 created$/,
    only132: true,
    check: ['poddisruptionbudgets', 'demo', 'pdb1', (t, o) => t.equal(spec(o).minAvailable, 1)],
  },
  {
    args: ['create', 'priorityclass', 'pc1', '--value=1000', '--description=high'],
    out: /^priorityclass\.scheduling\.k8s\.io\/pc1 created$/,
    only132: true,
    check: ['priorityclasses', undefined, 'pc1', (t, o) => t.equal((o as Any).value, 1000)],
  },
  {
    args: ['scale', 'deployment', 'web', '-n', 'demo', '--replicas=0'],
    out: /^deployment\.apps\/web scaled$/,
    check: ['deployments', 'demo', 'web', (t, o) => t.equal(spec(o).replicas, 0)],
  },
]

function exitsZero(t: Tap, r: Run, what: string): void {
  t.equal(r.code, 0, `${what} exits 0${r.code ? `: ${r.stderr}` : ''}`)
}

function suite(bin: string, is132: boolean): void {
  t.test(`imperative commands with kubectl ${is132 ? '1.32' : '1.20'}`, async (t) => {
    const lab: Lab = await startLab(bin)
    t.teardown(() => lab.close())
    const stored = (resource: string, ns: string | undefined, name: string): KubeObject => {
      const info = lab.server.api.resources.resolve(resource)
      if (!info) throw new Error(`no resource ${resource}`)
      return lab.server.api.get(info, ns, name)
    }
    for (const step of STEPS) {
      if (step.only132 && !is132) continue
      const what = `kubectl ${step.args.join(' ')}`
      const r = await lab.kubectl(step.args)
      exitsZero(t, r, what)
      t.match(r.stdout.trim(), step.out, what)
      if (step.check) {
        const [res, ns, name, check] = step.check
        check(t, stored(res, ns, name))
      }
    }

    // The server's answers still reach kubectl: AlreadyExists and a server-side dry run's object.
    const again = await lab.kubectl(['create', 'namespace', 'demo'])
    t.not(again.code, 0)
    t.match(again.stderr, /Error from server \(AlreadyExists\): namespaces "demo" already exists/)
    if (is132) {
      // kubectl 1.20 asks the OpenAPI document whether a kind supports dry runs; this server's is minimal.
      const dry = await lab.kubectl([
        'create',
        'configmap',
        'dry',
        '-n',
        'demo',
        '--from-literal=k=v',
        '--dry-run=server',
        '-o',
        'json',
      ])
      exitsZero(t, dry, 'create configmap --dry-run=server -o json')
      t.same((JSON.parse(dry.stdout) as Any).data, { k: 'v' })
      t.throws(() => stored('configmaps', 'demo', 'dry'), 'a dry run stores nothing')
    }
    const bad = await lab.kubectl(['create', 'deployment', 'web2', '-n', 'demo', '--image=nginx', '--replicas=-1'])
    t.not(bad.code, 0, 'a negative replica count is refused')
    t.match(bad.stderr, /replicas/)
  })
}

if (haveKubectl(KUBECTL_132)) suite(KUBECTL_132, true)
else t.test('kubectl 1.32', { skip: `kubectl 1.32 not found at ${KUBECTL_132}` }, () => {})
if (haveKubectl(KUBECTL_120)) suite(KUBECTL_120, false)
else t.test('kubectl 1.20', { skip: `kubectl 1.20 not found at ${KUBECTL_120}` }, () => {})
