import t from 'tap'
import { parse } from 'yaml'
import { type CliLab, startCliLab } from './cli-harness.ts'

/**
 * `calilab kubectl` and `calilab calicoctl` against a live (in-process) API server: the verbs, the
 * output formats, and bad input that must leave the store untouched.
 */

let lab: CliLab
t.before(async () => {
  lab = await startCliLab()
})
t.teardown(async () => {
  await lab?.close()
})

const SHOP = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80, name: http}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: shop, labels: {app: web}}
data: {a: "1"}
`

const rows = (out: string): string[][] =>
  out
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/\s{2,}/))

t.test('apply creates, then is unchanged, then configures', async (t) => {
  const file = lab.file('shop.yaml', SHOP)
  const first = await lab.kubectl('apply', '-f', file)
  t.equal(first.code, 0, first.stderr)
  t.equal(first.stdout, 'namespace/shop created\nservice/web created\nconfigmap/cfg created\n')
  const before = lab.snapshot()
  const again = await lab.kubectl('apply', '-f', file)
  t.equal(again.stdout, 'namespace/shop unchanged\nservice/web unchanged\nconfigmap/cfg unchanged\n')
  t.equal(lab.snapshot(), before, 'an unchanged apply writes nothing')
  const changed = await lab.kubectl('apply', '-f', lab.file('shop2.yaml', SHOP.replace('a: "1"', 'a: "2"')))
  t.match(changed.stdout, /^configmap\/cfg configured$/m)
  t.match(changed.stdout, /^service\/web unchanged$/m)
  const cm = parse((await lab.kubectl('get', 'cm', 'cfg', '-n', 'shop', '-o', 'yaml')).stdout)
  t.equal(cm.data.a, '2')
  t.match(cm.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], /"a":"2"/)
})

t.test('get: server tables, -o wide|yaml|json|name, empty namespaces', async (t) => {
  const tbl = await lab.kubectl('get', 'svc', '-n', 'shop')
  t.equal(tbl.code, 0, tbl.stderr)
  const [head, web] = rows(tbl.stdout)
  t.same(head, ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'])
  t.match(web, ['web', 'ClusterIP', /^198\.19\.(3[2-9]|4[0-7])\.\d+$/, '<none>', '80/TCP', /^\d+s$/])
  const wide = rows((await lab.kubectl('get', 'services', '-n', 'shop', '-o', 'wide')).stdout)
  t.same(wide[0]?.at(-1), 'SELECTOR')
  t.same(wide[1]?.at(-1), 'app=web')
  t.equal(
    (await lab.kubectl('get', 'service/web', 'configmap/cfg', '-n', 'shop', '-o', 'name')).stdout,
    'service/web\nconfigmap/cfg\n',
  )
  const one = JSON.parse((await lab.kubectl('get', 'svc', 'web', '-n', 'shop', '-o', 'json')).stdout)
  t.match(one, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' } })
  const list = JSON.parse((await lab.kubectl('get', 'cm', '-n', 'shop', '-o', 'json')).stdout)
  t.equal(list.kind, 'List')
  t.same(
    list.items.map((i: { metadata: { name: string } }) => i.metadata.name),
    ['cfg'],
  )
  const labelled = await lab.kubectl('get', 'cm', '-n', 'shop', '-l', 'app=web', '--show-labels')
  t.match(labelled.stdout, /^NAME\s+DATA\s+AGE\s+LABELS\ncfg\s+1\s+\S+\s+app=web\n$/)
  const none = await lab.kubectl('get', 'pods', '-n', 'nothing-here')
  t.equal(none.code, 0)
  t.equal(none.stdout, '')
  t.equal(none.stderr, 'No resources found in nothing-here namespace.\n')
  const missing = await lab.kubectl('get', 'svc', 'nope', '-n', 'shop')
  t.equal(missing.code, 1)
  t.equal(missing.stderr, 'Error from server (NotFound): services "nope" not found\n')
  const badType = await lab.kubectl('get', 'widgets')
  t.equal(badType.code, 1)
  t.equal(badType.stderr, 'error: the server doesn\'t have a resource type "widgets"\n')
})

t.test('patch (strategic, merge, json) and label', async (t) => {
  const sm = await lab.kubectl('patch', 'svc', 'web', '-n', 'shop', '-p', '{"spec":{"externalIPs":["198.19.48.10"]}}')
  t.equal(sm.stdout, 'service/web patched\n', sm.stderr)
  const same = await lab.kubectl('patch', 'svc/web', '-n', 'shop', '-p', '{"spec":{"externalIPs":["198.19.48.10"]}}')
  t.equal(same.stdout, 'service/web patched (no change)\n')
  const mg = await lab.kubectl('patch', 'cm', 'cfg', '-n', 'shop', '--type', 'merge', '-p', '{"data":{"b":"3"}}')
  t.equal(mg.code, 0, mg.stderr)
  const js = await lab.kubectl(
    'patch',
    'cm',
    'cfg',
    '-n',
    'shop',
    '--type',
    'json',
    '-p',
    '[{"op":"replace","path":"/data/a","value":"9"}]',
  )
  t.equal(js.code, 0, js.stderr)
  const cm = JSON.parse((await lab.kubectl('get', 'cm', 'cfg', '-n', 'shop', '-o', 'json')).stdout)
  t.same(cm.data, { a: '9', b: '3' })
  t.match((await lab.kubectl('get', 'svc', '-n', 'shop')).stdout, /web\s+ClusterIP\s+\S+\s+198\.19\.48\.10\s+80\/TCP/)

  t.equal((await lab.kubectl('label', 'svc', 'web', '-n', 'shop', 'tier=front')).stdout, 'service/web labeled\n')
  const clash = await lab.kubectl('label', 'svc', 'web', '-n', 'shop', 'tier=back')
  t.equal(clash.code, 1)
  t.equal(clash.stderr, "error: 'tier' already has a value (front), and --overwrite is false\n")
  t.equal(
    (await lab.kubectl('label', 'svc/web', '-n', 'shop', 'tier=back', '--overwrite')).stdout,
    'service/web labeled\n',
  )
  t.equal((await lab.kubectl('label', 'svc', 'web', '-n', 'shop', 'tier-')).stdout, 'service/web unlabeled\n')
  const labels = JSON.parse((await lab.kubectl('get', 'svc', 'web', '-n', 'shop', '-o', 'json')).stdout).metadata.labels
  t.same(labels, { app: 'web' })
})

t.test('bad input gets a clear error and changes nothing stored', async (t) => {
  const cm = (extra: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\n  namespace: shop\n${extra}`
  const cases: [string, string[], RegExp][] = [
    [
      'YAML syntax (a valid document before the broken one is not applied either)',
      ['apply', '-f', lab.file('syntax.yaml', `${cm('data: {k: v}\n')}---\n${cm('data: [unclosed\n')}`)],
      /^error: error parsing \S+syntax\.yaml: .*line/,
    ],
    [
      'unknown kind',
      ['create', '-f', lab.file('kind.yaml', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n')],
      /no matches for kind "Widget" in version "example\.com\/v1"/,
    ],
    [
      'invalid field',
      [
        'apply',
        '-f',
        lab.file(
          'port.yaml',
          'apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: shop}\nspec:\n  ports: [{port: 99999}]\n',
        ),
      ],
      /^Error from server \(Invalid\): error when creating "\S+port\.yaml": Service "bad" is invalid: spec\.ports\[0\]\.port: Invalid value: 99999: /,
    ],
    ['bad label selector (get)', ['get', 'cm', '-n', 'shop', '-l', 'app in ('], /^Error from server \(BadRequest\): /],
    [
      'bad label selector (delete)',
      ['delete', 'cm', '-n', 'shop', '-l', 'app in ('],
      /^Error from server \(BadRequest\): /,
    ],
    [
      'conflicting resourceVersion',
      [
        'replace',
        '-f',
        lab.file(
          'stale.yaml',
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop, resourceVersion: "1"}\ndata: {a: x}\n',
        ),
      ],
      /^Error from server \(Conflict\): error when replacing "\S+stale\.yaml": Operation cannot be fulfilled on configmaps "cfg": the object has been modified/,
    ],
    ['a truncated patch', ['patch', 'cm', 'cfg', '-n', 'shop', '--type', 'merge', '-p', '{"data":'], /^error: /],
    ['no such object to patch', ['patch', 'cm', 'nope', '-n', 'shop', '-p', '{}'], /\(NotFound\): configmaps "nope"/],
  ]
  for (const [what, args, message] of cases) {
    const before = lab.snapshot()
    const r = await lab.kubectl(...args)
    t.equal(r.code, 1, `${what}: exit 1`)
    t.match(r.stderr, message, `${what}: message`)
    t.equal(lab.snapshot(), before, `${what}: nothing stored`)
  }
})

t.test('replace and delete (by name, by label, by file)', async (t) => {
  const cur = JSON.parse((await lab.kubectl('get', 'cm', 'cfg', '-n', 'shop', '-o', 'json')).stdout)
  cur.data = { replaced: 'yes' }
  const rep = await lab.kubectl('replace', '-f', lab.file('cfg.json', JSON.stringify(cur)))
  t.equal(rep.stdout, 'configmap/cfg replaced\n', rep.stderr)
  for (const n of ['x1', 'x2', 'y1'])
    await lab.kubectl(
      'create',
      '-f',
      lab.file(
        `${n}.yaml`,
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${n}, namespace: shop, labels: {g: ${n[0]}}}\n`,
      ),
    )
  const byLabel = await lab.kubectl('delete', 'cm', '-n', 'shop', '-l', 'g=x')
  t.equal(byLabel.stdout, 'configmap "x1" deleted\nconfigmap "x2" deleted\n', byLabel.stderr)
  const byName = await lab.kubectl('delete', 'configmap', 'y1', 'nope', '-n', 'shop')
  t.equal(byName.code, 1)
  t.equal(byName.stdout, 'configmap "y1" deleted\n')
  t.equal(byName.stderr, 'Error from server (NotFound): configmaps "nope" not found\n')
  const contents = SHOP.slice(SHOP.indexOf('---\n') + 4)
  const byFile = await lab.kubectl('delete', '-f', lab.file('contents.yaml', contents))
  t.equal(byFile.stdout, 'service "web" deleted\nconfigmap "cfg" deleted\n', byFile.stderr)
  const gone = await lab.kubectl('get', 'svc,cm', '-n', 'shop')
  t.equal(gone.stderr, 'No resources found in shop namespace.\n')
  // No namespace controller runs here: the namespace stays Terminating, so do not wait for it.
  t.equal((await lab.kubectl('delete', 'ns', 'shop', '--wait=false')).stdout, 'namespace "shop" deleted\n')
  const again = await lab.kubectl('delete', '-f', lab.file('contents.yaml', contents))
  t.equal(again.code, 1)
  t.match(
    again.stderr,
    /^Error from server \(NotFound\): error when deleting "\S+contents\.yaml": services "web" not found$/m,
  )
})

const POOL = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: extra-pool}
spec:
  cidr: 198.19.24.0/21
  natOutgoing: true
  nodeSelector: "!all()"
`

t.test('calicoctl: apply, short names, tables and v3 yaml', async (t) => {
  const ap = await lab.calicoctl('apply', '-f', lab.file('pool.yaml', POOL))
  t.equal(ap.stdout, "Successfully applied 1 'IPPool' resource(s)\n", ap.stderr)
  const again = await lab.calicoctl('apply', '-f', lab.file('pool.yaml', POOL))
  t.equal(again.code, 0, again.stderr)
  const tbl = rows((await lab.calicoctl('get', 'ippools')).stdout)
  t.same(tbl[0], ['NAME', 'CIDR', 'SELECTOR'])
  t.same(tbl[1], ['extra-pool', '198.19.24.0/21', '!all()'])
  const wide = rows((await lab.calicoctl('get', 'pool', '-o', 'wide')).stdout)
  t.same(wide[1], ['extra-pool', '198.19.24.0/21', 'true', 'Never', 'Never', 'false', 'false', '!all()'])
  const y = parse((await lab.calicoctl('get', 'ippool', 'extra-pool', '-o', 'yaml')).stdout)
  t.match(y, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'extra-pool', resourceVersion: /^\d+$/, uid: /\S/ },
    spec: { cidr: '198.19.24.0/21', natOutgoing: true, nodeSelector: '!all()' },
  })
  t.notOk(y.metadata.managedFields)
  const l = parse((await lab.calicoctl('get', 'ippools', '-o', 'yaml')).stdout)
  t.equal(l.kind, 'IPPoolList')
  t.equal(l.apiVersion, 'projectcalico.org/v3')
  for (const short of ['heps', 'bgpconfig', 'felixconfiguration', 'kubecontrollersconfiguration', 'bgpp', 'gnp']) {
    const r = await lab.calicoctl('get', short)
    t.equal(r.code, 0, `get ${short}: ${r.stderr}`)
    t.match(r.stdout, /^NAME/, `get ${short} prints a table`)
  }
  const unknown = await lab.calicoctl('get', 'widgets')
  t.equal(unknown.code, 1)
  t.equal(unknown.stderr, "Failed to get resources: resource type 'widgets' is not supported\n")
  const missing = await lab.calicoctl('get', 'ippool', 'nope')
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^Failed to get resources: resource does not exist: IPPool\(nope\)/)
  const p = await lab.calicoctl('patch', 'ippool', 'extra-pool', '-p', '{"spec":{"disabled":true}}')
  t.equal(p.stdout, "Successfully patched 1 'IPPool' resource\n", p.stderr)
  t.match(rows((await lab.calicoctl('get', 'ippools', '-o', 'wide')).stdout)[1], [
    'extra-pool',
    '198.19.24.0/21',
    'true',
    'Never',
    'Never',
    'true',
  ])
})

t.test('calicoctl: bad input gets a clear error and changes nothing stored', async (t) => {
  const cur = parse((await lab.calicoctl('get', 'ippool', 'extra-pool', '-o', 'yaml')).stdout)
  const cases: [string, string[], RegExp][] = [
    [
      'invalid CIDR',
      ['create', '-f', lab.file('p33.yaml', POOL.replace('extra-pool', 'p33').replace('/21', '/33'))],
      /^Failed to create 'IPPool' resource: .*spec\.cidr: Invalid value: "198\.19\.24\.0\/33": /,
    ],
    [
      'bad selector',
      [
        'apply',
        '-f',
        lab.file(
          'gnp.yaml',
          'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  selector: app == "x\n',
        ),
      ],
      /^Failed to apply 'GlobalNetworkPolicy' resource: .*spec\.selector: Invalid value: /,
    ],
    ['YAML syntax', ['apply', '-f', lab.file('broken.yaml', `${POOL}  bad: [\n`)], /error parsing \S+broken\.yaml/],
    [
      'not a Calico kind',
      ['apply', '-f', lab.file('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n')],
      /^Failed to apply resources: resource type 'ConfigMap' \(v1\) is not supported/,
    ],
    [
      'conflicting resourceVersion',
      [
        'replace',
        '-f',
        lab.file(
          'stale-pool.yaml',
          `${POOL.replace('metadata: {name: extra-pool}', `metadata: {name: extra-pool, resourceVersion: "${Number(cur.metadata.resourceVersion) - 1}"}`)}`,
        ),
      ],
      /^Failed to replace 'IPPool' resource: .*the object has been modified/,
    ],
    [
      'create of an existing name',
      ['create', '-f', lab.file('pool.yaml', POOL)],
      /resource already exists: IPPool\(extra-pool\)/,
    ],
  ]
  for (const [what, args, message] of cases) {
    const before = lab.snapshot()
    const r = await lab.calicoctl(...args)
    t.equal(r.code, 1, `${what}: exit 1`)
    t.match(r.stderr, message, `${what}: message`)
    t.equal(lab.snapshot(), before, `${what}: nothing stored`)
  }
})
