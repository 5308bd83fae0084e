import t from 'tap'
import {
  cellKey,
  diffMatrix,
  formatMatrix,
  normalizePort,
  type ProbeMatrix,
  parseProbeFile,
  parseTruthTable,
  type TruthTable,
} from '../src/commands/probe.ts'
import { parseDestination } from '../src/commands/trace.ts'

t.test('ports and destinations', async (t) => {
  t.equal(normalizePort('2379'), '2379/TCP')
  t.equal(normalizePort('53/udp'), '53/UDP')
  t.equal(normalizePort('icmp'), 'ICMP')
  t.throws(() => normalizePort('70000'), /PORT 1-65535/)
  t.throws(() => normalizePort('80/sctp'), /PROTO tcp or udp/)
  t.same(parseDestination('database:2379'), { ref: 'database', port: 2379, proto: 'tcp' })
  t.same(parseDestination('deploy/dns:53/UDP'), { ref: 'deploy/dns', port: 53, proto: 'udp' })
  t.same(parseDestination('198.19.0.1/icmp'), { ref: '198.19.0.1', port: 0, proto: 'icmp' })
  t.throws(() => parseDestination('database'), /want TO:PORT/)
})

t.test('truth tables parse, and reject what is not one', async (t) => {
  const tt = parseTruthTable(`
    -        customer database
    customer .        X
    # a comment
    summary  .        .
  `)
  t.same(
    [...tt],
    [
      [cellKey('customer', 'customer'), true],
      [cellKey('customer', 'database'), false],
      [cellKey('summary', 'customer'), true],
      [cellKey('summary', 'database'), true],
    ],
  )
  t.throws(() => parseTruthTable('- a b\nx . X .'), /3 cells for 2 columns/)
  t.throws(() => parseTruthTable('- a\nx ?'), /must be \. \(reachable\) or X/)
  t.throws(() => parseTruthTable(''), /no header/)
})

function matrix(): ProbeMatrix {
  const from = ['customer', 'summary']
  const to = ['customer', 'database']
  const p2379: TruthTable = new Map([
    [cellKey('customer', 'customer'), true],
    [cellKey('customer', 'database'), true],
    [cellKey('summary', 'customer'), true],
    [cellKey('summary', 'database'), true],
  ])
  const p53: TruthTable = new Map([
    [cellKey('customer', 'customer'), false],
    [cellKey('customer', 'database'), false],
    [cellKey('summary', 'customer'), false],
  ])
  return {
    from,
    to,
    ports: ['2379/TCP', '53/UDP'],
    results: new Map([
      ['2379/TCP', p2379],
      ['53/UDP', p53],
    ]),
  }
}

t.test('the truth table prints like the upstream tests; no expectation, no marks', async (t) => {
  t.equal(
    formatMatrix(matrix()),
    [
      '2379/TCP',
      '-         customer  database',
      'customer  .         .',
      'summary   .         .',
      '',
      '53/UDP',
      '-         customer  database',
      'customer  X         X',
      'summary   X         ?',
      '',
      '',
    ].join('\n'),
  )
})

t.test('cells that differ from the expected table are marked and counted', async (t) => {
  const expected = new Map([
    ['2379/TCP', parseTruthTable('- customer database\ncustomer . X\nsummary . .')],
    ['53/UDP', parseTruthTable('- customer database\ncustomer X X\nsummary X X')],
  ])
  const m = matrix()
  const d = diffMatrix(m, expected)
  t.equal(d.cells, 8)
  t.same(d.differ, [
    { port: '2379/TCP', from: 'customer', to: 'database', expected: false, actual: true },
    { port: '53/UDP', from: 'summary', to: 'database', expected: false, actual: undefined },
  ])
  const text = formatMatrix(m, expected)
  t.match(text, 'customer  .         .!\n')
  t.match(text, 'summary   X         ?!\n')
  t.match(text, '2 of 8 cells differ from the expected tables (marked !)\n')
  const ok = new Map([['2379/TCP', parseTruthTable('- customer database\ncustomer . .\nsummary . .')]])
  t.equal(diffMatrix(m, ok).differ.length, 0)
  t.match(formatMatrix(m, ok), 'all 4 cells match the expected tables')
  t.notMatch(formatMatrix(m, ok), '!')
})

t.test('probe files', async (t) => {
  const s = parseProbeFile(`
namespace: yaobank
from: [customer, summary]
ports: [2379/TCP, 80]
timeoutMs: 500
expected:
  2379/TCP: |
    -        customer
    customer .
`)
  t.equal(s.namespace, 'yaobank')
  t.same(s.from, ['customer', 'summary'])
  t.same(s.to, [])
  t.same(s.ports, ['2379/TCP', '80'])
  t.equal(s.timeoutMs, 500)
  t.match(s.expected?.['2379/TCP'], /customer \./)
  t.throws(() => parseProbeFile('from: customer'), /from must be a list/)
})
