import t from 'tap'
import {
  IpSetStore,
  ipsetRestore,
  iptablesRestore,
  Netfilter,
  NetfilterError,
  runIptables,
  saveTables,
  tokenize,
} from '../src/core/netfilter/index.ts'
import { RuleLines } from '../src/core/netfilter/restore-line.ts'

// iptables-restore parses a `-A CHAIN -m comment --comment "VALUE" TAIL` line once per distinct
// TAIL: every other line must come out exactly as if it had been parsed on its own.

function fresh(): Netfilter {
  const sets = new IpSetStore()
  sets.create('s1', 'hash:net')
  return new Netfilter(sets)
}

/** The same lines applied one `iptables -t filter` command at a time (each parsed in full). */
function oneByOne(chains: readonly string[], lines: readonly string[]): string {
  const nf = fresh()
  for (const c of chains) runIptables(nf, ['-N', c])
  for (const l of lines) {
    const r = runIptables(nf, tokenize(l))
    if (r.exitCode !== 0) throw new Error(`${l}: ${r.stderr}`)
  }
  return saveTables(nf, { tables: ['filter'] })
}

function restored(chains: readonly string[], lines: readonly string[]): string {
  const nf = fresh()
  const text = `*filter\n${chains.map((c) => `:${c} - [0:0]\n`).join('')}${lines.join('\n')}\nCOMMIT\n`
  iptablesRestore(nf, text, { noflush: true })
  return saveTables(nf, { tables: ['filter'] })
}

t.test('lines sharing a tail get their own comment and the same matches and target', async (t) => {
  const chains = ['cali-a', 'cali-b', 'cali-c']
  const tails = [
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 -j RETURN',
    '-p tcp -m set --match-set s1 src -m multiport --dports 80,443 -j MARK --set-xmark 0x10000/0x10000',
    '-p udp --dport 53 -j cali-c',
    '-s 10.0.0.0/8 ! -d 10.1.0.0/16 -i cali+ -j DROP',
    '',
  ]
  const lines: string[] = []
  let n = 0
  for (let round = 0; round < 3; round++)
    for (const tail of tails)
      for (const c of ['cali-a', 'cali-b'])
        lines.push(`-A ${c} -m comment --comment "cali:h${n++}"${tail === '' ? '' : ` ${tail}`}`)
  const got = restored(chains, lines)
  t.equal(got, oneByOne(chains, lines))
  t.match(got, /-A cali-b -p tcp -m comment --comment "cali:h\d+" -m set --match-set s1 src/)
  const nf = fresh()
  iptablesRestore(
    nf,
    `*filter\n:cali-a - [0:0]\n:cali-c - [0:0]\n${lines.filter((l) => l.startsWith('-A cali-a')).join('\n')}\nCOMMIT\n`,
    {
      noflush: true,
    },
  )
  const rules = nf.chain('filter', 'cali-a')!.rules
  t.equal(rules.length, 18)
  t.same(
    rules.slice(0, 6).map((r) => (r.spec.matches[0]?.m === 'comment' ? r.spec.matches[0].comment : '')),
    ['cali:h0', 'cali:h2', 'cali:h4', 'cali:h6', 'cali:h8', 'cali:h10'],
  )
})

t.test('a tail that sets the leading comment itself is parsed line by line', async (t) => {
  // `--comment` with no `-m comment` of its own goes to the leading comment match: last wins.
  const chains = ['cali-a']
  const lines = [
    '-A cali-a -m comment --comment "x" --comment "x" -j ACCEPT',
    '-A cali-a -m comment --comment "y" --comment "x" -j ACCEPT',
    '-A cali-a -m comment --comment "z" --comment "x" -j ACCEPT',
  ]
  const got = restored(chains, lines)
  t.equal(got, oneByOne(chains, lines))
  t.equal(got.match(/--comment x -j ACCEPT/g)?.length, 3)
})

t.test('values and spacing outside the common shape take the full parser', async (t) => {
  const read = (l: string) => {
    const p = new RuleLines()
    return p.read(l, 0, l.length) ? { chain: p.chain, comment: p.comment, tail: p.tail } : undefined
  }
  t.same(read('-A c -m comment --comment "v" -j ACCEPT'), { chain: 'c', comment: 'v', tail: '-j ACCEPT' })
  t.same(read('-A c -m comment --comment ""'), { chain: 'c', comment: '', tail: '' })
  // In place, in a longer text, with the previous line's chain name reused.
  const p = new RuleLines()
  const text =
    '-A ab -m comment --comment "1" -j X\n-A ab -m comment --comment "2" -j Y\n-A abc -m comment --comment "3"'
  t.ok(p.read(text, 0, 35))
  t.same([p.chain, p.comment, p.tail], ['ab', '1', '-j X'])
  t.ok(p.read(text, 36, 71))
  t.same([p.chain, p.comment, p.tail], ['ab', '2', '-j Y'])
  t.ok(p.read(text, 72, text.length))
  t.same([p.chain, p.comment, p.tail], ['abc', '3', ''])
  t.notOk(p.read(text, 0, 20), 'the value runs past the end of the line')
  for (const l of [
    '-A c -m comment --comment "-v" -j ACCEPT', // would be read as an option
    '-A c -m comment --comment "a\\"b" -j ACCEPT', // escaped quote
    '-A c -m comment --comment "v"  -j ACCEPT', // two spaces
    '-A c -m comment --comment "v"x -j ACCEPT', // the token goes on after the quote
    '-A "c" -m comment --comment "v" -j ACCEPT',
    '-A  c -m comment --comment "v" -j ACCEPT',
    '-A -c -m comment --comment "v" -j ACCEPT',
    `-A c -m comment --comment "${'x'.repeat(256)}" -j ACCEPT`,
    '-I c -m comment --comment "v" -j ACCEPT',
    '-A c -m comment --comment v -j ACCEPT',
  ])
    t.equal(read(l), undefined, l)
  const chains = ['c']
  const lines = ['-A c -m comment --comment "it\'s" -j ACCEPT', '-A c -m comment --comment "it\'s 2" -j ACCEPT']
  t.equal(restored(chains, lines), oneByOne(chains, lines))
})

t.test('errors name the failing line whether or not its tail was seen before', async (t) => {
  // Lines 3 and 4 share the tail `-j ACCEPT`; line 5 fails.
  const head = '*filter\n:c - [0:0]\n-A c -m comment --comment "a" -j ACCEPT\n-A c -m comment --comment "b" -j ACCEPT\n'
  const cases: [string, RegExp][] = [
    ['-A c -m comment --comment "c" -j NOWHERE', /^iptables-restore: line 5 failed/],
    ['-A nochain -m comment --comment "c" -j ACCEPT', /^iptables-restore: line 5 failed/],
    [`-A c -m comment --comment "${'x'.repeat(256)}" -j ACCEPT`, /line 5 failed: COMMENT must be shorter/],
    ['-A c -m comment --comment "c" -j ACCEPT -A c', /line 5 failed: Cannot use more than one command/],
  ]
  for (const [line, want] of cases) {
    const nf = fresh()
    let err: unknown
    try {
      iptablesRestore(nf, `${head}${line}\nCOMMIT\n`, { noflush: true })
    } catch (e) {
      err = e
    }
    t.ok(err instanceof NetfilterError, line)
    t.match((err as Error).message, want, line)
    t.equal(nf.chain('filter', 'c'), undefined, 'nothing of the failing block applied')
  }
})

t.test('line numbers, skipped tables and CRLF line ends', async (t) => {
  const failure = (text: string, o: Parameters<typeof iptablesRestore>[2] = {}) => {
    try {
      iptablesRestore(fresh(), text, o)
    } catch (e) {
      return (e as Error).message
    }
    return ''
  }
  const nat = '*nat\n-A X -j Y\nbogus\nCOMMIT\n'
  const bad = '*filter\n:c - [0:0]\n-A c -m comment --comment "a" -j NOWHERE\nCOMMIT\n'
  t.match(failure(nat + bad, { table: 'filter', noflush: true }), /^iptables-restore: line 7 failed/)
  t.equal(
    failure('*filter\n:c - [0:0]\n-A c -m comment --comment "a" -j ACCEPT\n'),
    'iptables-restore: line 4 failed: COMMIT expected',
  )
  t.equal(failure('*filter\n:c - [0:0]\nCOMMIT'), '')
  const nf = fresh()
  iptablesRestore(
    nf,
    '*filter\r\n:c - [0:0]\r\n-A c -m comment --comment "a" -j ACCEPT\r\n-A c -m comment --comment "b" -j ACCEPT\r\nCOMMIT\r\n',
    { noflush: true },
  )
  t.same(
    nf.chain('filter', 'c')!.rules.map((r) => r.spec),
    [
      { matches: [{ m: 'comment', comment: 'a' }], target: { t: 'ACCEPT' } },
      { matches: [{ m: 'comment', comment: 'b' }], target: { t: 'ACCEPT' } },
    ],
  )
})

t.test('ipset restore errors keep their wording and line', async (t) => {
  const sets = new IpSetStore()
  const failure = (text: string) => {
    try {
      ipsetRestore(sets, text)
    } catch (e) {
      return (e as Error).message
    }
    return ''
  }
  t.equal(failure('create a hash:net family inet maxelem 2\nadd a 10.0.0.1\nadd a 10.0.0.2\n'), '')
  t.equal(
    failure('add a 10.0.0.1'),
    "ipset v7.5: Error in line 1: Element cannot be added to the set: it's already added",
  )
  t.equal(failure('\nadd a 10.0.0.3'), 'ipset v7.5: Error in line 2: Hash is full, cannot add more elements')
  t.equal(
    failure('del a 10.0.0.9'),
    "ipset v7.5: Error in line 1: Element cannot be deleted from the set: it's not added",
  )
  t.equal(failure('add a nope'), "ipset v7.5: Error in line 1: Syntax error: 'nope' is not a valid IPv4 address")
  t.equal(failure('add a'), "ipset v7.5: Error in line 1: Syntax error: command 'add' needs more arguments")
  t.equal(
    failure('create p hash:ip,port\nadd p 10.0.0.1,tcp:80\nadd p 10.0.0.1,tcp:80'),
    "ipset v7.5: Error in line 3: Element cannot be added to the set: it's already added",
  )
})
