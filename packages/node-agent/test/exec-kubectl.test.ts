import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startApiServer } from '@calilab/apiserver'
import { silentLogger, systemClock } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import { createKubeClient } from '@calilab/proto'
import t from 'tap'
import { startNode } from '../src/kubelet/agent.ts'

const KUBECTL = '/usr/bin/kubectl'
const CLI_MAIN = new URL('../../cli/src/main.ts', import.meta.url).pathname

interface Run {
  code: number
  stdout: string
  stderr: string
}

t.test('real kubectl 1.32 exec through the API server to the kubelet', async (t) => {
  const log = silentLogger()
  const apiserver = await startApiServer({ port: 0, log, controllers: false })
  t.teardown(() => apiserver.close())
  const client = createKubeClient({ server: apiserver.url })
  t.teardown(() => client.close())
  await client.create('/apis/projectcalico.org/v3/ippools', {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'default-ipv4-ippool' },
    spec: { cidr: '198.19.16.0/21', blockSize: 26, nodeSelector: 'all()' },
  })
  const node = await startNode({
    apiServer: apiserver.url,
    nodeName: 'node1',
    nodeIP: '198.19.0.2',
    endpoint: '127.0.0.1',
    role: 'worker',
    calico: 'installed',
    log,
    clock: systemClock(),
  })
  t.teardown(() => node.close())
  await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'yaobank' } })
  await client.create('/api/v1/namespaces/yaobank/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'customer-abc', labels: { app: 'customer' } },
    spec: { nodeName: 'node1', containers: [{ name: 'customer', image: 'calico/yaobank-customer:multiarch' }] },
  })
  for (let i = 0; i < 200; i++) {
    const p = await client.get<KubeObject & { status?: { phase?: string } }>(
      '/api/v1/namespaces/yaobank/pods/customer-abc',
    )
    if (p.status?.phase === 'Running') break
    await new Promise((r) => setTimeout(r, 25))
  }

  const dir = mkdtempSync(join(tmpdir(), 'calilab-exec-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const kubeconfig = join(dir, 'kubeconfig')
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: ${apiserver.url}\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\n    namespace: yaobank\ncurrent-context: lab\nusers:\n- name: lab\n  user: {}\n`,
  )
  const run = (bin: string, args: string[], input?: string): Promise<Run> =>
    new Promise((done) => {
      const child = execFile(
        bin,
        args,
        { timeout: 30_000, env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig } },
        (err, stdout, stderr) =>
          done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      )
      if (input !== undefined) child.stdin?.end(input)
      else child.stdin?.end()
    })
  const kubectl = (args: string[], input?: string) => run(KUBECTL, ['--cache-dir', join(dir, 'cache'), ...args], input)

  const h = await kubectl(['exec', 'customer-abc', '--', 'hostname'])
  t.equal(h.code, 0, h.stderr)
  t.equal(h.stdout, 'customer-abc\n')

  const rc = await kubectl(['exec', 'customer-abc', '--', 'cat', '/etc/resolv.conf'])
  t.match(rc.stdout, /nameserver 198\.19\.32\.10/)
  t.match(rc.stdout, /search yaobank\.svc\.cluster\.local svc\.cluster\.local cluster\.local/)

  const fail = await kubectl(['exec', 'customer-abc', '--', 'sh', '-c', 'echo out; echo err >&2; exit 28'])
  t.equal(fail.code, 28, 'exit code propagates')
  t.match(fail.stdout, /out/)
  t.match(fail.stderr, /command terminated with exit code 28/)

  const stdin = await kubectl(['exec', '-i', 'customer-abc', '--', 'sh'], 'echo hello from stdin\nhostname\nexit 3\n')
  t.equal(stdin.code, 3)
  t.equal(stdin.stdout, 'hello from stdin\ncustomer-abc\n')

  const missing = await kubectl(['exec', 'nope', '--', 'hostname'])
  t.not(missing.code, 0)
  t.match(missing.stderr, /not found/)

  // calilab exec / ssh: the same endpoints.
  const cli = (args: string[], input?: string) => run(process.execPath, ['--import', 'tsx', CLI_MAIN, ...args], input)
  const ce = await cli([
    'exec',
    '--server',
    apiserver.url,
    '-n',
    'yaobank',
    'customer-abc',
    '--',
    'sh',
    '-c',
    'hostname; exit 4',
  ])
  t.equal(ce.code, 4, ce.stderr)
  t.equal(ce.stdout, 'customer-abc\n')
  t.match(ce.stderr, /command terminated with exit code 4/)
  const ssh = await cli(['ssh', '--server', apiserver.url, 'node1', '--', 'sudo', 'hostname'])
  t.equal(ssh.code, 0, ssh.stderr)
  t.equal(ssh.stdout, 'node1\n')
  const hostResolv = await cli(['ssh', '--server', apiserver.url, 'node1', '--', 'cat', '/etc/resolv.conf'])
  t.match(hostResolv.stdout, /nameserver/)

  // -ti /bin/bash through a pseudo-terminal (script(1) gives kubectl a tty).
  const tty = await run(
    '/usr/bin/script',
    ['-qec', `${KUBECTL} --cache-dir ${join(dir, 'cache')} exec -ti customer-abc -- /bin/bash`, '/dev/null'],
    'hostname\rexit 0\r',
  )
  t.match(tty.stdout, /root@customer-abc:\/# /, 'prompt')
  t.match(tty.stdout, /customer-abc\r\n/, 'output with CRLF')
})
