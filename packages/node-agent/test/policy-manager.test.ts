import { iptablesRestore, listRulesText, type Netns } from '@calilab/dataplane'
import { type FakeClock, silentLogger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import t from 'tap'
import { vethName } from '../src/core/cni/names.ts'
import { chainNames } from '../src/core/policy/index.ts'
import { startPolicyManager } from '../src/felix/policy-manager.ts'
import { dbPolicy, NODE, nsObj, podObj, yaobank } from './helpers/policy-fixture.ts'

/** connect with a 1 s timeout, advancing the fake clock: 'ok' or the error code. */
async function connect(clock: FakeClock, from: Netns, dst: string, port: number): Promise<string> {
  const p = from.tcpConnect({ dst, port, timeoutMs: 1000 }).then(
    (c) => {
      c.destroy()
      return 'ok'
    },
    (e: { code: string }) => e.code,
  )
  clock.advance(1100)
  return p
}

t.test('nothing is programmed before in-sync; hooks leave kube-proxy alone', async (t) => {
  const { clock, host, base } = yaobank()
  // kube-proxy got there first.
  iptablesRestore(
    host.root.nf,
    '*filter\n:KUBE-FORWARD - [0:0]\n:KUBE-FIREWALL - [0:0]\n-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT\n-A FORWARD -j KUBE-FORWARD\n-A INPUT -j KUBE-FIREWALL\nCOMMIT\n',
    { noflush: true },
  )
  const pm = startPolicyManager({ nodeName: NODE, netns: host.root, log: silentLogger() })
  t.teardown(() => pm.close())
  pm.onUpdates(base)
  clock.advance(1000)
  t.notOk(host.root.nf.chain('filter', 'cali-FORWARD'), 'no cali- chain before in sync')
  t.equal(pm.status().applies, 0)
  pm.onInSync()
  clock.advance(1)
  t.ok(host.root.nf.chain('filter', 'cali-FORWARD'), 'programmed after in sync')
  const st = pm.status()
  t.equal(st.applies, 1)
  t.ok(st.renderedChains > 20, `rendered chains counted (${st.renderedChains})`)
  const fwd = listRulesText(host.root.nf, 'filter', 'FORWARD')
  const lines = fwd.split('\n').filter((l) => l.startsWith('-A FORWARD'))
  t.match(lines[0], /-j cali-FORWARD$/, 'Felix hook first')
  t.match(lines[1], /-j KUBE-FORWARD$/, 'kube-proxy rule kept')
  t.match(lines[2], /Policy explicitly accepted packet/, 'FORWARD tail appended after it')
  t.match(listRulesText(host.root.nf, 'filter', 'INPUT'), /-j KUBE-FIREWALL/)
  t.match(listRulesText(host.root.nf, 'raw', 'PREROUTING'), /-j cali-PREROUTING/)
  t.match(listRulesText(host.root.nf, 'mangle', 'PREROUTING'), /-j cali-PREROUTING/)
  // Nothing changes: nothing is written.
  pm.onUpdates([nsObj('yaobank')])
  clock.advance(100)
  t.equal(pm.status().lastTouched, st.lastTouched)
  t.equal(pm.status().touchedTotal, st.touchedTotal, 'an identical update touches no chain')
})

t.test('database-policy: customer is cut off, summary is not; deleting it restores', async (t) => {
  const { clock, host, customer, summary, base } = yaobank()
  const pm = startPolicyManager({ nodeName: NODE, netns: host.root, log: silentLogger() })
  t.teardown(() => pm.close())
  pm.onUpdates(base)
  pm.onInSync()
  clock.advance(1)
  t.equal(await connect(clock, customer, '198.19.21.3', 2379), 'ok', 'before the policy')

  pm.onUpdates([dbPolicy()])
  clock.advance(50)
  t.equal(await connect(clock, customer, '198.19.21.3', 2379), 'ETIMEDOUT', 'customer times out')
  t.equal(await connect(clock, summary, '198.19.21.3', 2379), 'ok', 'summary still reaches the database')
  t.equal(await connect(clock, summary, '198.19.21.3', 2380), 'ETIMEDOUT', 'other ports are denied')
  const pi = chainNames.policyIn('yaobank/knp.default.database-policy')
  t.ok(host.root.nf.chain('filter', pi), `${pi} programmed`)
  const set = [...host.root.sets.names()].find((n) => n.startsWith('cali40s:'))
  t.ok(set, 'selector IP set programmed')
  t.same(
    host.root.sets.get(set!)!.entries().sort(),
    ['198.19.21.2', '198.19.22.9'],
    'app=summary members, the remote pod included',
  )

  pm.onUpdates([{ key: '/networking.k8s.io/networkpolicies/yaobank/database-policy', value: null }])
  clock.advance(50)
  t.equal(await connect(clock, customer, '198.19.21.3', 2379), 'ok', 'allowed again after deletion')
  t.notOk(host.root.nf.chain('filter', pi), 'policy chain removed')
  t.notOk(
    host.root.sets.names().some((n) => n.startsWith('cali40s:')),
    'selector IP set destroyed',
  )
})

t.test('a label change touches only the chains it affects', async (t) => {
  const { clock, host, base } = yaobank()
  const pm = startPolicyManager({ nodeName: NODE, netns: host.root, log: silentLogger() })
  t.teardown(() => pm.close())
  pm.onUpdates([...base, dbPolicy()])
  pm.onInSync()
  clock.advance(1)
  t.equal(pm.status().applies, 1)
  const db = vethName('yaobank', 'database')
  const cust = vethName('yaobank', 'customer')

  // customer gains app=summary: only IP-set membership changes, no chain.
  pm.onUpdates([podObj('yaobank', 'customer', '198.19.21.1', { app: 'summary' })])
  let r = pm.apply()
  t.ok(r, 'applied')
  t.same(r!.touched, [], 'no chain rewritten')
  t.equal(r!.ipsetsChanged, 1, 'one IP set gained a member')

  // database loses app=database: its endpoint chains change and the policy's chains go away.
  pm.onUpdates([podObj('yaobank', 'database', '198.19.21.3', { app: 'db2' })])
  r = pm.apply()
  const pi = chainNames.policyIn('yaobank/knp.default.database-policy')
  const po = chainNames.policyOut('yaobank/knp.default.database-policy')
  t.same(
    [...r!.touched].sort(),
    [
      `filter/${chainNames.fromWorkload(db)}`,
      `filter/${chainNames.toWorkload(db)}`,
      `filter/${pi}`,
      `filter/${po}`,
    ].sort(),
    'exactly the database endpoint chains and the now unused policy chains',
  )
  t.notOk(
    r!.touched.some((c) => c.includes(cust)),
    'customer chains untouched',
  )
  t.equal(pm.status().lastTouched, 4, 'counted')
  t.ok(pm.status().lastApplyMs >= 0)
})

t.test('restart: orphan Felix state is swept after in-sync, not before', async (t) => {
  const { clock, host, base } = yaobank()
  const pm1 = startPolicyManager({ nodeName: NODE, netns: host.root, log: silentLogger() })
  pm1.onUpdates([...base, dbPolicy()])
  pm1.onInSync()
  clock.advance(1)
  pm1.close()
  const pi = chainNames.policyIn('yaobank/knp.default.database-policy')
  t.ok(host.root.nf.chain('filter', pi))
  // A new agent whose datastore no longer has the policy.
  const pm2 = startPolicyManager({ nodeName: NODE, netns: host.root, log: silentLogger() })
  t.teardown(() => pm2.close())
  pm2.onUpdates(base)
  clock.advance(100)
  t.ok(host.root.nf.chain('filter', pi), 'nothing swept before in sync')
  pm2.onInSync()
  clock.advance(1)
  t.notOk(host.root.nf.chain('filter', pi), 'orphan policy chain swept')
  t.ok(pm2.status().swept > 0, `swept counted (${pm2.status().swept})`)
  const fwd = listRulesText(host.root.nf, 'filter', 'FORWARD')
  t.equal(fwd.match(/-j cali-FORWARD/g)?.length, 1, 'hook rule not duplicated')
  t.equal(fwd.match(/Policy explicitly accepted/g)?.length, 1, 'tail not duplicated')
})

t.test('fail closed: a pod whose namespace is unknown is denied; a broken policy denies', async (t) => {
  const { clock, host, customer, base } = yaobank()
  const pm = startPolicyManager({ nodeName: NODE, netns: host.root, log: silentLogger() })
  t.teardown(() => pm.close())
  pm.onUpdates(base.filter((u) => u.key !== '/core/namespaces/_/yaobank'))
  pm.onInSync()
  clock.advance(1)
  t.equal(await connect(clock, customer, '198.19.21.3', 2379), 'ETIMEDOUT', 'missing kns.yaobank profile: denied')
  pm.onUpdates([nsObj('yaobank')])
  clock.advance(50)
  t.equal(await connect(clock, customer, '198.19.21.3', 2379), 'ok', 'namespace arrives: allowed')
  pm.onUpdates([
    {
      key: '/projectcalico.org/networkpolicies/yaobank/broken',
      value: {
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: 'broken', namespace: 'yaobank' },
        spec: { selector: "app == 'database' &&& (", ingress: [{ action: 'Allow' }] },
      } as KubeObject,
    },
  ])
  clock.advance(50)
  t.equal(await connect(clock, customer, '198.19.21.3', 2379), 'ETIMEDOUT', 'unparsable selector: deny')
  t.equal(pm.status().conversionErrors.length, 1)
  t.match(pm.status().conversionErrors[0]!.key, /broken/)
})
