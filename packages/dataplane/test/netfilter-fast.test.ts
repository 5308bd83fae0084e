/**
 * The fast paths of the netfilter model against plain references:
 * - the walk cache (cached traversals vs full walks: same verdicts, marks, logs and counters on
 *   random rule sets, packets, rule changes and IP set changes);
 * - rules compiled to inline fields (Rule.test) vs the closure conjunction (compileMatch);
 * - the slicing tokenizer vs the character-by-character one it replaced.
 * Random tests log their seed; replay one with NF_SEED=<n>.
 */
import { type Rng, seededRng } from '@calilab/kit'
import t from 'tap'
import {
  compileMatch,
  type EvalContext,
  emptyPacket,
  IpSetStore,
  iptablesRestore,
  Netfilter,
  type NfPacket,
  parseRuleSpec,
  runIpset,
  runIptables,
  saveTables,
  tokenize,
  Verdict,
} from '../src/core/netfilter/index.ts'

const SEED = Number(process.env['NF_SEED'] ?? Math.floor(Math.random() * 2 ** 31))

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[Math.floor(r.next() * xs.length)]!
}

const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.1.7', '192.168.3.4', '198.19.0.1']
const IFACES = ['eth0', 'cali1234', 'cali9999', 'tunl0', '']
const SETS = ['s-ip', 's-net', 's-port']

/** One random rule's spec text (without -A CHAIN); `chains` are possible jump targets. */
function randomRule(r: Rng, chains: readonly string[]): string {
  const parts: string[] = []
  const proto = pick(r, ['', '', 'tcp', 'udp', 'icmp', '! tcp'])
  if (proto) parts.push(proto.startsWith('!') ? `! -p ${proto.slice(2)}` : `-p ${proto}`)
  if (r.next() < 0.3) parts.push(`${r.next() < 0.2 ? '! ' : ''}-s ${pick(r, ADDRS)}/${pick(r, [8, 16, 24, 32])}`)
  if (r.next() < 0.3) parts.push(`${r.next() < 0.2 ? '! ' : ''}-d ${pick(r, ADDRS)}/${pick(r, [0, 16, 32])}`)
  if (r.next() < 0.3) parts.push(`${r.next() < 0.2 ? '! ' : ''}-i ${pick(r, ['cali+', 'eth0', 'tunl0', '+'])}`)
  if (r.next() < 0.2) parts.push(`${r.next() < 0.2 ? '! ' : ''}-o ${pick(r, ['cali+', 'eth0', 'cali1234'])}`)
  if (proto === 'tcp' || proto === 'udp') {
    if (r.next() < 0.4)
      parts.push(`-m ${proto} ${r.next() < 0.2 ? '! ' : ''}--dport ${pick(r, ['80', '443', '1000:2000'])}`)
    if (r.next() < 0.2) parts.push(`-m ${proto} --sport ${pick(r, ['1024:65535', '5000'])}`)
    if (r.next() < 0.3) parts.push(`-m multiport --dports ${pick(r, ['80', '80,443', '8000:8100,22'])}`)
    if (proto === 'tcp' && r.next() < 0.2) parts.push('-m tcp --syn')
  }
  if (proto === 'icmp' && r.next() < 0.5) parts.push(`-m icmp --icmp-type ${pick(r, ['echo-request', '3/3', 'any'])}`)
  if (r.next() < 0.3)
    parts.push(`-m mark ${r.next() < 0.3 ? '! ' : ''}--mark ${pick(r, ['0x10000/0x10000', '0x0/0x20000', '0x1'])}`)
  if (r.next() < 0.25)
    parts.push(
      `-m conntrack ${r.next() < 0.2 ? '! ' : ''}--ctstate ${pick(r, ['NEW', 'ESTABLISHED,RELATED', 'INVALID', 'DNAT'])}`,
    )
  if (r.next() < 0.2) {
    const s = pick(r, SETS)
    parts.push(
      `-m set ${r.next() < 0.2 ? '! ' : ''}--match-set ${s} ${s === 's-port' ? 'dst,dst' : pick(r, ['src', 'dst'])}`,
    )
  }
  if (r.next() < 0.05) parts.push('-m statistic --mode random --probability 0.5')
  if (r.next() < 0.05) parts.push(`-m addrtype --dst-type ${pick(r, ['LOCAL', 'UNICAST'])}`)
  if (r.next() < 0.2) parts.push(`-m comment --comment "c${Math.floor(r.next() * 100)}"`)
  const tg = r.next()
  if (tg < 0.15) parts.push(`-j ${pick(r, ['ACCEPT', 'DROP', 'RETURN'])}`)
  else if (tg < 0.2) parts.push(proto === 'tcp' ? '-j REJECT --reject-with tcp-reset' : '-j REJECT')
  else if (tg < 0.4) parts.push(`-j MARK --set-xmark ${pick(r, ['0x10000/0x10000', '0x0/0x30000', '0x20000/0x20000'])}`)
  else if (tg < 0.45) parts.push(`-j LOG --log-prefix "p${Math.floor(r.next() * 10)} "`)
  else if (tg < 0.7 && chains.length) parts.push(`${r.next() < 0.2 ? '-g' : '-j'} ${pick(r, chains)}`)
  // else: no target (counters only)
  return parts.join(' ')
}

/** A random filter table: FORWARD plus user chains u0..u(n-1) that jump only to later ones (no loops). */
function randomTable(r: Rng, nChains: number, rulesPer: number): string {
  const names = Array.from({ length: nChains }, (_, i) => `u${i}`)
  const lines = ['*filter', ':FORWARD DROP [0:0]', ...names.map((n) => `:${n} - [0:0]`)]
  for (let k = 0; k < rulesPer; k++) lines.push(`-A FORWARD ${randomRule(r, names)}`)
  names.forEach((n, i) => {
    const later = names.slice(i + 1)
    for (let k = 0; k < rulesPer; k++) lines.push(`-A ${n} ${randomRule(r, later)}`)
  })
  lines.push('COMMIT', '')
  return lines.join('\n')
}

function setup(text: string): { nf: Netfilter; sets: IpSetStore } {
  const sets = new IpSetStore()
  runIpset(sets, ['create', 's-ip', 'hash:ip'])
  runIpset(sets, ['create', 's-net', 'hash:net'])
  runIpset(sets, ['create', 's-port', 'hash:ip,port'])
  runIpset(sets, ['add', 's-ip', '10.0.0.1'])
  runIpset(sets, ['add', 's-net', '10.0.1.0/24'])
  runIpset(sets, ['add', 's-port', '10.0.0.2,tcp:80'])
  const nf = new Netfilter(sets)
  iptablesRestore(nf, text)
  return { nf, sets }
}

/** A packet pool small enough that many packets repeat (cache hits), with fields rules do not read varying. */
function randomPacket(r: Rng): NfPacket {
  const proto = pick(r, [6, 6, 17, 1])
  return {
    ...emptyPacket(),
    src: parseAddr(pick(r, ADDRS)),
    dst: parseAddr(pick(r, ADDRS)),
    proto,
    sport: proto === 1 ? 0 : pick(r, [5000, 40000, 40001]),
    dport: proto === 1 ? 0 : pick(r, [80, 443, 1500, 22]),
    icmpType: proto === 1 ? pick(r, [8, 3]) : -1,
    icmpCode: proto === 1 ? pick(r, [0, 3]) : -1,
    tcpFlags: proto === 6 ? pick(r, [0x02, 0x10]) : 0,
    len: 40 + Math.floor(r.next() * 1400),
    iif: pick(r, IFACES),
    oif: pick(r, IFACES),
    mark: pick(r, [0, 0x10000, 0x20000]),
    ctstate: pick(r, [2, 8, 2 | 64]),
  }
}

function parseAddr(s: string): number {
  const [a, b, c, d] = s.split('.').map(Number) as [number, number, number, number]
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

function ctxFor(seed: number): EvalContext {
  const local = parseAddr('198.19.0.1')
  return { rng: seededRng(seed), isLocal: (a) => a === local }
}

function sameVerdict(a: Verdict, b: Verdict): boolean {
  return (
    a.verdict === b.verdict &&
    a.rejectWith === b.rejectWith &&
    a.nat === b.nat &&
    a.notrack === b.notrack &&
    a.rule?.key === b.rule?.key &&
    JSON.stringify(a.logs) === JSON.stringify(b.logs)
  )
}

t.test(`walk cache: cached traversals equal full walks (seed ${SEED})`, async (t) => {
  const r = seededRng(SEED)
  let checked = 0
  let hits = 0
  for (let round = 0; round < 12; round++) {
    const text = randomTable(r, 2 + Math.floor(r.next() * 5), 3 + Math.floor(r.next() * 12))
    const cached = setup(text)
    cached.nf.minCachedWalk = 0
    const plain = setup(text)
    plain.nf.cacheWalks = false
    const pool = Array.from({ length: 40 }, () => randomPacket(r))
    // Same rng seed on both sides: a walk through -m statistic must draw the same numbers.
    const ca = ctxFor(round)
    const cb = ctxFor(round)
    const va = new Verdict()
    const vb = new Verdict()
    for (let k = 0; k < 600; k++) {
      const ev = r.next()
      if (ev < 0.01) {
        // A rule change on both sides.
        const chain = pick(r, ['FORWARD', 'u0', 'u1'])
        const spec = randomRule(r, [])
        for (const s of [cached, plain]) runIptables(s.nf, ['-I', chain, '1', ...tokenizeRule(spec)])
      } else if (ev < 0.02) {
        const entry = pick(r, ['10.0.0.2', '10.0.0.1', '192.168.3.4'])
        const op = pick(r, ['add', 'del'])
        for (const s of [cached, plain]) runIpset(s.sets, [op, 's-ip', entry, '-exist'])
      }
      const p = { ...pick(r, pool), len: 40 + Math.floor(r.next() * 1400) }
      const q = { ...p }
      cached.nf.traverse('filter', 'FORWARD', p, ca, va)
      plain.nf.traverse('filter', 'FORWARD', q, cb, vb)
      checked++
      if (!sameVerdict(va, vb) || p.mark !== q.mark) {
        t.fail(
          `round ${round} packet ${k}: ${JSON.stringify(q)} cached ${va.verdict}/${p.mark} plain ${vb.verdict}/${q.mark}`,
        )
        t.comment(text)
        return
      }
    }
    hits += cached.nf.walkCache.hits
    t.equal(
      saveTables(cached.nf, { counters: true }),
      saveTables(plain.nf, { counters: true }),
      `round ${round}: every rule and policy counter the same`,
    )
  }
  t.ok(hits > checked / 10, `the cache served a good share of the walks (${hits} of ${checked})`)
})

function tokenizeRule(spec: string): string[] {
  return tokenize(spec)
}

t.test('walk cache: tracing walks bypass it, and a cached walk replays MARK, LOG and counters', async (t) => {
  const { nf } = setup(
    [
      '*filter',
      ':FORWARD ACCEPT [0:0]',
      ':pol - [0:0]',
      ...Array.from({ length: 30 }, (_, i) => `-A FORWARD -p udp -m multiport --dports ${1000 + i} -j DROP`),
      '-A FORWARD -j MARK --set-xmark 0x10000/0x10000',
      '-A FORWARD -j LOG --log-prefix "seen "',
      '-A FORWARD -j pol',
      '-A pol -m mark --mark 0x10000/0x10000 -j MARK --set-xmark 0x0/0x10000',
      '-A pol -p tcp --dport 80 -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
  )
  const c = ctxFor(1)
  const p = { ...emptyPacket(), proto: 6, dport: 80, sport: 1, len: 100, mark: 0x4 }
  const v1 = nf.traverse('filter', 'FORWARD', { ...p }, c)
  const q = { ...p, sport: 2 }
  const v2 = nf.traverse('filter', 'FORWARD', q, c)
  t.equal(nf.walkCache.hits, 1, 'the second SYN-like packet (other source port, not read by any rule) hit')
  t.equal(v2.verdict, 'ACCEPT')
  t.equal(v2.rule, v1.rule)
  t.equal(q.mark, 0x4, 'MARK set and cleared: the mark is as a walk leaves it')
  t.same(v2.logs, [{ prefix: 'seen ', level: 4, chain: 'FORWARD' }])
  t.not(v2.logs, v1.logs, 'log entries are fresh objects')
  const trace: NonNullable<EvalContext['trace']> = []
  nf.traverse('filter', 'FORWARD', { ...p, sport: 3 }, { ...c, trace })
  t.equal(nf.walkCache.hits, 1, 'a traced walk is walked')
  t.ok(trace.length > 0)
  t.match(saveTables(nf, { counters: true }), /\[3:300\] -A pol -p tcp -m tcp --dport 80 -j ACCEPT/)
  runIptables(nf, ['-I', 'pol', '1', '-p', 'tcp', '-j', 'DROP'])
  t.equal(nf.traverse('filter', 'FORWARD', { ...p, sport: 4 }, c).verdict, 'DROP', 'a rule change empties the cache')
})

t.test(`compiled rules (inline fields) match exactly when the closure conjunction does (seed ${SEED})`, async (t) => {
  const r = seededRng(SEED + 1)
  const { nf, sets } = setup('*filter\n:u0 - [0:0]\nCOMMIT\n')
  let n = 0
  for (let k = 0; k < 400; k++) {
    const spec = parseRuleSpec(tokenize(randomRule(r, ['u0'])))
    if (spec.matches.some((m) => m.m === 'statistic')) continue
    const rule = nf.compileRule(spec)
    const ref = compileMatch(spec, { sets })
    for (let j = 0; j < 50; j++) {
      const p = randomPacket(r)
      const c = ctxFor(j)
      if (rule.test(p, c) !== ref(p, c)) {
        t.fail(`${JSON.stringify(spec)} on ${JSON.stringify(p)}`)
        return
      }
      n++
    }
  }
  t.ok(n > 10000, `${n} rule/packet pairs agree`)
})

/** The tokenizer before it sliced runs out of the line (reference). */
function tokenizeRef(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let inTok = false
  let quote: '"' | "'" | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote) {
      if (c === quote) quote = undefined
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i]
      else cur += c
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      inTok = true
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i]
      inTok = true
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inTok) out.push(cur)
      cur = ''
      inTok = false
    } else {
      cur += c
      inTok = true
    }
  }
  if (quote) throw new SyntaxError(`unterminated quoted string in: ${line}`)
  if (inTok) out.push(cur)
  return out
}

t.test(`tokenize equals the character-by-character reference (seed ${SEED})`, async (t) => {
  const r = seededRng(SEED + 2)
  const alphabet = ['a', 'b', '-', ' ', ' ', '\t', '"', "'", '\\', 'x', ':', '\r']
  for (let k = 0; k < 20000; k++) {
    const len = Math.floor(r.next() * 14)
    let s = ''
    for (let i = 0; i < len; i++) s += pick(r, alphabet)
    let want: string[] | string
    let got: string[] | string
    try {
      want = tokenizeRef(s)
    } catch (e) {
      want = (e as Error).message
    }
    try {
      got = tokenize(s)
    } catch (e) {
      got = (e as Error).message
    }
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.fail(`${JSON.stringify(s)}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`)
      return
    }
  }
  t.same(tokenize(`-A X -m comment --comment "cali:a\\"b c" -j 'Y Z'`), [
    '-A',
    'X',
    '-m',
    'comment',
    '--comment',
    'cali:a"b c',
    '-j',
    'Y Z',
  ])
})
