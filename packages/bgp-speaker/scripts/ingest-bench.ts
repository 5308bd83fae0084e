/**
 * Ingest measurement (not a test): real BIRD 2 sends N prefixes to the speaker, then the speaker
 * sends N prefixes to BIRD; prints routes/s both ways. Usage: tsx scripts/ingest-bench.ts [N]
 */
import { silentLogger, systemClock } from '@calilab/kit'
import { createSpeaker, formatPrefix } from '../src/index.ts'
import { eventually, freePort, haveBird, startBird } from '../test/bird-helper.ts'

const N = Number(process.argv[2] ?? 100_000)
const prefixes = Array.from({ length: N }, (_, i) => formatPrefix({ addr: (0x0a000000 + i * 256) >>> 0, len: 24 }))

async function main(): Promise<void> {
  if (!haveBird()) {
    process.stdout.write('bird not installed; skipping\n')
    return
  }
  const sp = createSpeaker({
    routerId: '198.19.0.2',
    asNumber: 64512,
    listen: { host: '127.0.5.2', port: 0 },
    clock: systemClock(),
    log: silentLogger(),
    peers: [],
  })
  const me = await sp.start()
  const birdPort = await freePort('127.0.5.1')
  const bird = await startBird({
    localAddr: '127.0.5.1',
    localPort: birdPort,
    localAs: 64512,
    peerAddr: '127.0.5.2',
    peerPort: me?.port ?? 0,
    peerAs: 64512,
    routes: prefixes,
  })
  try {
    let first = 0
    const marks: string[] = []
    sp.onRoutes(() => {
      const now = performance.now()
      if (first === 0) first = now
      const n = sp.rib.size
      if (marks.length < 10 && n >= ((marks.length + 1) * N) / 10) marks.push(`${n}@${(now - first).toFixed(0)}ms`)
    })
    sp.addPeer({
      name: 'bird',
      address: '127.0.5.1',
      port: birdPort,
      asNumber: 64512,
      localAddress: '127.0.5.2',
      nextHopSelf: '198.19.0.2',
    })
    await eventually(() => sp.status()[0]?.state === 'Established', 30_000, 5)
    const est = performance.now()
    await eventually(() => sp.rib.size >= N, 120_000, 5)
    const done = performance.now()
    const ms = done - first
    process.stdout.write(`  progress: ${marks.join(' ')}\n`)
    process.stdout.write(
      `speaker ingest from BIRD: ${sp.rib.size} prefixes in ${ms.toFixed(0)} ms (${Math.round((sp.rib.size / ms) * 1000)} routes/s; ${(done - est).toFixed(0)} ms after Established)\n`,
    )
    // Reverse direction: the speaker originates N prefixes, BIRD ingests them.
    const count = () =>
      Number(/\d+ of \d+ routes for (\d+) networks in table master4/.exec(bird.birdc('show route count'))?.[1] ?? 0)
    const base = count()
    const t0 = performance.now()
    // A disjoint range (80.0.0.0 up) so BIRD counts new networks only.
    sp.originate(Array.from({ length: N }, (_, i) => ({ addr: (0x50000000 + i * 256) >>> 0, len: 24 })))
    await eventually(() => count() >= base + N, 180_000, 100)
    const t1 = performance.now()
    process.stdout.write(
      `BIRD ingest from speaker: ${count() - base} prefixes in ${(t1 - t0).toFixed(0)} ms (${Math.round((N / (t1 - t0)) * 1000)} routes/s, polled every 100 ms)\n`,
    )
  } finally {
    await sp.stop()
    await bird.stop()
  }
}

await main()
