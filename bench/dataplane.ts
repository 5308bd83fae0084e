/**
 * Dataplane micro-benchmarks, one thread: a 20-rule iptables filter traversal, and an established
 * flow's fast path (parse + conntrack lookup + update + DNAT/SNAT rewrite of the bytes).
 */

import {
  buildTcp,
  Conntrack,
  emptyPacket,
  IpSetStore,
  iptablesRestore,
  Netfilter,
  PacketView,
  parsePacket,
  TCP_ACK,
  TCP_SYN,
} from '@calilab/dataplane'
import { seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import type { BenchResult } from './report.ts'

const ip = parseIPv4

function rate(n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 200_000); i++) fn()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) fn()
  return n / ((performance.now() - t0) / 1000)
}

function filterTraversal(): { pps: number; rules: number } {
  const sets = new IpSetStore()
  sets.create('cali40all-hosts', 'hash:ip')
  for (let i = 1; i <= 100; i++) sets.add('cali40all-hosts', `198.19.0.${i}`)
  const nf = new Netfilter(sets)
  let text = '*filter\n:FORWARD ACCEPT [0:0]\n:cali-FORWARD - [0:0]\n-A FORWARD -j cali-FORWARD\n'
  for (let i = 0; i < 18; i++) {
    const kinds = [
      `-A cali-FORWARD -p tcp -m tcp --dport ${1000 + i} -j DROP`,
      `-A cali-FORWARD -s 10.${i}.0.0/16 -j DROP`,
      `-A cali-FORWARD -i eth${i}+ -m mark --mark 0x${(i + 1).toString(16)}0000/0xf0000 -j DROP`,
      '-A cali-FORWARD -m set --match-set cali40all-hosts src -p udp -j DROP',
      `-A cali-FORWARD -p tcp -m multiport --dports 22,${2000 + i},3000:3100 -j DROP`,
      '-A cali-FORWARD -m conntrack --ctstate INVALID -j DROP',
    ]
    text += `${kinds[i % kinds.length]}\n`
  }
  text += '-A cali-FORWARD -o cali+ -m comment --comment "to workload" -j ACCEPT\nCOMMIT\n'
  iptablesRestore(nf, text)
  const rules =
    (nf.chain('filter', 'FORWARD')?.rules.length ?? 0) + (nf.chain('filter', 'cali-FORWARD')?.rules.length ?? 0)
  const ctx = { rng: seededRng(1), isLocal: () => false }
  const p = {
    ...emptyPacket(),
    src: ip('198.19.16.5'),
    dst: ip('198.19.22.3'),
    proto: 6,
    sport: 40000,
    dport: 80,
    iif: 'cali12345678901',
    oif: 'cali98765432101',
    len: 60,
    ctstate: 8,
  }
  return { pps: rate(3_000_000, () => nf.traverse('filter', 'FORWARD', p, ctx)), rules }
}

function establishedFlows(): { nat: number; lookup: number } {
  const ct = new Conntrack()
  for (let i = 0; i < 10_000; i++) {
    const e = ct.create(6, ip('198.19.16.0') + i, ip('198.19.33.47'), 30000 + (i % 30000), 80, 0)
    ct.begin(e, TCP_SYN, 60, 0)
    ct.setDnat(e, ip('198.19.21.4'), 8080)
    ct.setSnat(e, ip('198.19.0.1'), {}, 0)
    ct.confirm(e)
  }
  const pkts = Array.from({ length: 1024 }, (_, i) =>
    buildTcp({
      src: ip('198.19.16.0') + i,
      dst: ip('198.19.33.47'),
      sport: 30000 + i,
      dport: 80,
      flags: TCP_ACK,
      payload: new Uint8Array(100),
    }),
  )
  const orig = pkts.map((b) => b.slice())
  const v = new PacketView()
  let k = 0
  let now = 1
  const nat = rate(3_000_000, () => {
    const i = k++ & 1023
    const b = pkts[i] as Uint8Array
    b.set(orig[i] as Uint8Array)
    parsePacket(b, v)
    const t = ct.lookupPacket(v, now)
    if (!t) throw new Error('flow not found')
    ct.update(t, v.tcpFlags, v.totalLen, now)
    ct.applyNat(v, t)
    now += 0.001
  })
  const v2 = new PacketView()
  const lookup = rate(5_000_000, () => {
    parsePacket(orig[k++ & 1023] as Uint8Array, v2)
    ct.lookupPacket(v2, 1)
  })
  return { nat, lookup }
}

export async function benchDataplane(): Promise<BenchResult> {
  const f = filterTraversal()
  const e = establishedFlows()
  return {
    name: 'dataplane',
    title: 'Dataplane core, one thread',
    rows: [
      { metric: `iptables filter traversal, ${f.rules} rules evaluated`, value: f.pps / 1e6, unit: 'Mpps' },
      {
        metric: 'established flow: parse + conntrack lookup/update + DNAT/SNAT rewrite',
        value: e.nat / 1e6,
        unit: 'Mpps',
        target: '>= 2',
        note: 'includes a 140-byte copy per packet to restore the un-NATed bytes',
      },
      { metric: 'parse + conntrack lookup only', value: e.lookup / 1e6, unit: 'Mpps' },
    ],
    notes: [
      'Pure core (packages/dataplane/src/core), no worker threads or sockets yet: the forwarder comes with the pod-networking issue.',
    ],
  }
}
