import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { runIptables } from '../src/core/netfilter/index.ts'
import { buildTcp, TCP_SYN } from '../src/core/packet/index.ts'
import type { Host, PacketTraceStep, Underlay } from '../src/kernel/api.ts'
import { createHost } from '../src/kernel/host.ts'
import { addPod } from './helpers/pods.ts'

const ip = parseIPv4

function lab(clock: FakeClock, seed = 1) {
  const hosts = new Map<number, Host>()
  const underlay: Underlay = {
    send(nh, bytes) {
      hosts.get(nh)?.fromUnderlay(bytes)
    },
  }
  const mk = (name: string, nodeIp: string) => {
    const h = createHost({ name, nodeIp: ip(nodeIp), clock, rng: seededRng(seed++), underlay })
    hosts.set(ip(nodeIp), h)
    return h
  }
  return { mk, hosts }
}

t.test('two pods on one host: ping and TCP through veths', async (t) => {
  const clock = new FakeClock()
  const h = lab(clock).mk('node1', '198.19.0.2')
  const a = addPod(h, 'a', '198.19.16.5', 'cali1234567890a')
  const b = addPod(h, 'b', '198.19.16.6', 'cali1234567890b')
  const p = a.ping('198.19.16.6', { count: 2 })
  clock.advance(3000)
  const r = await p
  t.equal(r.received, 2)
  t.equal(r.replies[0]!.ttl, 63, 'one routed hop (the host netns)')
  let got = ''
  b.tcpListen(80, (c) => {
    c.onData((d) => {
      got += new TextDecoder().decode(d)
      c.write('pong')
      c.end()
    })
  })
  const c = await a.tcpConnect({ dst: '198.19.16.6', port: 80, timeoutMs: 1000 })
  let reply = ''
  let ended = false
  c.onData((d) => (reply += new TextDecoder().decode(d)))
  c.onEnd(() => {
    ended = true
    c.end()
  })
  c.write('ping')
  t.equal(got, 'ping')
  t.equal(reply, 'pong')
  t.ok(ended)
  t.equal(c.state, 'CLOSED')
  // Closed port: connection refused (RST).
  await t.rejects(a.tcpConnect({ dst: '198.19.16.6', port: 81 }), { code: 'ECONNREFUSED' })
  // The host answers pings for its own address.
  const p2 = a.ping('198.19.0.2')
  clock.advance(1000)
  t.equal((await p2).received, 1)
})

t.test('pod on host A reaches pod on host B: plain, IPIP, VXLAN', async (t) => {
  for (const mode of ['plain', 'ipip', 'vxlan'] as const) {
    const clock = new FakeClock()
    const l = lab(clock)
    const A = l.mk('node1', '198.19.0.2')
    const B = l.mk('node2', '198.19.0.3')
    const a = addPod(A, 'a', '198.19.16.5', 'calia000000000a')
    const b = addPod(B, 'b', '198.19.16.70', 'calib000000000b')
    if (mode === 'plain') {
      A.root.routes.add({ dst: ip('198.19.16.64'), prefix: 26, via: ip('198.19.0.3'), dev: 'eth0', proto: 'bird' })
      B.root.routes.add({ dst: ip('198.19.16.0'), prefix: 26, via: ip('198.19.0.2'), dev: 'eth0', proto: 'bird' })
    } else if (mode === 'ipip') {
      for (const [H, other, blk] of [
        [A, '198.19.0.3', '198.19.16.64'],
        [B, '198.19.0.2', '198.19.16.0'],
      ] as const) {
        H.root.addLink('tunl0', 'ipip', { up: true })
        H.root.routes.add({ dst: ip(blk), prefix: 26, via: ip(other), dev: 'tunl0', onlink: true, proto: 'bird' })
      }
    } else {
      const vteps = [
        [A, '198.19.16.1', '198.19.0.3', '198.19.16.64', '198.19.16.65'],
        [B, '198.19.16.65', '198.19.0.2', '198.19.16.0', '198.19.16.1'],
      ] as const
      for (const [H, mine, otherNode, blk, otherVtep] of vteps) {
        H.root.addLink('vxlan.calico', 'vxlan', { up: true })
        H.root.addAddr('vxlan.calico', ip(mine), 32)
        H.root.setVxlanPeer(ip(otherVtep), ip(otherNode))
        H.root.routes.add({
          dst: ip(blk),
          prefix: 26,
          via: ip(otherVtep),
          dev: 'vxlan.calico',
          onlink: true,
          proto: 80,
        })
      }
    }
    const seen: number[] = []
    A.root.tap('eth0', (pkt) => seen.push(pkt[9]!), { direction: 'out' })
    b.tcpListen(8080, (c) => c.onData((d) => c.write(d)))
    const c = await a.tcpConnect({ dst: '198.19.16.70', port: 8080, timeoutMs: 1000 })
    let echo = ''
    c.onData((d) => (echo += new TextDecoder().decode(d)))
    c.write('hello')
    t.equal(echo, 'hello', mode)
    const wantProto = mode === 'ipip' ? 4 : mode === 'vxlan' ? 17 : 6
    t.ok(seen.length > 0 && seen.every((p) => p === wantProto), `${mode}: outer protocol ${wantProto} on eth0`)
    const trace: PacketTraceStep[] = []
    const p = a.ping('198.19.16.70')
    clock.advance(1000)
    t.equal((await p).received, 1, `${mode} ping`)
    void trace
  }
})

t.test('FORWARD DROP times out a connect; REJECT refuses it', async (t) => {
  const clock = new FakeClock()
  const h = lab(clock).mk('node1', '198.19.0.2')
  const a = addPod(h, 'a', '198.19.16.5', 'cali1234567890a')
  const b = addPod(h, 'b', '198.19.16.6', 'cali1234567890b')
  b.tcpListen(80, () => {})
  t.equal(
    runIptables(h.root.nf, ['-A', 'FORWARD', '-d', '198.19.16.6', '-p', 'tcp', '--dport', '80', '-j', 'DROP']).exitCode,
    0,
  )
  const p = a.tcpConnect({ dst: '198.19.16.6', port: 80, timeoutMs: 5000 })
  let settled = false
  p.catch(() => {}).finally(() => (settled = true))
  clock.advance(4000)
  await Promise.resolve()
  t.notOk(settled, 'still waiting after 4 s (SYN retransmitted)')
  clock.advance(1000)
  await t.rejects(p, { code: 'ETIMEDOUT' })
  runIptables(h.root.nf, ['-R', 'FORWARD', '1', '-d', '198.19.16.6', '-p', 'tcp', '--dport', '80', '-j', 'REJECT'])
  await t.rejects(a.tcpConnect({ dst: '198.19.16.6', port: 80, timeoutMs: 5000 }), { code: 'ECONNREFUSED' })
  const trace: PacketTraceStep[] = []
  h.root.receive(
    buildTcp({ src: ip('198.19.16.5'), dst: ip('198.19.16.6'), sport: 40000, dport: 80, flags: TCP_SYN }),
    'cali1234567890a',
    { trace },
  )
  t.ok(
    trace.some((s) => s.kind === 'rule' && s.step.target === 'REJECT'),
    'trace names the REJECT rule',
  )
})

t.test('DNAT (kube-proxy style) reaches a backend; replies un-NATed; MASQUERADE for natOutgoing', async (t) => {
  const clock = new FakeClock()
  const l = lab(clock)
  const A = l.mk('node1', '198.19.0.2')
  const ext = l.mk('host1', '198.19.15.254')
  const a = addPod(A, 'a', '198.19.16.5', 'cali1234567890a')
  const b = addPod(A, 'b', '198.19.16.6', 'cali1234567890b')
  ext.root.routes.add({ dst: ip('198.19.16.0'), prefix: 20, via: ip('198.19.0.2'), dev: 'eth0' })
  A.root.routes.add({ dst: 0, prefix: 0, via: ip('198.19.15.254'), dev: 'eth0' })
  const run = (args: string[]) => t.equal(runIptables(A.root.nf, args).exitCode, 0, args.join(' '))
  run([
    '-t',
    'nat',
    '-A',
    'PREROUTING',
    '-d',
    '198.19.32.10',
    '-p',
    'tcp',
    '--dport',
    '80',
    '-j',
    'DNAT',
    '--to-destination',
    '198.19.16.6:8080',
  ])
  run(['-t', 'nat', '-A', 'POSTROUTING', '-s', '198.19.16.0/21', '!', '-d', '198.19.16.0/20', '-j', 'MASQUERADE'])
  let from = ''
  b.tcpListen(8080, (c) => {
    from = `${c.remote.ip}`
    c.onData((d) => c.write(d))
  })
  const c = await a.tcpConnect({ dst: '198.19.32.10', port: 80, timeoutMs: 1000 })
  t.equal(c.remote.ip, ip('198.19.32.10'), 'client sees the service address')
  let echo = ''
  c.onData((d) => (echo += new TextDecoder().decode(d)))
  c.write('x')
  t.equal(echo, 'x')
  t.equal(from, String(ip('198.19.16.5')))
  const ctOut = A.root.conntrack.list(clock.now())
  t.ok(ctOut.some((e) => e.orig.dst === ip('198.19.32.10') && e.reply.src === ip('198.19.16.6')))
  // natOutgoing: host1 sees the node IP.
  let extFrom = 0
  ext.root.tcpListen(22, (cc) => (extFrom = cc.remote.ip))
  await a.tcpConnect({ dst: '198.19.15.254', port: 22, timeoutMs: 1000 })
  t.equal(extFrom, ip('198.19.0.2'))
})

t.test('ip addr / link / route text for a pod and its host', async (t) => {
  const clock = new FakeClock()
  const l = lab(clock)
  const h = l.mk('node1', '198.19.0.2')
  h.root.setMtu('eth0', 1500)
  const pod = addPod(h, 'customer', '198.19.16.5', 'calid2fec1a910d')
  h.root.routes.add({ dst: ip('198.19.16.0'), prefix: 26, type: 'blackhole', proto: 'bird' })
  h.root.routes.add({ dst: ip('198.19.16.64'), prefix: 26, via: ip('198.19.0.3'), dev: 'eth0', proto: 'bird' })
  const podMac = pod.link('eth0')!.mac
  t.equal(
    pod.ip(['addr']).stdout,
    `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: eth0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default 
    link/ether ${podMac} brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 198.19.16.5/32 scope global eth0
       valid_lft forever preferred_lft forever
`,
  )
  t.equal(
    pod.ip(['-c', 'link', 'show', 'up']).stdout,
    `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
2: eth0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default 
    link/ether ${podMac} brd ff:ff:ff:ff:ff:ff link-netnsid 0
`,
  )
  t.equal(pod.ip(['route']).stdout, 'default via 169.254.1.1 dev eth0 \n169.254.1.1 dev eth0 scope link \n')
  const hostLinks = h.root.ip(['link', 'show', 'up']).stdout
  t.match(
    hostLinks,
    '3: calid2fec1a910d@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \n    link/ether ee:ee:ee:ee:ee:ee brd ff:ff:ff:ff:ff:ff link-netnsid 0\n',
  )
  t.equal(
    h.root.ip(['route']).stdout,
    '198.19.0.0/20 dev eth0 proto kernel scope link src 198.19.0.2 \n' +
      'blackhole 198.19.16.0/26 proto bird \n' +
      '198.19.16.5 dev calid2fec1a910d scope link \n' +
      '198.19.16.64/26 via 198.19.0.3 dev eth0 proto bird \n',
  )
  t.equal(
    h.root.ip(['route', 'get', '198.19.16.70']).stdout,
    '198.19.16.70 via 198.19.0.3 dev eth0 src 198.19.0.2 uid 0 \n    cache \n',
  )
})

t.test('ECMP spreads flows and prints nexthop lines', async (t) => {
  const clock = new FakeClock()
  const h = lab(clock).mk('host1', '198.19.15.254')
  h.root.routes.add({
    dst: ip('198.19.16.0'),
    prefix: 26,
    proto: 'bird',
    nexthops: [
      { via: ip('198.19.0.2'), dev: 'eth0' },
      { via: ip('198.19.0.3'), dev: 'eth0' },
    ],
  })
  t.match(
    h.root.ip(['route']).stdout,
    '198.19.16.0/26 proto bird \n\tnexthop via 198.19.0.2 dev eth0 weight 1 \n\tnexthop via 198.19.0.3 dev eth0 weight 1 \n',
  )
  const counts = new Map<number, number>()
  const { flowHash } = await import('../src/kernel/pipeline.ts')
  const { PacketView, parsePacket, buildTcp } = await import('../src/core/packet/index.ts')
  const v = new PacketView()
  for (let sp = 1000; sp < 1400; sp++) {
    parsePacket(buildTcp({ src: ip('198.19.15.254'), dst: ip('198.19.16.5'), sport: sp, dport: 80, flags: 2 }), v)
    const r = h.root.routes.lookup(v.dst, flowHash(v))!
    counts.set(r.via!, (counts.get(r.via!) ?? 0) + 1)
  }
  t.equal(counts.size, 2)
  for (const n of counts.values()) t.ok(n > 120, `balanced enough: ${n}`)
  // Route API: EEXIST, events, del.
  const events: string[] = []
  h.root.routes.subscribe((e) => events.push(e.type))
  t.equal(h.root.routes.add({ dst: ip('10.0.0.0'), prefix: 8, dev: 'eth0' }).ok, true)
  t.match(h.root.routes.add({ dst: ip('10.0.0.0'), prefix: 8, dev: 'eth0' }), { ok: false, code: 'EEXIST' })
  t.equal(h.root.routes.replace({ dst: ip('10.0.0.0'), prefix: 8, dev: 'eth0', proto: 'bird' }).ok, true)
  t.equal(h.root.routes.del({ dst: ip('10.0.0.0'), prefix: 8 }).ok, true)
  t.same(events, ['add', 'del', 'add', 'del'])
})
