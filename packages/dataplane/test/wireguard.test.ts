import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { buildUdp, PacketView, parsePacket } from '../src/core/packet/index.ts'
import { tablesSnapshot } from '../src/forwarder/snapshot.ts'
import type { Host, Netns, Underlay } from '../src/kernel/api.ts'
import { createHost } from '../src/kernel/host.ts'
import type { NetnsImpl } from '../src/kernel/netns.ts'
import {
  generateWireguardKeyPair,
  openTransport,
  parseTransport,
  receiverIndex,
  sealTransport,
  sessionKeys,
  WG_DEFAULT_PORT,
  wireguardPublicKey,
} from '../src/kernel/wireguard.ts'

const ip = parseIPv4

t.test('keys: base64 X25519, both sides derive mirrored session keys', async (t) => {
  const a = generateWireguardKeyPair()
  const b = generateWireguardKeyPair()
  t.equal(a.publicKey.length, 44)
  t.equal(Buffer.from(a.publicKey, 'base64').length, 32)
  t.equal(wireguardPublicKey(a.privateKey), a.publicKey)
  const ka = sessionKeys(a.privateKey, b.publicKey)
  const kb = sessionKeys(b.privateKey, a.publicKey)
  t.same(ka.send, kb.recv)
  t.same(ka.recv, kb.send)
  t.notSame(ka.send, ka.recv, 'one key per direction')
  t.not(receiverIndex(a.publicKey, b.publicKey), receiverIndex(b.publicKey, a.publicKey))
})

t.test('transport message: round trip, framing, tampering and wrong key fail', async (t) => {
  const a = generateWireguardKeyPair()
  const b = generateWireguardKeyPair()
  const { send } = sessionKeys(a.privateKey, b.publicKey)
  const { recv } = sessionKeys(b.privateKey, a.publicKey)
  const inner = buildUdp({
    src: ip('198.19.16.5'),
    dst: ip('198.19.22.130'),
    sport: 1000,
    dport: 53,
    payload: new Uint8Array(7),
  })
  const msg = sealTransport(send, 0x01020304, 7, inner)
  t.equal(msg[0], 4, 'type 4: transport data')
  t.same([...msg.subarray(1, 4)], [0, 0, 0])
  t.same(parseTransport(msg), { receiver: 0x01020304, counter: 7 })
  t.equal(msg.length, 16 + Math.ceil(inner.length / 16) * 16 + 16, 'header + padded ciphertext + tag')
  const pt = openTransport(recv, msg)
  t.ok(pt)
  t.same([...pt!.subarray(0, inner.length)], [...inner])
  t.equal(Buffer.from(msg).indexOf(Buffer.from(inner.subarray(12, 20))), -1, 'addresses not in clear')
  const bad = msg.slice()
  bad[20]! ^= 1
  t.equal(openTransport(recv, bad), undefined, 'flipped ciphertext bit')
  const badCounter = msg.slice()
  badCounter[8]! ^= 1
  t.equal(openTransport(recv, badCounter), undefined, 'counter is the nonce')
  t.equal(openTransport(send, msg), undefined, 'the other direction key')
  t.equal(parseTransport(new Uint8Array(10)), undefined)
})

/** Two nodes with a pod each, routed through wireguard.cali, underlay captured. */
function twoNodes() {
  const clock = new FakeClock()
  const hosts = new Map<number, Host>()
  const wire: Uint8Array[] = []
  let tamper = false
  const underlay: Underlay = {
    send(nh, bytes) {
      wire.push(bytes.slice())
      if (tamper) bytes[bytes.length - 1]! ^= 0xff
      hosts.get(nh)?.fromUnderlay(bytes)
    },
  }
  const nodes = [
    { name: 'node1', ip: '198.19.0.2', block: '198.19.21.0', wg: '198.19.21.1', pod: '198.19.21.5' },
    { name: 'node2', ip: '198.19.0.3', block: '198.19.22.128', wg: '198.19.22.129', pod: '198.19.22.130' },
  ]
  const keys = nodes.map(() => generateWireguardKeyPair())
  const pods: Netns[] = []
  nodes.forEach((n, i) => {
    const h = createHost({ name: n.name, nodeIp: ip(n.ip), clock, rng: seededRng(i + 1), underlay })
    hosts.set(ip(n.ip), h)
    const pod = h.createPodNetns('p')
    h.addVethPair(h.root, `cali${i}`, pod, 'eth0')
    pod.addAddr('eth0', ip(n.pod), 32)
    pod.routes.add({ dst: ip('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
    pod.routes.add({ dst: 0, prefix: 0, via: ip('169.254.1.1'), dev: 'eth0' })
    h.root.routes.add({ dst: ip(n.pod), prefix: 32, dev: `cali${i}`, scope: 'link' })
    h.root.addLink('wireguard.cali', 'wireguard', { up: true })
    h.root.addAddr('wireguard.cali', ip(n.wg), 32)
    const o = nodes[1 - i]!
    h.root.setWireguard('wireguard.cali', {
      privateKey: keys[i]!.privateKey,
      peers: [
        {
          publicKey: keys[1 - i]!.publicKey,
          endpoint: ip(o.ip),
          allowedIps: [{ ip: ip(o.block), prefix: 26 }],
        },
      ],
    })
    // Plain route in main (what BGP programs), the WireGuard one in table 1 with the rule.
    h.root.routes.add({ dst: ip(o.block), prefix: 26, via: ip(o.ip), dev: 'eth0', proto: 'bird' })
    h.root.routes.add({ table: 1, dst: ip(o.block), prefix: 26, dev: 'wireguard.cali', proto: 80 })
    h.root.routes.addRule({ priority: 99, table: 1, fwmark: 0x100000, fwmask: 0x100000, not: true })
    pods.push(pod)
  })
  return {
    clock,
    wire,
    pods,
    hosts: nodes.map((n) => hosts.get(ip(n.ip))!),
    setTamper: (on: boolean) => {
      tamper = on
    },
  }
}

t.test('two hosts: pod-to-pod UDP crosses the underlay encrypted on 51820', async (t) => {
  const lab = twoNodes()
  const [p1, p2] = lab.pods as [Netns, Netns]
  const [h1, h2] = lab.hosts as [Host, Host]
  const got: string[] = []
  p2.udpBind(5353, (d, from) => got.push(`${new TextDecoder().decode(d)} from ${from.ip}`))
  const plainOnWg: number[] = []
  h2.root.tap('wireguard.cali', (pkt) => plainOnWg.push(pkt.length), { filter: 'udp port 5353' })
  const s = p1.udpBind(40000, () => {})
  const secret = 'TOP-SECRET-PAYLOAD'
  s.send('198.19.22.130', 5353, secret)
  t.same(got, [`${secret} from ${ip('198.19.21.5')}`])
  t.equal(plainOnWg.length, 1, 'tcpdump on wireguard.cali sees the plaintext')
  t.equal(lab.wire.length, 1)
  const outer = lab.wire[0]!
  const v = new PacketView()
  t.equal(parsePacket(outer, v), 'ok')
  t.equal(v.proto, 17)
  t.equal(v.src, ip('198.19.0.2'))
  t.equal(v.dst, ip('198.19.0.3'))
  t.equal(v.sport, WG_DEFAULT_PORT)
  t.equal(v.dport, WG_DEFAULT_PORT)
  t.equal(outer[v.payloadOff], 4, 'transport-data message')
  t.equal(Buffer.from(outer).indexOf(Buffer.from(secret)), -1, 'payload not in clear on the underlay')
  const st = h1.root.wireguardStatus('wireguard.cali')!
  t.equal(st.peers[0]!.txPackets, 1)
  t.match(h1.root.ip(['rule']).stdout, /99:\tnot from all fwmark 0x100000\/0x100000 lookup 1/)
  t.match(h1.root.ip(['route', 'show', 'table', '1']).stdout, /198\.19\.22\.128\/26 dev wireguard\.cali/)
  t.match(h1.root.ip(['route', 'get', '198.19.22.130']).stdout, /dev wireguard\.cali/)
  const snap = tablesSnapshot(h1.root as NetnsImpl, 1).routes.find((r) => r.dst === ip('198.19.22.128'))
  t.equal(snap?.nexthops[0]?.dev, 'wireguard.cali', 'the fast path snapshot takes the table-1 route first')

  // A tampered message is dropped and counted.
  lab.setTamper(true)
  s.send('198.19.22.130', 5353, 'again')
  t.equal(got.length, 1, 'not delivered')
  t.equal(h2.root.wireguardStatus('wireguard.cali')!.drops.auth, 1)
  lab.setTamper(false)

  // A replayed message is dropped too.
  h2.fromUnderlay(outer.slice())
  t.equal(got.length, 1)
  t.equal(h2.root.wireguardStatus('wireguard.cali')!.drops.replay, 1)

  // Without the rule the plain route is used again.
  h1.root.routes.delRule({ priority: 99, table: 1 })
  s.send('198.19.22.130', 5353, 'plain')
  t.equal(got.length, 2)
  t.ok(Buffer.from(lab.wire.at(-1)!).indexOf(Buffer.from('plain')) > 0, 'plain on the underlay')
})

t.test('two hosts: TCP both ways through WireGuard', async (t) => {
  const lab = twoNodes()
  const [p1, p2] = lab.pods as [Netns, Netns]
  p2.tcpListen(80, (c) => {
    c.onData(() => {
      c.write('HTTP/1.0 200 OK\r\n\r\nhello')
      c.end()
    })
  })
  const c = await p1.tcpConnect({ dst: '198.19.22.130', port: 80, timeoutMs: 1000 })
  let reply = ''
  c.onData((d) => (reply += new TextDecoder().decode(d)))
  c.write('GET / HTTP/1.0\r\n\r\n')
  lab.clock.advance(100)
  await new Promise((r) => setImmediate(r))
  t.match(reply, /hello/)
  for (const w of lab.wire) {
    const v = new PacketView()
    parsePacket(w, v)
    t.equal(v.dport, WG_DEFAULT_PORT, 'every underlay packet is WireGuard')
  }
})
