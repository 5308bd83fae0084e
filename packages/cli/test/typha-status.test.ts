import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import {
  formatBytes,
  formatTyphaStatus,
  parsePromText,
  promSum,
  summarizeReplica,
  type TyphaStatusDoc,
  typhaStatus,
} from '../src/commands/typha.ts'
import { CliError } from '../src/io.ts'

const METRICS_BEFORE = `# HELP calilab_typha_connections Clients connected
# TYPE calilab_typha_connections gauge
calilab_typha_connections{syncer="felix",typha="0"} 3
calilab_typha_connections{syncer="bgp",typha="0"} 0
calilab_typha_connections{syncer="pending",typha="0"} 0
calilab_typha_delta_updates_total{syncer="felix",typha="0"} 100
calilab_typha_delta_updates_total{syncer="bgp",typha="0"} 20
`
const METRICS_AFTER = `${METRICS_BEFORE.replace('} 100', '} 300').replace('} 20\n', '} 40\n')}calilab_typha_snapshots_total{syncer="felix",typha="0"} 5
calilab_typha_bytes_out_total{syncer="felix",typha="0"} 3145728
calilab_typha_bytes_out_total{syncer="bgp",typha="0"} 1024
calilab_typha_disconnects_total{reason="lag-bytes",typha="0"} 1
calilab_typha_disconnects_total{reason="lag-revisions",typha="0"} 2
calilab_typha_disconnects_total{reason="client-closed",typha="0"} 7
calilab_typha_encodes_total{kind="deltas",typha="0"} 12
calilab_typha_encodes_total{kind="snapshot",typha="0"} 4
weird_label{a="x\\"y"} 1
`

const STATUS: TyphaStatusDoc = {
  serverId: 'abc',
  inSync: true,
  revision: 4711,
  entries: 42,
  clients: [
    { nodeName: 'node1', syncerType: 'felix', state: 'live', lagRevisions: 0, queuedBytes: 0, bytesWritten: 2048 },
    {
      nodeName: 'control',
      syncerType: 'felix',
      state: 'live',
      lagRevisions: 3,
      queuedBytes: 1536,
      bytesWritten: 5 * 1024 * 1024,
    },
  ],
}

t.test('Prometheus text: labels, sums, escaped quotes', async (t) => {
  const s = parsePromText(METRICS_AFTER)
  t.equal(promSum(s, 'calilab_typha_connections', { syncer: 'felix' }), 3)
  t.equal(promSum(s, 'calilab_typha_disconnects_total', { reason: ['lag-bytes', 'lag-revisions'] }), 3)
  t.equal(promSum(s, 'calilab_typha_disconnects_total'), 10)
  t.equal(s.get('weird_label')?.[0]?.labels['a'], 'x"y')
  t.equal(promSum(s, 'absent'), 0)
})

t.test('bytes are shown the way kubectl top shows sizes', async (t) => {
  t.equal(formatBytes(512), '512B')
  t.equal(formatBytes(1536), '1.5KiB')
  t.equal(formatBytes(3 * 1024 * 1024), '3.0MiB')
  t.equal(formatBytes(300 * 1024 * 1024), '300MiB')
})

t.test('replica summary and the two tables', async (t) => {
  const r = summarizeReplica(
    { name: 'typha-0', address: '127.0.0.1:40001', metricsAddress: '127.0.0.1:40002', pid: 9 },
    STATUS,
    parsePromText(METRICS_BEFORE),
    parsePromText(METRICS_AFTER),
    2,
  )
  t.same(r.clients, { felix: 3, bgp: 0 })
  t.equal(r.deltasPerSec, 110, '(200 + 20) updates over 2 s')
  t.equal(r.lagDisconnects, 3)
  t.equal(r.snapshots, 5)
  t.same(r.encodes, { deltas: 12, snapshot: 4 })
  const down = {
    name: 'typha-1',
    address: '127.0.0.1:40003',
    metricsAddress: '127.0.0.1:40004',
    error: 'ECONNREFUSED',
    clients: {},
    snapshots: 0,
    deltasPerSec: 0,
    deltaUpdatesTotal: 0,
    bytesOut: 0,
    lagDisconnects: 0,
    encodes: {},
  }
  const text = formatTyphaStatus([r, down])
  const lines = text.split('\n')
  t.match(
    lines[0],
    /^TYPHA\s+ADDRESS\s+IN-SYNC\s+REVISION\s+ENTRIES\s+CLIENTS\s+SNAPSHOTS\s+DELTAS\/S\s+BYTES-OUT\s+LAG-DISCONNECTS$/,
  )
  t.match(lines[1], /^typha-0\s+127\.0\.0\.1:40001\s+true\s+4711\s+42\s+felix=3 bgp=0\s+5\s+110\s+3\.0MiB\s+3$/)
  t.match(lines[2], /^typha-1\s+127\.0\.0\.1:40003\s+-\s+-.*- \(ECONNREFUSED\)$/)
  t.equal(lines[3], '')
  t.match(lines[4], /^NODE\s+SYNCER\s+TYPHA\s+STATE\s+LAG\s+QUEUED\s+BYTES-WRITTEN$/)
  t.match(lines[5], /^control\s+felix\s+typha-0\s+live\s+3\s+1\.5KiB\s+5\.0MiB$/, 'clients sorted by node')
  t.match(lines[6], /^node1\s+felix\s+typha-0\s+live\s+0\s+0B\s+2\.0KiB$/)
  // columns line up: every header cell starts where its values start
  const col = lines[0]?.indexOf('CLIENTS') ?? -1
  t.equal(lines[1]?.indexOf('felix=3'), col)
  t.match(formatTyphaStatus([down]), /No clients connected\./)
})

t.test('clear errors: not running, no Typha', async (t) => {
  const home = path.join(tmpdir(), `calilab-typha-status-${process.pid}`)
  await t.rejects(typhaStatus({ home }), /calilab is not running here.*calilab up/)
  mkdirSync(path.join(home, 'run'), { recursive: true })
  t.teardown(() => import('node:fs').then((fs) => fs.rmSync(home, { recursive: true, force: true })))
  writeFileSync(
    path.join(home, 'run', 'state.json'),
    JSON.stringify({
      version: 1,
      home,
      supervisor: { pid: 1, started: new Date().toISOString() },
      mode: 'full',
      phase: 'ready',
      nodes: [],
      processes: [{ component: 'apiserver', restarts: 0, health: 'ready', logFile: 'x' }],
      events: [],
    }),
  )
  const e = await typhaStatus({ home }).catch((x: unknown) => x)
  t.ok(e instanceof CliError)
  t.match((e as Error).message, /no Typha runs in this calilab instance/)
})
