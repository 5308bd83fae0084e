import { eventually, type ProcessResult, startCluster } from '@calilab/testkit'
import t from 'tap'

/**
 * Lab section 6 (Encryption) on a real multi-process cluster: `wireguardEnabled` on ->
 * every node publishes a WireGuard key and tunnel address, has `wireguard.cali`, and pod-to-pod
 * traffic between nodes crosses the underlay as UDP 51820 (plaintext only on wireguard.cali);
 * off -> key, address and interface gone, traffic plain again.
 */
const POD = (name: string, node: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { app: name } },
  spec: { nodeName: node, containers: [{ name: 'nginx', image: 'nginx' }] },
})

t.test('wireguardEnabled: keys, wireguard.cali, encrypted underlay, and back', async (t) => {
  const c = await startCluster({ nodes: 3 })
  t.teardown(() => c.stop())
  const ssh = (host: string, ...cmd: string[]) => c.cli(['ssh', host, '--', ...cmd])
  const must = (what: string, r: ProcessResult) => {
    if (r.code !== 0) throw new Error(`${what}: exit ${r.code}\n${r.stdout}${r.stderr}`)
    return r.stdout
  }
  const apply = await c.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [POD('wg-a', 'node1'), POD('wg-b', 'node2')] }),
  })
  t.equal(apply.code, 0, `kubectl apply: ${apply.stderr}`)
  const podB = await eventually(
    async () => {
      const out = must('get pods', await c.kubectl(['get', 'pods', '-o', 'wide']))
      const a = /^wg-a\s+\S+\s+Running\s/m.test(out)
      const b = /^wg-b\s+\S+\s+Running\s+\S+\s+\S+\s+(198\.19\.\d+\.\d+)\s+node2/m.exec(out)
      if (!a || !b) throw new Error(out)
      return b[1] as string
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  )
  const curlB = () => c.cli(['exec', 'wg-a', '--', 'curl', '-s', '--connect-timeout', '3', `http://${podB}/`])
  const plain = await eventually(async () => must('curl', await curlB()), { timeoutMs: 15_000, intervalMs: 250 })
  t.match(plain, /Welcome to nginx/, 'pod-to-pod before WireGuard')

  // The lab's step: `calicoctl patch felixconfiguration default --type=merge -p '{"spec":{"wireguardEnabled":...}}'`.
  const setWireguard = (on: boolean) =>
    c.cli([
      'calicoctl',
      'patch',
      'felixconfiguration',
      'default',
      '--type=merge',
      '-p',
      `{"spec":{"wireguardEnabled":${on}}}`,
    ])

  // Step 1: enable.
  const on = await setWireguard(true)
  t.equal(on.code, 0, `patch wireguardEnabled true: ${on.stdout}${on.stderr}`)
  const yaml = await eventually(
    async () => {
      const y = must('get node', await c.cli(['calicoctl', 'get', 'node', 'node1', '-o', 'yaml']))
      if (!/wireguardPublicKey: \S{44}/.test(y) || !/interfaceIPv4Address: 198\.19\./.test(y)) throw new Error(y)
      return y
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  )
  const wgIp = /interfaceIPv4Address: (198\.19\.\d+\.\d+)/.exec(yaml)?.[1] ?? ''
  t.match(yaml, /wireguardPublicKey: [A-Za-z0-9+/]{43}=/, 'status.wireguardPublicKey (base64 X25519)')
  const addr = await eventually(
    async () => {
      const out = must('ip addr', await ssh('node1', 'ip', 'addr', 'show', 'wireguard.cali'))
      if (!out.includes(`inet ${wgIp}/32`)) throw new Error(out)
      return out
    },
    { timeoutMs: 10_000, intervalMs: 250 },
  )
  t.match(addr, /wireguard\.cali: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1440/, 'wireguard.cali, MTU 1440')
  const rule = must('ip rule', await ssh('node1', 'ip', 'rule'))
  t.match(rule, /99:\s+not from all fwmark 0x100000\/0x100000 lookup 1/)
  // Both nodes must know each other's key before traffic is encrypted both ways.
  for (const [node, other] of [
    ['node1', 'node2'],
    ['node2', 'node1'],
  ] as const) {
    const table1 = await eventually(
      async () => {
        const r = must('ip route table 1', await ssh(node, 'ip', 'route', 'show', 'table', '1'))
        if (!/198\.19\.\d+\.\d+\/26 dev wireguard\.cali/.test(r)) throw new Error(r)
        return r
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    )
    t.match(table1, /dev wireguard\.cali/, `${node}: ${other}'s blocks routed dev wireguard.cali in table 1`)
  }
  const wgShow = must('wg show', await ssh('node1', 'wg', 'show'))
  t.match(wgShow, /listening port: 51820/)
  t.match(wgShow, /endpoint: 198\.19\.0\.3:51820/)

  // Step 1 (traffic): curl still works; node1's eth0 carries UDP 51820, wireguard.cali the TCP.
  const capture = (dev: string, filter: string) => ssh('node1', 'tcpdump', '-ni', dev, '-c', '2', filter)
  const underlay = capture('eth0', 'tcp port 80 or udp port 51820')
  const inner = capture('wireguard.cali', 'tcp port 80')
  await new Promise((r) => setTimeout(r, 1000))
  const enc = await eventually(async () => must('curl', await curlB()), { timeoutMs: 15_000, intervalMs: 250 })
  t.match(enc, /Welcome to nginx/, 'pod-to-pod through WireGuard')
  const [u, i] = await Promise.all([underlay, inner])
  t.match(u.stdout, /198\.19\.0\.\d+\.51820 > 198\.19\.0\.\d+\.51820: UDP, length \d+/, 'eth0: UDP 51820')
  t.notMatch(u.stdout, /\.80[: ]/, 'eth0: no TCP port 80 in clear')
  t.match(i.stdout, new RegExp(`${podB.replace(/\./g, '\\.')}\\.80`), 'wireguard.cali: the plaintext TCP')

  // Step 2: disable.
  const off = await setWireguard(false)
  t.equal(off.code, 0, `patch wireguardEnabled false: ${off.stderr}`)
  const gone = await eventually(
    async () => {
      const y = must('get node', await c.cli(['calicoctl', 'get', 'node', 'node1', '-o', 'yaml']))
      if (/wireguardPublicKey|interfaceIPv4Address/.test(y)) throw new Error(y)
      return y
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  )
  t.notMatch(gone, /wireguard/, 'key and address withdrawn from the Node')
  const noLink = must('ip addr', await ssh('node1', 'ip', 'addr'))
  t.notMatch(noLink, /wireguard/, 'wireguard.cali gone')
  const clear = capture('eth0', 'tcp port 80')
  await new Promise((r) => setTimeout(r, 1000))
  t.match(must('curl', await curlB()), /Welcome to nginx/, 'pod-to-pod plain again')
  t.match((await clear).stdout, new RegExp(`${podB.replace(/\./g, '\\.')}\\.80`), 'eth0: TCP port 80 in clear again')
})
