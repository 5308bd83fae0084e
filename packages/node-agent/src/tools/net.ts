/** Commands that read the kernel's tables: ip, iptables(-save), ipset, conntrack (tcpdump: tcpdump.ts). */

import {
  conntrackSummary,
  formatConntrack,
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
