/**
 * The emulated `ip` command: `ip [-c] [-o] addr|link [show [up] [dev X]]`, `ip route [show]`,
 * `ip route get ADDR`, `ip neigh`. Formats follow iproute2 (fields end with a space where
 * iproute2's print functions put one).
 */
import { formatIPv4, tryParseIPv4 } from '@calilab/model'
import type { CmdResult, LinkInfo } from './api.ts'
import type { NetnsImpl } from './netns.ts'
import { formatRoute } from './routes.ts'

function flags(l: LinkInfo): string {
  const f: string[] = []
  if (l.kind === 'loopback') f.push('LOOPBACK')
  else if (l.kind === 'ipip' || l.kind === 'wireguard') f.push('POINTOPOINT', 'NOARP')
  else f.push('BROADCAST', 'MULTICAST')
  if (l.up) f.push('UP')
  if (l.up && l.operState !== 'DOWN' && l.operState !== 'LOWERLAYERDOWN') f.push('LOWER_UP')
  if (l.kind === 'ipip') return `<${['NOARP', ...(l.up ? ['UP', 'LOWER_UP'] : [])].join(',')}>`
  return `<${f.join(',')}>`
}

function linkName(l: LinkInfo): string {
  if (l.kind === 'ipip') return `${l.name}@NONE`
  if (l.kind === 'veth' && l.peerIfindex !== undefined) return `${l.name}@if${l.peerIfindex}`
  return l.name
}

function qdisc(l: LinkInfo): string {
  return l.kind === 'ethernet' ? 'fq_codel' : l.up || l.kind !== 'ipip' ? 'noqueue' : 'noop'
}

function qlen(l: LinkInfo): number {
  return l.kind === 'loopback' || l.kind === 'ethernet' || l.kind === 'ipip' ? 1000 : 0
}

function headLine(l: LinkInfo, withMode: boolean): string {
  let s = `${l.ifindex}: ${linkName(l)}: ${flags(l)} mtu ${l.mtu} qdisc ${qdisc(l)} state ${l.operState} `
  if (withMode) s += 'mode DEFAULT '
  s += 'group default '
  const q = qlen(l)
  if (q) s += `qlen ${q}`
  return s
}

function linkLine(l: LinkInfo): string {
  if (l.kind === 'loopback') return '    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00'
  if (l.kind === 'ipip') return '    link/ipip 0.0.0.0 brd 0.0.0.0'
  if (l.kind === 'wireguard') return '    link/none '
  let s = `    link/ether ${l.mac} brd ff:ff:ff:ff:ff:ff`
  if (l.linkNetnsid !== undefined) s += ` link-netnsid ${l.linkNetnsid}`
  return s
}

function parseOpts(argv: readonly string[]): { args: string[]; oneline: boolean } {
  const args: string[] = []
  let oneline = false
  for (const a of argv) {
    if (a === '-c' || a === '-color' || a === '--color' || a.startsWith('-c=') || a.startsWith('--color=')) continue
    if (a === '-4') continue
    if (a === '-o' || a === '-oneline') {
      oneline = true
      continue
    }
    args.push(a)
  }
  return { args, oneline }
}

function ok(stdout: string): CmdResult {
  return { stdout, stderr: '', code: 0 }
}

function fail(stderr: string, code = 1): CmdResult {
  return { stdout: '', stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n`, code }
}

const ADDR_WORDS = ['address', 'addr', 'a', 'ad', 'add', 'addre', 'addres']
const LINK_WORDS = ['link', 'l', 'li', 'lin']
const ROUTE_WORDS = ['route', 'r', 'ro', 'rou', 'rout']
const NEIGH_WORDS = ['neighbour', 'neighbor', 'neigh', 'n', 'ne', 'nei']

export function runIp(ns: NetnsImpl, argv: readonly string[]): CmdResult {
  const { args } = parseOpts(argv)
  const obj = args[0] ?? ''
  const rest = args.slice(1)
  if (ADDR_WORDS.includes(obj)) return showLinks(ns, rest, true)
  if (LINK_WORDS.includes(obj)) return showLinks(ns, rest, false)
  if (ROUTE_WORDS.includes(obj)) return route(ns, rest)
  if (NEIGH_WORDS.includes(obj)) return ok('')
  if (obj === 'rule' || obj === 'ru') return ok(ruleLines(ns))
  if (obj === '') return fail('Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }', 255)
  return fail(`Object "${obj}" is unknown, try "ip help".`, 255)
}

function showLinks(ns: NetnsImpl, rest: string[], withAddrs: boolean): CmdResult {
  let upOnly = false
  let dev: string | undefined
  const words = rest[0] === 'show' || rest[0] === 'list' || rest[0] === 'ls' ? rest.slice(1) : rest
  if (rest[0] !== undefined && !['show', 'list', 'ls', 'up', 'dev'].includes(rest[0]) && !ns.linkMap.has(rest[0]))
    return fail(`Command "${rest[0]}" is unknown, try "ip ${withAddrs ? 'address' : 'link'} help".`, 255)
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    if (w === 'up') upOnly = true
    else if (w === 'dev') dev = words[++i]
    else dev = w
  }
  if (dev !== undefined && !ns.linkMap.has(dev)) return fail(`Device "${dev}" does not exist.`)
  let out = ''
  for (const l of ns.links()) {
    if (upOnly && !l.up) continue
    if (dev !== undefined && l.name !== dev) continue
    out += `${headLine(l, !withAddrs)}\n${linkLine(l)}\n`
    if (!withAddrs) continue
    for (const a of ns.addrList) {
      if (a.ifindex !== l.ifindex) continue
      let s = `    inet ${formatIPv4(a.ip)}/${a.prefix} `
      if (a.prefix < 31 && l.kind !== 'loopback') {
        const brd = (a.ip | (0xffffffff >>> a.prefix)) >>> 0
        s += `brd ${formatIPv4(brd)} `
      }
      s += `scope ${a.scope} ${a.label}`
      out += `${s}\n       valid_lft forever preferred_lft forever\n`
    }
  }
  return ok(out)
}

function route(ns: NetnsImpl, rest: string[]): CmdResult {
  const cmd = rest[0] ?? 'show'
  if (cmd === 'get') {
    const target = rest[1] === 'to' ? rest[2] : rest[1]
    const ip = target === undefined ? undefined : tryParseIPv4(target)
    if (ip === undefined) return fail(`Error: any valid prefix is expected rather than "${target ?? ''}".`)
    if (ns.isLocal(ip)) return ok(`local ${formatIPv4(ip)} dev lo src ${formatIPv4(ip)} uid 0 \n    cache <local> \n`)
    const r = ns.routes.lookup(ip)
    if (!r) return fail('RTNETLINK answers: Network is unreachable', 2)
    if (r.route.type !== 'unicast') return fail('RTNETLINK answers: Invalid argument', 2)
    const src = ns.sourceFor(ip)
    let s = `${formatIPv4(ip)} `
    if (r.via !== undefined) s += `via ${formatIPv4(r.via)} `
    s += `dev ${r.dev} `
    if (src !== undefined) s += `src ${formatIPv4(src)} `
    s += 'uid 0 \n    cache \n'
    return ok(s)
  }
  if (cmd !== 'show' && cmd !== 'list' && cmd !== 'ls')
    return fail(`Command "${cmd}" is unknown, try "ip route help".`, 255)
  let table: 'main' | 'local' | 'all' | number = 'main'
  const w = rest.slice(1)
  for (let i = 0; i < w.length; i++) if (w[i] === 'table') table = (w[++i] as 'main' | 'local' | 'all') ?? 'main'
  const num = String(table)
  if (/^\d+$/.test(num)) table = num === '254' ? 'main' : num === '255' ? 'local' : Number(num)
  const routes = ns.routes.list({ table })
  return ok(routes.map((r) => `${formatRoute(r, { showTable: table !== 'main' })}\n`).join(''))
}

/** `ip rule`: the kernel's three rules and the ones added (routes.ts PolicyRule). */
function ruleLines(ns: NetnsImpl): string {
  const lines = [{ p: 0, t: 'from all lookup local' }]
  for (const r of ns.routes.rules()) {
    const mark =
      r.fwmark === undefined ? '' : `fwmark 0x${r.fwmark.toString(16)}/0x${(r.fwmask ?? 0xffffffff).toString(16)} `
    lines.push({ p: r.priority, t: `${r.not ? 'not ' : ''}from all ${mark}lookup ${r.table}` })
  }
  lines.push({ p: 32766, t: 'from all lookup main' }, { p: 32767, t: 'from all lookup default' })
  return lines.map((l) => `${l.p}:\t${l.t}\n`).join('')
}
