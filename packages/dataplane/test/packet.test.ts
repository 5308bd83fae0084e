import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseIPv4 } from '@calilab/model'
import fc from 'fast-check'
import t from 'tap'
import {
  buildEthernet,
  buildIcmpEcho,
  buildIcmpError,
  buildTcp,
  buildUdp,
  checksumsOk,
  compileFilter,
  decapIpip,
  decrementTtl,
  encapIpip,
  encapVxlan,
  formatFrame,
  formatPacket,
  formatTimeOfDay,
  ICMP_DEST_UNREACH,
  ICMP_PORT_UNREACH,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  PacketView,
  PcapWriter,
  parseMac,
  parsePacket,
  parsePcap,
  parseVxlan,
  rewriteDst,
  rewriteSrc,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
} from '../src/core/packet/index.ts'

const ip = parseIPv4
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0)

t.test('IPv4 header layout matches the classic RFC 1071 example (checksum 0xb861)', async (t) => {
  const p = buildUdp({
    src: ip('192.168.0.1'),
    dst: ip('192.168.0.199'),
    sport: 1,
    dport: 2,
    payload: new Uint8Array(87),
    ttl: 64,
    id: 0,
  })
  t.equal(hex(p.subarray(0, 20)), '450000730000400040118661c0a80001c0a800c7'.replace('8661', 'b861'))
  const v = new PacketView()
  t.equal(parsePacket(p, v), 'ok')
  t.equal(v.totalLen, 0x73)
  t.equal(v.ipCsum, 0xb861)
})

t.test('TCP SYN bytes and checksum (computed independently)', async (t) => {
  const p = buildTcp({
    src: ip('198.19.15.254'),
    dst: ip('198.19.0.1'),
    sport: 51234,
    dport: 30180,
    seq: 123,
    flags: TCP_SYN,
    window: 64240,
    id: 0x1234,
  })
  t.equal(p.length, 40)
  t.equal(hex(p.subarray(0, 20)), '450000281234400040068c76c6130ffec6130001')
  t.equal(hex(p.subarray(20)), 'c82275e40000007b000000005002faf0da490000')
  const v = new PacketView()
  t.equal(parsePacket(p, v), 'ok')
  t.same(
    { sport: v.sport, dport: v.dport, seq: v.seq, flags: v.tcpFlags, win: v.window, csum: v.l4Csum, len: v.payloadLen },
    { sport: 51234, dport: 30180, seq: 123, flags: TCP_SYN, win: 64240, csum: 0xda49, len: 0 },
  )
  t.ok(checksumsOk(v))
  p[30] = p[30]! ^ 1
  parsePacket(p, v)
  t.notOk(checksumsOk(v), 'a flipped bit breaks the TCP checksum')
})

t.test('UDP and ICMP echo checksums', async (t) => {
  const u = buildUdp({
    src: ip('198.19.16.5'),
    dst: ip('198.19.32.10'),
    sport: 40000,
    dport: 53,
    payload: Buffer.from('hello'),
  })
  const v = new PacketView()
  parsePacket(u, v)
  t.equal(v.l4Csum, 0x6356)
  t.equal(v.payloadLen, 5)
  t.ok(checksumsOk(v))
  const payload = new Uint8Array(56).map((_, i) => i)
  const e = buildIcmpEcho({ src: ip('10.0.0.1'), dst: ip('10.0.0.2'), kind: 'request', icmpId: 1, icmpSeq: 1, payload })
  parsePacket(e, v)
  t.equal(v.icmpType, 8)
  t.equal(v.l4Csum, 0x00eb)
  t.equal(v.icmpId, 1)
  t.ok(checksumsOk(v))
})

t.test('ICMP port unreachable quotes the IP header and 8 bytes', async (t) => {
  const orig = buildUdp({
    src: ip('198.19.15.254'),
    dst: ip('198.19.0.1'),
    sport: 5000,
    dport: 53,
    payload: new Uint8Array(32),
  })
  const err = buildIcmpError({
    src: ip('198.19.0.1'),
    dst: ip('198.19.15.254'),
    type: ICMP_DEST_UNREACH,
    code: ICMP_PORT_UNREACH,
    original: orig,
  })
  t.equal(err.length, 20 + 8 + 28)
  t.same(err.subarray(28), orig.subarray(0, 28))
  const v = new PacketView()
  parsePacket(err, v)
  t.ok(checksumsOk(v))
  t.equal(
    formatPacket(err, T0),
    '12:00:00.000000 IP 198.19.0.1 > 198.19.15.254: ICMP 198.19.0.1 udp port 53 unreachable, length 36',
  )
})

t.test('IPIP and VXLAN encapsulation', async (t) => {
  const inner = buildTcp({
    src: ip('198.19.21.4'),
    dst: ip('198.19.22.130'),
    sport: 40000,
    dport: 80,
    flags: TCP_SYN,
    seq: 1,
  })
  const ipip = encapIpip({ src: ip('198.19.0.2'), dst: ip('198.19.0.3') }, inner)
  const v = new PacketView()
  parsePacket(ipip, v)
  t.equal(v.proto, 4)
  t.ok(checksumsOk(v))
  t.same(decapIpip(ipip), inner)
  t.equal(
    formatPacket(ipip, T0),
    '12:00:00.000000 IP 198.19.0.2 > 198.19.0.3: IP 198.19.21.4.40000 > 198.19.22.130.80: Flags [S], seq 1, win 64240, length 0 (ipip-proto-4)',
  )
  const smac = parseMac('66:aa:bb:cc:dd:01')!
  const dmac = parseMac('66:aa:bb:cc:dd:02')!
  const vx = encapVxlan(
    { src: ip('198.19.0.2'), dst: ip('198.19.0.3'), sport: 45000, innerSrcMac: smac, innerDstMac: dmac },
    inner,
  )
  t.equal(vx.length, inner.length + 50)
  // outer UDP: sport, dport 4789, length, checksum 0; VXLAN: flags 0x08, VNI 4096 (0x001000) << 8
  t.equal(hex(vx.subarray(20, 36)), `afc812b5${(vx.length - 20).toString(16).padStart(4, '0')}00000800000000100000`)
  t.equal(hex(vx.subarray(36, 50)), '66aabbccdd0266aabbccdd010800')
  const px = parseVxlan(vx)!
  t.equal(px.vni, 4096)
  t.same(vx.subarray(px.innerOff, px.innerOff + px.innerLen), inner)
  t.match(
    formatPacket(vx, T0),
    /: VXLAN, flags \[I\] \(0x08\), vni 4096\nIP 198\.19\.21\.4\.40000 > 198\.19\.22\.130\.80: Flags \[S\]/,
  )
  t.equal(formatFrame(buildEthernet(dmac, smac, inner), T0).slice(16, 40), 'IP 198.19.21.4.40000 > 1')
})

t.test('tcpdump lines', async (t) => {
  const syn = buildTcp({
    src: ip('198.19.15.254'),
    dst: ip('198.19.0.1'),
    sport: 51234,
    dport: 30180,
    seq: 123,
    flags: TCP_SYN,
  })
  t.equal(
    formatPacket(syn, T0),
    '12:00:00.000000 IP 198.19.15.254.51234 > 198.19.0.1.30180: Flags [S], seq 123, win 64240, length 0',
  )
  const data = buildTcp({
    src: ip('198.19.0.1'),
    dst: ip('198.19.15.254'),
    sport: 30180,
    dport: 51234,
    seq: 1000,
    ack: 124,
    flags: TCP_PSH | TCP_ACK,
    window: 502,
    payload: new Uint8Array(10),
  })
  t.equal(
    formatPacket(data, T0 + 1.5),
    '12:00:00.001500 IP 198.19.0.1.30180 > 198.19.15.254.51234: Flags [P.], seq 1000:1010, ack 124, win 502, length 10',
  )
  const ack = buildTcp({
    src: ip('1.1.1.1'),
    dst: ip('2.2.2.2'),
    sport: 1,
    dport: 2,
    ack: 5,
    flags: TCP_ACK,
    window: 100,
  })
  t.equal(formatPacket(ack, T0, { noTimestamp: true }), 'IP 1.1.1.1.1 > 2.2.2.2.2: Flags [.], ack 5, win 100, length 0')
  const udp = buildUdp({
    src: ip('198.19.16.5'),
    dst: ip('198.19.32.10'),
    sport: 40000,
    dport: 53,
    payload: new Uint8Array(32),
  })
  t.equal(formatPacket(udp, T0), '12:00:00.000000 IP 198.19.16.5.40000 > 198.19.32.10.53: UDP, length 32')
  const echo = buildIcmpEcho({
    src: ip('198.19.16.5'),
    dst: ip('8.8.8.8'),
    kind: 'request',
    icmpId: 1,
    icmpSeq: 1,
    payload: new Uint8Array(56),
  })
  t.equal(formatPacket(echo, T0), '12:00:00.000000 IP 198.19.16.5 > 8.8.8.8: ICMP echo request, id 1, seq 1, length 64')
  t.equal(formatTimeOfDay(T0 + 3_723_000.25, 60), '14:02:03.000250')
})

t.test('NAT rewrites keep every checksum valid (property)', async (t) => {
  const v = new PacketView()
  const u32 = fc.integer({ min: 0, max: 0xffffffff })
  const port = fc.integer({ min: 0, max: 65535 })
  fc.assert(
    fc.property(
      fc.constantFrom('tcp', 'udp', 'icmp'),
      u32,
      u32,
      port,
      port,
      fc.uint8Array({ maxLength: 64 }),
      u32,
      u32,
      port,
      port,
      (kind, s, d, sp, dp, payload, ns, nd, nsp, ndp) => {
        const base = { src: s, dst: d, payload }
        const p =
          kind === 'tcp'
            ? buildTcp({ ...base, sport: sp, dport: dp, flags: TCP_ACK, seq: sp * 7, ack: dp * 3 })
            : kind === 'udp'
              ? buildUdp({ ...base, sport: sp, dport: dp })
              : buildIcmpEcho({ ...base, kind: 'request', icmpId: sp, icmpSeq: dp })
        if (parsePacket(p, v) !== 'ok') return false
        rewriteSrc(v, ns, nsp)
        rewriteDst(v, nd, ndp)
        decrementTtl(v)
        const w = new PacketView()
        if (parsePacket(p, w) !== 'ok' || !checksumsOk(w)) return false
        if (w.src !== ns || w.dst !== nd || w.ttl !== 63) return false
        if (kind === 'icmp') return w.icmpId === ndp
        return w.sport === nsp && w.dport === ndp
      },
    ),
    { numRuns: 500 },
  )
  t.pass('500 random rewrites verified')
})

t.test('UDP with zero checksum stays zero after NAT', async (t) => {
  const p = buildUdp({ src: 1, dst: 2, sport: 3, dport: 4, noChecksum: true })
  const v = new PacketView()
  parsePacket(p, v)
  rewriteDst(v, ip('10.0.0.9'), 8080)
  parsePacket(p, v)
  t.equal(v.l4Csum, 0)
  t.equal(v.dport, 8080)
  t.ok(checksumsOk(v))
})

t.test('parser rejects malformed input with a status', async (t) => {
  const v = new PacketView()
  t.equal(parsePacket(new Uint8Array(10), v), 'TRUNCATED')
  const p = buildTcp({ src: 1, dst: 2, sport: 3, dport: 4, flags: TCP_SYN })
  const bad = p.slice()
  bad[0] = 0x65
  t.equal(parsePacket(bad, v), 'BAD_VERSION')
  t.equal(parsePacket(p.subarray(0, 30), v), 'BAD_TOTAL_LENGTH')
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      const st = parsePacket(b, v)
      return typeof st === 'string'
    }),
  )
})

t.test('tcpdump filters', async (t) => {
  const v = new PacketView()
  const pk = {
    syn: buildTcp({ src: ip('198.19.15.254'), dst: ip('198.19.0.1'), sport: 51234, dport: 30180, flags: TCP_SYN }),
    dns: buildUdp({ src: ip('198.19.16.5'), dst: ip('198.19.32.10'), sport: 40000, dport: 53 }),
    ping: buildIcmpEcho({ src: ip('198.19.16.5'), dst: ip('8.8.8.8'), kind: 'request', icmpId: 1, icmpSeq: 1 }),
  }
  const cases: [string, string[]][] = [
    ['tcp port 30180', ['syn']],
    ['port 53', ['dns']],
    ['udp', ['dns']],
    ['icmp', ['ping']],
    ['host 198.19.0.1', ['syn']],
    ['src host 198.19.16.5', ['dns', 'ping']],
    ['dst host 198.19.16.5', []],
    ['not icmp', ['syn', 'dns']],
    ['host 198.19.16.5 and (udp or icmp)', ['dns', 'ping']],
    ['tcp and not port 22', ['syn']],
    ['dst net 198.19.32.0/20', ['dns']],
    ['net 198.19.0.0/16 && !udp', ['syn', 'ping']],
    ['portrange 30000-32767', ['syn']],
    ['host 8.8.8.8 or 198.19.0.1', ['syn', 'ping']],
    ['ip proto 17', ['dns']],
    ['', ['syn', 'dns', 'ping']],
  ]
  for (const [expr, want] of cases) {
    const r = compileFilter(expr)
    if (!r.ok) {
      t.fail(`${expr}: ${r.message}`)
      continue
    }
    const got = Object.entries(pk)
      .filter(([, b]) => parsePacket(b, v) === 'ok' && r.filter(v))
      .map(([k]) => k)
    t.same(got, want, expr)
  }
  for (const bad of ['tcp port', 'host 1.2.3', '(udp', 'port 99999', 'udp )']) {
    const r = compileFilter(bad)
    t.equal(r.ok, false, `rejects ${bad}`)
  }
})

t.test('pcap writer output reads back (and through tshark/tcpdump when installed)', async (t) => {
  const w = new PcapWriter(LINKTYPE_RAW)
  const syn = buildTcp({
    src: ip('198.19.15.254'),
    dst: ip('198.19.0.1'),
    sport: 51234,
    dport: 30180,
    seq: 123,
    flags: TCP_SYN,
  })
  const udp = buildUdp({
    src: ip('198.19.16.5'),
    dst: ip('198.19.32.10'),
    sport: 40000,
    dport: 53,
    payload: new Uint8Array(32),
  })
  w.write(T0, syn)
  w.write(T0 + 1.25, udp)
  const bytes = w.bytes()
  t.equal(hex(bytes.subarray(0, 24)), 'd4c3b2a1020004000000000000000000000004006500000000'.slice(0, 48))
  t.equal(bytes.length, 24 + 16 + 40 + 16 + 60)
  const back = parsePcap(bytes)
  if (!back.ok) throw new Error(back.message)
  t.equal(back.linktype, LINKTYPE_RAW)
  t.same(
    back.packets.map((p) => p.timeMs),
    [T0, T0 + 1.25],
  )
  t.same(back.packets[1]!.data, udp)
  t.equal(parsePcap(bytes.subarray(0, 50)).ok, false)

  const dir = mkdtempSync(join(tmpdir(), 'calilab-pcap-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'cap.pcap')
  writeFileSync(file, bytes)
  t.same(new Uint8Array(readFileSync(file)), bytes)
  const eth = new PcapWriter(LINKTYPE_ETHERNET)
  eth.write(T0, buildEthernet(new Uint8Array(6).fill(0xee), new Uint8Array(6).fill(0xaa), syn))
  writeFileSync(join(dir, 'eth.pcap'), eth.bytes())
  let tool: string | undefined
  for (const c of ['tshark', 'tcpdump']) {
    try {
      execFileSync('which', [c], { stdio: 'ignore' })
      tool = c
      break
    } catch {}
  }
  t.test(
    'read back with a real decoder',
    { skip: tool ? false : 'neither tshark nor tcpdump is installed' },
    async (t) => {
      const out = execFileSync(tool!, tool === 'tshark' ? ['-r', file] : ['-nr', file], { encoding: 'utf8' })
      t.match(out, /30180/)
      t.match(out, /53/)
    },
  )
})
