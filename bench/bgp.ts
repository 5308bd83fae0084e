/**
 * BGP benchmark (`npm run bench -- bgp`), real processes on loopback only:
 *
 * (1) UPDATE ingest, calilab speaker vs real BIRD 2 on the same feed in the same run. A feeder
 *     process (bench/fixtures/bgp-feeder.ts, built on the codec) pre-encodes N /24s into 4096-byte
 *     UPDATEs, connects, and after OPEN/KEEPALIVE writes them all as fast as the socket takes them.
 *     The receiver is either a speaker process (bench/fixtures/bgp-receiver.ts: createSpeaker, one
 *     passive iBGP peer; reports when its Loc-RIB holds N routes) or BIRD 2 (its own config, control
 *     socket and port in a temp dir; `birdc show route count` polled back to back until N). Time =
 *     first UPDATE written -> receiver holds all N. Speaker and BIRD alternate, one at a time, so
 *     they never compete for the CPU; the medians of ROUNDS rounds are reported.
 * (2) Mesh convergence: N speakers as N processes (bench/fixtures/bgp-mesh-node.ts, one speaker
 *     each) on 127.7x.0.i, full iBGP mesh as Calico builds it (one side passive), each originating
 *     one /26. Time = first process spawned -> every speaker has N-1 peers Established and N routes.
 *
 * Fixtures are bundled with esbuild into one .mjs each before any clock starts, so a process start
 * is `node bundle.mjs` (about 50 ms) rather than tsx compiling TypeScript on every start.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type BirdHandle, freePort, haveBird, startBird } from '../packages/bgp-speaker/test/bird-helper.ts'
import type { BenchResult, BenchRow } from './report.ts'

const ROUNDS = Number(process.env['BENCH_BGP_ROUNDS'] ?? 3)
const list = (v: string) => v.split(',').filter(Boolean).map(Number)
const SIZES = list(process.env['BENCH_BGP_SIZES'] ?? '10000,100000')
const MESHES = list(process.env['BENCH_BGP_MESHES'] ?? '10,25')
/**
 * Connect retry (s) for the mesh speakers, bench only: 1 s instead of the default 5 s. All N
 * processes start within a few seconds, so an active side often dials a peer that is not
 * listening yet. The speaker retries a refused dial after 0.25 s, doubling up to this value, so the
 * value caps the wait for a peer that boots late. (1 s used to be too short under load: a retry
 * fired while connect + OPEN were in flight, the peer resolved the two connections as a collision
 * against the wrong one and the dialler sat out the 5 s error wait; a later connection from the
 * same side now supersedes the earlier one and a dial in flight is never duplicated.) '' = default.
 */
const MESH_RETRY = process.env['BENCH_BGP_CONNECT_RETRY'] ?? '1'

const here = dirname(fileURLToPath(import.meta.url))
const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

// ---- processes ----------------------------------------------------------------------------------

interface Proc {
  child: ChildProcess
  /** Resolves with the first JSON line whose `event` matches (or a CALILAB_READY line for 'ready'). */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>
  stop(): Promise<void>
}

function startProc(bundle: string, args: string[]): Proc {
  const prof = process.env['CALILAB_BENCH_PROF']
  const flags = prof && bundle.includes('receiver') ? ['--cpu-prof', '--cpu-prof-dir', prof] : []
  const child = spawn(process.execPath, [...flags, bundle, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const seen: Record<string, unknown>[] = []
  const waiters: { event: string; resolve: (o: Record<string, unknown>) => void }[] = []
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  rl.on('line', (line) => {
    let o: Record<string, unknown>
    if (line.startsWith('CALILAB_READY ')) o = { event: 'ready', ...JSON.parse(line.slice(14)) }
    else if (line.startsWith('{')) o = JSON.parse(line) as Record<string, unknown>
    else return
    if (o['event'] === 'slow') process.stderr.write(`  ${JSON.stringify(o)}\n`)
    const w = waiters.findIndex((x) => x.event === o['event'])
    if (w >= 0) waiters.splice(w, 1)[0]?.resolve(o)
    else seen.push(o)
  })
  return {
    child,
    next(event, timeoutMs = 120_000) {
      const i = seen.findIndex((o) => o['event'] === event)
      if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0] as Record<string, unknown>)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${bundle}: no "${event}" in ${timeoutMs} ms`)), timeoutMs)
        waiters.push({
          event,
          resolve: (o) => {
            clearTimeout(t)
            resolve(o)
          },
        })
        child.once('exit', (code) => reject(new Error(`${bundle} exited (${code}) before "${event}"`)))
      })
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const t = setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(t)
    },
  }
}

async function bundleFixtures(dir: string): Promise<Record<string, string>> {
  const names = ['bgp-feeder', 'bgp-receiver', 'bgp-mesh-node']
  const out: Record<string, string> = {}
  for (const n of names) {
    const file = join(dir, `${n}.mjs`)
    await build({
      entryPoints: [join(here, 'fixtures', `${n}.ts`)],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'error',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    })
    out[n] = file
  }
  return out
}

// ---- (1) ingest -----------------------------------------------------------------------------------

interface IngestRun {
  ms: number
  /** Feeder wrote its last byte, ms after the first UPDATE. */
  sentMs: number
}

async function ingestSpeaker(b: Record<string, string>, n: number): Promise<IngestRun> {
  const host = '127.79.0.1'
  const feederAddr = '127.79.0.2'
  const port = await freePort(host)
  const recv = startProc(b['bgp-receiver'] as string, [
    '--listen',
    host,
    '--port',
    String(port),
    '--peer',
    feederAddr,
    '--count',
    String(n),
  ])
  let feeder: Proc | undefined
  try {
    await recv.next('ready', 30_000)
    feeder = startProc(b['bgp-feeder'] as string, [
      '--connect',
      `${host}:${port}`,
      '--local',
      feederAddr,
      '--count',
      String(n),
    ])
    const first = (await feeder.next('first')) as { t: number }
    const done = (await recv.next('done')) as { t: number }
    const sent = (await feeder.next('sent')) as { t: number }
    return { ms: done.t - first.t, sentMs: sent.t - first.t }
  } finally {
    await feeder?.stop()
    await recv.stop()
  }
}

function birdCount(bird: BirdHandle): Promise<number> {
  const ctl = join(bird.dir, 'bird.ctl')
  return new Promise((resolve) => {
    execFile('/usr/sbin/birdc', ['-s', ctl, 'show', 'route', 'count'], (_err, stdout) => {
      resolve(Number(/(\d+) of \d+ routes for \d+ networks in table master4/.exec(stdout ?? '')?.[1] ?? 0))
    })
  })
}

async function ingestBird(b: Record<string, string>, n: number): Promise<IngestRun & { polls: number }> {
  const host = '127.79.0.3'
  const feederAddr = '127.79.0.4'
  const port = await freePort(host)
  const bird = await startBird({
    localAddr: host,
    localPort: port,
    localAs: 64512,
    peerAddr: feederAddr,
    peerPort: 179,
    peerAs: 64512,
    routes: [],
    passive: true,
    hold: 240,
  })
  let feeder: Proc | undefined
  try {
    // BIRD opens its listening socket once the protocol starts; wait for it to answer the CLI.
    for (let i = 0; i < 100 && !/peer1\s+BGP\s+---\s+start/.test(bird.birdc('show protocols')); i++) await sleep(20)
    feeder = startProc(b['bgp-feeder'] as string, [
      '--connect',
      `${host}:${port}`,
      '--local',
      feederAddr,
      '--count',
      String(n),
    ])
    const first = (await feeder.next('first')) as { t: number }
    let polls = 0
    let doneAt = 0
    const deadline = now() + 180_000
    while (now() < deadline) {
      const c = await birdCount(bird)
      polls++
      if (c >= n) {
        doneAt = now()
        break
      }
    }
    if (!doneAt) throw new Error(`BIRD did not reach ${n} routes`)
    const sent = (await feeder.next('sent')) as { t: number }
    return { ms: doneAt - first.t, sentMs: sent.t - first.t, polls }
  } finally {
    await feeder?.stop()
    await bird.stop()
  }
}

// ---- (2) mesh -------------------------------------------------------------------------------------

async function mesh(
  b: Record<string, string>,
  n: number,
  perProc: number,
  net: string,
): Promise<{ ms: number; startMs: number }> {
  const procs: Proc[] = []
  const retry = MESH_RETRY ? ['--connect-retry', MESH_RETRY] : []
  try {
    // Spawn in ascending address order (as strings): with Calico's rule the greater address dials,
    // so the peers a speaker dials are spawned before it.
    const ids = Array.from({ length: n }, (_, i) => i + 1).sort((x, y) => (`${net}.${x}` < `${net}.${y}` ? -1 : 1))
    const t0 = now()
    for (let at = 0; at < n; at += perProc) {
      const group = ids.slice(at, at + perProc).join(',')
      procs.push(startProc(b['bgp-mesh-node'] as string, ['--net', net, '--n', String(n), '--ids', group, ...retry]))
    }
    const started = await Promise.all(procs.map((p) => p.next('started', 60_000)))
    const conv = (
      await Promise.all(
        procs.map(async (p, k) => {
          const got: Record<string, unknown>[] = []
          for (let j = 0; j < Math.min(perProc, n - k * perProc); j++) got.push(await p.next('converged', 60_000))
          return got
        }),
      )
    ).flat()
    return {
      ms: Math.max(...conv.map((c) => c['t'] as number)) - t0,
      startMs: Math.max(...started.map((s) => s['t'] as number)) - t0,
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()))
  }
}

// ---- the bench ------------------------------------------------------------------------------------

export async function benchBgp(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'calilab-bench-bgp-'))
  const rows: BenchRow[] = []
  const notes: string[] = []
  try {
    const b = await bundleFixtures(dir)
    if (!haveBird()) notes.push('BIRD 2 is not installed here (/usr/sbin/bird): the side-by-side ingest was skipped.')
    for (const n of haveBird() ? SIZES : []) {
      const sp: IngestRun[] = []
      const bd: (IngestRun & { polls: number })[] = []
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate who goes first so neither always gets the warmer machine.
        if (r % 2 === 0) {
          sp.push(await ingestSpeaker(b, n))
          bd.push(await ingestBird(b, n))
        } else {
          bd.push(await ingestBird(b, n))
          sp.push(await ingestSpeaker(b, n))
        }
        process.stdout.write(
          `  ingest ${n}: speaker ${sp.at(-1)?.ms.toFixed(0)} ms, BIRD ${bd.at(-1)?.ms.toFixed(0)} ms (${bd.at(-1)?.polls} polls)\n`,
        )
      }
      const spMs = median(sp.map((x) => x.ms))
      const bdMs = median(bd.map((x) => x.ms))
      const k = n >= 1000 ? `${n / 1000}k` : String(n)
      const runs = (xs: IngestRun[]) => xs.map((x) => (x.ms / 1000).toFixed(2)).join(', ')
      rows.push(
        {
          metric: `ingest ${k} /24s: calilab speaker`,
          value: (n / spMs) * 1000,
          unit: 'routes/s',
          note: `median ${(spMs / 1000).toFixed(2)} s (runs ${runs(sp)} s); feeder done writing after ${(median(sp.map((x) => x.sentMs)) / 1000).toFixed(2)} s`,
        },
        {
          metric: `ingest ${k} /24s: BIRD 2, same feed`,
          value: (n / bdMs) * 1000,
          unit: 'routes/s',
          note: `median ${(bdMs / 1000).toFixed(2)} s (runs ${runs(bd)} s); feeder done writing after ${(median(bd.map((x) => x.sentMs)) / 1000).toFixed(2)} s`,
        },
        {
          metric: `ingest ${k} /24s: speaker / BIRD rate ratio`,
          value: bdMs / spMs,
          unit: '×',
          target: '>= 1',
          note: 'BIRD time / speaker time',
        },
      )
    }
    const layouts = MESHES.flatMap((n) => [[n, 1] as const, [n, 5] as const])
    for (const [i, [n, perProc]] of layouts.entries()) {
      const runs: { ms: number; startMs: number }[] = []
      const procs = Math.ceil(n / perProc)
      const how = perProc === 1 ? `${n} processes` : `${procs} processes × ${perProc}`
      for (let r = 0; r < ROUNDS; r++) {
        runs.push(await mesh(b, n, perProc, `127.${70 + i}.${r}`))
        process.stdout.write(
          `  mesh ${n} (${how}): ${runs.at(-1)?.ms.toFixed(0)} ms (all started after ${runs.at(-1)?.startMs.toFixed(0)} ms)\n`,
        )
      }
      const ms = median(runs.map((x) => x.ms))
      rows.push({
        metric: `mesh of ${n} speakers (${how}): start -> converged`,
        value: ms / 1000,
        unit: 's',
        target: n <= 10 ? '<= 3' : '<= 10',
        note: `median of ${runs.map((x) => (x.ms / 1000).toFixed(2)).join(', ')} s; all ${procs} processes running after ${(median(runs.map((x) => x.startMs)) / 1000).toFixed(2)} s`,
      })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  notes.push(
    `Ingest: a feeder process (bench/fixtures/bgp-feeder.ts, built on the codec) pre-encodes N /24s (10.0.0.0/24 up, ORIGIN IGP, empty AS_PATH, LOCAL_PREF 100, one next hop) into 4096-byte UPDATEs (~1,000 prefixes each), opens an iBGP session (AS 64512) and writes them all as fast as the socket takes them. Time = first UPDATE written -> receiver holds all N routes: the speaker process (createSpeaker, one passive peer) reports when its Loc-RIB reaches N; for BIRD 2 (own config/socket/port in a temp dir, \`import all\`, no kernel protocol) \`birdc show route count\` is polled back to back and the time of the first reply showing N is taken (resolution: one birdc round trip, a few ms). Speaker and BIRD run one at a time, alternating, ${ROUNDS} rounds each; medians.`,
    `Mesh: one OS process per speaker (N processes on 2 shared cores), and again with 5 speakers per process (each Node process costs ~0.12 CPU-s to boot, so N processes are CPU-bound on 2 cores shared with other work: "all processes running after" in the note is how long booting alone took), each speaker on 127.7x.y.i:17900, full iBGP mesh with Calico's rule (passive toward a peer whose address is greater as a string), each originating one /26. Time from spawning the first process until every speaker has N-1 peers Established and N routes (all timestamps epoch ms from performance.timeOrigin). Connect retry: ${MESH_RETRY ? `${MESH_RETRY} s, bench only (default 5 s): all N processes start within a few seconds and an active side often dials a peer that is not listening yet; a refused dial is retried after 0.25 s, doubling up to the connect retry time, so this caps the wait for a late peer` : 'the default 5 s (a refused dial is retried after 0.25 s, doubling up to it)'}. Each mesh process loads only the speaker module (bench/fixtures/bgp-mesh-node.ts), ~0.12 CPU-s to boot vs ~0.08 for a bare \`node -e 0\`. ${ROUNDS} rounds; median.`,
    'Fixtures are bundled with esbuild before any clock starts, so a process start is `node bundle.mjs`, not tsx compiling TypeScript on start.',
    `Load average when the bench finished: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(', ')} on 2 cores (other work shares the machine; all numbers are wall clock).`,
  )
  return { name: 'bgp', title: 'BGP speaker: UPDATE ingest vs BIRD 2, mesh convergence', rows, notes }
}
