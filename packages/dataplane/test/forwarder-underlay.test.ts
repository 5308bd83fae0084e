import { FakeClock, seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import { UdpUnderlay } from '../src/io/index.ts'
import { HostImpl } from '../src/kernel/host.ts'
import type { NetnsImpl } from '../src/kernel/netns.ts'

const ip = parseIPv4

async function node(name: string, nodeIp: string, podCidr: string, podIp: string) {
  const h = new HostImpl({ name, nodeIp: ip(nodeIp), clock: new FakeClock(), rng: seededRng(3) })
  const pod = h.createPodNetns('p') as NetnsImpl
  h.addVethPair(h.root, 'cali0000000000a', pod, 'eth0')
  pod.addAddr('eth0', ip(podIp), 32)
  pod.routes.add({ dst: ip('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
  pod.routes.add({ dst: 0, prefix: 0, via: ip('169.254.1.1'), dev: 'eth0' })
  h.root.routes.add({ dst: ip(podIp), prefix: 32, dev: 'cali0000000000a', scope: 'link' })
  const u = await UdpUnderlay.bind({ address: '127.0.0.1', port: 0, onPacket: (b) => h.fromUnderlay(b) })
  h.setUnderlay(u)
  return { h, pod, u, podCidr }
}

/** Polls until `ok()` (datagrams arrive asynchronously), up to 2 s. */
async function eventually(ok: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10))
  return ok()
}

t.test('two Hosts talk over UdpUnderlay on loopback: UDP and a TCP handshake', async (t) => {
  const a = await node('n1', '198.19.0.2', '198.19.16.0', '198.19.16.2')
  const b = await node('n2', '198.19.0.3', '198.19.17.0', '198.19.17.2')
  t.teardown(async () => {
    await a.u.close()
    await b.u.close()
  })
  t.not(a.u.endpoint.port, 0, 'bound to an ephemeral port')
  a.h.root.routes.add({ dst: ip('198.19.17.0'), prefix: 26, via: ip('198.19.0.3'), dev: 'eth0' })
  b.h.root.routes.add({ dst: ip('198.19.16.0'), prefix: 26, via: ip('198.19.0.2'), dev: 'eth0' })
  a.u.setPeer(ip('198.19.0.3'), b.u.endpoint)
  b.u.setPeer(ip('198.19.0.2'), a.u.endpoint)
  const got: string[] = []
  b.pod.udpBind(5000, (d, from) => got.push(`${Buffer.from(d).toString()} from ${from.port}`))
  const s = a.pod.udpBind(40000, () => {})
  for (let i = 0; i < 5; i++) s.send('198.19.17.2', 5000, `m${i}`)
  t.ok(await eventually(() => got.length === 5), 'all datagrams arrive')
  t.same(
    got,
    [0, 1, 2, 3, 4].map((i) => `m${i} from 40000`),
  )

  b.pod.tcpListen(80, (c) => c.onData((d) => c.write(d)))
  const c = await a.pod.tcpConnect({ dst: '198.19.17.2', port: 80, timeoutMs: 5000 })
  const echoed: string[] = []
  c.onData((d) => echoed.push(Buffer.from(d).toString()))
  c.write('hello')
  t.ok(await eventually(() => echoed.join('') === 'hello'), 'echo comes back')
  t.ok(a.u.stats.sent >= 7 && b.u.stats.received >= 7)
  t.equal(a.u.stats.noPeer, 0)
})

t.test('a next hop with no known endpoint is counted, not thrown', async (t) => {
  const a = await node('n1', '198.19.0.2', '198.19.16.0', '198.19.16.2')
  t.teardown(() => a.u.close())
  a.u.send(ip('198.19.0.9'), new Uint8Array(20))
  t.equal(a.u.stats.noPeer, 1)
})
