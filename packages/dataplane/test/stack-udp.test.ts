import { FakeClock, seededRng } from '@calilab/kit'
import { formatIPv4, parseIPv4 } from '@calilab/model'
import t from 'tap'
import type { Host, Netns } from '../src/kernel/api.ts'
import { createHost } from '../src/kernel/host.ts'

const ip = parseIPv4

function addPod(h: Host, name: string, podIps: string[], veth: string): Netns {
  const ns = h.createPodNetns(name)
  h.addVethPair(h.root, veth, ns, 'eth0')
  for (const a of podIps) {
    ns.addAddr('eth0', ip(a), 32)
    h.root.routes.add({ dst: ip(a), prefix: 32, dev: veth, scope: 'link' })
  }
  ns.routes.add({ dst: ip('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
  ns.routes.add({ dst: 0, prefix: 0, via: ip('169.254.1.1'), dev: 'eth0' })
  return ns
}

t.test('UDP: destinations given as text or number, the local address each datagram came to', async (t) => {
  const h = createHost({ name: 'node1', nodeIp: ip('198.19.0.2'), clock: new FakeClock(), rng: seededRng(7) })
  const a = addPod(h, 'a', ['198.19.16.5'], 'cali000000000aa')
  const b = addPod(h, 'b', ['198.19.16.6', '198.19.16.7'], 'cali000000000bb')
  const got: string[] = []
  b.udpBind(53, (d, from, to) => {
    got.push(`${new TextDecoder().decode(d)} ${formatIPv4(from.ip)}:${from.port} -> ${formatIPv4(to.ip)}:${to.port}`)
  })
  const s = a.udpBind(4000, () => {})
  // The same text twice, another text, the first again, then numbers: each goes where it says.
  s.send('198.19.16.6', 53, 'one')
  s.send('198.19.16.6', 53, 'two')
  s.send('198.19.16.7', 53, 'three')
  s.send('198.19.16.6', 53, 'four')
  s.send(ip('198.19.16.7'), 53, 'five')
  s.send(ip('198.19.16.6'), 53, 'six')
  t.same(got, [
    'one 198.19.16.5:4000 -> 198.19.16.6:53',
    'two 198.19.16.5:4000 -> 198.19.16.6:53',
    'three 198.19.16.5:4000 -> 198.19.16.7:53',
    'four 198.19.16.5:4000 -> 198.19.16.6:53',
    'five 198.19.16.5:4000 -> 198.19.16.7:53',
    'six 198.19.16.5:4000 -> 198.19.16.6:53',
  ])
})

t.test('UDP: each datagram is its own copy of the payload', async (t) => {
  const h = createHost({ name: 'node1', nodeIp: ip('198.19.0.2'), clock: new FakeClock(), rng: seededRng(8) })
  const a = addPod(h, 'a', ['198.19.16.5'], 'cali000000000aa')
  const b = addPod(h, 'b', ['198.19.16.6'], 'cali000000000bb')
  const got: Uint8Array[] = []
  b.udpBind(53, (d) => got.push(d))
  const s = a.udpBind(4000, () => {})
  const payload = new Uint8Array([1, 2, 3])
  s.send('198.19.16.6', 53, payload)
  payload[0] = 9
  s.send('198.19.16.6', 53, payload)
  got[1]![1] = 7
  t.same(
    got.map((d) => [...d]),
    [
      [1, 2, 3],
      [9, 7, 3],
    ],
  )
})
