/**
 * tcpdump -w / -r / -c: the pcap a capture writes is parsed here with a reader of its own (not the
 * dataplane's), written to a file by the node process or streamed as binary over the exec channel.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHost, type Netns } from '@calilab/dataplane'
import { silentLogger, systemClock, systemRng } from '@calilab/kit'
import t from 'tap'
import WebSocket from 'ws'
import { attachExecServer } from '../src/exec/index.ts'
import { runCommand, type ToolEnv, type ToolIo } from '../src/tools/index.ts'
import { parseTcpdumpArgs } from '../src/tools/tcpdump.ts'

const clock = systemClock()
const keepAlive = setInterval(() => {}, 1000)
t.teardown(() => clearInterval(keepAlive))

/** A minimal libpcap reader: global header, then records (little endian, microseconds). */
function readPcap(b: Buffer): { linktype: number; packets: { ts: number; data: Buffer }[] } {
  if (b.length < 24) throw new Error('short pcap')
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`bad magic ${b.readUInt32LE(0).toString(16)}`)
  if (b.readUInt16LE(4) !== 2 || b.readUInt16LE(6) !== 4) throw new Error('not pcap 2.4')
  const linktype = b.readUInt32LE(20)
  const packets: { ts: number; data: Buffer }[] = []
  let o = 24
  while (o < b.length) {
    const sec = b.readUInt32LE(o)
    const usec = b.readUInt32LE(o + 4)
    const incl = b.readUInt32LE(o + 8)
    const orig = b.readUInt32LE(o + 12)
    if (incl !== orig || usec >= 1e6) throw new Error('bad record header')
    packets.push({ ts: sec + usec / 1e6, data: b.subarray(o + 16, o + 16 + incl) })
    o += 16 + incl
  }
  if (o !== b.length) throw new Error('trailing bytes')
  return { linktype, packets }
}

function node() {
  const host = createHost({ name: 'node1', nodeIp: 0xc6130002, clock, rng: systemRng() })
  const pod = host.createPodNetns('default/p')
  host.addVethPair(host.root, 'cali0123456789a', pod, 'eth0')
  pod.addAddr('eth0', 0xc6131001, 32)
  pod.routes.add({ dst: 0xa9fe0101, prefix: 32, dev: 'eth0', scope: 'link' })
  pod.routes.add({ dst: 0, prefix: 0, via: 0xa9fe0101, dev: 'eth0' })
  host.root.routes.add({ dst: 0xc6131001, prefix: 32, dev: 'cali0123456789a', scope: 'link' })
  const env: ToolEnv = { hostname: 'node1', netns: host.root, files: {}, clock }
  return { host, pod: pod as Netns, env }
}

function collect(): { io: ToolIo; out: () => string; err: () => string; bytes: () => Buffer } {
  let out = ''
  let err = ''
  const bin: Buffer[] = []
  const io: ToolIo = {
    stdout: (s) => {
      out += s
    },
    stderr: (s) => {
      err += s
    },
    stdoutBytes: (b) => bin.push(Buffer.from(b)),
    signal: new AbortController().signal,
  }
  return { io, out: () => out, err: () => err, bytes: () => Buffer.concat(bin) }
}

t.test('flag parsing: clusters, values glued or apart, filter words', async (t) => {
  t.match(parseTcpdumpArgs(['tcpdump', '-ni', 'eth0', '-c', '5', '-w', '/tmp/x.pcap', 'icmp']), {
    dev: 'eth0',
    count: 5,
    write: '/tmp/x.pcap',
    expr: 'icmp',
  })
  t.match(parseTcpdumpArgs(['tcpdump', '-nnieth0', '-c3', '-r-', 'tcp', 'port', '80']), {
    dev: 'eth0',
    count: 3,
    read: '-',
    expr: 'tcp port 80',
  })
  t.equal(parseTcpdumpArgs(['tcpdump', '-c']), "option requires an argument -- 'c'")
})

t.test('-w FILE -c N writes a pcap (EN10MB on a veth) that -r reads back', async (t) => {
  const { pod, env } = node()
  const dir = mkdtempSync(join(tmpdir(), 'calilab-pcap-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'x.pcap')
  const c = collect()
  const run = runCommand(['tcpdump', '-ni', 'cali0123456789a', '-c', '4', '-w', file], env, c.io)
  const ping = await pod.ping('198.19.0.2', { count: 3, intervalMs: 5, timeoutMs: 1000 })
  t.equal(ping.received, 3)
  t.equal(await run, 0)
  t.match(c.err(), /listening on cali0123456789a, link-type EN10MB \(Ethernet\)/)
  t.match(c.err(), /4 packets captured/)
  const p = readPcap(readFileSync(file))
  t.equal(p.linktype, 1, 'LINKTYPE_ETHERNET')
  t.equal(p.packets.length, 4, '-c 4 stops after 4 packets')
  for (const [i, pk] of p.packets.entries()) {
    t.equal(pk.data.readUInt16BE(12), 0x0800, 'ethertype IPv4')
    t.equal(pk.data[14]! >> 4, 4, 'IPv4 after the Ethernet header')
    t.equal(pk.data[14 + 9], 1, 'ICMP')
    t.equal(pk.data[14 + 20], i % 2 === 0 ? 8 : 0, 'echo request, then reply')
  }
  const r = collect()
  t.equal(await runCommand(['tcpdump', '-n', '-r', file], env, r.io), 0)
  t.match(r.err(), /reading from file .*x\.pcap, link-type EN10MB \(Ethernet\), snapshot length 262144/)
  const lines = r.out().trim().split('\n')
  t.equal(lines.length, 4)
  t.match(
    lines[0],
    /^\d\d:\d\d:\d\d\.\d{6} IP 198\.19\.16\.1 > 198\.19\.0\.2: ICMP echo request, id \d+, seq 1, length \d+$/,
  )
  t.match(lines[1], /IP 198\.19\.0\.2 > 198\.19\.16\.1: ICMP echo reply/)
  const r2 = collect()
  t.equal(await runCommand(['tcpdump', '-r', file, '-c', '1', 'dst host 198.19.16.1'], env, r2.io), 0)
  t.equal(r2.out().trim().split('\n').length, 1, '-c applies when reading')
  t.match(r2.out(), /ICMP echo reply/, 'the filter applies when reading')
  const bad = collect()
  t.equal(await runCommand(['tcpdump', '-r', join(dir, 'none.pcap')], env, bad.io), 1)
  t.match(bad.err(), /No such file or directory/)
})

t.test('-w - streams the pcap as binary over the exec channel (what calilab ssh writes to FILE)', async (t) => {
  const { host, pod, env } = node()
  const server = http.createServer()
  const ex = attachExecServer(server, {
    log: silentLogger(),
    host: () => ({ ok: true, env }),
    pod: () => ({ ok: false, status: 404, message: 'no pods' }),
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(async () => {
    ex.close()
    await new Promise<void>((r) => server.close(() => r()))
  })
  const port = (server.address() as AddressInfo).port
  const q = new URLSearchParams()
  for (const c of ['tcpdump', '-ni', 'eth0', '-c', '2', '-w', '-']) q.append('command', c)
  q.set('stdout', 'true')
  q.set('stderr', 'true')
  const ws = new WebSocket(`ws://127.0.0.1:${port}/exec/host?${q}`, ['v5.channel.k8s.io'])
  const stdout: Buffer[] = []
  let stderr = ''
  let status = ''
  const closed = new Promise<void>((r) => ws.on('close', () => r()))
  ws.on('message', (d: Buffer) => {
    if (d[0] === 1) stdout.push(d.subarray(1))
    else if (d[0] === 2) stderr += d.subarray(1).toString()
    else if (d[0] === 3) status = d.subarray(1).toString()
  })
  await new Promise<void>((r) => ws.on('open', () => r()))
  // Packets through eth0: the pod's UDP to another node leaves by the underlay.
  const sent: Uint8Array[] = []
  host.setUnderlay({ send: (_nh, b) => sent.push(b.slice()) })
  host.root.routes.add({ dst: 0xc6131040, prefix: 26, via: 0xc6130003, dev: 'eth0' })
  // Send until the capture has its 2 packets (the session starts asynchronously).
  const s = pod.udpBind(5000, () => {})
  let i = 0
  const timer = setInterval(() => s.send('198.19.16.65', 53, `q${i++}`), 20)
  await closed
  clearInterval(timer)
  t.match(status, /Success/)
  t.match(stderr, /2 packets captured/)
  const p = readPcap(Buffer.concat(stdout))
  t.equal(p.linktype, 1)
  t.equal(p.packets.length, 2)
  // The capture holds the bytes that left (TTL decremented at the root), after 14 bytes of Ethernet.
  const first = p.packets[0]!.data.subarray(14)
  const k = Number(first.subarray(28).toString().slice(1))
  t.same([...first], [...sent[k]!], 'the captured packet is the one that left')
})
