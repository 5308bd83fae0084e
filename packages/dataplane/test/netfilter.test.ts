import { seededRng } from '@calilab/kit'
import { parseIPv4 } from '@calilab/model'
import t from 'tap'
import {
  CT_ESTABLISHED,
  CT_NEW,
  type EvalContext,
  emptyPacket,
  execute,
  formatCount,
  IpSetStore,
  ipsetRestore,
  iptablesRestore,
  listIpSets,
  listTable,
  Netfilter,
  type NfPacket,
  parseIptablesArgs,
  parseRuleSpec,
  rejectResponse,
  runIpset,
  runIptables,
  saveRuleSpec,
  saveTables,
  type TraceStep,
  tokenize,
} from '../src/core/netfilter/index.ts'
import { buildTcp, buildUdp, PacketView, parsePacket, TCP_SYN } from '../src/core/packet/index.ts'

const ip = parseIPv4
const LOCAL = new Set([ip('198.19.0.1'), ip('127.0.0.1')])

function ctx(seed = 1, trace?: TraceStep[]): EvalContext {
  return { rng: seededRng(seed), isLocal: (a) => LOCAL.has(a), ...(trace ? { trace } : {}) }
}

function pkt(p: Partial<NfPacket>): NfPacket {
  return { ...emptyPacket(), proto: 6, len: 60, ...p }
}

const KUBE = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-OIQIZJVJK6E34BR4 - [0:0]
:KUBE-SEP-XSAPI3SEG2KJVDTP - [0:0]
:KUBE-SEP-KGQRHMYN3EBQMPXF - [0:0]
:KUBE-SVC-PX5FENG4GZJTCELT - [0:0]
:KUBE-SEP-UBXKSM3V2OSEF4IL - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES ! -s 198.19.16.0/20 -d 198.19.33.47/32 -p tcp -m comment --comment "yaobank/summary:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -d 198.19.33.47/32 -p tcp -m comment --comment "yaobank/summary:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-OIQIZJVJK6E34BR4
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-NODEPORTS -p tcp -m comment --comment "yaobank/customer:http" -m tcp --dport 30180 -j KUBE-MARK-MASQ
-A KUBE-NODEPORTS -p tcp -m comment --comment "yaobank/customer:http" -m tcp --dport 30180 -j KUBE-SVC-PX5FENG4GZJTCELT
-A KUBE-SVC-OIQIZJVJK6E34BR4 -m comment --comment "yaobank/summary:http" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-XSAPI3SEG2KJVDTP
-A KUBE-SVC-OIQIZJVJK6E34BR4 -m comment --comment "yaobank/summary:http" -j KUBE-SEP-KGQRHMYN3EBQMPXF
-A KUBE-SEP-XSAPI3SEG2KJVDTP -s 198.19.21.4/32 -m comment --comment "yaobank/summary:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-XSAPI3SEG2KJVDTP -p tcp -m comment --comment "yaobank/summary:http" -m tcp -j DNAT --to-destination 198.19.21.4:80
-A KUBE-SEP-KGQRHMYN3EBQMPXF -s 198.19.22.130/32 -m comment --comment "yaobank/summary:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-KGQRHMYN3EBQMPXF -p tcp -m comment --comment "yaobank/summary:http" -m tcp -j DNAT --to-destination 198.19.22.130:80
-A KUBE-SVC-PX5FENG4GZJTCELT -m comment --comment "yaobank/customer:http" -j KUBE-SEP-UBXKSM3V2OSEF4IL
-A KUBE-SEP-UBXKSM3V2OSEF4IL -s 198.19.22.132/32 -m comment --comment "yaobank/customer:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-UBXKSM3V2OSEF4IL -p tcp -m comment --comment "yaobank/customer:http" -m tcp -j DNAT --to-destination 198.19.22.132:80
COMMIT
`

function kubeNf(): Netfilter {
  const nf = new Netfilter(new IpSetStore())
  iptablesRestore(nf, KUBE, { noflush: true })
  return nf
}

const HDR = ' pkts bytes target     prot opt in     out     source               destination         '

t.test('iptables -L -v -n -t nat, kube-proxy chains, exact text', async (t) => {
  const nf = kubeNf()
  // host1 -> control:30180 (NodePort), then summary ClusterIP traffic from a pod
  const c = ctx(7)
  const np = pkt({ src: ip('198.19.15.254'), dst: ip('198.19.0.1'), sport: 51234, dport: 30180, iif: 'eth0', len: 60 })
  const v = nf.traverse('nat', 'PREROUTING', np, c)
  t.equal(v.verdict, 'ACCEPT')
  t.equal(v.nat?.t, 'DNAT')
  t.equal(np.mark, 0x4000, 'KUBE-MARK-MASQ marked the packet')
  t.equal(
    listTable(nf, 'nat', { chain: 'KUBE-SVC-OIQIZJVJK6E34BR4', verbose: true, numeric: true }),
    [
      'Chain KUBE-SVC-OIQIZJVJK6E34BR4 (1 references)',
      HDR,
      '    0     0 KUBE-SEP-XSAPI3SEG2KJVDTP  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* yaobank/summary:http */ statistic mode random probability 0.50000000000',
      '    0     0 KUBE-SEP-KGQRHMYN3EBQMPXF  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* yaobank/summary:http */',
      '',
    ].join('\n'),
  )
  t.equal(
    listTable(nf, 'nat', { chain: 'KUBE-NODEPORTS', verbose: true, numeric: true }),
    [
      'Chain KUBE-NODEPORTS (1 references)',
      HDR,
      '    1    60 KUBE-MARK-MASQ  tcp  --  *      *       0.0.0.0/0            0.0.0.0/0            /* yaobank/customer:http */ tcp dpt:30180',
      '    1    60 KUBE-SVC-PX5FENG4GZJTCELT  tcp  --  *      *       0.0.0.0/0            0.0.0.0/0            /* yaobank/customer:http */ tcp dpt:30180',
      '',
    ].join('\n'),
  )
  t.equal(
    listTable(nf, 'nat', { chain: 'KUBE-SEP-UBXKSM3V2OSEF4IL', verbose: true, numeric: true }),
    [
      'Chain KUBE-SEP-UBXKSM3V2OSEF4IL (1 references)',
      HDR,
      '    0     0 KUBE-MARK-MASQ  all  --  *      *       198.19.22.132        0.0.0.0/0            /* yaobank/customer:http */',
      '    1    60 DNAT       tcp  --  *      *       0.0.0.0/0            0.0.0.0/0            /* yaobank/customer:http */ tcp to:198.19.22.132:80',
      '',
    ].join('\n'),
  )
  const services = listTable(nf, 'nat', { chain: 'KUBE-SERVICES', verbose: true, numeric: true }).split('\n')
  t.equal(services[0], 'Chain KUBE-SERVICES (2 references)')
  t.equal(
    services[2],
    '    0     0 KUBE-MARK-MASQ  tcp  --  *      *      !198.19.16.0/20       198.19.33.47         /* yaobank/summary:http cluster IP */ tcp dpt:80',
  )
  t.equal(
    services[4],
    '    1    60 KUBE-NODEPORTS  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kubernetes service nodeports; NOTE: this must be the last rule in this chain */ ADDRTYPE match dst-type LOCAL',
  )
  const full = listTable(nf, 'nat', { verbose: true, numeric: true })
  t.match(
    full,
    /^Chain PREROUTING \(policy ACCEPT 0 packets, 0 bytes\)\n/,
    'DNAT ended the traversal, the policy did not count',
  )
  t.match(full, /\n\nChain INPUT \(policy ACCEPT 0 packets, 0 bytes\)\n/)
  t.match(
    full,
    /Chain KUBE-MARK-MASQ \(5 references\)\n.*\n {4}1 {4}60 MARK {7}all {2}-- {2}\* {6}\* {7}0\.0\.0\.0\/0 {12}0\.0\.0\.0\/0 {12}MARK or 0x4000\n/,
  )
  t.match(
    full,
    / MASQUERADE {2}all {2}-- {2}\* {6}\* {7}0\.0\.0\.0\/0 {12}0\.0\.0\.0\/0 {12}\/\* kubernetes service traffic requiring SNAT \*\/ random-fully\n/,
  )
  t.match(full, / RETURN {5}all {2}-- {2}\* {6}\* {7}0\.0\.0\.0\/0 {12}0\.0\.0\.0\/0 {12}mark match ! 0x4000\/0x4000\n/)
  t.match(full, / MARK {7}all {2}-- {2}\* {6}\* {7}0\.0\.0\.0\/0 {12}0\.0\.0\.0\/0 {12}MARK xor 0x4000\n/)
  // Chain order: built-ins, then user chains sorted.
  const order = [...full.matchAll(/^Chain (\S+)/gm)].map((m) => m[1])
  t.same(order.slice(0, 4), ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'])
  t.same(order.slice(4), [...order.slice(4)].sort())
  // Non-verbose form.
  t.equal(
    listTable(nf, 'nat', { chain: 'KUBE-MARK-MASQ', numeric: true }),
    'Chain KUBE-MARK-MASQ (5 references)\ntarget     prot opt source               destination         \nMARK       all  --  0.0.0.0/0            0.0.0.0/0            MARK or 0x4000\n',
  )
})

t.test('iptables-save reproduces the restore input (round trip)', async (t) => {
  const nf = kubeNf()
  const saved = saveTables(nf, { tables: ['nat'] })
  const want = KUBE.split('\n').filter((l) => l.startsWith('-A'))
  const got = saved.split('\n').filter((l) => l.startsWith('-A'))
  t.same(got.sort(), want.sort())
  t.match(
    saved,
    /^\*nat\n:PREROUTING ACCEPT \[0:0\]\n:INPUT ACCEPT \[0:0\]\n:OUTPUT ACCEPT \[0:0\]\n:POSTROUTING ACCEPT \[0:0\]\n:KUBE-MARK-MASQ - \[0:0\]\n/,
  )
  const nf2 = new Netfilter(new IpSetStore())
  iptablesRestore(nf2, saved)
  t.equal(saveTables(nf2, { tables: ['nat'] }), saved)
})

t.test('rule spec parse -> save round trips', async (t) => {
  const sets = new IpSetStore()
  sets.create('cali40all-ipam-pools', 'hash:net')
  sets.create('cali40s:abc', 'hash:ip,port')
  const nf = new Netfilter(sets)
  nf.newChain('filter', 'cali-fw-cali123')
  const specs = [
    '-s 10.0.0.0/8 -d 1.2.3.4/32 -p tcp -m tcp --sport 1000:2000 --dport 80 -j ACCEPT',
    '! -s 10.0.0.0/8 -i cali+ ! -o eth0 -p udp -m udp ! --dport 53 -j DROP',
    '-p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT',
    '-p tcp -m multiport ! --sports 22 -j RETURN',
    '-m set --match-set cali40all-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MARK --set-xmark 0x10000/0x10000',
    '-p tcp -m set --match-set cali40s:abc dst,dst -j ACCEPT',
    '-m mark --mark 0x10000/0x10000 -j ACCEPT',
    '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-m conntrack ! --ctstate DNAT -j cali-fw-cali123',
    '-m comment --comment "cali:abc; quoted \\"x\\"" -g cali-fw-cali123',
    '-p icmp -m icmp --icmp-type 8 -j ACCEPT',
    '-p icmp -m icmp --icmp-type 3/4 -j ACCEPT',
    '-p 4 -j ACCEPT',
    '-m addrtype ! --src-type LOCAL --dst-type LOCAL --limit-iface-in -j ACCEPT',
    '-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j LOG --log-prefix "calico-drop: " --log-level 5',
    '-p tcp -j REJECT --reject-with tcp-reset',
    '-j REJECT --reject-with icmp-port-unreachable',
    '-j CT --notrack',
    '-m statistic --mode random --probability 0.33332999982 -j ACCEPT',
    '-m state --state RELATED,ESTABLISHED -j ACCEPT',
  ]
  for (const s of specs) {
    const spec = parseRuleSpec(tokenize(s))
    t.equal(saveRuleSpec(spec).trim(), s, s)
    nf.append('filter', 'FORWARD', spec)
  }
  // Normalisations iptables-save does.
  const norm: [string, string][] = [
    ['-p tcp --dport 80 -j ACCEPT', '-p tcp -m tcp --dport 80 -j ACCEPT'],
    ['-s 10.1.2.3/8 -j ACCEPT', '-s 10.0.0.0/8 -j ACCEPT'],
    ['-d 1.2.3.4 -j ACCEPT', '-d 1.2.3.4/32 -j ACCEPT'],
    ['-s 10.0.0.0/255.255.0.0 -j DROP', '-s 10.0.0.0/16 -j DROP'],
    ['-j MARK --set-mark 0x10', '-j MARK --set-xmark 0x10/0xffffffff'],
    ['-j MARK --or-mark 0x4000', '-j MARK --set-xmark 0x4000/0x4000'],
    ['-j MARK --and-mark 0xfff0ffff', '-j MARK --set-xmark 0x0/0xf0000'],
    ['-p tcp --syn -j DROP', '-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP'],
    [
      '-m statistic --mode random --probability 0.33333 -j ACCEPT',
      '-m statistic --mode random --probability 0.33332999982 -j ACCEPT',
    ],
    ['-p tcp -j DNAT --to-destination 10.0.0.1:8080', '-p tcp -j DNAT --to-destination 10.0.0.1:8080'],
    ['-j SNAT --to-source 198.19.0.1 --random-fully', '-j SNAT --to-source 198.19.0.1 --random-fully'],
    ['-j NOTRACK', '-j NOTRACK'],
    ['-m comment --comment simple -j ACCEPT', '-m comment --comment simple -j ACCEPT'],
    ['-i + -j ACCEPT', '-j ACCEPT'],
    ['-p all -j ACCEPT', '-j ACCEPT'],
  ]
  for (const [inp, out] of norm) t.equal(saveRuleSpec(parseRuleSpec(tokenize(inp))).trim(), out, inp)
  // Errors with iptables' wording.
  const bad: [string, RegExp][] = [
    ['--dport 80 -j ACCEPT', /unknown option "--dport"/],
    ['-p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j ACCEPT', /too many ports/],
    ['-m set --match-set nosuch src -j ACCEPT', /Set nosuch doesn't exist/],
    ['-p udp -j REJECT --reject-with tcp-reset', /TCP_RESET invalid/],
    ['-m bogus -j ACCEPT', /Couldn't load match/],
    ['-j NOSUCHCHAIN', /Couldn't load target/],
    ['-s 300.1.1.1 -j ACCEPT', /not found/],
  ]
  for (const [s, re] of bad) t.throws(() => nf.append('filter', 'INPUT', parseRuleSpec(tokenize(s))), re, s)
})

t.test('traversal: jump, goto, RETURN, policy, counters, trace', async (t) => {
  const nf = new Netfilter(new IpSetStore())
  for (const cmd of [
    '-N A',
    '-N B',
    '-N C',
    '-P FORWARD DROP',
    '-A FORWARD -i cali+ -j A',
    '-A FORWARD -p tcp --dport 22 -j ACCEPT',
    '-A A -p tcp --dport 80 -j B',
    '-A A -p tcp --dport 81 -g C',
    '-A A -j MARK --set-xmark 0x1/0x1',
    '-A B -j RETURN',
    '-A B -j DROP',
    '-A C -p tcp --dport 81 -j RETURN',
  ])
    execute(nf, parseIptablesArgs(['-t', 'filter', ...tokenize(cmd)]))
  const trace: TraceStep[] = []
  // port 80: FORWARD -> A -> B RETURN -> back in A (MARK) -> end of A -> FORWARD rule 2 (no) -> policy DROP
  const p80 = pkt({ iif: 'cali1234', dport: 80 })
  t.equal(nf.traverse('filter', 'FORWARD', p80, ctx(1, trace)).verdict, 'DROP')
  t.equal(p80.mark, 1)
  t.same(
    trace.map((s) => `${s.chain}:${s.rule}:${s.target}:${s.kind}`),
    [
      'FORWARD:1:A:rule',
      'A:1:B:rule',
      'B:1:RETURN:rule',
      'A:1:RETURN:return',
      'A:3:MARK:rule',
      'FORWARD:0:DROP:policy',
    ],
  )
  // port 81: goto C, C RETURNs to FORWARD (the caller of A), not to A: no MARK.
  const p81 = pkt({ iif: 'cali1234', dport: 81 })
  nf.traverse('filter', 'FORWARD', p81, ctx())
  t.equal(p81.mark, 0, 'RETURN from a goto chain skips the rest of the goto-ing chain')
  // port 22 from eth0 accepted by rule 2
  const v = nf.traverse('filter', 'FORWARD', pkt({ iif: 'eth0', dport: 22 }), ctx())
  t.equal(v.verdict, 'ACCEPT')
  t.equal(nf.chain('filter', 'FORWARD')!.rules[1]!.pkts, 1)
  t.equal(nf.chain('filter', 'FORWARD')!.pkts, 2, 'policy counter')
  t.equal(nf.chain('filter', 'FORWARD')!.bytes, 120)
  t.equal(nf.chain('filter', 'A')!.rules[0]!.pkts, 1)
  // Chain management errors.
  t.throws(() => nf.deleteChain('filter', 'B'), /Too many links/)
  t.throws(() => nf.deleteChain('filter', 'FORWARD'), /Invalid argument/)
  const r = runIptables(nf, ['-X', 'NOPE'])
  t.equal(r.exitCode, 1)
  t.equal(r.stderr, 'iptables: No chain/target/match by that name.\n')
  t.equal(runIptables(nf, ['-t', 'bogus', '-L']).exitCode, 3)
  t.match(runIptables(nf, ['-nvL', 'FORWARD']).stdout, /^Chain FORWARD \(policy DROP 2 packets, 120 bytes\)/)
  nf.zero('filter')
  t.equal(nf.chain('filter', 'FORWARD')!.pkts, 0)
})

t.test('statistic random with a seeded rng splits about evenly', async (t) => {
  const nf = kubeNf()
  const c = ctx(12345)
  const hits = new Map<string, number>()
  for (let i = 0; i < 2000; i++) {
    const p = pkt({ src: ip('198.19.16.5'), dst: ip('198.19.33.47'), dport: 80, iif: 'cali1' })
    const v = nf.traverse('nat', 'PREROUTING', p, c)
    const to = v.nat?.t === 'DNAT' ? v.nat.range.minIp : 0
    hits.set(String(to), (hits.get(String(to)) ?? 0) + 1)
  }
  const a = hits.get(String(ip('198.19.21.4'))) ?? 0
  const b = hits.get(String(ip('198.19.22.130'))) ?? 0
  t.equal(a + b, 2000)
  t.ok(a > 900 && b > 900, `split ${a}/${b}`)
  // Same seed, same sequence.
  const run = (seed: number) => {
    const n = kubeNf()
    const cc = ctx(seed)
    return Array.from({ length: 20 }, () => {
      const v = n.traverse('nat', 'PREROUTING', pkt({ dst: ip('198.19.33.47'), dport: 80, src: ip('198.19.16.9') }), cc)
      return v.nat?.t === 'DNAT' ? v.nat.range.minIp : 0
    })
  }
  t.same(run(99), run(99))
  t.equal(formatCount(99999, false), '99999 ')
  t.equal(formatCount(100000, false), ' 100K ')
  t.equal(formatCount(12_345_678, false), '  12M ')
  t.equal(formatCount(12_345_678, true), '12345678 ')
})

t.test('ipsets: semantics, swap, list output, set match', async (t) => {
  const sets = new IpSetStore()
  ipsetRestore(
    sets,
    [
      'create cali40all-ipam-pools hash:net family inet hashsize 1024 maxelem 1048576',
      'add cali40all-ipam-pools 198.19.16.0/21',
      'add cali40all-ipam-pools 198.19.24.0/21',
      'create cali40hosts hash:ip family inet',
      'add cali40hosts 198.19.0.1',
      'add cali40hosts 198.19.0.2',
      'create tmp hash:ip',
      'add tmp 10.9.9.9',
      'create cali40ports hash:ip,port',
      'add cali40ports 198.19.21.4,tcp:80',
      'add cali40ports 198.19.21.4,udp:53',
      'create both list:set',
      'add both cali40hosts',
      'add both tmp',
    ].join('\n'),
  )
  t.ok(sets.test('cali40all-ipam-pools', ip('198.19.23.255')))
  t.notOk(sets.test('cali40all-ipam-pools', ip('198.19.32.1')))
  sets.add('cali40all-ipam-pools', '198.19.32.10/32')
  sets.add('cali40all-ipam-pools', '0.0.0.0/1')
  t.ok(sets.test('cali40all-ipam-pools', ip('100.1.1.1')), 'any containing net matches')
  sets.del('cali40all-ipam-pools', '0.0.0.0/1')
  t.notOk(sets.test('cali40all-ipam-pools', ip('100.1.1.1')))
  t.ok(sets.test('cali40ports', ip('198.19.21.4'), 6, 80))
  t.notOk(sets.test('cali40ports', ip('198.19.21.4'), 17, 80))
  t.ok(sets.test('both', ip('10.9.9.9')))
  t.throws(() => sets.add('cali40hosts', '198.19.0.1'), /already added/)
  t.doesNotThrow(() => sets.add('cali40hosts', '198.19.0.1', true))
  t.throws(() => sets.add('cali40hosts', 'nope'), /Syntax error/)
  // swap keeps references valid: rules compiled against the name see new contents
  const nf = new Netfilter(sets)
  nf.append('filter', 'INPUT', parseRuleSpec(tokenize('-m set --match-set cali40hosts src -j ACCEPT')))
  const c = ctx()
  t.equal(nf.traverse('filter', 'INPUT', pkt({ src: ip('198.19.0.2') }), c).rule?.spec.target?.t, 'ACCEPT')
  runIpset(sets, ['swap', 'cali40hosts', 'tmp'])
  t.equal(nf.traverse('filter', 'INPUT', pkt({ src: ip('198.19.0.2') }), c).rule, undefined)
  t.equal(nf.traverse('filter', 'INPUT', pkt({ src: ip('10.9.9.9') }), c).rule?.spec.target?.t, 'ACCEPT')
  t.throws(() => runIpset(sets, ['swap', 'cali40hosts', 'cali40ports']), /type does not match/)
  t.throws(() => sets.destroy('tmp'), /in use/, 'list:set member')
  t.throws(() => sets.destroy('cali40hosts'), /in use/, 'rule reference')
  t.equal(
    listIpSets(sets, 'cali40ports'),
    'Name: cali40ports\nType: hash:ip,port\nRevision: 5\nHeader: family inet hashsize 1024 maxelem 65536\nSize in memory: 296\nReferences: 0\nNumber of entries: 2\nMembers:\n198.19.21.4,tcp:80\n198.19.21.4,udp:53\n',
  )
  t.match(listIpSets(sets, 'cali40hosts'), /\nReferences: 2\nNumber of entries: 1\nMembers:\n10\.9\.9\.9\n$/)
})

t.test('REJECT builds the response packet', async (t) => {
  const v = new PacketView()
  const syn = buildTcp({
    src: ip('198.19.15.254'),
    dst: ip('198.19.0.1'),
    sport: 40000,
    dport: 22,
    seq: 100,
    flags: TCP_SYN,
  })
  const rst = rejectResponse(syn, 'tcp-reset')!
  parsePacket(rst, v)
  t.same(
    [v.src, v.dst, v.sport, v.dport, v.tcpFlags, v.ack],
    [ip('198.19.0.1'), ip('198.19.15.254'), 22, 40000, 0x14, 101],
  )
  const udp = buildUdp({ src: ip('198.19.16.5'), dst: ip('198.19.0.1'), sport: 5000, dport: 9 })
  const icmp = rejectResponse(udp, 'icmp-port-unreachable')!
  parsePacket(icmp, v)
  t.same([v.icmpType, v.icmpCode, v.dst], [3, 3, ip('198.19.16.5')])
})

t.test(
  'iptables-restore: noflush keeps other chains, errors name the line and apply nothing, counters carry over',
  async (t) => {
    const nf = kubeNf()
    nf.append('filter', 'INPUT', parseRuleSpec(tokenize('-j ACCEPT')))
    const c = ctx()
    nf.traverse('nat', 'PREROUTING', pkt({ src: ip('198.19.15.254'), dst: ip('198.19.0.1'), dport: 30180 }), c)
    const before = saveTables(nf, { tables: ['nat'], counters: true })
    t.throws(
      () =>
        iptablesRestore(nf, '*nat\n:KUBE-NODEPORTS - [0:0]\n-A KUBE-NODEPORTS -p tcp --dport 1 -j NOWHERE\nCOMMIT\n', {
          noflush: true,
        }),
      /line 3 failed/,
    )
    t.equal(saveTables(nf, { tables: ['nat'], counters: true }), before, 'failed block changed nothing')
    // Re-declaring a chain with the same rules keeps their counters.
    iptablesRestore(
      nf,
      '*nat\n:KUBE-NODEPORTS - [0:0]\n-A KUBE-NODEPORTS -p tcp -m comment --comment "yaobank/customer:http" -m tcp --dport 30180 -j KUBE-MARK-MASQ\n-A KUBE-NODEPORTS -p tcp -m comment --comment "yaobank/customer:http" -m tcp --dport 30180 -j KUBE-SVC-PX5FENG4GZJTCELT\nCOMMIT\n',
      { noflush: true },
    )
    t.equal(nf.chain('nat', 'KUBE-NODEPORTS')!.rules[1]!.pkts, 1)
    t.equal(nf.chain('filter', 'INPUT')!.rules.length, 1, 'other tables untouched')
    // Deleting a stale chain the kube-proxy way.
    iptablesRestore(
      nf,
      '*nat\n:KUBE-SVC-PX5FENG4GZJTCELT - [0:0]\n:KUBE-SEP-UBXKSM3V2OSEF4IL - [0:0]\n:KUBE-NODEPORTS - [0:0]\n-X KUBE-SVC-PX5FENG4GZJTCELT\n-X KUBE-SEP-UBXKSM3V2OSEF4IL\nCOMMIT\n',
      { noflush: true },
    )
    t.equal(nf.chain('nat', 'KUBE-SVC-PX5FENG4GZJTCELT'), undefined)
    // Flush mode replaces the whole table.
    iptablesRestore(nf, '*filter\n:INPUT DROP [0:0]\nCOMMIT\n')
    t.equal(nf.chain('filter', 'INPUT')!.rules.length, 0)
    t.equal(nf.chain('filter', 'INPUT')!.policy, 'DROP')
    const p = pkt({ ctstate: CT_NEW })
    t.equal(nf.traverse('filter', 'INPUT', p, c).verdict, 'DROP')
    nf.append('filter', 'INPUT', parseRuleSpec(tokenize('-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT')))
    t.equal(nf.traverse('filter', 'INPUT', pkt({ ctstate: CT_ESTABLISHED }), c).verdict, 'ACCEPT')
  },
)

t.test('physdev: parsed, printed as iptables does, and (no bridges here) only negated tests hold', (t) => {
  const nf = new Netfilter(new IpSetStore())
  const spec = ['-t', 'nat', '-A', 'PREROUTING', '-d', '198.19.48.10/32', '-p', 'tcp', '-m', 'tcp', '--dport', '80']
  t.equal(runIptables(nf, [...spec, '-m', 'physdev', '!', '--physdev-is-in', '-j', 'ACCEPT']).exitCode, 0)
  t.equal(runIptables(nf, [...spec, '-m', 'physdev', '--physdev-is-bridged', '-j', 'DROP']).exitCode, 0)
  const save = runIptables(nf, ['-t', 'nat', '-S', 'PREROUTING']).stdout
  t.match(save, /-m physdev ! --physdev-is-in -j ACCEPT/)
  t.match(save, /-m physdev --physdev-is-bridged -j DROP/)
  const list = runIptables(nf, ['-t', 'nat', '-L', 'PREROUTING', '-n']).stdout
  t.match(list, /PHYSDEV match ! --physdev-is-in/)
  const p = {
    ...emptyPacket(),
    src: parseIPv4('198.19.15.254'),
    dst: parseIPv4('198.19.48.10'),
    proto: 6,
    sport: 40000,
    dport: 80,
    iif: 'eth0',
  }
  const v = nf.traverse('nat', 'PREROUTING', p, { rng: seededRng(1), isLocal: () => false })
  t.equal(v.verdict, 'ACCEPT', 'the negated test holds; the bridged DROP never matches first')
  t.end()
})
