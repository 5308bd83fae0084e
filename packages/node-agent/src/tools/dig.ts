/** dig 9.16 (Ubuntu 20.04's): dig [@server] name [type] [+short] [+timeout=N] [+tries=N]. */

import type dnsPacket from 'dns-packet'
import { sockets } from './curl.ts'
import { dnsQuery } from './resolver.ts'
import { parseResolvConf, type Tool } from './types.ts'

export const dig: Tool = async (argv, env, io) => {
  let server: string | undefined
  let name: string | undefined
  let type: 'A' | 'AAAA' = 'A'
  let short = false
  let timeoutS = 5
  let tries = 3
  for (const x of argv.slice(1)) {
    if (x.startsWith('@')) server = x.slice(1)
    else if (x === '+short') short = true
    else if (x.startsWith('+timeout=')) timeoutS = Number(x.slice(9)) || 5
    else if (x.startsWith('+tries=')) tries = Number(x.slice(7)) || 1
    else if (x.startsWith('+retry=')) tries = (Number(x.slice(7)) || 0) + 1
    else if (x.startsWith('+') || x.startsWith('-')) continue
    else if (x.toUpperCase() === 'A' || x.toUpperCase() === 'AAAA') type = x.toUpperCase() as 'A' | 'AAAA'
    else name = x
  }
  const rc = parseResolvConf(env.files['/etc/resolv.conf'] ?? '')
  server ??= rc.nameservers[0] ?? '127.0.0.53'
  const qname = name ?? '.'
  const fq = qname.endsWith('.') ? qname : `${qname}.`
  if (!short) io.stdout(`\n; <<>> DiG 9.16.1-Ubuntu <<>> ${argv.slice(1).join(' ')}\n;; global options: +cmd\n`)
  const net = sockets(env)
  let r: Awaited<ReturnType<typeof dnsQuery>> = { ok: false, reason: 'TIMEOUT' }
  if (net) {
    for (let i = 0; i < tries && !io.signal.aborted; i++) {
      r = await dnsQuery(net, env, server, qname.replace(/\.$/, '') || '.', type, timeoutS * 1000)
      if (r.ok) break
    }
  }
  if (!r.ok) {
    io.stdout(';; connection timed out; no servers could be reached\n')
    return 9
  }
  const answers = r.answers.filter(
    (a): a is dnsPacket.StringAnswer => a.type === 'A' || a.type === 'AAAA' || a.type === 'CNAME',
  )
  if (short) {
    io.stdout(answers.map((a) => `${a.data}\n`).join(''))
    return 0
  }
  const flags = ['qr', 'aa', 'rd', 'ra'].filter((f) =>
    f === 'qr' ? true : f === 'aa' ? r.ok && r.flags & 0x0400 : f === 'rd' ? true : r.ok && r.flags & 0x0080,
  )
  const lines = [
    ';; Got answer:',
    `;; ->>HEADER<<- opcode: QUERY, status: ${r.rcode}, id: ${r.id}`,
    `;; flags: ${flags.join(' ')}; QUERY: 1, ANSWER: ${answers.length}, AUTHORITY: 0, ADDITIONAL: 1`,
    '',
    ';; OPT PSEUDOSECTION:',
    '; EDNS: version: 0, flags:; udp: 4096',
    ';; QUESTION SECTION:',
    `;${fq}\t\t\tIN\t${type}`,
    '',
  ]
  if (answers.length > 0) {
    lines.push(';; ANSWER SECTION:')
    for (const a of answers) lines.push(`${a.name}.\t\t${a.ttl ?? 30}\tIN\t${a.type}\t${a.data}`)
    lines.push('')
  }
  const when = new Date(env.clock.now()).toUTCString()
  lines.push(
    `;; Query time: ${r.ms} msec`,
    `;; SERVER: ${server}#53(${server})`,
    `;; WHEN: ${when.replace(/^(\w+), (\d+) (\w+) (\d+) (\S+) GMT$/, '$1 $3 $2 $5 UTC $4')}`,
    `;; MSG SIZE  rcvd: ${r.size}`,
    '',
    '',
  )
  io.stdout(lines.join('\n'))
  return 0
}
