/**
 * `calilab ssh NODE -- tcpdump ... -w FILE`: the CLI sends `-w -`, the node streams the pcap as
 * binary on the exec channel and the CLI writes FILE relative to its working directory. Here the
 * CLI's own execStream talks to a node agent's real exec endpoint serving an emulated kernel.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHost } from '@calilab/dataplane'
import { silentLogger, systemClock, systemRng } from '@calilab/kit'
import { attachExecServer } from '@calilab/node-agent'
import t from 'tap'
import { rewriteCapture } from '../src/commands/capture.ts'
import { execStream } from '../src/commands/exec.ts'

t.test('rewriteCapture: -w FILE -> -w - plus a local file; -r FILE made absolute; others untouched', async (t) => {
  t.same(rewriteCapture(['tcpdump', '-ni', 'eth0', '-c', '5', '-w', 'x.pcap'], '/home/u'), {
    command: ['tcpdump', '-ni', 'eth0', '-c', '5', '-w', '-'],
    stdoutFile: '/home/u/x.pcap',
  })
  t.same(rewriteCapture(['sudo', 'tcpdump', '-nw/tmp/y.pcap', 'icmp'], '/home/u'), {
    command: ['sudo', 'tcpdump', '-n', '-w', '-', 'icmp'],
    stdoutFile: '/tmp/y.pcap',
  })
  t.same(rewriteCapture(['tcpdump', '-r', 'cap/x.pcap', '-n'], '/home/u'), {
    command: ['tcpdump', '-r', '/home/u/cap/x.pcap', '-n'],
  })
  t.same(rewriteCapture(['tcpdump', '-w', '-'], '/h'), { command: ['tcpdump', '-w', '-'] })
  t.same(rewriteCapture(['ip', 'route', '-w', 'x'], '/h'), { command: ['ip', 'route', '-w', 'x'] })
})

t.test('execStream writes the binary stdout of tcpdump -w - to the file', async (t) => {
  const clock = systemClock()
  const host = createHost({ name: 'node1', nodeIp: 0xc6130002, clock, rng: systemRng() })
  const sent: Uint8Array[] = []
  host.setUnderlay({ send: (_nh, b) => sent.push(b.slice()) })
  host.root.routes.add({ dst: 0xc6131040, prefix: 26, via: 0xc6130003, dev: 'eth0' })
  const server = http.createServer()
  const ex = attachExecServer(server, {
    log: silentLogger(),
    host: () => ({ ok: true, env: { hostname: 'node1', netns: host.root, files: {}, clock } }),
    pod: () => ({ ok: false, status: 404, message: 'no pods' }),
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const dir = mkdtempSync(join(tmpdir(), 'calilab-cap-'))
  t.teardown(async () => {
    ex.close()
    await new Promise<void>((r) => server.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  })
  const cap = rewriteCapture(['tcpdump', '-ni', 'eth0', '-c', '3', '-w', 'out.pcap'], dir)
  const q = new URLSearchParams()
  for (const c of cap.command) q.append('command', c)
  q.set('stdout', 'true')
  q.set('stderr', 'true')
  const port = (server.address() as AddressInfo).port
  const done = execStream({
    url: `ws://127.0.0.1:${port}/exec/host?${q}`,
    stdin: false,
    tty: false,
    ...(cap.stdoutFile ? { stdoutFile: cap.stdoutFile } : {}),
  })
  // Send until the capture has its 3 packets (the session starts asynchronously).
  const sock = host.root.udpBind(40000, () => {})
  let i = 0
  const timer = setInterval(() => sock.send('198.19.16.65', 53, `q${i++}`), 20)
  t.equal(await done, 0)
  clearInterval(timer)
  const b = readFileSync(join(dir, 'out.pcap'))
  t.equal(b.readUInt32LE(0), 0xa1b2c3d4, 'pcap magic')
  t.equal(b.readUInt32LE(20), 1, 'EN10MB')
  let o = 24
  let n = 0
  while (o < b.length) {
    const incl = b.readUInt32LE(o + 8)
    const frame = b.subarray(o + 16, o + 16 + incl)
    t.equal(frame.readUInt16BE(12), 0x0800)
    const ip = [...frame.subarray(14)]
    t.ok(
      sent.some((x) => x.length === ip.length && x.every((v, k) => v === ip[k])),
      `packet ${n} as it left`,
    )
    o += 16 + incl
    n++
  }
  t.equal(n, 3)
})
