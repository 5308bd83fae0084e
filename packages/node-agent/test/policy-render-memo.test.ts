import t from 'tap'
import {
  type FelixPolicy,
  type FelixProfile,
  globalNetworkPolicyToFelix,
  labelKey,
  type PolicyEndpoint,
  renderNode,
} from '../src/core/policy/index.ts'

// renderNode evaluates policy and IP-set selectors once per distinct set of effective labels:
// endpoints that share labels share the result, and nothing else may be conflated.

const pol = (name: string, selector: string, peer: string): FelixPolicy =>
  globalNetworkPolicyToFelix({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec: { selector, ingress: [{ action: 'Allow', source: { selector: peer } }] },
  } as never)

const profile = (id: string, labels: Record<string, string>): FelixProfile => ({
  id,
  labels,
  inbound: [],
  outbound: [],
})

const ep = (i: number, labels: Record<string, string>, profileIds: string[], node = 'node1'): PolicyEndpoint => ({
  kind: 'workload',
  id: `ep${i}`,
  node,
  iface: `cali${i}abcdefghij`.slice(0, 15),
  ips: [`10.0.0.${i + 1}`],
  labels,
  profileIds,
})

t.test('endpoints with equal own labels but different parent labels are told apart', async (t) => {
  const state = {
    policies: [pol('db', "app == 'db' && team == 'a'", "app == 'web' && team == 'b'")],
    profiles: [profile('kns.a', { team: 'a' }), profile('kns.b', { team: 'b' })],
    endpoints: [
      ep(0, { app: 'db' }, ['kns.a']),
      ep(1, { app: 'db' }, ['kns.b']),
      ep(2, { app: 'db' }, ['kns.a']),
      ep(3, { app: 'web' }, ['kns.b'], 'node2'),
      ep(4, { app: 'web' }, ['kns.a'], 'node2'),
    ],
    networkSets: [],
  }
  const r = renderNode(state, 'node1')
  const tw = (i: number) => r.tables.filter.get(`cali-tw-${state.endpoints[i]!.iface}`) ?? []
  const jumps = (i: number) => tw(i).filter((x) => x.includes('-j cali-pi-')).length
  t.equal(jumps(0), 1, 'team a: selected')
  t.equal(jumps(1), 0, 'team b: not selected')
  t.equal(jumps(2), 1, 'a replica of ep0: selected')
  const sets = [...r.ipsets.values()]
  t.equal(sets.length, 1)
  t.same(sets[0]!.members, ['10.0.0.4'], 'only the web endpoint in team b')
})

t.test('label keys: equal inputs give equal keys, different ones different keys', async (t) => {
  t.equal(labelKey({ a: '1', b: '2' }, ['kns.a']), labelKey({ a: '1', b: '2' }, ['kns.a']))
  t.not(labelKey({ a: '1', b: '2' }, []), labelKey({ a: '1', b: '3' }, []))
  t.not(labelKey({ a: '1' }, ['kns.a']), labelKey({ a: '1' }, ['kns.b']))
  t.not(labelKey({ a: '1' }, ['p', 'q']), labelKey({ a: '1' }, ['q', 'p']), 'parent order matters')
  t.not(labelKey({ a: '1:b' }, []), labelKey({ a: '1', b: '' }, []))
  t.not(labelKey({ 'a"': '' }, []), labelKey({ a: '' }, []))
  t.not(labelKey({}, ['a,b']), labelKey({}, ['a', 'b']))
  // Another key order is another key (a memo miss, never a wrong hit).
  const a = renderNode(
    {
      policies: [pol('p', "app == 'db'", 'all()')],
      profiles: [],
      endpoints: [ep(0, { app: 'db', x: '1' }, []), ep(1, { x: '1', app: 'db' }, [])],
      networkSets: [],
    },
    'node1',
  )
  t.equal(
    a.tables.filter.get('cali-tw-cali0abcdefghij')?.length,
    a.tables.filter.get('cali-tw-cali1abcdefghij')?.length,
  )
})
