/**
 * Conntrack's slot storage: handles and object views over the same entries, slots reused after
 * discard and removal, views that outlive their entry, and the pipeline freeing the entry of a
 * first packet it dropped. Also the routing lookup cache the pipeline uses.
 */
import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { Conntrack, formatConntrack, IPS_SEEN_REPLY } from '../src/core/conntrack/index.ts'
import { runIptables } from '../src/core/netfilter/index.ts'
import { buildTcp, PacketView, parsePacket, TCP_ACK, TCP_SYN } from '../src/core/packet/index.ts'
import { createHost } from '../src/kernel/host.ts'
import type { NetnsImpl } from '../src/kernel/netns.ts'

const ip = parseIPv4
const A = ip('10.0.0.1')
const B = ip('10.0.0.2')

t.test('handles: open, begin, confirm, find both directions, update, discard', async (t) => {
  const ct = new Conntrack()
  const s = ct.open(6, A, B, 40000, 80, 0)
  ct.beginAt(s, TCP_SYN, 60, 0)
  t.equal(ct.find(6, A, B, 40000, 80, 0), -1, 'not findable before confirm')
  t.ok(ct.confirmAt(s))
  const o = ct.find(6, A, B, 40000, 80, 1)
  const r = ct.find(6, B, A, 80, 40000, 1)
  t.same([o >> 1, o & 1, r >> 1, r & 1], [s, 0, s, 1], 'one entry, original and reply tuples')
  t.equal(ct.ctstateAt(o), 2, 'NEW')
  ct.updateAt(r, TCP_SYN | TCP_ACK, 60, 1)
  t.equal(ct.ctstateAt(o), 8, 'ESTABLISHED once replied')
  const e = ct.entryView(s)
  t.equal(e.tcpState, 'SYN_RECV')
  t.ok(e.status & IPS_SEEN_REPLY)
  t.equal(e.packets, 2)
  t.equal(ct.tupleSrc(r), B)
  t.equal(ct.tupleView(r), e.reply, 'views of the same entry are the same objects')

  // An entry whose packet was dropped gives its slot back; a confirmed one is not discarded.
  const d = ct.open(17, A, B, 1, 2, 0)
  ct.discard(d)
  t.equal(ct.open(17, A, B, 3, 4, 0), d, 'the next new entry reuses the slot')
  ct.discard(s)
  t.equal(ct.find(6, A, B, 40000, 80, 1), o, 'discard leaves a confirmed entry alone')
  t.equal(ct.count, 1)
})

t.test('object views: one per entry; a removed entry keeps its values, its reused slot gets a new view', async (t) => {
  const ct = new Conntrack()
  const e = ct.create(6, A, B, 40000, 80, 0)
  ct.begin(e, TCP_SYN, 60, 0)
  ct.setDnat(e, ip('10.9.9.9'), 8080)
  t.ok(ct.confirm(e))
  const t1 = ct.lookup(6, A, B, 40000, 80, 1)
  t.equal(t1, e.orig)
  t.equal(ct.lookup(6, ip('10.9.9.9'), A, 8080, 40000, 1)?.entry, e)
  e.mark = 7
  const line = formatConntrack(ct, 1)
  ct.remove(e)
  t.equal(ct.count, 0)
  t.notOk(e.listed)
  t.same([e.orig.src, e.reply.src, e.reply.sport, e.mark, e.tcpState], [A, ip('10.9.9.9'), 8080, 7, 'SYN_SENT'])
  const f = ct.create(17, B, A, 53, 53, 2)
  t.ok(ct.confirm(f))
  t.not(f, e, 'a new entry in the same slot is another object')
  t.equal(e.orig.src, A, 'the removed entry did not change')
  t.equal(f.orig.src, B)
  t.ok(ct.confirm(e), 'confirming a removed entry again is a no-op, as before')
  t.equal(ct.count, 1)
  t.match(line, /dport=80 \[UNREPLIED\] src=10\.9\.9\.9 dst=10\.0\.0\.1 sport=8080 dport=40000 mark=7/)
})

t.test('grows past its initial slots; gc, delete and flush free slots for reuse', async (t) => {
  const ct = new Conntrack(262144, 16)
  const cap0 = ct.capacity
  const n = cap0 * 5
  for (let i = 0; i < n; i++) {
    const s = ct.open(6, A + i, B, 1024 + (i % 60000), 80, 0)
    ct.beginAt(s, TCP_SYN, 60, 0)
    ct.confirmAt(s)
  }
  t.equal(ct.count, n)
  t.ok(ct.capacity >= n)
  let found = 0
  for (let i = 0; i < n; i++) if (ct.find(6, B, A + i, 80, 1024 + (i % 60000), 1) >= 0) found++
  t.equal(found, n, 'every reply tuple found after the table grew')
  const cap = ct.capacity
  t.equal(ct.gc(200_000), n, 'SYN_SENT entries expire')
  for (let i = 0; i < n; i++) ct.confirmAt(ct.open(17, A + i, B, 5, 53, 0))
  t.equal(ct.capacity, cap, 'expired slots reused')
  t.equal(ct.delete(0, { proto: 17, src: A + 3 }), 1)
  ct.flush()
  t.equal(ct.count, 0)
  for (let i = 0; i < n; i++) ct.confirmAt(ct.open(17, A + i, B, 6, 53, 0))
  t.equal(ct.capacity, cap, 'flushed slots reused')
  t.equal(ct.list(0).length, n)
})

function node() {
  const clock = new FakeClock()
  const h = createHost({ name: 'n', nodeIp: ip('198.19.0.2'), clock, rng: seededRng(1) })
  const root = h.root as NetnsImpl
  const pod = h.createPodNetns('p')
  h.addVethPair(h.root, 'cali1', pod, 'eth0')
  pod.addAddr('eth0', ip('198.19.16.5'), 32)
  root.routes.add({ dst: ip('198.19.16.5'), prefix: 32, dev: 'cali1', scope: 'link' })
  // The test plays the pod's side: its eth0 down, so nothing answers.
  ;(pod as NetnsImpl).setLinkUp('eth0', false)
  return { h, root, clock }
}

t.test('pipeline: a dropped first packet leaves no entry and holds no slot', async (t) => {
  const { root } = node()
  const cap = root.conntrack.capacity
  runIptables(root.nf, ['-A', 'FORWARD', '-p', 'tcp', '--dport', '22', '-j', 'DROP'])
  const syn = (sport: number, dport: number) =>
    buildTcp({ src: ip('198.19.0.9'), dst: ip('198.19.16.5'), sport, dport, flags: TCP_SYN })
  for (let i = 0; i < cap * 3; i++) {
    const out = root.receive(syn(1024 + (i % 60000), 22), 'eth0')
    if (out.kind !== 'dropped') t.fail(`SYN ${i} not dropped: ${out.kind}`)
  }
  t.equal(root.conntrack.count, 0)
  t.equal(root.conntrack.capacity, cap, 'dropped SYNs reused one slot')
  t.equal(root.receive(syn(5000, 80), 'eth0').kind, 'forwarded')
  t.equal(root.conntrack.count, 1)
  t.match(
    formatConntrack(root.conntrack, 0),
    /SYN_SENT src=198\.19\.0\.9 dst=198\.19\.16\.5 sport=5000 dport=80 \[UNREPLIED\]/,
  )
})

t.test('routing cache: answers follow route changes; ECMP still picks per flow', async (t) => {
  const { root } = node()
  const v = new PacketView()
  parsePacket(buildTcp({ src: ip('198.19.0.9'), dst: ip('198.19.16.5'), sport: 1, dport: 2, flags: TCP_SYN }), v)
  t.equal(root.routes.lookupFor(v.dst, v)?.dev, 'cali1')
  t.equal(root.routes.lookupFor(v.dst, v)?.dev, 'cali1', 'cached')
  root.routes.replace({ dst: ip('198.19.16.5'), prefix: 32, dev: 'eth0', via: ip('198.19.0.3') })
  t.same(root.routes.lookupFor(v.dst, v), {
    route: root.routes.list({ dst: { ip: ip('198.19.16.5'), prefix: 32 } })[0],
    dev: 'eth0',
    via: ip('198.19.0.3'),
  })
  root.routes.del({ dst: ip('198.19.16.5'), prefix: 32 })
  t.equal(root.routes.lookupFor(v.dst, v), undefined, 'no route after delete')
  root.routes.add({
    dst: ip('198.19.20.0'),
    prefix: 24,
    nexthops: [
      { via: ip('198.19.0.3'), dev: 'eth0', weight: 1 },
      { via: ip('198.19.0.4'), dev: 'eth0', weight: 1 },
    ],
  })
  const seen = new Set<number | undefined>()
  for (let sport = 1000; sport < 1064; sport++) {
    parsePacket(buildTcp({ src: ip('198.19.0.9'), dst: ip('198.19.20.7'), sport, dport: 80, flags: TCP_SYN }), v)
    seen.add(root.routes.lookupFor(v.dst, v)?.via)
  }
  t.equal(seen.size, 2, 'flows to one destination spread over both nexthops')
})
