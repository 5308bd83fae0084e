import { eventually, type ProcessResult, startCluster } from '@calilab/testkit'
import t from 'tap'
import { frontEnd, lab, yaobank } from './lab-helpers.ts'

/**
 * The lab's "Calico eBPF" section (WALKTHROUGH.md §9) on a real 3-node cluster with YAO Bank:
 * kube-proxy SNATs host1's NodePort requests to a node address; with bpfEnabled (kube-proxy's
 * rules kept) and the pods restarted, the customer log shows host1's own address; control's
 * capture shows both directions in Tunnel mode and only the inbound one in DSR mode.
 */
t.test('lab §9: Calico eBPF native service handling', async (t) => {
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const l = lab(c)
  const { k, ssh, observe } = l
  await yaobank(t, l)
  const calicoctl = (...args: string[]) => c.cli(['calicoctl', ...args])
  const curl = () => ssh('host1', 'curl', '-s', '-m', '5', '--connect-timeout', '3', '198.19.0.1:30180')
  const logs = () => c.kubectl(['logs', '-n', 'yaobank', '-l', 'app=customer', '--tail=200'])
  const bpfDiag = async () => {
    const out: string[] = []
    for (const n of ['control', 'node1', 'node2']) {
      const nat = await ssh(n, 'calico-node', '-bpf', 'conntrack', 'dump')
      out.push(`$ calilab ssh ${n} -- calico-node -bpf conntrack dump\n${nat.stdout}${nat.stderr}`)
    }
    return out.join('\n')
  }
  const last = (r: ProcessResult) => r.stdout.trim().split('\n').at(-1) ?? ''

  // 1. Before: kube-proxy SNATs the request to a node address.
  await observe(t, '§9.1 host1 curls 198.19.0.1:30180', curl, frontEnd)
  await observe(t, '§9.1 the customer log shows a node address (kube-proxy SNAT)', logs, (r) =>
    /^198\.19\.0\.\d+ - - \[/.test(last(r)),
  )

  // 3. bpfKubeProxyIptablesCleanupEnabled false, then bpfEnabled true; restart customer and summary.
  for (const spec of ['{"spec": {"bpfKubeProxyIptablesCleanupEnabled": false}}', '{"spec": {"bpfEnabled": true}}']) {
    const r = await calicoctl('patch', 'felixconfiguration', 'default', `--patch=${spec}`)
    t.equal(r.code, 0, `calicoctl patch felixconfiguration default --patch='${spec}'`, { stderr: r.stderr })
  }
  const kube = await l.iptables('control', 'nat')
  t.match(kube, /KUBE-NODEPORTS/, 'kube-proxy chains kept (cleanup disabled)')
  for (const app of ['customer', 'summary']) await k('delete', 'pod', '-n', 'yaobank', '-l', `app=${app}`)
  for (const d of ['customer', 'summary'])
    await k('rollout', 'status', '-n', 'yaobank', `deployment/${d}`, '--timeout=60s')

  // 4. Source IP preserved.
  await observe(t, '§9.4 host1 curls the NodePort again', curl, frontEnd, { diag: bpfDiag })
  await observe(
    t,
    '§9.4 the customer log shows 198.19.15.254 (host1)',
    logs,
    (r) => /^198\.19\.15\.254 - - \[/m.test(r.stdout),
    {
      diag: bpfDiag,
    },
  )

  // calilab trace from host1's address: the tc programs' steps; the backend sees the client IP.
  const tr = await c.cli(['trace', '198.19.15.254', 'control:30180'])
  t.equal(tr.code, 0, 'calilab trace 198.19.15.254 control:30180', { stdout: tr.stdout, stderr: tr.stderr })
  t.match(tr.stdout, '[root] tc ingress on eth0 (calico host endpoint program): 198.19.15.254.')
  t.match(tr.stdout, /conntrack miss; NAT frontend 198\.19\.0\.1:30180\/tcp -> backend 198\.19\.\d+\.\d+:\d+ on /)
  t.match(tr.stdout, /=> PASS up the stack: 198\.19\.15\.254\.\d+ > 198\.19\.\d+\.\d+\.\d+ tcp/, 'client IP kept')
  if (/backend \S+ on node /.test(tr.stdout))
    t.match(
      tr.stdout,
      /VXLAN tunnel to node [\s\S]*# arrives at node [\s\S]*VXLAN decap/,
      'tunnelled to the backend node',
    )

  // 5. Tunnel mode: control's capture shows both directions.
  const capture = async (n: number) => {
    const dump = ssh('control', 'tcpdump', '-nvi', 'any', '-c', String(n), 'tcp port 30180')
    await new Promise((r) => setTimeout(r, 1000))
    const got = await eventually(
      async () => {
        const r = await curl()
        if (!frontEnd(r)) throw new Error('curl failed')
        return r
      },
      { timeoutMs: 10_000 },
    )
    t.ok(frontEnd(got), 'curl during the capture')
    return (await dump).stdout
  }
  const inbound = /198\.19\.15\.254\.\d+ > 198\.19\.0\.1\.30180/
  const outbound = /198\.19\.0\.1\.30180 > 198\.19\.15\.254\.\d+/
  const tunnel = await capture(8)
  t.match(tunnel, inbound, '§9.5 capture on control: host1 -> 198.19.0.1.30180')
  t.match(tunnel, outbound, '§9.5 capture on control: 198.19.0.1.30180 -> host1 (replies via control)')

  // 6. DSR: only the inbound direction passes control.
  const dsr = await calicoctl(
    'patch',
    'felixconfiguration',
    'default',
    '--patch={"spec": {"bpfExternalServiceMode": "DSR"}}',
  )
  t.equal(dsr.code, 0, 'calicoctl patch ... bpfExternalServiceMode DSR', { stderr: dsr.stderr })
  await new Promise((r) => setTimeout(r, 1500))
  const customerNode = (await k('get', 'pods', '-n', 'yaobank', '-l', 'app=customer', '-o', 'wide')).includes(
    ' control ',
  )
  if (customerNode) t.comment('customer runs on control: DSR replies leave control itself')
  const direct = await capture(5)
  t.match(direct, inbound, '§9.6 DSR: control sees host1 -> 198.19.0.1.30180')
  if (!customerNode) t.notMatch(direct, outbound, '§9.6 DSR: no replies through control')

  // bpfEnabled false: back to kube-proxy's iptables path (SNAT to a node address again).
  const off = await calicoctl('patch', 'felixconfiguration', 'default', '--patch={"spec": {"bpfEnabled": false}}')
  t.equal(off.code, 0, 'calicoctl patch ... bpfEnabled false', { stderr: off.stderr })
  await observe(
    t,
    'iptables mode again: the customer log shows a node address',
    async () => {
      await curl()
      return logs()
    },
    (r) => /^198\.19\.0\.\d+ - - \[/.test(last(r)),
  )
})
