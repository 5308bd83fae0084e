import { eventually, LAB_DIR, type ProcessResult, startCluster } from '@calilab/testkit'
import t from 'tap'
import { frontEnd, lab, yaobank } from './lab-helpers.ts'

/**
 * The lab's policy weeks (WALKTHROUGH.md §3) on a real 3-node cluster, step by step, with the lab's
 * own manifests and commands: kubectl/calicoctl apply, curl/dig/ping in the pods, curl from host1.
 * Every observation polls until it holds (policy reaches the nodes through Typha); when it never
 * does, the failure carries `calilab trace` and the node's iptables counters.
 */

t.test('lab §3: network policy, step by step', async (t) => {
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const l = lab(c)
  const { k, ssh, inPod, trace, iptables, observe } = l
  const pods = await yaobank(t, l)
  const nodeOf = (app: string) => new RegExp(`^${app}-\\S+(?:\\s+\\S+){5}\\s+(\\S+)`, 'm').exec(pods)?.[1] ?? 'node1'
  const calicoctlApply = async (file: string) => {
    const r = await c.cli(['calicoctl', 'apply', '-f', `${LAB_DIR}/${file}`])
    t.equal(r.code, 0, `calicoctl apply -f ${file}`, { stderr: r.stderr })
    t.match(r.stdout, /Successfully applied 1 'GlobalNetworkPolicy' resource\(s\)/)
  }
  const kubectlApply = async (file: string) => {
    const r = await c.kubectl(['apply', '-f', `${LAB_DIR}/${file}`])
    t.equal(r.code, 0, `kubectl apply -f ${file}`, { stderr: r.stderr })
  }
  const curlFrontEnd = () => ssh('host1', 'curl', '-s', '--connect-timeout', '3', '198.19.0.1:30180')
  const frontEndDiag = async () =>
    [await trace('-n', 'yaobank', 'deploy/customer', 'deploy/summary:80'), await iptables(nodeOf('customer'))].join(
      '\n',
    )
  const dnsIp = (await k('get', 'svc', '-n', 'kube-system', 'kube-dns', '-o', 'jsonpath={.spec.clusterIP}')).trim()
  const dnsDiag = () => trace('-n', 'yaobank', 'deploy/customer', `${dnsIp}:53/udp`)
  const internetDiag = (app: string) => async () =>
    [
      await trace('-n', 'yaobank', `deploy/${app}`, '8.8.8.8/icmp'),
      await trace('-n', 'yaobank', `deploy/${app}`, '8.8.8.8:80'),
    ].join('\n')
  /** Waits (without asserting) until the source node's trace gives the verdict: policy programmed. */
  const settle = async (allowed: boolean, ...args: string[]) =>
    eventually(
      async () => {
        const r = await c.cli(['trace', ...args])
        if ((r.code === 0) !== allowed) throw new Error(r.stdout + r.stderr)
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    ).catch(() => undefined)

  // §3.1: the "attack": the customer pod reads the database's keys.
  const customerPod = (await k('get', 'pods', '-n', 'yaobank', '-l', 'app=customer', '-o', 'name')).trim()
  t.match(customerPod, /^pod\/customer-/, 'CUSTOMER_POD=$(kubectl get pods -n yaobank -l app=customer -o name)')
  const dbUrl = 'http://database:2379/v2/keys?recursive=true'
  await observe(
    t,
    '§3.1 customer pod: curl http://database:2379/v2/keys?recursive=true -> etcd v2 JSON',
    () => c.kubectl(['exec', '-n', 'yaobank', customerPod, '--', 'curl', dbUrl]),
    (r) => r.code === 0 && /"action":"get"/.test(r.stdout) && /"value":"2389\.45"/.test(r.stdout),
    { diag: () => trace('-n', 'yaobank', 'deploy/customer', 'deploy/database:2379') },
  )

  // §3.2: database-policy (k8s NetworkPolicy): only summary reaches the database.
  await kubectlApply('database-policy.yaml')
  await Promise.all([
    observe(
      t,
      '§3.2 database-policy: the same curl with --connect-timeout 3 fails with exit 28',
      () => c.kubectl(['exec', '-n', 'yaobank', customerPod, '--', 'curl', '--connect-timeout', '3', dbUrl]),
      (r) => r.code === 28,
      {
        diag: async () =>
          [
            await trace('-n', 'yaobank', 'deploy/customer', 'deploy/database:2379'),
            await iptables(nodeOf('database')),
          ].join('\n'),
      },
    ),
    observe(t, '§3.2 the front end still works (host1 -> 198.19.0.1:30180)', curlFrontEnd, frontEnd, {
      diag: frontEndDiag,
    }),
  ])

  // §3.3: default-app-policy: default deny for every app namespace; DNS fails.
  await calicoctlApply('default-app-policy.yaml')
  await settle(false, '-n', 'yaobank', 'deploy/customer', `${dnsIp}:53/udp`)
  await observe(
    t,
    '§3.3 default-app-policy: dig www.google.com in customer times out',
    () => inPod('customer', 'dig', 'www.google.com'),
    (r) => r.code === 9 && /connection timed out; no servers could be reached/.test(r.stdout),
    { timeoutMs: 40_000, diag: dnsDiag },
  )

  // §3.4: the DNS rule: dig answers; the front end has no policy yet and fails.
  await calicoctlApply('default-app-policy-allow-dns.yaml')
  await settle(true, '-n', 'yaobank', 'deploy/customer', `${dnsIp}:53/udp`)
  await Promise.all([
    observe(
      t,
      '§3.4 default-app-policy with the DNS rule: dig answers',
      () => inPod('customer', 'dig', 'www.google.com'),
      (r) =>
        r.code === 0 && /ANSWER SECTION:\s*\nwww\.google\.com\.\s+\d+\s+IN\s+A\s+\d+\.\d+\.\d+\.\d+/.test(r.stdout),
      { timeoutMs: 40_000, diag: dnsDiag },
    ),
    observe(
      t,
      '§3.4 curl --connect-timeout 3 198.19.0.1:30180 from host1 fails (no policy for customer/summary)',
      curlFrontEnd,
      (r) => r.code === 28,
      { diag: frontEndDiag },
    ),
  ])

  // §3.5: customer-policy and summary-policy: the front end works again.
  await kubectlApply('customer-summary-policies.yaml')
  await observe(t, '§3.5 customer/summary policies: the front end works again', curlFrontEnd, frontEnd, {
    diag: frontEndDiag,
  })

  // §3.6: egress-lockdown: no internet from the app namespaces.
  await calicoctlApply('egress-lockdown.yaml')
  await settle(false, '-n', 'yaobank', 'deploy/customer', '8.8.8.8/icmp')
  const ping = (app: string) => () => inPod(app, 'ping', '-c', '3', '8.8.8.8')
  const curlGoogle = (app: string) => () => inPod(app, 'curl', '--connect-timeout', '3', '-I', 'www.google.com')
  const pingFails = (r: ProcessResult) => r.code === 1 && /3 packets transmitted, 0 received/.test(r.stdout)
  await Promise.all([
    observe(t, '§3.6 egress-lockdown: ping -c 3 8.8.8.8 from customer fails', ping('customer'), pingFails, {
      timeoutMs: 30_000,
      diag: internetDiag('customer'),
    }),
    observe(
      t,
      '§3.6 egress-lockdown: curl --connect-timeout 3 -I www.google.com from customer fails',
      curlGoogle('customer'),
      (r) => r.code === 28,
      { timeoutMs: 30_000, diag: internetDiag('customer') },
    ),
  ])

  // §3.7: the customer service account may reach the internet; summary and database may not.
  await k('label', 'serviceaccount', '-n', 'yaobank', 'customer', 'internet-egress=allowed')
  await settle(true, '-n', 'yaobank', 'deploy/customer', '8.8.8.8/icmp')
  await Promise.all([
    observe(
      t,
      '§3.7 internet-egress=allowed: ping -c 3 8.8.8.8 from customer succeeds',
      ping('customer'),
      (r) => r.code === 0 && /64 bytes from 8\.8\.8\.8/.test(r.stdout),
      { timeoutMs: 30_000, diag: internetDiag('customer') },
    ),
    observe(
      t,
      '§3.7 internet-egress=allowed: curl -I www.google.com from customer succeeds',
      curlGoogle('customer'),
      (r) => r.code === 0 && /^HTTP\/1\.[01] 200/m.test(r.stdout),
      { timeoutMs: 30_000, diag: internetDiag('customer') },
    ),
    ...['summary', 'database'].flatMap((app) => [
      observe(t, `§3.7 from ${app} ping -c 3 8.8.8.8 still fails`, ping(app), pingFails, {
        timeoutMs: 30_000,
        diag: internetDiag(app),
      }),
      observe(
        t,
        `§3.7 from ${app} curl --connect-timeout 3 -I www.google.com still fails`,
        curlGoogle(app),
        (r) => r.code === 28,
        { timeoutMs: 30_000, diag: internetDiag(app) },
      ),
    ]),
  ])
})
