/** iputils ping: ping [-c N] [-W s] [-i s] host — per-reply lines and the statistics summary. */

import { sockets } from './curl.ts'
import { resolveHost } from './resolver.ts'
import { sleep, type Tool } from './types.ts'

export const ping: Tool = async (argv, env, io) => {
  let count = Infinity
  let timeoutS = 1
  let intervalS = 1
  let host: string | undefined
  const a = argv.slice(1)
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string
    if (x === '-c') count = Number(a[++i])
    else if (/^-c\d+$/.test(x)) count = Number(x.slice(2))
    else if (x === '-W') timeoutS = Number(a[++i])
    else if (x === '-i') intervalS = Number(a[++i])
    else if (x.startsWith('-')) continue
    else host = x
  }
  if (!host) {
    io.stderr('ping: usage error: Destination address required\n')
    return 2
  }
  const net = sockets(env)
  if (!net?.ping) {
    io.stderr('ping: connect: Network is unreachable\n')
    return 2
  }
  const r = await resolveHost(net, env, host)
  if (!r.ok) {
    io.stderr(
      `ping: ${host}: ${r.reason === 'NXDOMAIN' ? 'Name or service not known' : 'Temporary failure in name resolution'}\n`,
    )
    return 2
  }
  io.stdout(`PING ${host} (${r.ip}) 56(84) bytes of data.\n`)
  const started = env.clock.monotonic()
  const rtts: number[] = []
  let sent = 0
  let errors = 0
  for (let seq = 1; seq <= count && !io.signal.aborted; seq++) {
    if (seq > 1) {
      try {
        await sleep(env, intervalS * 1000, io.signal)
      } catch {
        break
      }
    }
    sent++
    const res = await net.ping(r.ip, { count: 1, timeoutMs: timeoutS * 1000 })
    const rep = res.replies[0]
    const err = res.errors[0]
    if (rep) {
      rtts.push(rep.rttMs)
      const from = `${rep.from >>> 24}.${(rep.from >>> 16) & 255}.${(rep.from >>> 8) & 255}.${rep.from & 255}`
      io.stdout(`${rep.bytes} bytes from ${from}: icmp_seq=${seq} ttl=${rep.ttl} time=${fmtRtt(rep.rttMs)} ms\n`)
    } else if (err) {
      errors++
      const from = `${err.from >>> 24}.${(err.from >>> 16) & 255}.${(err.from >>> 8) & 255}.${err.from & 255}`
      io.stdout(
        `From ${from} icmp_seq=${seq} Destination ${err.code === 1 ? 'Host' : err.code === 3 ? 'Port' : 'Net'} Unreachable\n`,
      )
    }
  }
  const elapsed = Math.round(env.clock.monotonic() - started)
  const recv = rtts.length
  const loss = sent === 0 ? 0 : Math.round(((sent - recv) / sent) * 100)
  io.stdout(`\n--- ${host} ping statistics ---\n`)
  io.stdout(
    `${sent} packets transmitted, ${recv} received, ${errors ? `+${errors} errors, ` : ''}${loss}% packet loss, time ${elapsed}ms\n`,
  )
  if (recv > 0) {
    const min = Math.min(...rtts)
    const max = Math.max(...rtts)
    const avg = rtts.reduce((x, y) => x + y, 0) / recv
    const mdev = Math.sqrt(rtts.reduce((x, y) => x + (y - avg) ** 2, 0) / recv)
    io.stdout(`rtt min/avg/max/mdev = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)}/${mdev.toFixed(3)} ms\n`)
  }
  io.stdout('')
  return recv > 0 ? 0 : 1
}

function fmtRtt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)
}
