import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { Conntrack, conntrackSummary, formatConntrack, IPS_ASSURED } from '../src/core/conntrack/index.ts'
import {
  buildIcmpError,
  buildTcp,
  buildUdp,
  checksumsOk,
  PacketView,
  parsePacket,
  TCP_ACK,
  TCP_FIN,
  TCP_SYN,
} from '../src/core/packet/index.ts'

const ip = parseIPv4
const HOST1 = ip('198.19.15.254')
const NODE = ip('198.19.0.1')
const POD = ip('198.19.22.132')

t.test('NodePort flow: DNAT + MASQUERADE on the first packet, reverse NAT for replies', async (t) => {
  const ct = new Conntrack()
  const v = new PacketView()
  let now = 1_000_000
  // host1 -> node:30180, SYN
  const syn = buildTcp({ src: HOST1, dst: NODE, sport: 51234, dport: 30180, seq: 1, flags: TCP_SYN })
  parsePacket(syn, v)
  t.equal(ct.lookupPacket(v, now), undefined)
  const e = ct.createFromPacket(v, now)
  ct.begin(e, v.tcpFlags, v.totalLen, now)
  ct.setDnat(e, POD, 80) // nat PREROUTING: KUBE-SEP DNAT
  ct.setSnat(e, NODE, {}, now) // nat POSTROUTING: MASQUERADE to the node address
  t.ok(ct.confirm(e))
  const fwd = ct.lookupPacket(v, now)!
  t.equal(fwd.dir, 0)
  ct.applyNat(v, fwd)
  t.same([v.src, v.sport, v.dst, v.dport], [NODE, 51234, POD, 80])
  parsePacket(syn, v)
  t.ok(checksumsOk(v))
  t.equal(ct.ctstate(fwd), 2 | 32 | 64, 'NEW + SNAT + DNAT')

  // pod replies SYN/ACK to node:51234
  now += 1
  const synack = buildTcp({ src: POD, dst: NODE, sport: 80, dport: 51234, seq: 900, ack: 2, flags: TCP_SYN | TCP_ACK })
  parsePacket(synack, v)
  const rep = ct.lookupPacket(v, now)!
  t.equal(rep.dir, 1)
  ct.update(rep, v.tcpFlags, v.totalLen, now)
  ct.applyNat(v, rep)
  t.same([v.src, v.sport, v.dst, v.dport], [NODE, 30180, HOST1, 51234], 'reply looks like it came from the NodePort')
  parsePacket(synack, v)
  t.ok(checksumsOk(v))
  // ACK completes the handshake
  const ack = buildTcp({ src: HOST1, dst: NODE, sport: 51234, dport: 30180, seq: 2, ack: 901, flags: TCP_ACK })
  parsePacket(ack, v)
  const a = ct.lookupPacket(v, now)!
  ct.update(a, v.tcpFlags, v.totalLen, now)
  t.equal(e.tcpState, 'ESTABLISHED')
  t.ok(e.status & IPS_ASSURED)
  t.equal(ct.ctstate(a), 8 | 32 | 64)
  t.equal(
    formatConntrack(ct, now),
    'tcp      6 431999 ESTABLISHED src=198.19.15.254 dst=198.19.0.1 sport=51234 dport=30180 src=198.19.22.132 dst=198.19.0.1 sport=80 dport=51234 [ASSURED] mark=0 use=1\n',
  )
  t.equal(conntrackSummary(1), 'conntrack v1.4.6 (conntrack-tools): 1 flow entries have been shown.\n')

  // FIN exchange and expiry
  ct.update(a, TCP_FIN | TCP_ACK, 40, now)
  t.equal(e.tcpState, 'FIN_WAIT')
  ct.update(rep, TCP_FIN | TCP_ACK, 40, now)
  t.equal(e.tcpState, 'LAST_ACK')
  ct.update(a, TCP_ACK, 40, now)
  t.equal(e.tcpState, 'TIME_WAIT')
  t.match(formatConntrack(ct, now), /^tcp {6}6 119 TIME_WAIT /)
  t.equal(ct.lookup(6, HOST1, NODE, 51234, 30180, now + 120_000), undefined, 'expired')
  t.equal(ct.count, 0)
})

t.test('UDP unreplied then replied, MASQUERADE port clash picks another port, delete by filter', async (t) => {
  const ct = new Conntrack()
  const now = 5000
  const mk = (src: number, sport: number) => {
    const e = ct.create(17, src, ip('8.8.8.8'), sport, 53, now)
    ct.begin(e, 0, 60, now)
    ct.setSnat(e, NODE, {}, now)
    ct.confirm(e)
    return e
  }
  const e1 = mk(ip('198.19.16.5'), 40000)
  const e2 = mk(ip('198.19.16.6'), 40000)
  t.equal(e1.reply.dport, 40000)
  t.not(e2.reply.dport, 40000, 'second flow with the same source port gets another one')
  t.equal(
    formatConntrack(ct, now, { src: ip('198.19.16.5') }),
    'udp      17 29 src=198.19.16.5 dst=8.8.8.8 sport=40000 dport=53 [UNREPLIED] src=8.8.8.8 dst=198.19.0.1 sport=53 dport=40000 mark=0 use=1\n',
  )
  const v = new PacketView()
  const reply = buildUdp({
    src: ip('8.8.8.8'),
    dst: NODE,
    sport: 53,
    dport: e2.reply.dport,
    payload: new Uint8Array(20),
  })
  parsePacket(reply, v)
  const r = ct.lookupPacket(v, now)!
  t.equal(r.entry, e2)
  ct.update(r, 0, 48, now)
  ct.applyNat(v, r)
  t.same([v.dst, v.dport], [ip('198.19.16.6'), 40000])
  parsePacket(reply, v)
  t.ok(checksumsOk(v))
  // ICMP error about the first flow is RELATED to it.
  const orig = buildUdp({ src: ip('198.19.16.5'), dst: ip('8.8.8.8'), sport: 40000, dport: 53 })
  const err = buildIcmpError({ src: ip('8.8.8.8'), dst: ip('198.19.16.5'), type: 3, code: 3, original: orig })
  parsePacket(err, v)
  t.equal(ct.related(v, now)?.entry, e1)
  t.equal(ct.delete(now, { anyIp: ip('198.19.16.6') }), 1)
  t.equal(ct.count, 1)
  t.equal(ct.list(now).length, 1)
})

t.test('many flows with colliding hashes stay distinct', async (t) => {
  const ct = new Conntrack()
  for (let i = 0; i < 5000; i++) {
    const e = ct.create(6, ip('10.0.0.1') + (i % 50), ip('10.1.0.1'), 1024 + i, 80, 0)
    ct.begin(e, TCP_SYN, 60, 0)
    ct.confirm(e)
  }
  let found = 0
  for (let i = 0; i < 5000; i++)
    if (ct.lookup(6, ip('10.0.0.1') + (i % 50), ip('10.1.0.1'), 1024 + i, 80, 1)?.dir === 0) found++
  t.equal(found, 5000)
  t.equal(ct.gc(200_000), 5000, 'SYN_SENT entries expire after 120 s')
})
