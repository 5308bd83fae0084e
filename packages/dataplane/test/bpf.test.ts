import { FakeClock, seededRng } from '@calilab/kit'
import { formatIPv4, parseIPv4 } from '@calilab/model'
import t from 'tap'
import {
  BpfMaps,
  BpfProgram,
  type BpfServiceMode,
  beKey,
  ctKey,
  dumpConntrack,
  dumpNat,
  feKey,
  NAT_FLG_EXTERNAL_LOCAL,
  NAT_WILDCARD,
  RT_LOCAL,
  RT_WORKLOAD,
} from '../src/core/bpf/index.ts'
import type { Host, Netns, Underlay } from '../src/kernel/api.ts'
import { attachBpf, bpfEnv } from '../src/kernel/bpf-attach.ts'
import { createHost } from '../src/kernel/host.ts'
import { addPod } from './helpers/pods.ts'

const ip = parseIPv4
const TCP = 6
const X = '198.19.0.1'
const Y = '198.19.0.2'
const CLIENT = '198.19.15.254'
const POD_A = '198.19.20.5' // on X
const POD_B = '198.19.16.10' // on Y, the backend
const CLUSTER_IP = '198.19.32.50'

t.test('maps: frontend lookup (exact, NodePort wildcard), backends, symmetric ct keys', async (t) => {
  const m = new BpfMaps()
  m.natFe.set(feKey(ip(CLUSTER_IP), 80, TCP), { id: 1, count: 2, localCount: 1, affinityTimeout: 0, flags: 0 })
  m.natFe.set(feKey(NAT_WILDCARD, 30180, TCP), { id: 2, count: 2, localCount: 1, affinityTimeout: 0, flags: 0 })
  m.natBe.set(beKey(1, 0), { addr: ip(POD_B), port: 80 })
  t.equal(m.lookupFrontend(ip(CLUSTER_IP), 80, TCP, false)?.id, 1, 'exact ClusterIP frontend')
  t.equal(m.lookupFrontend(ip(CLUSTER_IP), 81, TCP, true), undefined, 'other port: none')
  t.equal(m.lookupFrontend(ip(X), 30180, TCP, true)?.id, 2, 'node IP:NodePort via the 255.255.255.255 entry')
  t.equal(m.lookupFrontend(ip(X), 30180, TCP, false), undefined, 'the wildcard only for local addresses')
  t.equal(m.lookupFrontend(ip(X), 30180, 17, true), undefined, 'protocol is part of the key')
  t.same(m.backend(1, 0), { addr: ip(POD_B), port: 80 })
  t.equal(ctKey(TCP, ip(CLIENT), 40000, ip(X), 30180), ctKey(TCP, ip(X), 30180, ip(CLIENT), 40000))
  t.not(ctKey(TCP, ip(CLIENT), 40000, ip(X), 30180), ctKey(17, ip(CLIENT), 40000, ip(X), 30180))
  t.match(dumpNat(m), /^198\.19\.32\.50 port 80 proto 6 id 1 count 2 local 1\n\t1:0\t 198\.19\.16\.10:80\n/m)
})

/** "from <source ip>" from an HTTP-ish server, as the customer pod's access log would show. */
function listenWho(ns: Netns, port: number): void {
  ns.tcpListen(port, (c) => {
    c.onData(() => {
      c.write(`from ${formatIPv4(c.remote.ip)}`)
      c.end()
    })
  })
}

async function ask(ns: Netns, dst: string, port: number): Promise<string> {
  const c = await ns.tcpConnect({ dst, port, timeoutMs: 500 })
  return new Promise((resolve) => {
    let got = ''
    c.onData((d) => (got += new TextDecoder().decode(d)))
    c.onEnd(() => c.end())
    c.onClose(() => resolve(got))
    c.write('GET / HTTP/1.1\r\n\r\n')
  })
}

/** Per-node maps as Felix would program them for one NodePort service (30180 -> POD_B:80). */
function programNode(h: Host, nodeIp: string, o: { mode: BpfServiceMode; etpLocal?: boolean }) {
  const maps = new BpfMaps()
  const local = nodeIp === Y
  const extFlags = o.etpLocal ? NAT_FLG_EXTERNAL_LOCAL : 0
  const fe = (id: number, flags: number) => ({ id, count: 1, localCount: local ? 1 : 0, affinityTimeout: 0, flags })
  maps.natFe.set(feKey(ip(CLUSTER_IP), 80, TCP), fe(1, 0))
  maps.natFe.set(feKey(ip(nodeIp), 30180, TCP), fe(2, extFlags))
  maps.natFe.set(feKey(NAT_WILDCARD, 30180, TCP), fe(2, extFlags))
  maps.natBe.set(beKey(1, 0), { addr: ip(POD_B), port: 80 })
  maps.natBe.set(beKey(2, 0), { addr: ip(POD_B), port: 80 })
  maps.routes.set(ip(POD_B), { flags: RT_WORKLOAD | (local ? RT_LOCAL : 0), nextHop: local ? 0 : ip(Y) })
  maps.routes.set(ip(POD_A), { flags: RT_WORKLOAD | (local ? 0 : RT_LOCAL), nextHop: local ? ip(X) : 0 })
  const prog = new BpfProgram(maps, { nodeIp: ip(nodeIp), mode: o.mode, vxlanPort: 4789 }, bpfEnv(h.root))
  attachBpf(h.root, prog)
  return prog
}

function cluster(mode: BpfServiceMode, etpLocal = false) {
  const clock = new FakeClock()
  const hosts = new Map<number, Host>()
  const underlay: Underlay = { send: (nh, bytes) => void hosts.get(nh)?.fromUnderlay(bytes) }
  let seed = 1
  const mk = (name: string, nodeIp: string) => {
    const gw = nodeIp === CLIENT ? {} : { gateway: ip(CLIENT) }
    const h = createHost({ name, nodeIp: ip(nodeIp), clock, rng: seededRng(seed++), underlay, ...gw })
    hosts.set(ip(nodeIp), h)
    return h
  }
  const hx = mk('x', X)
  const hy = mk('y', Y)
  const hc = mk('client', CLIENT)
  const a = addPod(hx, 'a', POD_A, 'cali00000000a')
  const b = addPod(hy, 'b', POD_B, 'cali00000000b')
  hx.root.routes.add({ dst: ip('198.19.16.0'), prefix: 26, via: ip(Y), dev: 'eth0' })
  hy.root.routes.add({ dst: ip('198.19.20.0'), prefix: 26, via: ip(X), dev: 'eth0' })
  listenWho(b, 80)
  const px = programNode(hx, X, { mode, etpLocal })
  const py = programNode(hy, Y, { mode, etpLocal })
  // What `tcpdump -i eth0 'tcp port 30180'` would see on each node.
  const seen = { xIn: 0, xOut: 0, yOut: 0, yOutSrc: new Set<string>() }
  const filter = { filter: 'tcp port 30180' }
  hx.root.tap('eth0', (_p, _t, dir) => (dir === 'in' ? seen.xIn++ : seen.xOut++), filter)
  hy.root.tap(
    'eth0',
    (p, _t, dir) => {
      if (dir !== 'out') return
      seen.yOut++
      seen.yOutSrc.add(`${formatIPv4((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!)}`)
    },
    filter,
  )
  return { clock, hx, hy, hc, a, b, px, py, seen }
}

t.test('NodePort, Tunnel mode: client IP preserved at the pod, replies return via the ingress node', async (t) => {
  const c = cluster('Tunnel')
  t.equal(await ask(c.hc.root, X, 30180), `from ${CLIENT}`, 'the backend on Y sees the client address')
  t.ok(
    c.seen.xIn > 0 && c.seen.xOut > 0,
    `control-like node X sees both directions (in ${c.seen.xIn}, out ${c.seen.xOut})`,
  )
  t.equal(c.seen.yOut, 0, 'Y sends no plain replies: they go back to X in the tunnel')
  t.ok(c.px.stats.encap > 0 && c.py.stats.encap > 0, 'both directions encapsulated (VNI 0xca11c0)')
  t.ok(c.px.stats.revNat > 0, 'X reverse-NATs the replies')
  const ct = dumpConntrack(c.px.maps, c.clock.now())
  t.match(ct, /NATFwd .*Flags=np-fwd/, 'X: NAT_FWD with NP_FWD')
  t.match(
    dumpConntrack(c.py.maps, c.clock.now()),
    /NATRev .*OrigIP=198\.19\.0\.1:30180 TunIP=198\.19\.0\.1/,
    'Y: tun_ip',
  )
  t.equal(await ask(c.hc.root, Y, 30180), `from ${CLIENT}`, 'NodePort on the backend node itself: local DNAT')
})

t.test('NodePort, DSR mode: the reply leaves Y directly with source X:NodePort', async (t) => {
  const c = cluster('DSR')
  t.equal(await ask(c.hc.root, X, 30180), `from ${CLIENT}`)
  t.ok(c.seen.xIn > 0, 'X sees the client -> NodePort packets')
  t.equal(c.seen.xOut, 0, 'X sends nothing back (no replies through the ingress node)')
  t.ok(c.seen.yOut > 0, 'Y sends the replies itself')
  t.same([...c.seen.yOutSrc], [X], 'with the ingress node address as source')
  t.ok(c.py.stats.dsr > 0)
})

t.test('pod -> ClusterIP: per-packet NAT in the pod veth program, backend on another node', async (t) => {
  const c = cluster('Tunnel')
  t.equal(await ask(c.a, CLUSTER_IP, 80), `from ${POD_A}`, 'backend sees the pod address; reply un-NATed')
  t.match(dumpConntrack(c.px.maps, c.clock.now()), /NATRev .*OrigIP=198\.19\.32\.50:80/)
  // The host's own connection to the ClusterIP (egress program).
  t.equal(await ask(c.hx.root, CLUSTER_IP, 80), `from ${X}`, 'host -> ClusterIP through the egress program')
})

t.test('externalTrafficPolicy Local: only nodes with a local backend answer', async (t) => {
  const c = cluster('Tunnel', true)
  const dropped = ask(c.hc.root, X, 30180)
  c.clock.advance(1000)
  await t.rejects(dropped, 'X has no local backend: dropped')
  t.ok(c.px.stats.drops > 0)
  t.equal(await ask(c.hc.root, Y, 30180), `from ${CLIENT}`, 'Y answers with the client address')
  t.equal(await ask(c.a, CLUSTER_IP, 80), `from ${POD_A}`, 'the ClusterIP still uses every backend')
})

t.test('without programs the same topology does not preserve anything (control)', async (t) => {
  const c = cluster('Tunnel')
  for (const h of [c.hx, c.hy]) for (const l of h.root.links()) h.root.setTc(l.name, undefined)
  const refused = ask(c.hc.root, X, 30180)
  c.clock.advance(1000)
  await t.rejects(refused, 'no kube-proxy, no BPF: nothing answers the NodePort')
})
