/** Commands that read the kernel's tables: ip, iptables(-save), ipset, conntrack, tcpdump. */

import {
  compileFilter,
  conntrackSummary,
  formatConntrack,
  formatPacket,
  NetfilterError,
  runIpset,
  runIptables,
  saveTables,
  type TableName,
} from '@calilab/dataplane'
import type { Tool, ToolEnv, ToolIo } from './types.ts'

function needNetns(name: string, env: ToolEnv, io: ToolIo) {
  if (!env.netns) io.stderr(`${name}: network namespace not available (no kernel wired on this node)\n`)
  return env.netns
}

export const ip: Tool = async (argv, env, io) => {
  const ns = needNetns('ip', env, io)
  if (!ns) return 1
  const r = ns.ip(argv.slice(1))
  io.stdout(r.stdout)
  io.stderr(r.stderr)
  return r.code
}

export const iptables: Tool = async (argv, env, io) => {
  const ns = needNetns('iptables', env, io)
  if (!ns) return 1
  const r = runIptables(ns.nf, argv.slice(1))
  io.stdout(r.stdout)
  io.stderr(r.stderr)
  return r.exitCode
}

export const iptablesSave: Tool = async (argv, env, io) => {
  const ns = needNetns('iptables-save', env, io)
  if (!ns) return 1
  const t = argv.indexOf('-t')
  const table = t >= 0 ? argv[t + 1] : undefined
  const counters = argv.includes('-c')
  io.stdout(saveTables(ns.nf, table ? { counters, tables: [table as TableName] } : { counters }))
  return 0
}

export const ipset: Tool = async (argv, env, io) => {
  const ns = needNetns('ipset', env, io)
  if (!ns) return 1
  try {
    io.stdout(runIpset(ns.sets, argv.slice(1)))
    return 0
  } catch (e) {
    if (e instanceof NetfilterError) {
      io.stderr(`${e.message}\n`)
      return e.exitCode
    }
    throw e
  }
}

export const conntrack: Tool = async (argv, env, io) => {
  const ns = needNetns('conntrack', env, io)
  if (!ns) return 1
  const a = argv.slice(1)
  if (!a.includes('-L') && !a.includes('--dump') && !a.includes('-C')) {
    io.stderr('conntrack v1.4.6 (conntrack-tools): only -L (list) and -C (count) are emulated\n')
    return 1
  }
  const now = ns.host.clock.now()
  const text = formatConntrack(ns.conntrack, now)
  const n = text === '' ? 0 : text.split('\n').length - 1
  if (a.includes('-C')) {
    io.stdout(`${n}\n`)
    return 0
  }
  io.stdout(text)
  io.stderr(conntrackSummary(n))
  return 0
}

export const tcpdump: Tool = async (argv, env, io) => {
  const ns = needNetns('tcpdump', env, io)
  if (!ns) return 1
  let dev = 'eth0'
  let count = Infinity
  const filter: string[] = []
  const a = argv.slice(1)
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string
    if (x === '-i') dev = a[++i] ?? dev
    else if (x === '-c') count = Number(a[++i])
    else if (/^-[nvlqtSe]*i$/.test(x)) dev = a[++i] ?? dev
    else if (/^-[nvlqtSe]*i.+/.test(x)) dev = x.replace(/^-[nvlqtSe]*i/, '')
    else if (x.startsWith('-')) continue
    else filter.push(x)
  }
  const expr = filter.join(' ')
  if (expr) {
    const f = compileFilter(expr)
    if (!f.ok) {
      io.stderr(`tcpdump: ${f.message}\n`)
      return 1
    }
  }
  if (dev !== 'any' && !ns.link(dev)) {
    io.stderr(`tcpdump: ${dev}: No such device exists\n(SIOCGIFHWADDR: No such device)\n`)
    return 1
  }
  const linkType = dev === 'any' ? 'LINUX_SLL (Linux cooked v1)' : 'EN10MB (Ethernet)'
  io.stderr(
    `tcpdump: verbose output suppressed, use -v or -vv for full protocol decode\nlistening on ${dev}, link-type ${linkType}, capture size 262144 bytes\n`,
  )
  let seen = 0
  await new Promise<void>((resolve) => {
    const tap = ns.tap(
      dev,
      (pkt, timeMs) => {
        if (seen >= count) return
        seen++
        io.stdout(`${formatPacket(pkt, timeMs)}\n`)
        if (seen >= count) {
          tap.close()
          resolve()
        }
      },
      expr ? { filter: expr } : {},
    )
    io.signal.addEventListener(
      'abort',
      () => {
        tap.close()
        resolve()
      },
      { once: true },
    )
  })
  io.stderr(`\n${seen} packets captured\n${seen} packets received by filter\n0 packets dropped by kernel\n`)
  return 0
}
