/**
 * The emulated tcpdump: `tcpdump [-n] [-i IFACE] [-c N] [-w FILE|-] [-r FILE] [expression]`.
 *
 * - Live: taps the namespace's link (or every link for `-i any`) and prints tcpdump -n lines.
 * - `-w FILE`: writes a libpcap file (2.4, microseconds, little endian) as packets come, so an
 *   interrupted capture is still a valid file. Ethernet-like links (eth0, veths, vxlan) are written
 *   as LINKTYPE_ETHERNET (1) with a synthesized Ethernet header (the link's MAC; the neighbour's is
 *   `ee:ee:ee:ee:ee:ee`, Calico's veth MAC), tunl0/wireguard/any as LINKTYPE_RAW (101).
 *   `-w -` writes the pcap bytes to stdout (binary through the exec channel; `calilab ssh/exec`
 *   turn `-w FILE` into `-w -` and write FILE where the user ran calilab). Any other FILE is
 *   written by the node process, resolved against its working directory (kubectl exec).
 * - `-r FILE`: reads a pcap file and prints its packets (the filter and -c apply); the node process
 *   reads it (calilab ssh/exec pass an absolute path: the node shares the user's filesystem).
 * - `-c N`: stops after N packets (captured or read).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import {
  compileFilter,
  formatFrame,
  formatPacket,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  type Netns,
  type PacketFilter,
  PacketView,
  parsePacket,
  parsePcap,
  pcapGlobalHeader,
  pcapRecord,
} from '@calilab/dataplane'
import type { Tool, ToolIo } from './types.ts'

interface Args {
  dev: string
  count: number
  write: string | undefined
  read: string | undefined
  expr: string
}

/** Flags that take a value (`-i eth0`, `-nni eth0`, `-ieth0`). */
const WITH_VALUE = new Set(['i', 'c', 'w', 'r', 's', 'C', 'W', 'G', 'E', 'F', 'y', 'B', 'T', 'Z', 'j', 'M'])

export function parseTcpdumpArgs(argv: readonly string[]): Args | string {
  const a: Args = { dev: 'eth0', count: Infinity, write: undefined, read: undefined, expr: '' }
  const filter: string[] = []
  const rest = argv.slice(1)
  for (let i = 0; i < rest.length; i++) {
    const x = rest[i] as string
    if (x === '--') {
      filter.push(...rest.slice(i + 1))
      break
    }
    if (!x.startsWith('-') || x === '-') {
      filter.push(x)
      continue
    }
    if (x.startsWith('--')) continue
    // A cluster of one-letter flags; the first that takes a value eats the rest or the next word.
    for (let k = 1; k < x.length; k++) {
      const f = x[k] as string
      if (!WITH_VALUE.has(f)) continue
      const inline = x.slice(k + 1)
      const v = inline !== '' ? inline : rest[++i]
      if (v === undefined) return `option requires an argument -- '${f}'`
      if (f === 'i') a.dev = v
      else if (f === 'c') {
        const n = Number(v)
        if (!Number.isInteger(n) || n <= 0) return 'invalid packet count'
        a.count = n
      } else if (f === 'w') a.write = v
      else if (f === 'r') a.read = v
      break
    }
  }
  a.expr = filter.join(' ')
  return a
}

function parseMac(s: string | undefined): Uint8Array {
  const b = new Uint8Array(6)
  const parts = (s ?? '').split(':')
  if (parts.length === 6) for (let i = 0; i < 6; i++) b[i] = Number.parseInt(parts[i] as string, 16) || 0
  return b
}

const NEIGHBOUR_MAC = parseMac('ee:ee:ee:ee:ee:ee')

/** A pcap sink: a file (written as packets come) or binary stdout. */
function pcapSink(target: string, io: ToolIo): { write(b: Uint8Array): void; close(): void } {
  if (target === '-') {
    const out = io.stdoutBytes
    // No binary stdout (inside a pipe of the emulated shell): bytes as latin1 characters.
    if (out) return { write: (b) => out(b), close: () => {} }
    return { write: (b) => io.stdout(Buffer.from(b).toString('latin1')), close: () => {} }
  }
  const fd = openSync(target, 'w')
  return { write: (b) => void writeSync(fd, b), close: () => closeSync(fd) }
}

function readPcap(a: Args, filter: PacketFilter | undefined, io: ToolIo): number {
  let bytes: Uint8Array
  try {
    bytes = readFileSync(a.read as string)
  } catch (e) {
    io.stderr(
      `tcpdump: ${a.read}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}\n`,
    )
    return 1
  }
  const p = parsePcap(bytes)
  if (!p.ok) {
    io.stderr(`tcpdump: ${a.read}: ${p.message}\n`)
    return 1
  }
  const eth = p.linktype === LINKTYPE_ETHERNET
  if (!eth && p.linktype !== LINKTYPE_RAW) {
    io.stderr(`tcpdump: ${a.read}: link-type ${p.linktype} not supported\n`)
    return 1
  }
  io.stderr(
    `reading from file ${a.read}, link-type ${eth ? 'EN10MB (Ethernet)' : 'RAW (Raw IP)'}, snapshot length ${p.snaplen}\n`,
  )
  const v = new PacketView()
  let n = 0
  for (const pkt of p.packets) {
    if (n >= a.count) break
    if (filter) {
      if (eth && (pkt.data.length < 14 || pkt.data[12] !== 0x08 || pkt.data[13] !== 0)) continue
      if (parsePacket(pkt.data, v, eth ? 14 : 0) !== 'ok' || !filter(v)) continue
    }
    io.stdout(`${eth ? formatFrame(pkt.data, pkt.timeMs) : formatPacket(pkt.data, pkt.timeMs)}\n`)
    n++
  }
  return 0
}

export const tcpdump: Tool = async (argv, env, io) => {
  const a = parseTcpdumpArgs(argv)
  if (typeof a === 'string') {
    io.stderr(`tcpdump: ${a}\n`)
    return 1
  }
  let filter: PacketFilter | undefined
  if (a.expr) {
    const f = compileFilter(a.expr)
    if (!f.ok) {
      io.stderr(`tcpdump: ${f.message}\n`)
      return 1
    }
    filter = f.filter
  }
  if (a.read !== undefined) return readPcap(a, filter, io)
  const ns: Netns | undefined = env.netns
  if (!ns) {
    io.stderr('tcpdump: network namespace not available (no kernel wired on this node)\n')
    return 1
  }
  const link = a.dev === 'any' ? undefined : ns.link(a.dev)
  if (a.dev !== 'any' && !link) {
    io.stderr(`tcpdump: ${a.dev}: No such device exists\n(SIOCGIFHWADDR: No such device)\n`)
    return 1
  }
  const ether = link !== undefined && (link.kind === 'ethernet' || link.kind === 'veth' || link.kind === 'vxlan')
  const linktype = ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW
  const typeName = ether ? 'EN10MB (Ethernet)' : a.dev === 'any' ? 'LINUX_SLL (Linux cooked v1)' : 'RAW (Raw IP)'
  let sink: { write(b: Uint8Array): void; close(): void } | undefined
  if (a.write !== undefined) {
    try {
      sink = pcapSink(a.write, io)
    } catch (e) {
      io.stderr(`tcpdump: ${a.write}: ${(e as Error).message}\n`)
      return 1
    }
    sink.write(pcapGlobalHeader(linktype))
    io.stderr(
      `tcpdump: listening on ${a.dev}, link-type ${ether ? typeName : 'RAW (Raw IP)'}, snapshot length 262144 bytes\n`,
    )
  } else
    io.stderr(
      `tcpdump: verbose output suppressed, use -v or -vv for full protocol decode\nlistening on ${a.dev}, link-type ${typeName}, capture size 262144 bytes\n`,
    )
  const own = parseMac(link?.mac)
  let seen = 0
  const taps: { close(): void }[] = []
  await new Promise<void>((resolve) => {
    const done = () => {
      for (const t of taps.splice(0)) t.close()
      resolve()
    }
    const onPacket = (pkt: Uint8Array, timeMs: number, dir: 'in' | 'out') => {
      if (seen >= a.count) return
      seen++
      if (sink) {
        let frame = pkt
        if (ether) {
          frame = new Uint8Array(14 + pkt.length)
          frame.set(dir === 'out' ? NEIGHBOUR_MAC : own, 0)
          frame.set(dir === 'out' ? own : NEIGHBOUR_MAC, 6)
          frame[12] = 0x08
          frame.set(pkt, 14)
        }
        sink.write(pcapRecord(timeMs, frame))
      } else io.stdout(`${formatPacket(pkt, timeMs)}\n`)
      if (seen >= a.count) done()
    }
    const devs = a.dev === 'any' ? ns.links().map((l) => l.name) : [a.dev]
    for (const d of devs) taps.push(ns.tap(d, onPacket, a.expr ? { filter: a.expr } : {}))
    if (io.signal.aborted) done()
    else io.signal.addEventListener('abort', done, { once: true })
  })
  sink?.close()
  io.stderr(`\n${seen} packets captured\n${seen} packets received by filter\n0 packets dropped by kernel\n`)
  return 0
}
