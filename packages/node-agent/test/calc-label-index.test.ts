import { parseSelector } from '@calilab/model'
import fc from 'fast-check'
import t from 'tap'
import { LabelIndex, type Labels, namespaceProfileLabels, podProfileIds } from '../src/core/calc/index.ts'

const SELECTORS = [
  "app == 'a'",
  'has(tier)',
  '!has(env)',
  "app in {'a', 'b'} && env != 'c'",
  'all()',
  "pcns.team == 'x'",
  "pcns.projectcalico.org/name == 'ns1' || tier == 'b'",
  "app == 'b' && has(pcns.team)",
]
const KEYS = ['app', 'tier', 'env', 'pcns.team']
const VALUES = ['a', 'b', 'c', 'x']

interface State {
  parents: Map<string, Labels>
  endpoints: Map<string, { labels: Labels; parents: string[] }>
  selectors: Map<string, string>
}

/** The brute-force answer: every (selector, endpoint) pair that matches. */
function bruteForce(s: State): string[] {
  const out: string[] = []
  for (const [sid, src] of s.selectors) {
    const sel = parseSelector(src)
    for (const [eid, ep] of s.endpoints) {
      const eff: Record<string, string> = { ...ep.labels }
      for (const p of ep.parents) {
        for (const [k, v] of Object.entries(s.parents.get(p) ?? {})) if (!Object.hasOwn(eff, k)) eff[k] = v
      }
      if (sel.evaluate(eff)) out.push(`${sid}|${eid}`)
    }
  }
  return out.sort()
}

/** An index whose callbacks maintain the pair set, failing on a double start or a stray stop. */
function tracked() {
  const pairs = new Set<string>()
  const errors: string[] = []
  let calls = 0
  const idx = new LabelIndex({
    onMatchStarted(s, e) {
      calls++
      if (pairs.has(`${s}|${e}`)) errors.push(`double start ${s}|${e}`)
      pairs.add(`${s}|${e}`)
    },
    onMatchStopped(s, e) {
      calls++
      if (!pairs.delete(`${s}|${e}`)) errors.push(`stray stop ${s}|${e}`)
    },
  })
  return { idx, pairs: () => [...pairs].sort(), errors, calls: () => calls }
}

function applyState(idx: LabelIndex, cur: State, next: State): void {
  for (const [id, l] of next.parents) idx.updateParent(id, l)
  for (const [id, src] of next.selectors) idx.updateSelector(id, parseSelector(src))
  for (const [id, ep] of next.endpoints) idx.updateEndpoint(id, ep.labels, ep.parents)
  for (const id of cur.endpoints.keys()) if (!next.endpoints.has(id)) idx.deleteEndpoint(id)
  for (const id of cur.selectors.keys()) if (!next.selectors.has(id)) idx.deleteSelector(id)
  for (const id of cur.parents.keys()) if (!next.parents.has(id)) idx.deleteParent(id)
}

const EMPTY: State = { parents: new Map(), endpoints: new Map(), selectors: new Map() }

const labelsArb = fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES), { maxKeys: 3 })
const stateArb: fc.Arbitrary<State> = fc.record({
  parents: fc
    .dictionary(fc.constantFrom('kns.ns1', 'kns.ns2', 'ksa.ns1.sa'), labelsArb, { maxKeys: 3 })
    .map(
      (d) =>
        new Map(
          Object.entries(d).map(([k, v]) => [
            k,
            { ...v, ...(k.startsWith('kns.') ? { 'pcns.projectcalico.org/name': k.slice(4) } : {}) },
          ]),
        ),
    ),
  endpoints: fc
    .dictionary(
      fc.constantFrom('e0', 'e1', 'e2', 'e3', 'e4'),
      fc.record({ labels: labelsArb, parents: fc.subarray(['kns.ns1', 'ksa.ns1.sa', 'kns.ns2']) }),
      { maxKeys: 5 },
    )
    .map((d) => new Map(Object.entries(d))),
  selectors: fc
    .dictionary(fc.constantFrom('s0', 's1', 's2', 's3'), fc.constantFrom(...SELECTORS), { maxKeys: 4 })
    .map((d) => new Map(Object.entries(d))),
})

t.test('namespace and service-account labels are inherited from profiles', async (t) => {
  const { idx, pairs } = tracked()
  idx.updateParent('kns.yaobank', namespaceProfileLabels('yaobank', { team: 'bank' }))
  idx.updateSelector('ns', parseSelector("pcns.projectcalico.org/name == 'yaobank'"))
  idx.updateSelector('team', parseSelector("pcns.team == 'bank'"))
  idx.updateSelector('own', parseSelector("app == 'customer'"))
  idx.updateEndpoint('pod', { app: 'customer' }, podProfileIds('yaobank', 'default'))
  t.same(pairs(), ['ns|pod', 'own|pod', 'team|pod'])
  t.same(idx.effectiveLabels('pod'), {
    app: 'customer',
    'pcns.team': 'bank',
    'pcns.projectcalico.org/name': 'yaobank',
  })
  // own labels win over a parent's
  idx.updateEndpoint('pod2', { 'pcns.team': 'mine' }, ['kns.yaobank'])
  t.same(idx.effectiveLabels('pod2')?.['pcns.team'], 'mine')
  // a parent change reaches its children
  idx.updateParent('kns.yaobank', namespaceProfileLabels('yaobank', { team: 'other' }))
  t.same(pairs(), ['ns|pod', 'ns|pod2', 'own|pod'])
  idx.deleteParent('kns.yaobank')
  t.same(pairs(), ['own|pod'])
})

t.test('random operation sequences match a brute-force recomputation after every step', async (t) => {
  const seed = Date.now() % 100000
  t.comment(`fast-check seed ${seed}`)
  fc.assert(
    fc.property(fc.array(stateArb, { minLength: 1, maxLength: 6 }), (states) => {
      const { idx, pairs, errors } = tracked()
      let cur = EMPTY
      for (const s of states) {
        applyState(idx, cur, s)
        cur = s
        const want = bruteForce(s)
        const got = pairs()
        if (errors.length > 0 || JSON.stringify(got) !== JSON.stringify(want)) {
          throw new Error(`mismatch: got ${JSON.stringify(got)} want ${JSON.stringify(want)} errors ${errors}`)
        }
      }
      return true
    }),
    { numRuns: 300, seed },
  )
  t.pass('index == brute force')
})

t.test('state sequences and their variations end in the same state', async (t) => {
  fc.assert(
    fc.property(fc.array(stateArb, { minLength: 2, maxLength: 5 }), (states) => {
      const run = (seq: State[]) => {
        const { idx, pairs, errors } = tracked()
        let cur = EMPTY
        for (const s of seq) {
          applyState(idx, cur, s)
          cur = s
        }
        if (errors.length) throw new Error(errors.join(','))
        return JSON.stringify(pairs())
      }
      const last = states[states.length - 1] as State
      const first = states[0] as State
      const withEmpties = states.flatMap((s) => [EMPTY, s])
      const fwd = run(states)
      if (fwd !== run([last])) throw new Error('squashed differs')
      if (fwd !== run(withEmpties)) throw new Error('with empty states between differs')
      if (run([...states].reverse()) !== run([first])) throw new Error('reversed differs')
      return fwd === JSON.stringify(bruteForce(last))
    }),
    { numRuns: 200 },
  )
  t.pass('variations agree')
})

t.test('a label or selector change touches only what it affects', async (t) => {
  const { idx, calls } = tracked()
  const N = 2000
  for (let i = 0; i < N; i++) idx.updateEndpoint(`e${i}`, { app: `a${i % 10}`, tier: `t${i % 7}` }, ['kns.ns1'])
  for (let i = 0; i < 10; i++) idx.updateSelector(`app${i}`, parseSelector(`app == 'a${i}'`))
  for (let i = 0; i < 7; i++) idx.updateSelector(`tier${i}`, parseSelector(`tier == 't${i}'`))
  idx.updateSelector('ns', parseSelector("pcns.projectcalico.org/name == 'ns1'"))
  const base = { evals: idx.stats.evaluations, calls: calls() }

  // relabel one endpoint's app: only the 10 app selectors are evaluated; 2 match changes
  idx.updateEndpoint('e3', { app: 'a4', tier: 't3' }, ['kns.ns1'])
  t.equal(idx.stats.evaluations - base.evals, 10)
  t.equal(calls() - base.calls, 2)

  // same labels again: nothing evaluated, nothing emitted
  const b2 = { evals: idx.stats.evaluations, calls: calls() }
  idx.updateEndpoint('e3', { app: 'a4', tier: 't3' }, ['kns.ns1'])
  t.equal(idx.stats.evaluations - b2.evals, 0)
  t.equal(calls() - b2.calls, 0)

  // a new selector evaluates every endpoint once and emits one start per match
  const b3 = { evals: idx.stats.evaluations, calls: calls() }
  idx.updateSelector('t0-a0', parseSelector("tier == 't0' && app == 'a0'"))
  t.equal(idx.stats.evaluations - b3.evals, N)
  t.equal(calls() - b3.calls, idx.endpointsMatching('t0-a0').size)
  t.ok(idx.endpointsMatching('t0-a0').size > 0)

  // the parent appears: its 2000 children are re-evaluated only against the one selector reading pcns.*
  const b4 = { evals: idx.stats.evaluations, calls: calls() }
  idx.updateParent('kns.ns1', namespaceProfileLabels('ns1'))
  t.equal(idx.stats.evaluations - b4.evals, N)
  t.equal(calls() - b4.calls, N)
  t.equal(idx.endpointsMatching('ns').size, N)

  // deleting a selector emits one stop per match and evaluates nothing
  const b5 = { evals: idx.stats.evaluations, calls: calls() }
  idx.deleteSelector('ns')
  t.equal(idx.stats.evaluations - b5.evals, 0)
  t.equal(calls() - b5.calls, N)
})
