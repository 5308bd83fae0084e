/**
 * The live fast path (forwarder/live.ts) against the full pipeline: the same traffic through two
 * identical hosts, one with the fast path attached, must leave the same iptables counters, the same
 * conntrack entries and the same delivered messages; table changes take effect at once.
 */
import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { formatConntrack } from '../src/core/conntrack/index.ts'
import { iptablesRestore, runIptables, saveTables } from '../src/core/netfilter/index.ts'
import { LiveFastPath } from '../src/forwarder/index.ts'
import type { TcpConn } from '../src/kernel/api.ts'
import { HostImpl } from '../src/kernel/host.ts'
import type { NetnsImpl } from '../src/kernel/netns.ts'

const ip = parseIPv4
const A = '198.19.16.2'
const B = '198.19.16.3'
const SVC = '198.19.32.10'

const RULES = `*nat
:PREROUTING ACCEPT [0:0]
:SVC - [0:0]
-A PREROUTING -d ${SVC}/32 -j SVC
-A SVC -p udp --dport 53 -j DNAT --to-destination ${B}:5353
-A SVC -p tcp --dport 80 -j DNAT --to-destination ${B}:8080
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -i cali+ -j MARK --set-xmark 0x10000/0x10000
COMMIT
*filter
:FORWARD DROP [0:0]
:cali-FORWARD - [0:0]
-A FORWARD -j cali-FORWARD
-A cali-FORWARD -m mark --mark 0x10000/0x10000 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-FORWARD -p udp --dport 5353 -j ACCEPT
-A cali-FORWARD -p tcp --dport 8080 -j ACCEPT
COMMIT
`

function world(fast: boolean) {
  const clock = new FakeClock()
  const h = new HostImpl({ name: 'n1', nodeIp: ip('198.19.0.2'), clock, rng: seededRng(7) })
  const pods: NetnsImpl[] = []
  for (const [i, addr] of [A, B].entries()) {
    const pod = h.createPodNetns(`p${i}`) as NetnsImpl
    const dev = `cali000000000${i}a`
    h.addVethPair(h.root, dev, pod, 'eth0')
    pod.addAddr('eth0', ip(addr), 32)
    pod.routes.add({ dst: ip('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
    pod.routes.add({ dst: 0, prefix: 0, via: ip('169.254.1.1'), dev: 'eth0' })
    h.root.routes.add({ dst: ip(addr), prefix: 32, dev, scope: 'link' })
    pods.push(pod)
  }
  iptablesRestore(h.root.nf, RULES, { noflush: true })
  const fp = fast ? LiveFastPath.attach(h) : undefined
  const [a, b] = pods as [NetnsImpl, NetnsImpl]
  const got: string[] = []
  const srv = b.udpBind(5353, (data, from) => {
    got.push(new TextDecoder().decode(data))
    srv.send(from.ip, from.port, `re:${new TextDecoder().decode(data)}`)
  })
  const replies: string[] = []
  const sock = a.udpBind(40000, (d) => replies.push(new TextDecoder().decode(d)))
  return { h, a, b, fp, got, replies, sock, clock }
}

type World = ReturnType<typeof world>

function state(w: World): { counters: string; conntrack: string } {
  return {
    counters: saveTables(w.h.root.nf, { counters: true }),
    conntrack: formatConntrack(w.h.root.conntrack, w.clock.now()),
  }
}

t.test(
  'UDP through a DNATed service: same counters, conntrack and messages with and without the fast path',
  async (t) => {
    const slow = world(false)
    const fast = world(true)
    for (const w of [slow, fast]) {
      for (let i = 0; i < 50; i++) {
        w.sock.send(SVC, 53, `m${i}`)
        w.clock.advance(10)
      }
    }
    t.equal(fast.got.length, 50)
    t.same(fast.got, slow.got, 'same messages delivered')
    t.same(fast.replies, slow.replies, 'same replies (un-DNATed source)')
    t.same(state(fast), state(slow), 'iptables counters and conntrack identical')
    const st = fast.fp?.stats
    t.ok((st?.fast ?? 0) >= 90, `most packets took the fast path (${JSON.stringify(st)})`)
    t.match(fast.replies[0], /^re:m0$/)
  },
)

t.test('a rule change takes effect at once (the generation moves, learned paths are dropped)', async (t) => {
  const slow = world(false)
  const fast = world(true)
  for (const w of [slow, fast]) {
    for (let i = 0; i < 10; i++) w.sock.send(SVC, 53, `a${i}`)
    const r = runIptables(w.h.root.nf, ['-I', 'cali-FORWARD', '1', '-s', `${A}/32`, '-j', 'DROP'])
    t.equal(r.exitCode, 0)
    for (let i = 0; i < 10; i++) w.sock.send(SVC, 53, `b${i}`)
  }
  t.same(
    fast.got,
    Array.from({ length: 10 }, (_, i) => `a${i}`),
    'nothing after the DROP rule',
  )
  t.same(state(fast), state(slow))
  t.ok((fast.fp?.stats.tableChanges ?? 0) > 0)
  // An IP set change moves the generation as well.
  const before = fast.fp?.stats.tableChanges ?? 0
  fast.h.root.sets.create('s1', 'hash:ip')
  t.ok((fast.fp?.stats.tableChanges ?? 0) > before)
})

t.test(
  'route changes rebuild the snapshot; a tap on the ingress link keeps packets on the full pipeline',
  async (t) => {
    const w = world(true)
    for (let i = 0; i < 5; i++) w.sock.send(SVC, 53, `x${i}`)
    const snaps = w.fp?.stats.snapshots ?? 0
    w.h.root.routes.add({ dst: ip('10.0.0.0'), prefix: 8, dev: 'eth0' })
    for (let i = 0; i < 5; i++) w.sock.send(SVC, 53, `y${i}`)
    t.ok((w.fp?.stats.snapshots ?? 0) > snaps, 'a new snapshot after the route change')
    const fastBefore = w.fp?.stats.fast ?? 0
    const seen: number[] = []
    const tap = w.h.root.tap('cali0000000000a', (p) => seen.push(p.length))
    for (let i = 0; i < 5; i++) w.sock.send(SVC, 53, `z${i}`)
    tap.close()
    t.equal(seen.length, 10, 'the tap saw every request and reply')
    t.ok((w.fp?.stats.fast ?? 0) - fastBefore <= 5, 'requests in from the tapped link went slow')
    t.equal(w.got.length, 15)
  },
)

t.test('TCP through the service: same counters and conntrack; detach restores the pipeline', async (t) => {
  const run = async (w: World) => {
    const chunks: string[] = []
    w.b.tcpListen(8080, (c) => c.onData((d) => c.write(`ok:${new TextDecoder().decode(d)}`)))
    const p = w.a.tcpConnect({ dst: SVC, port: 80 })
    const conn: TcpConn = await p
    conn.onData((d) => chunks.push(new TextDecoder().decode(d)))
    for (let i = 0; i < 20; i++) conn.write(`d${i}`)
    conn.end()
    return chunks
  }
  const slow = world(false)
  const fast = world(true)
  const a = await run(slow)
  const b = await run(fast)
  t.same(b, a)
  t.equal(b.length, 20)
  t.same(state(fast), state(slow))
  t.ok((fast.fp?.stats.fast ?? 0) > 0)
  fast.fp?.detach()
  const n = fast.fp?.stats.fast ?? 0
  fast.sock.send(SVC, 53, 'after')
  t.equal(fast.fp?.stats.fast, n, 'detached: nothing through the fast path')
  t.equal(fast.got.at(-1), 'after')
})
