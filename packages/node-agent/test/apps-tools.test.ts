import type { Netns } from '@calilab/dataplane'
import { systemClock } from '@calilab/kit'
import t from 'tap'
import {
  answerDns,
  ftpBanner,
  kubeDns,
  MemNet,
  nginx,
  yaobankCustomer,
  yaobankDatabase,
  yaobankSummary,
} from '../src/apps/index.ts'
import { podResolvConf, runScript, type ToolEnv } from '../src/tools/index.ts'

const clock = systemClock()
// systemClock's timers are unref'd: keep the process alive while tests wait on them.
const keepAlive = setInterval(() => {}, 1000)
t.teardown(() => clearInterval(keepAlive))

function lab() {
  const net = new MemNet(clock)
  const logs: Record<string, string[]> = {}
  const ctx = (name: string, ip: string, namespace = 'yaobank') => {
    logs[name] = []
    return {
      net: net.host(ip),
      clock,
      namespace,
      podName: name,
      log: (l: string) => logs[name]?.push(l),
      services: () => [
        { name: 'database', namespace: 'yaobank', clusterIP: '198.19.33.1' },
        { name: 'summary', namespace: 'yaobank', clusterIP: '198.19.33.2' },
        { name: 'customer', namespace: 'yaobank', clusterIP: '198.19.33.3' },
        { name: 'kube-dns', namespace: 'kube-system', clusterIP: '198.19.32.10' },
      ],
    }
  }
  const apps = [
    kubeDns(ctx('coredns', '198.19.16.5', 'kube-system')),
    yaobankDatabase(ctx('database', '198.19.22.3')),
    yaobankSummary(ctx('summary', '198.19.22.2')),
    yaobankCustomer(ctx('customer', '198.19.21.1')),
    nginx(ctx('nginx', '198.19.24.2', 'external-ns')),
    ftpBanner(ctx('control', '198.19.0.1')),
  ]
  net.dnat('198.19.32.10', 53, '198.19.16.5', 53)
  net.dnat('198.19.33.1', 2379, '198.19.22.3', 2379)
  net.dnat('198.19.33.2', 80, '198.19.22.2', 80)
  net.dnat('198.19.33.3', 80, '198.19.21.1', 80)
  net.host('8.8.8.8')
  const run = async (ip: string, hostname: string, line: string, namespace = 'yaobank') => {
    let stdout = ''
    let stderr = ''
    const env: ToolEnv = {
      hostname,
      netns: net.host(ip) as unknown as Netns,
      files: { '/etc/resolv.conf': podResolvConf(namespace) },
      clock,
    }
    const code = await runScript(line, env, {
      stdout: (s) => {
        stdout += s
      },
      stderr: (s) => {
        stderr += s
      },
      signal: new AbortController().signal,
    })
    return { code, stdout, stderr }
  }
  return {
    net,
    logs,
    run,
    stop: () => {
      for (const a of apps) a.stop()
    },
  }
}

t.test('YAO Bank chain, database JSON, nginx, request logs with source IPs', async (t) => {
  const l = lab()
  t.teardown(l.stop)
  const page = await l.run('198.19.15.254', 'host1', 'curl -s 198.19.33.3')
  t.equal(page.code, 0, page.stderr)
  t.match(page.stdout, /Welcome to YAO Bank/)
  t.match(page.stdout, /Name: Spike Curtis/)
  t.match(page.stdout, /Balance: 2389\.45/)
  t.match(l.logs['customer']?.[0], /^198\.19\.15\.254 - - \[.*\] "GET \/ HTTP\/1\.1" 200 /)
  t.match(l.logs['summary']?.[0], /^198\.19\.21\.1 /, 'summary saw the customer pod')

  const db = await l.run('198.19.21.1', 'customer-x', 'curl http://database:2379/v2/keys?recursive=true')
  t.equal(db.code, 0)
  const j = JSON.parse(db.stdout) as { action: string }
  t.equal(j.action, 'get')
  t.match(db.stdout, /Spike Curtis/)

  const head = await l.run('198.19.15.254', 'host1', 'curl -I 198.19.24.2')
  t.match(head.stdout, /^HTTP\/1\.1 200 OK\r\nServer: nginx\/1\.21\.6\r\n/)
  const ng = await l.run('198.19.15.254', 'host1', 'curl -s 198.19.24.2 | grep -c nginx')
  t.equal(ng.stdout.trim(), '6')
})

t.test('curl failures: refused (7), timeout (28), unknown host (6)', async (t) => {
  const l = lab()
  t.teardown(l.stop)
  const refused = await l.run('198.19.15.254', 'host1', 'curl 198.19.22.3:81')
  t.equal(refused.code, 7)
  t.equal(refused.stderr, 'curl: (7) Failed to connect to 198.19.22.3 port 81: Connection refused\n')
  l.net.drop('198.19.22.3')
  const to = await l.run('198.19.21.1', 'customer-x', 'curl --connect-timeout 0.2 http://database:2379/v2/keys')
  t.equal(to.code, 28)
  t.equal(to.stderr, 'curl: (28) Connection timed out after 201 milliseconds\n')
  const silent = await l.run('198.19.21.1', 'customer-x', 'curl -s --connect-timeout 0.2 198.19.22.3:2379; echo rc=$?')
  t.equal(silent.stdout, 'rc=28\n')
  t.equal(silent.stderr, '')
  const nx = await l.run('198.19.21.1', 'customer-x', 'curl nosuch')
  t.equal(nx.code, 6)
  t.equal(nx.stderr, 'curl: (6) Could not resolve host: nosuch\n')
})

t.test('dig: answers, NXDOMAIN, timeout (exit 9)', async (t) => {
  const l = lab()
  t.teardown(l.stop)
  const g = await l.run('198.19.21.1', 'customer-x', 'dig www.google.com')
  t.equal(g.code, 0)
  t.match(g.stdout, /status: NOERROR/)
  t.match(g.stdout, /;; ANSWER SECTION:\nwww\.google\.com\.\t\t30\tIN\tA\t142\.250\.72\.196/)
  t.match(g.stdout, /;; SERVER: 198\.19\.32\.10#53\(198\.19\.32\.10\)/)
  const svc = await l.run('198.19.21.1', 'customer-x', 'dig +short summary.yaobank.svc.cluster.local')
  t.equal(svc.stdout, '198.19.33.2\n')
  const nx = await l.run('198.19.21.1', 'customer-x', 'dig nope.yaobank.svc.cluster.local')
  t.match(nx.stdout, /status: NXDOMAIN/)
  l.net.drop('198.19.32.10')
  const to = await l.run('198.19.21.1', 'customer-x', 'dig +timeout=1 +tries=1 www.google.com')
  t.equal(to.code, 9)
  t.match(to.stdout, /;; connection timed out; no servers could be reached\n$/)
})

t.test('nc banner, ping summary, shell builtins', async (t) => {
  const l = lab()
  t.teardown(l.stop)
  const ftp = await l.run('198.19.15.254', 'host1', 'nc -w 1 198.19.0.1 21')
  t.equal(ftp.code, 0)
  t.equal(ftp.stdout, '220 (vsFTPd 3.0.3)\r\n')
  const z = await l.run('198.19.15.254', 'host1', 'nc -zv 198.19.0.1 21')
  t.equal(z.stderr, 'Connection to 198.19.0.1 21 port [tcp/ftp] succeeded!\n')
  l.net.drop('198.19.0.1')
  const nto = await l.run('198.19.15.254', 'host1', 'nc -w 1 198.19.0.1 21')
  t.equal(nto.code, 1)
  const p = await l.run('198.19.21.1', 'customer-x', 'ping -c 2 -i 0.01 8.8.8.8')
  t.equal(p.code, 0)
  t.match(
    p.stdout,
    /^PING 8\.8\.8\.8 \(8\.8\.8\.8\) 56\(84\) bytes of data\.\n64 bytes from 8\.8\.8\.8: icmp_seq=1 ttl=64 time=0\.05 ms\n/,
  )
  t.match(p.stdout, /2 packets transmitted, 2 received, 0% packet loss, time \d+ms\nrtt min\/avg\/max\/mdev = /)
  const sh = await l.run(
    '198.19.21.1',
    'customer-x',
    "sudo hostname && echo 'a b' | grep -c a; false || echo fallback; nosuch",
  )
  t.equal(sh.stdout, 'customer-x\n1\nfallback\n')
  t.equal(sh.stderr, 'bash: nosuch: command not found\n')
  t.equal(sh.code, 127)
})

t.test('kube-dns answers per service, NXDOMAIN otherwise (pure)', async (t) => {
  const { default: dnsPacket } = await import('dns-packet')
  const q = dnsPacket.encode({
    type: 'query',
    id: 7,
    questions: [{ type: 'A', name: 'database.yaobank.svc.cluster.local' }],
  })
  const a = dnsPacket.decode(
    answerDns(q, [{ name: 'database', namespace: 'yaobank', clusterIP: '198.19.33.1' }]) as Buffer,
  )
  t.equal(a.id, 7)
  t.same(
    (a.answers ?? []).map((x) => (x as { data: string }).data),
    ['198.19.33.1'],
  )
  const nx = dnsPacket.decode(answerDns(q, []) as Buffer) as { rcode?: string }
  t.equal(nx.rcode, 'NXDOMAIN')
})
