/**
 * `calilab trace` in eBPF mode and over WireGuard: the tc programs' steps (which program, which
 * direction, NAT frontend, conntrack, tunnel/DSR, verdict) and the WireGuard encrypt/decrypt
 * lines, across two emulated nodes with the held underlay packet walked into the next one.
 */
import {
  attachBpf,
  BpfMaps,
  BpfProgram,
  type BpfServiceMode,
  beKey,
  bpfEnv,
  createHost,
  feKey,
  generateWireguardKeyPair,
  type Host,
  NAT_WILDCARD,
  type Netns,
  RT_LOCAL,
  RT_WORKLOAD,
  type Underlay,
} from '@calilab/dataplane'
import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { type ChainOwner, traceArrival, tracePacket } from '../src/felix/trace.ts'

const ip = parseIPv4
const TCP = 6
const X = '198.19.0.1'
const Y = '198.19.0.2'
const CLIENT = '198.19.15.254' // not emulated: stray answers to it go nowhere
const POD_A = '198.19.20.5' // on X
const POD_B = '198.19.16.10' // on Y, the backend
const CLUSTER_IP = '198.19.32.50'
const names = new Map<string, ChainOwner>()

function addPod(h: Host, name: string, podIp: string, veth: string): Netns {
  const ns = h.createPodNetns(name)
  h.addVethPair(h.root, veth, ns, 'eth0')
  ns.addAddr('eth0', ip(podIp), 32)
  ns.routes.add({ dst: ip('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
  ns.routes.add({ dst: 0, prefix: 0, via: ip('169.254.1.1'), dev: 'eth0' })
  h.root.routes.add({ dst: ip(podIp), prefix: 32, dev: veth, scope: 'link' })
  return ns
}

/** The maps Felix programs for one service: ClusterIP:80 and NodePort 30180 -> POD_B:80, ClusterIP:53/udp -> POD_B:53. */
function programNode(h: Host, nodeIp: string, mode: BpfServiceMode): BpfProgram {
  const maps = new BpfMaps()
  const local = nodeIp === Y
  const fe = (id: number) => ({ id, count: 1, localCount: local ? 1 : 0, affinityTimeout: 0, flags: 0 })
  maps.natFe.set(feKey(ip(CLUSTER_IP), 80, TCP), fe(1))
  maps.natFe.set(feKey(ip(nodeIp), 30180, TCP), fe(2))
  maps.natFe.set(feKey(NAT_WILDCARD, 30180, TCP), fe(2))
  maps.natBe.set(beKey(1, 0), { addr: ip(POD_B), port: 80 })
  maps.natBe.set(beKey(2, 0), { addr: ip(POD_B), port: 80 })
  maps.natFe.set(feKey(ip(CLUSTER_IP), 53, 17), fe(3))
  maps.natBe.set(beKey(3, 0), { addr: ip(POD_B), port: 53 })
  maps.routes.set(ip(POD_B), { flags: RT_WORKLOAD | (local ? RT_LOCAL : 0), nextHop: local ? 0 : ip(Y) })
  maps.routes.set(ip(POD_A), { flags: RT_WORKLOAD | (local ? 0 : RT_LOCAL), nextHop: local ? ip(X) : 0 })
  const prog = new BpfProgram(maps, { nodeIp: ip(nodeIp), mode, vxlanPort: 4789 }, bpfEnv(h.root))
  attachBpf(h.root, prog)
  return prog
}

function bpfCluster(mode: BpfServiceMode) {
  const clock = new FakeClock()
  const hosts = new Map<number, Host>()
  const underlay: Underlay = { send: (nh, bytes) => void hosts.get(nh)?.fromUnderlay(bytes) }
  const mk = (name: string, nodeIp: string, seed: number) => {
    const h = createHost({ name, nodeIp: ip(nodeIp), clock, rng: seededRng(seed), underlay, gateway: ip(CLIENT) })
    hosts.set(ip(nodeIp), h)
    return h
  }
  const hx = mk('x', X, 1)
  const hy = mk('y', Y, 2)
  addPod(hx, 'a', POD_A, 'cali00000000a')
  const b = addPod(hy, 'b', POD_B, 'cali00000000b')
  b.tcpListen(80, (c) => c.end())
  hx.root.routes.add({ dst: ip('198.19.16.0'), prefix: 26, via: ip(Y), dev: 'eth0' })
  hy.root.routes.add({ dst: ip('198.19.20.0'), prefix: 26, via: ip(X), dev: 'eth0' })
  return { hx, hy, px: programNode(hx, X, mode), py: programNode(hy, Y, mode) }
}

/** Client -> X:30180 traced at X (held), then the held VXLAN packet traced into Y. */
function nodePortTrace(mode: BpfServiceMode) {
  const c = bpfCluster(mode)
  const spec = { src: CLIENT, dst: X, proto: 'tcp' as const, dport: 30180, iif: 'eth0' }
  const atX = tracePacket(c.hx, spec, names, { hold: true })
  const held = atX.underlay
  const atY = held ? traceArrival(c.hy, { ...atX.spec, iif: 'eth0' }, held.packet, names, { hold: true }) : undefined
  return { ...c, atX, atY }
}

for (const mode of ['Tunnel', 'DSR'] as const) {
  t.test(`BPF ${mode}: NodePort on X, backend on Y, through the NodePort tunnel`, async (t) => {
    const { atX, atY, hx, hy } = nodePortTrace(mode)
    t.equal(atX.verdict, 'allowed', atX.text)
    t.match(
      atX.text,
      '[root] tc ingress on eth0 (calico host endpoint program): 198.19.15.254.61000 > 198.19.0.1.30180 tcp\n' +
        '    conntrack miss; NAT frontend 198.19.0.1:30180/tcp -> backend 198.19.16.10:80 on node 198.19.0.2 (1 backend)\n' +
        "    VXLAN tunnel to node 198.19.0.2, the backend's node (the original packet: client IP kept)\n" +
        '  => REDIRECT out of eth0 (skips the stack): 198.19.0.1.',
    )
    t.match(atX.text, /REDIRECT .*> 198\.19\.0\.2\.4789 udp\n/)
    t.notMatch(atX.text, '[root] received on eth0', 'the redirect skips the stack')
    t.notMatch(atX.text, 'tc egress', 'an egress program with nothing to do is left out')
    t.match(atX.text, '[root] to the underlay, next hop 198.19.0.2')
    t.match(atX.reason, /\(left the node for 198\.19\.0\.2\)/)
    t.equal(atX.underlay?.nextHop, Y, 'held for Y')
    t.equal(atX.underlay?.packet[9], 17, 'the held bytes are the VXLAN (UDP) packet')
    t.ok(atY, 'traced on at Y')
    t.equal(atY!.verdict, 'allowed', atY!.text)
    t.match(
      atY!.text,
      /\[root\] tc ingress on eth0 \(calico host endpoint program\): 198\.19\.0\.1\.\d+ > 198\.19\.0\.2\.4789 udp\n/,
    )
    t.match(atY!.text, '    VXLAN decap: NodePort tunnel from node 198.19.0.1 (vni 0xca11c0)')
    t.match(atY!.text, 'NAT frontend 198.19.0.1:30180/tcp -> backend 198.19.16.10:80 on this node')
    t.match(atY!.text, '    DNAT 198.19.0.1:30180 -> 198.19.16.10:80\n')
    t.match(atY!.text, '  => PASS up the stack: 198.19.15.254.61000 > 198.19.16.10.80 tcp', 'client IP preserved')
    t.match(atY!.text, '[root] received on eth0: 198.19.15.254.61000 > 198.19.16.10.80 tcp')
    t.match(atY!.text, '[b] delivered locally to port 80\n')
    t.equal(atY!.underlay, undefined)

    // The reply (traced from the backend pod back to the client): conntrack hit on Y.
    const reply = tracePacket(hy, { src: POD_B, sport: 80, dst: CLIENT, dport: 61000, proto: 'tcp' }, names, {
      hold: true,
    })
    t.match(
      reply.text,
      '[root] tc ingress on cali00000000b (calico workload program): 198.19.16.10.80 > 198.19.15.254.61000 tcp',
    )
    if (mode === 'Tunnel') {
      t.match(reply.text, '    conntrack hit: NAT_REV, established (tunnel 198.19.0.1)\n')
      t.match(
        reply.text,
        '    VXLAN tunnel back to ingress node 198.19.0.1 (Tunnel mode: the reply returns the way it came)',
      )
      t.equal(reply.underlay?.nextHop, X, 'the reply goes back to X')
      const back = traceArrival(hx, { ...reply.spec, iif: 'eth0' }, reply.underlay!.packet, names)
      t.match(back.text, '    VXLAN decap: NodePort tunnel from node 198.19.0.2 (vni 0xca11c0)')
      t.match(back.text, '    conntrack hit: NAT_REV, established (NP_FWD)\n')
      t.match(back.text, '    reverse NAT: source 198.19.16.10:80 -> 198.19.0.1:30180\n')
      t.match(
        back.text,
        /=> REDIRECT out of eth0 .*\(skips the stack\): 198\.19\.0\.1\.30180 > 198\.19\.15\.254\.61000 tcp/,
      )
    } else {
      t.match(reply.text, '    conntrack hit: NAT_REV, established (DSR_FWD, tunnel 198.19.0.1)\n')
      t.match(reply.text, '    reverse NAT: source 198.19.16.10:80 -> 198.19.0.1:30180\n')
      t.match(
        reply.text,
        '    DSR: the reply goes straight to the client 198.19.15.254, not back through the ingress node',
      )
      t.match(
        reply.text,
        /=> REDIRECT out of eth0 .*\(skips the stack\): 198\.19\.0\.1\.30180 > 198\.19\.15\.254\.61000 tcp/,
      )
      t.equal(reply.underlay?.nextHop, CLIENT, 'straight to the client (its gateway), not to X')
    }
  })
}

t.test('BPF: pod -> ClusterIP, DNAT in the workload program, then plain routing to the backend node', async (t) => {
  const { hx, hy } = bpfCluster('Tunnel')
  const r = tracePacket(hx, { src: POD_A, dst: CLUSTER_IP, proto: 'tcp', dport: 80 }, names, { hold: true })
  t.equal(r.verdict, 'allowed', r.text)
  t.match(
    r.text,
    '[root] tc ingress on cali00000000a (calico workload program): 198.19.20.5.61000 > 198.19.32.50.80 tcp\n' +
      '    conntrack miss; NAT frontend 198.19.32.50:80/tcp -> backend 198.19.16.10:80 on node 198.19.0.2 (1 backend)\n' +
      '    DNAT 198.19.32.50:80 -> 198.19.16.10:80\n' +
      '  => PASS up the stack: 198.19.20.5.61000 > 198.19.16.10.80 tcp\n' +
      '[root] received on cali00000000a: 198.19.20.5.61000 > 198.19.16.10.80 tcp\n',
  )
  t.notMatch(r.text, 'VXLAN', 'a pod connection is not tunnelled: the kernel routes it')
  t.equal(r.underlay?.nextHop, Y)
  const atY = traceArrival(hy, { ...r.spec, iif: 'eth0' }, r.underlay!.packet, names)
  t.match(atY.text, '    conntrack miss; no NAT frontend for 198.19.16.10:80/tcp\n  => PASS (unchanged)\n')
  t.match(atY.text, '[b] delivered locally to port 80')
  t.equal(atY.verdict, 'allowed')

  // UDP (no reset closes the entry): the second datagram on the tuple hits the entry the first made.
  const udp = { src: POD_A, dst: CLUSTER_IP, proto: 'udp' as const, dport: 53 }
  t.match(tracePacket(hx, udp, names).text, 'NAT frontend 198.19.32.50:53/udp -> backend 198.19.16.10:53')
  const again = tracePacket(hx, udp, names)
  t.match(again.text, '    conntrack hit: NAT_FWD, established\n    DNAT 198.19.32.50:53 -> 198.19.16.10:53\n')
})

t.test('BPF: a drop by the program is explained', async (t) => {
  const { hx, px } = bpfCluster('Tunnel')
  px.maps.natBe.delete(beKey(2, 0))
  px.maps.natFe.set(feKey(NAT_WILDCARD, 30180, TCP), { id: 2, count: 0, localCount: 0, affinityTimeout: 0, flags: 0 })
  const r = tracePacket(hx, { src: CLIENT, dst: X, proto: 'tcp', dport: 30180, iif: 'eth0' }, names)
  t.equal(r.verdict, 'dropped')
  t.match(r.text, '  => DROP: no backend\n')
  t.equal(r.reason, 'dropped in root: the eBPF tc program dropped it (no backend)')
})

t.test('WireGuard: pod -> pod across two nodes, encrypted at one, decrypted at the other', async (t) => {
  const clock = new FakeClock()
  const hosts = new Map<number, Host>()
  const underlay: Underlay = { send: (nh, bytes) => void hosts.get(nh)?.fromUnderlay(bytes) }
  const nodes = [
    { name: 'node1', ip: '198.19.0.2', block: '198.19.21.0', wg: '198.19.21.1', pod: '198.19.21.5' },
    { name: 'node2', ip: '198.19.0.3', block: '198.19.22.128', wg: '198.19.22.129', pod: '198.19.22.130' },
  ]
  const keys = nodes.map(() => generateWireguardKeyPair())
  const hs = nodes.map((n, i) => {
    const h = createHost({ name: n.name, nodeIp: ip(n.ip), clock, rng: seededRng(i + 1), underlay })
    hosts.set(ip(n.ip), h)
    addPod(h, 'p', n.pod, `cali${i}`).tcpListen(80, (c) => c.end())
    h.root.addLink('wireguard.cali', 'wireguard', { up: true })
    h.root.addAddr('wireguard.cali', ip(n.wg), 32)
    const o = nodes[1 - i]!
    const peers = [
      { publicKey: keys[1 - i]!.publicKey, endpoint: ip(o.ip), allowedIps: [{ ip: ip(o.block), prefix: 26 }] },
    ]
    h.root.setWireguard('wireguard.cali', { privateKey: keys[i]!.privateKey, peers })
    h.root.routes.add({ dst: ip(o.block), prefix: 26, via: ip(o.ip), dev: 'eth0', proto: 'bird' })
    h.root.routes.add({ table: 1, dst: ip(o.block), prefix: 26, dev: 'wireguard.cali', proto: 80 })
    h.root.routes.addRule({ priority: 99, table: 1, fwmark: 0x100000, fwmask: 0x100000, not: true })
    return h
  })
  const spec = { src: '198.19.21.5', dst: '198.19.22.130', proto: 'tcp' as const, dport: 80 }
  const r = tracePacket(hs[0]!, spec, names, { hold: true })
  t.equal(r.verdict, 'allowed', r.text)
  t.match(r.text, '[root] route: forward dev wireguard.cali')
  t.match(
    r.text,
    '[root] wireguard: encrypted to peer 198.19.0.3:51820 (wireguard.cali), outer 198.19.0.2 -> 198.19.0.3 UDP\n' +
      '[root] to the underlay, next hop 198.19.0.3\n',
  )
  t.equal(r.underlay?.nextHop, '198.19.0.3')
  const pkt = r.underlay!.packet
  t.equal(pkt[9], 17, 'held: the sealed UDP packet')
  t.equal((pkt[22]! << 8) | pkt[23]!, 51820, 'to port 51820')
  t.equal(pkt[28], 4, 'WireGuard transport data')
  const atB = traceArrival(hs[1]!, { ...r.spec, iif: 'eth0' }, pkt, names)
  t.equal(atB.verdict, 'allowed', atB.text)
  t.match(atB.text, '[root] received on eth0: 198.19.0.2.51820 > 198.19.0.3.51820 udp\n')
  t.match(atB.text, '[root] wireguard: decrypted from peer 198.19.0.2:51820 (wireguard.cali)\n')
  t.match(atB.text, '[root] received on wireguard.cali: 198.19.21.5.61000 > 198.19.22.130.80 tcp')
  t.match(atB.text, '[p] delivered locally to port 80\n')
  // The same bytes again: the replay window refuses them, and the trace says why.
  const replay = traceArrival(hs[1]!, { ...r.spec, iif: 'eth0' }, pkt, names)
  t.equal(replay.verdict, 'dropped')
  t.match(replay.reason, /did not authenticate/)
})
