/**
 * pcap (libpcap 2.4, microsecond timestamps, little-endian) encoding. Pure: the writer returns
 * bytes; the shell appends them to a file. Timestamps come from the caller's clock value.
 */
import { rd16le, rd32le, wr16le, wr32le } from './bytes.ts'

export const PCAP_MAGIC = 0xa1b2c3d4
export const LINKTYPE_ETHERNET = 1
export const LINKTYPE_RAW = 101
export const PCAP_GLOBAL_HEADER_LEN = 24
export const PCAP_RECORD_HEADER_LEN = 16

export function pcapGlobalHeader(linktype = LINKTYPE_RAW, snaplen = 262144): Uint8Array {
  const b = new Uint8Array(PCAP_GLOBAL_HEADER_LEN)
  wr32le(b, 0, PCAP_MAGIC)
  wr16le(b, 4, 2)
  wr16le(b, 6, 4)
  wr32le(b, 8, 0) // thiszone
  wr32le(b, 12, 0) // sigfigs
  wr32le(b, 16, snaplen)
  wr32le(b, 20, linktype)
  return b
}

/** One record: header (ts from `timeMs`, ms since the epoch, may be fractional) + captured bytes. */
export function pcapRecord(timeMs: number, pkt: Uint8Array, snaplen = 262144): Uint8Array {
  const incl = Math.min(pkt.length, snaplen)
  const b = new Uint8Array(PCAP_RECORD_HEADER_LEN + incl)
  let sec = Math.floor(timeMs / 1000)
  let usec = Math.round((timeMs - sec * 1000) * 1000)
  if (usec >= 1_000_000) {
    sec += 1
    usec -= 1_000_000
  }
  wr32le(b, 0, sec)
  wr32le(b, 4, usec)
  wr32le(b, 8, incl)
  wr32le(b, 12, pkt.length)
  b.set(pkt.subarray(0, incl), PCAP_RECORD_HEADER_LEN)
  return b
}

/** Accumulates a capture in memory; `bytes()` is a complete pcap file. */
export class PcapWriter {
  readonly linktype: number
  readonly snaplen: number
  private readonly chunks: Uint8Array[] = []
  private size = 0
  count = 0

  constructor(linktype = LINKTYPE_RAW, snaplen = 262144) {
    this.linktype = linktype
    this.snaplen = snaplen
    this.push(pcapGlobalHeader(linktype, snaplen))
  }

  /** Adds a packet; returns the record bytes (so a streaming shell can write them as they come). */
  write(timeMs: number, pkt: Uint8Array): Uint8Array {
    const r = pcapRecord(timeMs, pkt, this.snaplen)
    this.push(r)
    this.count++
    return r
  }

  header(): Uint8Array {
    return this.chunks[0]!
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size)
    let o = 0
    for (const c of this.chunks) {
      out.set(c, o)
      o += c.length
    }
    return out
  }

  private push(c: Uint8Array): void {
    this.chunks.push(c)
    this.size += c.length
  }
}

export interface PcapPacket {
  timeMs: number
  origLen: number
  data: Uint8Array
}

export type PcapParseResult =
  | { ok: true; linktype: number; snaplen: number; packets: PcapPacket[] }
  | { ok: false; code: 'PCAP_BAD_MAGIC' | 'PCAP_TRUNCATED'; message: string }

/** Reads a little-endian microsecond pcap file (what PcapWriter writes). */
export function parsePcap(b: Uint8Array): PcapParseResult {
  if (b.length < PCAP_GLOBAL_HEADER_LEN)
    return { ok: false, code: 'PCAP_TRUNCATED', message: 'file shorter than the global header' }
  if (rd32le(b, 0) !== PCAP_MAGIC)
    return { ok: false, code: 'PCAP_BAD_MAGIC', message: 'not a little-endian microsecond pcap file' }
  if (rd16le(b, 4) !== 2) return { ok: false, code: 'PCAP_BAD_MAGIC', message: 'unsupported pcap version' }
  const snaplen = rd32le(b, 16)
  const linktype = rd32le(b, 20)
  const packets: PcapPacket[] = []
  let o = PCAP_GLOBAL_HEADER_LEN
  while (o < b.length) {
    if (b.length - o < PCAP_RECORD_HEADER_LEN)
      return { ok: false, code: 'PCAP_TRUNCATED', message: `record header at ${o}` }
    const sec = rd32le(b, o)
    const usec = rd32le(b, o + 4)
    const incl = rd32le(b, o + 8)
    const orig = rd32le(b, o + 12)
    o += PCAP_RECORD_HEADER_LEN
    if (b.length - o < incl) return { ok: false, code: 'PCAP_TRUNCATED', message: `record data at ${o}` }
    packets.push({ timeMs: sec * 1000 + usec / 1000, origLen: orig, data: b.subarray(o, o + incl) })
    o += incl
  }
  return { ok: true, linktype, snaplen, packets }
}
