import t from 'tap'
import {
  allNode,
  andNode,
  andSelectors,
  compareNode,
  globalNode,
  hasNode,
  labelKeysOf,
  makeUniqueId,
  mapLabelKeys,
  nodesEqual,
  notNode,
  orNode,
  parseSelector,
  parseSelectorNode,
  printSelector,
  replaceAll,
  replaceGlobal,
  type SelectorNode,
  selectorFromNode,
  setNode,
} from '../src/index.ts'

const canonical: [string, string][] = [
  ['', 'all()'],
  ['  ', 'all()'],
  ['all( )', 'all()'],
  ['global()', 'global()'],
  ['has( a )', 'has(a)'],
  ["app == 'x'", 'app == "x"'],
  ['app=="x"', 'app == "x"'],
  ['app != "x"', 'app != "x"'],
  ['app == \'say "hi"\'', 'app == \'say "hi"\''],
  ['app == "it\'s"', 'app == "it\'s"'],
  ['app contains "x"', 'app contains "x"'],
  ['app startswith "x"', 'app starts with "x"'],
  ['app starts    with "x"', 'app starts with "x"'],
  ['app endswith "x"', 'app ends with "x"'],
  ['app notin {"x"}', 'app not in {"x"}'],
  ['app not   in {"x"}', 'app not in {"x"}'],
  ["a in {'b', \"a\", 'b',}", 'a in {"a", "b"}'],
  ['a in {"b","B","a","_","1"}', 'a in {"1", "B", "_", "a", "b"}'],
  ['a in {}', 'a in {}'],
  ['a not in { }', 'a not in {}'],
  ['a in {\'x"y\', "z"}', 'a in {\'x"y\', "z"}'],
  ['! has(a)', '!has(a)'],
  ['!!has(a)', 'has(a)'],
  ['!!!has(a)', '!has(a)'],
  ['!(!has(a))', 'has(a)'],
  ['((has(a)))', 'has(a)'],
  ['!a == "b"', '!a == "b"'],
  ['!(a == "b" && c == "d")', '!(a == "b" && c == "d")'],
  ['a == "b" && c == "d" && e == "f"', '(a == "b" && c == "d" && e == "f")'],
  ['(a == "b" && c == "d") && e == "f"', '((a == "b" && c == "d") && e == "f")'],
  ['a == "b" && (c == "d" && e == "f")', '(a == "b" && (c == "d" && e == "f"))'],
  ['a == "b" || c == "d" && e == "f"', '(a == "b" || (c == "d" && e == "f"))'],
  ['(a == "b" || c == "d") && e == "f"', '((a == "b" || c == "d") && e == "f")'],
  ['!has(a) && has(b) || !has(c)', '((!has(a) && has(b)) || !has(c))'],
  [
    'has(projectcalico.org/name) && projectcalico.org/name not in {"kube-system","calico-system"}',
    '(has(projectcalico.org/name) && projectcalico.org/name not in {"calico-system", "kube-system"})',
  ],
]

t.test('canonical printing matches Calico', (t) => {
  for (const [src, want] of canonical) {
    const s = parseSelector(src)
    t.equal(s.toString(), want, JSON.stringify(src))
    t.equal(s.source, src)
    t.equal(String(s), want)
    t.equal(parseSelector(want).toString(), want, `fixpoint ${want}`)
  }
  t.end()
})

t.test('the AST the parser builds', (t) => {
  t.same(parseSelectorNode(''), { kind: 'all' })
  t.same(parseSelectorNode("a in {'y', 'x', 'y'}"), { kind: 'set', op: 'in', key: 'a', values: ['x', 'y'] })
  t.same(parseSelectorNode('!has(a) || b starts with "c"'), {
    kind: 'or',
    operands: [
      { kind: 'not', operand: { kind: 'has', key: 'a' } },
      { kind: 'compare', op: 'starts with', key: 'b', value: 'c' },
    ],
  })
  t.same(parseSelectorNode('(a == "1" && b == "2") && c == "3"'), {
    kind: 'and',
    operands: [
      {
        kind: 'and',
        operands: [compareNode('==', 'a', '1'), compareNode('==', 'b', '2')],
      },
      compareNode('==', 'c', '3'),
    ],
  })
  t.end()
})

t.test("uniqueId is Calico's id and names the IP set Felix would program", (t) => {
  // calico.md §3.8: GNP rule selector `k8s-app == "kube-dns"` -> ipset `cali40s:oCO04qh3P0cpu6ATIRHkzNc`
  const id = parseSelector("k8s-app == 'kube-dns'").uniqueId
  t.match(id, /^s:[A-Za-z0-9_-]{38}$/)
  t.equal(`cali40${id}`.slice(0, 31), 'cali40s:oCO04qh3P0cpu6ATIRHkzNc')
  t.equal(id, makeUniqueId('s', 'k8s-app == "kube-dns"'))
  t.equal(parseSelector('k8s-app=="kube-dns"').uniqueId, id, 'same canonical form, same id')
  t.not(parseSelector('k8s-app == "kube-dnS"').uniqueId, id)
  t.equal(parseSelector('').uniqueId, parseSelector('all()').uniqueId)
  t.not(parseSelector('all()').uniqueId, parseSelector('global()').uniqueId)
  t.end()
})

t.test('labelKeys lists the keys read, sorted and unique', (t) => {
  t.same(parseSelector('b == "1" && (a in {"x"} || !has(b)) && c contains "z"').labelKeys(), ['a', 'b', 'c'])
  t.same(parseSelector('all() || global()').labelKeys(), [])
  t.same(labelKeysOf(parseSelectorNode('has(projectcalico.org/name)')), ['projectcalico.org/name'])
  t.end()
})

t.test('GNP namespaceSelector rewrite (calico.md 1.4): prefix pcns., then all() -> has(namespace)', (t) => {
  const ns = parseSelector(
    'has(projectcalico.org/name) && projectcalico.org/name not in {"kube-system","calico-system"}',
  )
  const prefixed = mapLabelKeys(ns.ast, (k) => `pcns.${k}`)
  t.equal(
    printSelector(prefixed),
    '(has(pcns.projectcalico.org/name) && pcns.projectcalico.org/name not in {"calico-system", "kube-system"})',
  )
  const nsAll = replaceAll(
    mapLabelKeys(parseSelectorNode('all()'), (k) => `pcns.${k}`),
    hasNode('projectcalico.org/namespace'),
  )
  const combined = selectorFromNode(andSelectors(parseSelectorNode('app == "x"'), nsAll))
  t.equal(combined.toString(), '(app == "x" && has(projectcalico.org/namespace))')
  t.equal(combined.evaluate({ app: 'x', 'projectcalico.org/namespace': 'default' }), true)
  t.equal(combined.evaluate({ app: 'x' }), false, 'a host endpoint has no namespace label')
  // all() nested anywhere is replaced, and a quoted "all()" is left alone
  t.equal(
    printSelector(replaceAll(parseSelectorNode('!all() || a == "all()"'), hasNode('n'))),
    '(!has(n) || a == "all()")',
  )
  t.end()
})

t.test('rule namespaceSelector global() -> !has(projectcalico.org/namespace)', (t) => {
  const notNs = notNode(hasNode('projectcalico.org/namespace'))
  const g = selectorFromNode(replaceGlobal(parseSelectorNode('global()'), notNs))
  t.equal(g.toString(), '!has(projectcalico.org/namespace)')
  t.equal(g.evaluate({}), true, 'non-namespaced (HEP, GlobalNetworkSet)')
  t.equal(g.evaluate({ 'projectcalico.org/namespace': 'default' }), false)
  // double negation folds, as Calico's re-parse of "!!has(...)" does
  t.equal(printSelector(replaceGlobal(parseSelectorNode('!global()'), notNs)), 'has(projectcalico.org/namespace)')
  // global() on its own matches everything, like Calico's GlobalNode
  t.equal(parseSelector('global()').evaluate({ 'projectcalico.org/namespace': 'x' }), true)
  t.end()
})

t.test('NP rewrite example (calico.md 1.15)', (t) => {
  const sel = parseSelectorNode("projectcalico.org/orchestrator == 'k8s' && app == 'database'")
  const scoped = andSelectors(sel, compareNode('==', 'projectcalico.org/namespace', 'yaobank'))
  t.equal(
    printSelector(scoped),
    '((projectcalico.org/orchestrator == "k8s" && app == "database") && projectcalico.org/namespace == "yaobank")',
  )
  // the same as Calico's textual "(<sel>) && <ns clause>" re-parsed
  t.ok(
    nodesEqual(
      scoped,
      parseSelectorNode(
        "(projectcalico.org/orchestrator == 'k8s' && app == 'database') && projectcalico.org/namespace == 'yaobank'",
      ),
    ),
  )
  t.end()
})

t.test('constructors keep the AST invariants', (t) => {
  t.same(setNode('in', 'a', ['c', 'a', 'b', 'a']).values, ['a', 'b', 'c'])
  t.same(notNode(notNode(hasNode('a'))), hasNode('a'))
  t.same(andNode([]), allNode())
  t.same(andNode([hasNode('a')]), hasNode('a'))
  t.same(orNode([globalNode()]), globalNode())
  t.throws(() => orNode([]))
  const both: SelectorNode = andNode([hasNode('a'), hasNode('b')])
  t.equal(printSelector(both), '(has(a) && has(b))')
  t.ok(nodesEqual(both, parseSelectorNode('has(a) && has(b)')))
  t.notOk(nodesEqual(both, parseSelectorNode('has(a) || has(b)')))
  t.notOk(nodesEqual(parseSelectorNode('a in {"x"}'), parseSelectorNode('a not in {"x"}')))
  t.end()
})

t.test('transforms do not mutate their input', (t) => {
  const node = parseSelectorNode('has(a) && (b in {"x"} || !c == "d") && all()')
  const before = JSON.stringify(node)
  mapLabelKeys(node, (k) => `p.${k}`)
  replaceAll(node, hasNode('z'))
  andSelectors(node, node)
  t.equal(JSON.stringify(node), before)
  t.end()
})

t.test('selectorFromNode uses the canonical form as its source', (t) => {
  const s = selectorFromNode(andSelectors(hasNode('a'), hasNode('b')))
  t.equal(s.source, '(has(a) && has(b))')
  t.equal(s.uniqueId, parseSelector('has(a)&&has(b)').uniqueId)
  t.equal(JSON.stringify({ s }), '{"s":"(has(a) && has(b))"}')
  t.end()
})
