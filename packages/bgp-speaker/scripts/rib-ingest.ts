/**
 * In-process ingest profile (no sockets): N /24s pre-encoded into 4096-byte UPDATEs, then framed,
 * decoded and applied to a Rib with one established iBGP peer, as Speaker.peerUpdate does.
 * Usage: npx tsx packages/bgp-speaker/scripts/rib-ingest.ts [N] [ROUNDS]   (add --cpu-prof to profile)
 * The side-by-side measurement against BIRD is `npm run bench -- bgp` (bench/bgp.ts).
 */
import { AttrCache, decodeUpdateFrame, encodeAnnouncements, Framer, type Prefix, Rib } from '../src/index.ts'

const N = Number(process.argv[2] ?? 100_000)
const ROUNDS = Number(process.argv[3] ?? 5)
const prefixes: Prefix[] = Array.from({ length: N }, (_, i) => ({ addr: (0x0a000000 + i * 256) >>> 0, len: 24 }))
const ups = encodeAnnouncements({ origin: 0, asPath: [], nextHop: 0xc6130009, localPref: 100 }, prefixes, { as4: true })
const stream = Buffer.concat(ups)
const times: number[] = []
const cpus: number[] = []
for (let r = 0; r < ROUNDS; r++) {
  const rib = new Rib({ localAs: 64512, routerId: 0xc6130002 })
  rib.peerUp({ id: 'feeder', address: 0x7f000002, asn: 64512, routerId: 0x7f000002, localAddress: 0xc6130002 })
  let changes = 0
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const framer = new Framer()
  const cache = new AttrCache()
  for (let at = 0; at < stream.length; at += 65536) {
    for (const f of framer.push(stream.subarray(at, at + 65536))) {
      if (!f.ok) throw new Error(f.error.message)
      const d = decodeUpdateFrame(f.bytes, { as4: true }, cache)
      if (!d.ok) throw new Error(d.error.message)
      changes += rib.applyUpdate('feeder', d.msg).changes.length
    }
  }
  const ms = performance.now() - t0
  const c = process.cpuUsage(c0)
  cpus.push((c.user + c.system) / 1000)
  if (rib.size !== N || changes !== N) throw new Error(`rib ${rib.size}, changes ${changes}`)
  times.push(ms)
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
const med = median(times)
process.stdout.write(
  `${N} prefixes: median ${med.toFixed(0)} ms wall (${Math.round((N / med) * 1000)} routes/s), ${median(cpus).toFixed(0)} ms CPU; wall runs ${times.map((t) => t.toFixed(0)).join(' ')}\n`,
)
