/**
 * API server benchmark: durable (acknowledged = on disk) writes/s from 16 concurrent clients, and
 * watch events/s delivered in total to 100 watchers. The server runs as its own process with the
 * durable store (fsync on), as in a real cluster.
 */

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { RawHttpPool } from './fixtures/typha-writer.ts'
import { startReady } from './proc.ts'
import type { BenchResult } from './report.ts'

const CLIENTS = 16
const WATCHERS = 100
/** Writers during the watch test: enough that group commit, not fsync latency, sets the write rate. */
const WATCH_WRITERS = 64

function post(agent: http.Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function writeLoad(
  port: number,
  ns: string,
  durationMs: number,
  tag: string,
  clients = CLIENTS,
): Promise<{ ok: number; failed: number; ms: number }> {
  let ok = 0
  let failed = 0
  // One keep-alive connection per client, one request in flight on each (the requests node:http
  // would send, for less client CPU on the 2 cores the server shares: bench/fixtures/typha-writer.ts).
  const pool = new RawHttpPool(port, clients)
  const start = performance.now()
  const end = start + durationMs
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      let i = 0
      while (performance.now() < end) {
        const body = JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `${tag}-${c}-${i++}`, namespace: ns },
          data: { k: 'v'.repeat(64) },
        })
        const code = await pool.request('POST', `/api/v1/namespaces/${ns}/configmaps`, 'application/json', body)
        if (code === 201) ok++
        else failed++
      }
    }),
  )
  pool.close()
  return { ok, failed, ms: performance.now() - start }
}

async function ensureNamespace(port: number, ns: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: false })
  await post(
    agent,
    port,
    '/api/v1/namespaces',
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }),
  )
}

async function currentRv(port: number, ns: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/api/v1/namespaces/${ns}/configmaps?limit=1` }, (res) => {
        let s = ''
        res.on('data', (d) => (s += d))
        res.on('end', () =>
          resolve((JSON.parse(s) as { metadata: { resourceVersion: string } }).metadata.resourceVersion),
        )
      })
      .on('error', reject)
  })
}

export async function benchApiServer(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'calilab-bench-'))
  const { child, ready } = await startReady('bench/fixtures/apiserver-proc.ts', [join(dir, 'data')])
  const port = Number(ready.port)
  try {
    await ensureNamespace(port, 'bench-w')
    await ensureNamespace(port, 'bench-watch')
    await writeLoad(port, 'bench-w', 1000, 'warm')
    const w = await writeLoad(port, 'bench-w', 5000, 'w')
    const writesPerSec = (w.ok / w.ms) * 1000

    const rv = await currentRv(port, 'bench-watch')
    // The watchers run in a process of their own, so reading 100 streams does not slow the writers.
    const w8 = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/fixtures/watchers.ts', String(port), 'bench-watch', rv, String(WATCHERS)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    let delivered = 0
    let spanMs = 0
    let ready!: () => void
    const opened = new Promise<void>((r) => (ready = r))
    createInterface({ input: w8.stdout }).on('line', (l) => {
      if (l === 'ready') ready()
      const m = /^count (\d+) ([\d.]+)$/.exec(l)
      if (m) {
        delivered = Number(m[1])
        spanMs = Number(m[2])
      }
    })
    await opened
    const wl = await writeLoad(port, 'bench-watch', 4000, 'x', WATCH_WRITERS)
    const expected = wl.ok * WATCHERS
    const deadline = performance.now() + 30_000
    while (delivered < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    w8.kill('SIGTERM')
    const eventsPerSec = (delivered / spanMs) * 1000
    return {
      name: 'apiserver',
      title: 'API server: durable writes and watch fan-out',
      rows: [
        {
          metric: `acknowledged durable writes/s (${CLIENTS} concurrent clients)`,
          value: writesPerSec,
          unit: 'writes/s',
          target: '>= 2000',
          note: `${w.ok} writes in ${(w.ms / 1000).toFixed(1)} s, ${w.failed} failed; fsync on`,
        },
        {
          metric: `watch events/s delivered in total to ${WATCHERS} watchers`,
          value: eventsPerSec,
          unit: 'events/s',
          target: '>= 200000',
          note: `${delivered} of ${expected} events delivered while ${WATCH_WRITERS} clients wrote ${wl.ok} objects`,
        },
      ],
      notes: [
        'Server: its own process (bench/fixtures/apiserver-proc.ts), durable WAL store with fsync, no controllers.',
        'Clients: HTTP/1.1 keep-alive, JSON ConfigMaps of ~200 bytes; watchers: plain JSON watch streams as kubectl uses, all 100 in one separate process. Events/s = events delivered / time from the first to the last delivery.',
      ],
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 300))
    rmSync(dir, { recursive: true, force: true })
  }
}
