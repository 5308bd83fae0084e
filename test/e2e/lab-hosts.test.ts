import { eventually, LAB_DIR, type ProcessResult, startCluster } from '@calilab/testkit'
import t from 'tap'
import { frontEnd, lab, yaobank } from './lab-helpers.ts'

/**
 * The lab's "protecting hosts" week (WALKTHROUGH.md §4) on a real 3-node cluster with YAO Bank:
 * default-node-policy, auto host endpoints from kube-controllers, the failsafe ports keeping the
 * control plane alive, and the preDNAT nodeport-policy with its host1 exception.
 */
t.test('lab §4: protecting hosts, step by step', async (t) => {
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const l = lab(c)
  const { k, ssh, iptables, observe } = l
  const pods = await yaobank(t, l)
  const customerNode = /^customer-\S+(?:\s+\S+){5}\s+(\S+)/m.exec(pods)?.[1] ?? ''
  const calicoctl = (...args: string[]) => c.cli(['calicoctl', ...args])
  const ftp = () => ssh('host1', 'nc', '-w', '3', '198.19.0.1', '21')
  const curl =
    (ip = '198.19.0.1') =>
    () =>
      ssh('host1', 'curl', '-s', '--connect-timeout', '3', `${ip}:30180`)
  const hostDiag =
    (node = 'control') =>
    async () =>
      [await iptables(node, 'mangle'), await iptables(node, 'filter')].join('\n')
  const heps = async () => {
    const r = await calicoctl('get', 'heps')
    if (r.code !== 0) throw new Error(`calicoctl get heps: ${r.stderr}`)
    return r.stdout
  }

  // §4.1: the node's FTP server answers host1.
  await observe(
    t,
    '§4.1 nc -w 3 198.19.0.1 21 from host1 connects (FTP banner)',
    ftp,
    (r) => /^220 \(vsFTPd 3\.0\.3\)/m.test(r.stdout),
    { diag: hostDiag() },
  )
  await observe(t, '§4.1 the front end answers host1 on 198.19.0.1:30180', curl(), frontEnd)

  // §4.2: default-node-policy selects nodes, but no host endpoints exist yet.
  const apply = await calicoctl('apply', '-f', `${LAB_DIR}/default-node-policy.yaml`)
  t.equal(apply.code, 0, 'calicoctl apply -f default-node-policy.yaml', { stderr: apply.stderr })
  t.match(apply.stdout, /Successfully applied 1 'GlobalNetworkPolicy' resource\(s\)/)
  t.match((await heps()).trim(), /^NAME\s+NODE$/, '§4.2 calicoctl get heps -> header only')

  // §4.3: kube-controllers creates <node>-auto-hep for every node.
  const patch = await calicoctl(
    'patch',
    'kubecontrollersconfiguration',
    'default',
    '--patch={"spec": {"controllers": {"node": {"hostEndpoint": {"autoCreate": "Enabled"}}}}}',
  )
  t.equal(patch.code, 0, 'calicoctl patch kubecontrollersconfiguration default (autoCreate Enabled)', {
    stderr: patch.stderr,
  })
  const list = await eventually(
    async () => {
      const out = await heps()
      for (const n of ['control', 'node1', 'node2'])
        if (!new RegExp(`^${n}-auto-hep\\s+${n}\\s*$`, 'm').test(out)) throw new Error(out)
      return out
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  ).catch((e: Error) => e.message)
  for (const n of ['control', 'node1', 'node2'])
    t.match(list, new RegExp(`^${n}-auto-hep\\s+${n}\\s*$`, 'm'), `§4.3 calicoctl get heps lists ${n}-auto-hep on ${n}`)

  // §4.4: FTP is now closed to host1; the failsafe ports and the control plane keep working.
  await observe(
    t,
    '§4.4 nc -w 3 198.19.0.1 21 from host1 times out',
    () => ssh('host1', 'nc', '-v', '-w', '3', '198.19.0.1', '21'),
    (r) => r.code === 1 && /timed out/.test(r.stderr) && !/vsFTPd/.test(r.stdout),
    { diag: hostDiag() },
  )
  // Port 22 (failsafe): the SYN reaches the host's stack, which refuses it (no sshd) instead of a timeout.
  await observe(
    t,
    '§4.4 failsafe: nc -w 3 198.19.0.1 22 from host1 reaches the host (refused, not timed out)',
    () => ssh('host1', 'nc', '-v', '-w', '3', '198.19.0.1', '22'),
    (r) => /Connection refused/.test(r.stderr),
    { diag: hostDiag() },
  )
  const failsafe = await ssh('control', 'iptables', '-S', 'cali-failsafe-in')
  for (const p of ['22', '179', '2379', '5473', '6443'])
    t.match(failsafe.stdout, new RegExp(`-p tcp .*--dports ${p} -j ACCEPT`), `failsafe inbound TCP ${p} on control`)
  const nodes = await k('get', 'nodes')
  for (const n of ['control', 'node1', 'node2'])
    t.match(nodes, new RegExp(`^${n}\\s+Ready\\s`, 'm'), `§4.4 kubectl get nodes still works: ${n} Ready`)
  const typha = await c.cli(['typha', 'status'])
  t.match(typha.stdout, /felix=3/, '§4.4 Typha still serves the three Felixes', { stderr: typha.stderr })
  const run = await c.kubectl(['run', '-n', 'default', 'after-heps', '--image=nginx'])
  t.equal(run.code, 0, 'kubectl run after-heps', { stderr: run.stderr })
  const newPod = await eventually(
    async () => {
      const out = await k('get', 'pod', '-n', 'default', 'after-heps', '-o', 'wide')
      if (!/\sRunning\s+\S+\s+\S+\s+198\.19\.\d+\.\d+\s/.test(out)) throw new Error(out)
      return out
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  ).catch((e: Error) => e.message)
  t.match(newPod, /after-heps\s+1\/1\s+Running/, '§4.4 a new pod still starts')
  await observe(t, '§4.4 the front end still answers host1 (no applyOnForward policy yet)', curl(), frontEnd)
  const fromPod = () => l.inPod('customer', 'curl', '-s', '--connect-timeout', '3', '198.19.0.1:30180')
  if (customerNode && customerNode !== 'control')
    await observe(t, `§4.4 the customer pod on ${customerNode} reaches 198.19.0.1:30180 too`, fromPod, frontEnd)

  // §4.5: nodeport-policy (preDNAT) denies the NodePort range.
  const deny = await calicoctl('apply', '-f', `${LAB_DIR}/nodeport-policy-deny.yaml`)
  t.equal(deny.code, 0, 'calicoctl apply -f nodeport-policy-deny.yaml', { stderr: deny.stderr })
  await observe(
    t,
    '§4.5 nodeport-policy: curl --connect-timeout 3 198.19.0.1:30180 from host1 fails',
    curl(),
    (r) => r.code === 28,
    { diag: hostDiag() },
  )

  // §4.6: the first rule lets host1 in; any other source stays out.
  const allow = await calicoctl('apply', '-f', `${LAB_DIR}/nodeport-policy-allow-host1.yaml`)
  t.equal(allow.code, 0, 'calicoctl apply -f nodeport-policy-allow-host1.yaml', { stderr: allow.stderr })
  for (const ip of ['198.19.0.1', '198.19.0.2', '198.19.0.3'])
    await observe(t, `§4.6 allow-host1: curl ${ip}:30180 from host1 works`, curl(ip), frontEnd, {
      diag: hostDiag(ip === '198.19.0.1' ? 'control' : ip === '198.19.0.2' ? 'node1' : 'node2'),
    })
  const fails = (r: ProcessResult) => r.code === 28
  await observe(
    t,
    '§4.6 from node1 (198.19.0.2) curl 198.19.0.1:30180 still fails',
    () => ssh('node1', 'curl', '-s', '--connect-timeout', '3', '198.19.0.1:30180'),
    fails,
    { diag: hostDiag() },
  )
  if (customerNode && customerNode !== 'control')
    await observe(
      t,
      `§4.6 from the customer pod's netns on ${customerNode} curl 198.19.0.1:30180 still fails`,
      fromPod,
      fails,
      {
        diag: async () =>
          [await l.trace('-n', 'yaobank', 'deploy/customer', '198.19.0.1:30180'), await hostDiag()()].join('\n'),
      },
    )
  else
    t.ok(true, 'a pod on another node than control', { skip: `the customer pod runs on ${customerNode || 'no node'}` })
})
