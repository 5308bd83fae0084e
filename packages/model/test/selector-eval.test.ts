import t from 'tap'
import { type Labels, parseSelector } from '../src/index.ts'

// [selector, labels, expected]
type Case = readonly [string, Labels, boolean]

const web: Labels = { app: 'web', tier: 'frontend', env: 'prod' }
const db: Labels = { app: 'db', tier: 'backend', env: 'prod' }
const none: Labels = {}
const empty: Labels = { app: '' }
const ns: Labels = {
  'projectcalico.org/namespace': 'yaobank',
  'projectcalico.org/orchestrator': 'k8s',
  'pcns.projectcalico.org/name': 'yaobank',
  'kubernetes.io/hostname': 'node1',
  'k8s-app': 'kube-dns',
  'a.b_c-d/e.f': 'x',
}

const cases: Case[] = [
  // empty selector / all() / global()
  ['', none, true],
  ['', web, true],
  ['   ', web, true],
  ['\t', none, true],
  ['all()', none, true],
  ['all()', web, true],
  ['all( )', web, true],
  ['!all()', web, false],
  ['!all()', none, false],
  ['global()', none, true],
  ['global()', web, true],
  ['!global()', web, false],
  ['global( \t)', none, true],
  // ==
  ['app == "web"', web, true],
  ['app == "web"', db, false],
  ['app == "web"', none, false],
  ["app == 'web'", web, true],
  ["app=='web'", web, true],
  ['app=="web"', web, true],
  ['  app   ==   "web"  ', web, true],
  ['\tapp\t==\t"web"\t', web, true],
  ['app == ""', empty, true],
  ['app == ""', none, false],
  ['app == ""', web, false],
  ['app == "Web"', web, false],
  ['app == "we"', web, false],
  ['app == "web "', web, false],
  ['app == "with space"', { app: 'with space' }, true],
  ['app == \'say "hi"\'', { app: 'say "hi"' }, true],
  ['app == "it\'s"', { app: "it's" }, true],
  ['app == "a&&b||c"', { app: 'a&&b||c' }, true],
  ['app == "(x)"', { app: '(x)' }, true],
  ['app == "all()"', { app: 'all()' }, true],
  ['app == "é✓"', { app: 'é✓' }, true],
  // !=
  ['app != "web"', web, false],
  ['app != "web"', db, true],
  ['app != "web"', none, true],
  ["app != 'web'", none, true],
  ['app!="web"', db, true],
  ['app != ""', empty, false],
  ['app != ""', none, true],
  ['app != ""', web, true],
  // has / !has
  ['has(app)', web, true],
  ['has(app)', none, false],
  ['has(app)', empty, true],
  ['has( app )', web, true],
  ['has(\tapp\t)', web, true],
  ['!has(app)', web, false],
  ['!has(app)', none, true],
  ['! has(app)', none, true],
  ['!has(app)', empty, false],
  ['has(missing)', web, false],
  ['!has(missing)', web, true],
  ['has(projectcalico.org/namespace)', ns, true],
  ['!has(projectcalico.org/namespace)', ns, false],
  ['!has(projectcalico.org/namespace)', web, true],
  // in / not in
  ['app in {"web"}', web, true],
  ['app in {"web", "db"}', web, true],
  ['app in {"web", "db"}', db, true],
  ['app in {"api", "db"}', web, false],
  ['app in {"web"}', none, false],
  ['app in {}', web, false],
  ['app in {}', none, false],
  ['app in { }', empty, false],
  ['app in {""}', empty, true],
  ['app in {""}', none, false],
  ["app in {'web','db'}", db, true],
  ['app in {"web",}', web, true],
  ['app in {"web", "db",}', db, true],
  ['app in{"web"}', web, true],
  ['app in {  "web"  ,  "db"  }', web, true],
  ['app in {"db", "db", "db"}', db, true],
  ['app in {"web", \'db\'}', db, true],
  ['app in {"a","b","c","d","e","f","g","h","i","j","web"}', web, true],
  ['app in {"a","b","c","d","e","f","g","h","i","j","k"}', web, false],
  ['app in {"a","b","c","d","e","f","g","h","i","j","k"}', none, false],
  ['app not in {"web"}', web, false],
  ['app not in {"web"}', db, true],
  ['app not in {"web"}', none, true],
  ['app not in {"web", "db"}', db, false],
  ['app not in {}', web, true],
  ['app not in {}', none, true],
  ['app notin {"web"}', web, false],
  ['app notin {"web"}', db, true],
  ['app not  in {"web"}', db, true],
  ['app not\tin {"web"}', db, true],
  ['app not in {"a","b","c","d","e","f","g","h","i","j","k"}', web, true],
  ['app not in {"a","b","c","d","e","f","g","h","i","j","web"}', web, false],
  ['app not in {"a","b","c","d","e","f","g","h","i","j","k"}', none, true],
  ['app not in {"", "x"}', empty, false],
  // contains / starts with / ends with
  ['app contains "e"', web, true],
  ['app contains "we"', web, true],
  ['app contains "web"', web, true],
  ['app contains "webs"', web, false],
  ['app contains ""', web, true],
  ['app contains ""', none, false],
  ['app contains "e"', none, false],
  ["app contains 'b'", db, true],
  ['app starts with "w"', web, true],
  ['app starts with "web"', web, true],
  ['app starts with "eb"', web, false],
  ['app starts with "w"', none, false],
  ['app starts with ""', empty, true],
  ['app startswith "w"', web, true],
  ['app starts   with "w"', web, true],
  ['app starts\twith "w"', web, true],
  ['app ends with "b"', web, true],
  ['app ends with "eb"', web, true],
  ['app ends with "w"', web, false],
  ['app ends with "b"', none, false],
  ['app endswith "b"', db, true],
  ['app ends  with "db"', db, true],
  ['!app contains "e"', web, false],
  ['!app contains "e"', none, true],
  ['!app starts with "w"', none, true],
  ['!app ends with "b"', db, false],
  // &&
  ['app == "web" && tier == "frontend"', web, true],
  ['app == "web" && tier == "backend"', web, false],
  ['app == "web"&&tier == "frontend"', web, true],
  ['app == "web" && tier == "frontend" && env == "prod"', web, true],
  ['app == "web" && tier == "frontend" && env == "dev"', web, false],
  ['has(app) && has(tier) && has(env) && has(x)', web, false],
  ['has(app) && !has(x)', web, true],
  ['all() && app == "db"', db, true],
  ['all() && app == "db"', web, false],
  ['global() && has(app)', none, false],
  // ||
  ['app == "web" || app == "db"', web, true],
  ['app == "web" || app == "db"', db, true],
  ['app == "web" || app == "db"', none, false],
  ['app == "x"||app == "db"', db, true],
  ['app == "x" || app == "y" || app == "db"', db, true],
  ['app == "x" || app == "y" || app == "z"', db, false],
  ['!all() || has(app)', web, true],
  ['!all() || has(app)', none, false],
  // precedence: ! > && > ||
  ['app == "web" || app == "db" && tier == "frontend"', web, true],
  ['app == "web" || app == "db" && tier == "frontend"', db, false],
  ['(app == "web" || app == "db") && tier == "frontend"', db, false],
  ['(app == "web" || app == "db") && tier == "backend"', db, true],
  ['app == "db" && tier == "backend" || app == "web"', web, true],
  ['app == "db" && (tier == "frontend" || app == "web")', web, false],
  ['!has(app) && has(tier)', web, false],
  ['!has(x) && has(tier)', web, true],
  ['!has(app) || has(tier)', web, true],
  ['!(has(app) || has(tier))', web, false],
  ['!(has(x) || has(y))', web, true],
  ['!(has(app) && has(x))', web, true],
  ['!has(app) && !has(tier)', none, true],
  ['!has(app) && !has(tier) || has(env)', web, true],
  ['has(x) || !has(y) && has(app)', web, true],
  ['has(x) || !has(y) && has(z)', web, false],
  // double / triple negation
  ['!!has(app)', web, true],
  ['!!has(app)', none, false],
  ['!!!has(app)', web, false],
  ['! ! has(app)', web, true],
  ['!(!has(app))', web, true],
  ['!(!(!has(app)))', none, true],
  ['!!(app == "web" && env == "prod")', web, true],
  ['!(app == "web" && env == "prod")', web, false],
  ['!(app == "web" && env == "prod")', db, true],
  // nesting
  ['((app == "web"))', web, true],
  ['( ( ( has(app) ) ) )', web, true],
  ['((app == "web") && (env == "prod"))', web, true],
  ['(((has(a) || has(app)) && has(tier)) || has(zz))', web, true],
  ['(((has(a) || has(app)) && has(x)) || has(zz))', web, false],
  ['(has(app) && (has(tier) && (has(env) && (app in {"db"}))))', db, true],
  ['(has(app) && (has(tier) && (has(env) && (app in {"db"}))))', web, false],
  ['!(!(app == "web") || !(tier == "frontend"))', web, true],
  ['!(!(app == "web") || !(tier == "frontend"))', db, false],
  // odd keys
  ['projectcalico.org/namespace == "yaobank"', ns, true],
  ["projectcalico.org/namespace == 'yaobank'", ns, true],
  ['projectcalico.org/namespace == "default"', ns, false],
  ['pcns.projectcalico.org/name not in {"kube-system", "calico-system"}', ns, true],
  [
    '(has(pcns.projectcalico.org/name) && pcns.projectcalico.org/name not in {"calico-system", "kube-system"})',
    ns,
    true,
  ],
  ["projectcalico.org/orchestrator == 'k8s' && k8s-app == 'kube-dns'", ns, true],
  ['kubernetes.io/hostname == "node1"', ns, true],
  ['kubernetes.io/hostname in {"node1", "node2"}', ns, true],
  ['has(kubernetes.io/hostname)', ns, true],
  ['a.b_c-d/e.f == "x"', ns, true],
  ['has(a.b_c-d/e.f)', ns, true],
  ['-lead == "x"', { '-lead': 'x' }, true],
  ['_u == "x"', { _u: 'x' }, true],
  ['1234 == "5"', { '1234': '5' }, true],
  ['a/b/c == "d"', { 'a/b/c': 'd' }, true],
  ['.dot == "1"', { '.dot': '1' }, true],
  ['ABC == "x"', { abc: 'x' }, false],
  ['ABC == "x"', { ABC: 'x' }, true],
  // keys that look like keywords
  ['in == "x"', { in: 'x' }, true],
  ['not == "x"', { not: 'x' }, true],
  ['has == "x"', { has: 'x' }, true],
  ['all == "x"', { all: 'x' }, true],
  ['global != "x"', none, true],
  ['contains contains "x"', { contains: 'axb' }, true],
  ['starts starts with "a"', { starts: 'abc' }, true],
  ['in in {"in"}', { in: 'in' }, true],
  ['not not in {"x"}', { not: 'y' }, true],
  ['has(has)', { has: '' }, true],
  ['has(all) && has(in)', { all: '1', in: '2' }, true],
  ['inner == "x"', { inner: 'x' }, true],
  ['notice == "x"', { notice: 'x' }, true],
  // prototype keys are not labels
  ['has(constructor)', none, false],
  ['has(toString)', none, false],
  ['has(__proto__)', none, false],
  ['constructor != "x"', none, true],
  ['toString not in {"x"}', none, true],
  ['constructor in {"x"}', none, false],
  ['constructor contains ""', none, false],
  ['has(constructor)', { constructor: 'c' }, true],
  // lab examples
  [
    "projectcalico.org/orchestrator == 'k8s' && app == 'database'",
    { 'projectcalico.org/orchestrator': 'k8s', app: 'database' },
    true,
  ],
  [
    "projectcalico.org/orchestrator == 'k8s' && app == 'database'",
    { 'projectcalico.org/orchestrator': 'k8s', app: 'summary' },
    false,
  ],
  ['internet-egress not in {"allowed"}', { app: 'summary' }, true],
  ['internet-egress not in {"allowed"}', { 'internet-egress': 'allowed' }, false],
  ['route-reflector == "true"', { 'route-reflector': 'true' }, true],
  ['route-reflector == "true"', { 'route-reflector': 'True' }, false],
]

t.test('the table has at least 150 cases', (t) => {
  t.ok(cases.length >= 150, `${cases.length} cases`)
  t.end()
})

for (const [src, labels, expected] of cases) {
  t.test(`${JSON.stringify(src)} on ${JSON.stringify(labels)} -> ${expected}`, (t) => {
    const sel = parseSelector(src)
    t.equal(sel.evaluate(labels), expected)
    // the canonical form means the same thing
    t.equal(parseSelector(sel.toString()).evaluate(labels), expected, `canonical ${sel.toString()}`)
    t.end()
  })
}

t.test('evaluate is a plain function that can be passed around', (t) => {
  const { evaluate } = parseSelector('app in {"web", "db"}')
  t.same([web, db, none].filter(evaluate), [web, db])
  t.end()
})

t.test('evaluation micro-check (informational, no timing assertion)', (t) => {
  const sel = parseSelector(
    '(projectcalico.org/orchestrator == "k8s" && app in {"a", "b", "web"}) && !has(x) || tier starts with "front"',
  )
  const labels: Labels[] = Array.from({ length: 1000 }, (_, i) => ({
    'projectcalico.org/orchestrator': 'k8s',
    app: i % 3 === 0 ? 'web' : 'db',
    tier: i % 5 === 0 ? 'frontend' : 'backend',
  }))
  let hits = 0
  const start = performance.now()
  for (let r = 0; r < 200; r++) for (const l of labels) if (sel.evaluate(l)) hits++
  const ms = performance.now() - start
  t.comment(`200k evaluations in ${ms.toFixed(1)} ms`)
  // every third is web, plus frontend non-web ones (i%5==0 && i%3!=0)
  const expectedPerRound = labels.filter((_, i) => i % 3 === 0 || i % 5 === 0).length
  t.equal(hits, expectedPerRound * 200)
  t.end()
})
