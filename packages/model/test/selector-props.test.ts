import fc from 'fast-check'
import t from 'tap'
import {
  andSelectors,
  COMPARE_OPS,
  compareNode,
  hasNode,
  type Labels,
  mapLabelKeys,
  nodesEqual,
  notNode,
  parseSelector,
  parseSelectorNode,
  printSelector,
  SET_OPS,
  type SelectorNode,
  selectorFromNode,
  setNode,
} from '../src/index.ts'

// Replay a failure with FC_SEED=<seed>.
const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Math.floor(Math.random() * 2 ** 31)
t.comment(`fast-check seed ${seed} (replay with FC_SEED=${seed})`)
const numRuns = 300

const KEYS = ['app', 'tier', 'projectcalico.org/name', 'a.b-c_d/e', 'x', 'in', 'has'] as const
// Values cannot contain both quote kinds (the language has no escapes).
const VALUES = [
  '',
  'web',
  'db',
  'we',
  'b',
  'say "hi"',
  "it's",
  'x y',
  'in',
  'has(x)',
  'a&&b',
  'v1',
  'v2',
  'v3',
] as const

const keyArb = fc.constantFrom(...KEYS)
const valueArb = fc.constantFrom(...VALUES)

const labelsArb: fc.Arbitrary<Labels> = fc
  .array(fc.tuple(keyArb, valueArb), { maxLength: KEYS.length })
  .map((kvs) => Object.fromEntries(kvs))

const leafArb: fc.Arbitrary<SelectorNode> = fc.oneof(
  fc.constant<SelectorNode>({ kind: 'all' }),
  fc.constant<SelectorNode>({ kind: 'global' }),
  keyArb.map((k) => hasNode(k)),
  fc.tuple(fc.constantFrom(...COMPARE_OPS), keyArb, valueArb).map(([op, k, v]) => compareNode(op, k, v)),
  fc
    .tuple(fc.constantFrom(...SET_OPS), keyArb, fc.array(valueArb, { maxLength: 12 }))
    .map(([op, k, vs]) => setNode(op, k, vs)),
)

const { node: nodeArb } = fc.letrec<{ node: SelectorNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    tie('node').map((n) => notNode(n)),
    fc.array(tie('node'), { minLength: 2, maxLength: 4 }).map((ops): SelectorNode => ({ kind: 'and', operands: ops })),
    fc.array(tie('node'), { minLength: 2, maxLength: 4 }).map((ops): SelectorNode => ({ kind: 'or', operands: ops })),
  ),
}))

/** A reference interpreter, independent of the compiled closures. */
function refEval(n: SelectorNode, l: Labels): boolean {
  const has = Object.hasOwn(l, 'key' in n ? n.key : '')
  const v = 'key' in n && has ? l[n.key] : undefined
  switch (n.kind) {
    case 'all':
    case 'global':
      return true
    case 'has':
      return has
    case 'compare':
      if (n.op === '!=') return !has || v !== n.value
      if (v === undefined) return false
      if (n.op === '==') return v === n.value
      if (n.op === 'contains') return v.indexOf(n.value) >= 0
      if (n.op === 'starts with') return v.slice(0, n.value.length) === n.value
      return v.length >= n.value.length && v.slice(v.length - n.value.length) === n.value
    case 'set':
      return n.op === 'in' ? v !== undefined && n.values.includes(v) : v === undefined || !n.values.includes(v)
    case 'not':
      return !refEval(n.operand, l)
    case 'and':
      return n.operands.every((o) => refEval(o, l))
    case 'or':
      return n.operands.some((o) => refEval(o, l))
  }
}

/** fast-check's failure message names the seed, the counterexample and its shrink path. */
function holds(prop: fc.IProperty<[unknown, ...unknown[]]>): void {
  fc.assert(prop, { seed, numRuns })
}

t.test('parse(print(x)) is structurally x, and printing is a fixpoint', (t) => {
  t.doesNotThrow(() =>
    holds(
      fc.property(nodeArb, (x) => {
        const text = printSelector(x)
        const back = parseSelectorNode(text)
        return nodesEqual(back, x) && printSelector(back) === text
      }),
    ),
  )
  // the same with tap's deep equality, on a few samples
  for (const x of fc.sample(nodeArb, { seed, numRuns: 25 })) t.same(parseSelectorNode(printSelector(x)), x)
  t.end()
})

t.test('evaluate(parse(print(x))) == evaluate(x) == reference interpreter', (t) => {
  t.doesNotThrow(() =>
    holds(
      fc.property(nodeArb, labelsArb, (x, l) => {
        const direct = selectorFromNode(x).evaluate(l)
        return direct === parseSelector(printSelector(x)).evaluate(l) && direct === refEval(x, l)
      }),
    ),
  )
  t.end()
})

t.test('!(a) is the negation of a', (t) => {
  t.doesNotThrow(() =>
    holds(
      fc.property(nodeArb, labelsArb, (a, l) => {
        const pa = printSelector(a)
        return parseSelector(`!(${pa})`).evaluate(l) === !parseSelector(pa).evaluate(l)
      }),
    ),
  )
  t.end()
})

t.test('De Morgan', (t) => {
  t.doesNotThrow(() =>
    holds(
      fc.property(nodeArb, nodeArb, labelsArb, (a, b, l) => {
        const pa = printSelector(a)
        const pb = printSelector(b)
        const e = (s: string) => parseSelector(s).evaluate(l)
        return (
          e(`!((${pa}) && (${pb}))`) === e(`!(${pa}) || !(${pb})`) &&
          e(`!((${pa}) || (${pb}))`) === e(`!(${pa}) && !(${pb})`)
        )
      }),
    ),
  )
  t.end()
})

t.test('andSelectors is conjunction; uniqueId depends only on the canonical form', (t) => {
  t.doesNotThrow(() =>
    holds(
      fc.property(nodeArb, nodeArb, labelsArb, (a, b, l) => {
        const sa = selectorFromNode(a)
        const sb = selectorFromNode(b)
        const both = selectorFromNode(andSelectors(a, b))
        const reparsed = parseSelector(`  ${printSelector(a)}\t`)
        return both.evaluate(l) === (sa.evaluate(l) && sb.evaluate(l)) && reparsed.uniqueId === sa.uniqueId
      }),
    ),
  )
  t.end()
})

t.test('mapLabelKeys with a prefix matches prefixed labels', (t) => {
  t.doesNotThrow(() =>
    holds(
      fc.property(nodeArb, labelsArb, (x, l) => {
        const prefixed = Object.fromEntries(Object.entries(l).map(([k, v]) => [`pcns.${k}`, v]))
        const mapped = selectorFromNode(mapLabelKeys(x, (k) => `pcns.${k}`))
        return (
          mapped.evaluate(prefixed) === selectorFromNode(x).evaluate(l) &&
          mapped.labelKeys().every((k) => k.startsWith('pcns.'))
        )
      }),
    ),
  )
  t.end()
})

t.test('whitespace between tokens does not change meaning or canonical form', (t) => {
  t.doesNotThrow(() =>
    holds(
      fc.property(nodeArb, fc.constantFrom(' ', '  ', '\t', ' \t '), (x, ws) => {
        const text = printSelector(x)
        // add whitespace around the punctuation that is outside quoted values
        let spaced = ''
        let quote: string | undefined
        for (const ch of text) {
          if (quote !== undefined) {
            spaced += ch
            if (ch === quote) quote = undefined
          } else if (ch === '"' || ch === "'") {
            quote = ch
            spaced += ch
          } else if (ch === '(') spaced += `${ch}${ws}`
          else if ('){},'.includes(ch)) spaced += `${ws}${ch}${ws}`
          else spaced += ch
        }
        return parseSelector(spaced).toString() === text
      }),
    ),
  )
  t.end()
})
