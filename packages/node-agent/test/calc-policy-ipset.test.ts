import { parseSelector } from '@calilab/model'
import fc from 'fast-check'
import t from 'tap'
import { comparePolicies, IpSetIndex, PolicyResolver, type TierPolicies } from '../src/core/calc/index.ts'

const sel = parseSelector

t.test('policy order: tier order, then order (unset last), then name', async (t) => {
  const k = (tier: string, tierOrder: number | undefined, order: number | undefined, name: string) => ({
    tier,
    tierOrder,
    order,
    name,
  })
  const list = [
    k('default', 1_000_000, undefined, 'default.default-app-policy'),
    k('default', 1_000_000, 1000, 'yaobank/knp.default.customer-policy'),
    k('default', 1_000_000, 600, 'default.egress-lockdown'),
    k('default', 1_000_000, 1000, 'yaobank/knp.default.database-policy'),
    k('kube-admin', 1000, 5000, 'kube-admin.z'),
    k('zz-unordered', undefined, 1, 'zz.a'),
    k('aa-unordered', undefined, 1, 'aa.a'),
  ]
  t.same(
    [...list].sort(comparePolicies).map((p) => p.name),
    [
      'kube-admin.z',
      'default.egress-lockdown',
      'yaobank/knp.default.customer-policy',
      'yaobank/knp.default.database-policy',
      'default.default-app-policy',
      'aa.a',
      'zz.a',
    ],
  )
})

t.test('per-endpoint ordered lists, emitted only when they change', async (t) => {
  const emitted: [string, readonly TierPolicies[] | undefined][] = []
  const r = new PolicyResolver({ onEndpointPolicies: (e, l) => emitted.push([e, l]) })
  r.updateTier('default', 1_000_000)
  r.updateEndpoint('customer', { app: 'customer', 'projectcalico.org/namespace': 'yaobank' })
  r.updateEndpoint('database', { app: 'database', 'projectcalico.org/namespace': 'yaobank' })
  r.updatePolicy('default-app-policy', {
    selector: sel("projectcalico.org/namespace == 'yaobank'"),
    tier: 'default',
    name: 'default.default-app-policy',
  })
  r.updatePolicy('egress-lockdown', {
    selector: sel('all()'),
    tier: 'default',
    order: 600,
    name: 'default.egress-lockdown',
  })
  r.updatePolicy('customer-policy', {
    selector: sel("app == 'customer'"),
    tier: 'default',
    order: 1000,
    name: 'yaobank/knp.default.customer-policy',
  })
  t.equal(r.flush(), 2)
  t.same(r.policiesFor('customer'), [
    { tier: 'default', policies: ['egress-lockdown', 'customer-policy', 'default-app-policy'] },
  ])
  t.same(r.policiesFor('database'), [{ tier: 'default', policies: ['egress-lockdown', 'default-app-policy'] }])

  emitted.length = 0
  // a policy that matches only database touches only database
  r.updatePolicy('database-policy', {
    selector: sel("app == 'database'"),
    tier: 'default',
    order: 1000,
    name: 'yaobank/knp.default.database-policy',
  })
  t.equal(r.flush(), 1)
  t.same(
    emitted.map(([e]) => e),
    ['database'],
  )

  // re-sending an identical policy emits nothing
  emitted.length = 0
  r.updatePolicy('database-policy', {
    selector: sel("app == 'database'"),
    tier: 'default',
    order: 1000,
    name: 'yaobank/knp.default.database-policy',
  })
  t.equal(r.flush(), 0)

  // an order change re-sorts the endpoints it matches
  r.updatePolicy('egress-lockdown', {
    selector: sel('all()'),
    tier: 'default',
    order: 2000,
    name: 'default.egress-lockdown',
  })
  r.flush()
  t.same(r.policiesFor('customer'), [
    { tier: 'default', policies: ['customer-policy', 'egress-lockdown', 'default-app-policy'] },
  ])

  // a second tier sorts by tier order
  r.updateTier('security', 100)
  r.updatePolicy('sec', { selector: sel("app == 'customer'"), tier: 'security', name: 'security.sec' })
  r.flush()
  t.same(r.policiesFor('customer'), [
    { tier: 'security', policies: ['sec'] },
    { tier: 'default', policies: ['customer-policy', 'egress-lockdown', 'default-app-policy'] },
  ])
  r.updateTier('security', 2_000_000)
  emitted.length = 0
  r.flush()
  t.same(
    emitted.map(([e]) => e),
    ['customer'],
    'tier order change touches only endpoints with policies in it',
  )
  t.same(
    r.policiesFor('customer')?.map((x) => x.tier),
    ['default', 'security'],
  )

  emitted.length = 0
  r.deleteEndpoint('customer')
  r.flush()
  t.same(emitted, [['customer', undefined]])
})

t.test('ip sets: members with ref counting across endpoints sharing an IP', async (t) => {
  const events: string[] = []
  const ips = new IpSetIndex({
    onMemberAdded: (s, m) => events.push(`+${s} ${m}`),
    onMemberRemoved: (s, m) => events.push(`-${s} ${m}`),
  })
  ips.addSet('web', sel("app == 'web'"))
  ips.updateEndpoint('w1', { app: 'web' }, [], ['10.0.0.1'])
  ips.updateEndpoint('hostnet', { app: 'web' }, [], ['10.0.0.1', '10.0.0.9'])
  t.same(events, ['+web 10.0.0.1', '+web 10.0.0.9'])
  t.same(ips.members('web'), ['10.0.0.1', '10.0.0.9'])
  events.length = 0
  ips.deleteEndpoint('w1')
  t.same(events, [], 'still referenced by hostnet')
  ips.updateEndpoint('hostnet', { app: 'web' }, [], ['10.0.0.9', '10.0.0.10'])
  t.same(events, ['+web 10.0.0.10', '-web 10.0.0.1'])
  events.length = 0
  ips.updateEndpoint('hostnet', { app: 'db' }, [], ['10.0.0.9'])
  t.same(events.sort(), ['-web 10.0.0.10', '-web 10.0.0.9'])
  events.length = 0
  // label and IP change in one update: the new IP goes in, the old never lingers
  ips.updateEndpoint('hostnet', { app: 'web' }, [], ['10.0.0.77'])
  t.same(events, ['+web 10.0.0.77'])
  t.same(ips.members('web'), ['10.0.0.77'])
})

t.test('ip set membership equals a brute-force recomputation (property)', async (t) => {
  const SELS = ["app == 'a'", "app == 'b' || has(x)", 'all()', '!has(app)']
  const op = fc.oneof(
    fc.record({
      k: fc.constant('ep' as const),
      id: fc.constantFrom('e0', 'e1', 'e2', 'e3'),
      labels: fc.dictionary(fc.constantFrom('app', 'x'), fc.constantFrom('a', 'b'), { maxKeys: 2 }),
      ips: fc.subarray(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.0/24']),
    }),
    fc.record({ k: fc.constant('del' as const), id: fc.constantFrom('e0', 'e1', 'e2', 'e3') }),
    fc.record({ k: fc.constant('set' as const), id: fc.constantFrom('s0', 's1'), src: fc.constantFrom(...SELS) }),
    fc.record({ k: fc.constant('unset' as const), id: fc.constantFrom('s0', 's1') }),
  )
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const members = new Map<string, Set<string>>()
      const ix = new IpSetIndex({
        onMemberAdded: (s, m) => {
          let x = members.get(s)
          if (!x) members.set(s, (x = new Set()))
          if (x.has(m)) throw new Error(`double add ${s} ${m}`)
          x.add(m)
        },
        onMemberRemoved: (s, m) => {
          if (!members.get(s)?.delete(m)) throw new Error(`stray remove ${s} ${m}`)
        },
      })
      const eps = new Map<string, { labels: Record<string, string>; ips: string[] }>()
      const sets = new Map<string, string>()
      for (const o of ops) {
        if (o.k === 'ep') {
          eps.set(o.id, { labels: o.labels, ips: o.ips })
          ix.updateEndpoint(o.id, o.labels, [], o.ips)
        } else if (o.k === 'del') {
          eps.delete(o.id)
          ix.deleteEndpoint(o.id)
        } else if (o.k === 'set') {
          sets.set(o.id, o.src)
          ix.addSet(o.id, sel(o.src))
        } else {
          sets.delete(o.id)
          ix.removeSet(o.id)
          members.delete(o.id)
        }
        for (const [sid, src] of sets) {
          const s = sel(src)
          const want = new Set<string>()
          for (const ep of eps.values()) if (s.evaluate(ep.labels)) for (const ip of ep.ips) want.add(ip)
          const got = [...(members.get(sid) ?? [])].sort()
          if (JSON.stringify(got) !== JSON.stringify([...want].sort())) return false
          if (JSON.stringify(ix.members(sid)) !== JSON.stringify([...want].sort())) return false
        }
      }
      return true
    }),
    { numRuns: 500 },
  )
  t.pass('ip sets == brute force')
})
