/**
 * A compiler for the common tcpdump (pcap-filter) expressions: `tcp port 30180`, `host 1.2.3.4`,
 * `src host X`, `dst net 10.0.0.0/8`, `udp`, `icmp`, `port 53`, `portrange 30000-32767`,
 * `ip proto 4`, `and`/`&&`, `or`/`||`, `not`/`!`, parentheses, and tcpdump's shorthand that
 * reuses the previous qualifiers (`host 1.2.3.4 or 5.6.7.8`). The result is a closure over a
 * PacketView: no parsing or string work per packet.
 */
import { prefixMask, tryParseIPv4 } from '@calilab/model'
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from './constants.ts'
import type { PacketView } from './view.ts'

export type PacketFilter = (v: PacketView) => boolean

export type FilterResult = { ok: true; filter: PacketFilter } | { ok: false; code: 'FILTER_SYNTAX'; message: string }

type Dir = 'src' | 'dst' | 'src or dst' | 'src and dst'
type Kind = 'host' | 'net' | 'port' | 'portrange'
interface Quals {
  proto: number // -1 any
  dir: Dir
  kind: Kind
}

class FilterSyntaxError extends Error {}

const ALWAYS: PacketFilter = () => true

function tokenize(s: string): string[] {
  const out: string[] = []
  const re = /\s*(&&|\|\||[()!]|[^\s()!&|]+)/y
  let m: RegExpExecArray | null
  re.lastIndex = 0
  while (re.lastIndex < s.length && (m = re.exec(s)) !== null) out.push(m[1]!)
  if (s.slice(re.lastIndex).trim() !== '') throw new FilterSyntaxError(`syntax error near "${s.slice(re.lastIndex)}"`)
  return out
}

const PROTOS: Record<string, number> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, icmp: IPPROTO_ICMP }

export function compileFilter(expr: string): FilterResult {
  try {
    const toks = tokenize(expr)
    if (toks.length === 0) return { ok: true, filter: ALWAYS }
    const p = new Parser(toks)
    const f = p.parseOr()
    if (p.i < toks.length) throw new FilterSyntaxError(`syntax error near "${toks[p.i]}"`)
    return { ok: true, filter: f }
  } catch (e) {
    if (e instanceof FilterSyntaxError) return { ok: false, code: 'FILTER_SYNTAX', message: e.message }
    throw e
  }
}

class Parser {
  i = 0
  last: Quals = { proto: -1, dir: 'src or dst', kind: 'host' }
  readonly toks: string[]
  constructor(toks: string[]) {
    this.toks = toks
  }

  peek(): string | undefined {
    return this.toks[this.i]
  }

  next(): string {
    const t = this.toks[this.i++]
    if (t === undefined) throw new FilterSyntaxError('syntax error: unexpected end of expression')
    return t
  }

  parseOr(): PacketFilter {
    let l = this.parseAnd()
    while (this.peek() === 'or' || this.peek() === '||') {
      this.i++
      const a = l
      const b = this.parseAnd()
      l = (v) => a(v) || b(v)
    }
    return l
  }

  parseAnd(): PacketFilter {
    let l = this.parseNot()
    while (this.peek() === 'and' || this.peek() === '&&') {
      this.i++
      const a = l
      const b = this.parseNot()
      l = (v) => a(v) && b(v)
    }
    return l
  }

  parseNot(): PacketFilter {
    const t = this.peek()
    if (t === 'not' || t === '!') {
      this.i++
      const f = this.parseNot()
      return (v) => !f(v)
    }
    if (t === '(') {
      this.i++
      const f = this.parseOr()
      if (this.next() !== ')') throw new FilterSyntaxError('syntax error: missing )')
      return f
    }
    return this.parsePrimitive()
  }

  parsePrimitive(): PacketFilter {
    let proto = -1
    let dir: Dir | undefined
    let kind: Kind | undefined
    let sawQual = false
    let t = this.next()
    if (t === 'ip') {
      // `ip`, `ip proto N`, `ip host X` ...
      const n = this.peek()
      if (n === 'proto') {
        this.i++
        const pv = this.next()
        const num = PROTOS[pv.replace(/^\\/, '')] ?? Number(pv)
        if (!Number.isInteger(num) || num < 0 || num > 255) throw new FilterSyntaxError(`unknown ip proto '${pv}'`)
        return (v) => v.proto === num
      }
      if (n === undefined || !isQualifier(n)) return ALWAYS
      t = this.next()
    }
    if (t in PROTOS) {
      proto = PROTOS[t]!
      sawQual = true
      const n = this.peek()
      if (n === undefined || !isQualifier(n)) return (v) => v.proto === proto
      t = this.next()
    }
    if (t === 'src' || t === 'dst') {
      dir = t
      sawQual = true
      if (
        (this.peek() === 'or' || this.peek() === 'and') &&
        (this.toks[this.i + 1] === 'src' || this.toks[this.i + 1] === 'dst')
      ) {
        dir = `src ${this.next()}` as Dir
        this.i++
      }
      t = this.next()
    }
    if (t === 'host' || t === 'net' || t === 'port' || t === 'portrange') {
      kind = t
      sawQual = true
      t = this.next()
    }
    if (!sawQual) {
      // Shorthand: a bare value reuses the previous primitive's qualifiers.
      proto = this.last.proto
      dir = this.last.dir
      kind = this.last.kind
    }
    dir ??= 'src or dst'
    if (kind === undefined) kind = /^\d+$/.test(t) ? 'port' : 'host'
    this.last = { proto, dir, kind }
    const f = this.value(kind, dir, t)
    if (proto < 0) return f
    const pr = proto
    return (v) => v.proto === pr && f(v)
  }

  value(kind: Kind, dir: Dir, t: string): PacketFilter {
    if (kind === 'host' || kind === 'net') {
      let ip: number | undefined
      let mask = 0xffffffff
      if (kind === 'net' || t.includes('/')) {
        const [a, p] = t.split('/')
        ip = tryParseIPv4(a ?? '') ?? tryParseIPv4(padNet(a ?? ''))
        const prefix = p === undefined ? impliedPrefix(a ?? '') : Number(p)
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32)
          throw new FilterSyntaxError(`invalid prefix in '${t}'`)
        mask = prefixMask(prefix)
        if (kind === 'net' && this.peek() === 'mask') {
          this.i++
          const m = tryParseIPv4(this.next())
          if (m === undefined) throw new FilterSyntaxError('invalid mask')
          mask = m
        }
      } else {
        ip = tryParseIPv4(t)
      }
      if (ip === undefined) throw new FilterSyntaxError(`invalid host address '${t}' (names are not resolved)`)
      const net = (ip & mask) >>> 0
      if (mask === 0xffffffff) return addrTest(dir, (a) => a === net)
      return addrTest(dir, (a) => (a & mask) >>> 0 === net)
    }
    let lo: number
    let hi: number
    if (kind === 'portrange') {
      const m = /^(\d+)-(\d+)$/.exec(t)
      if (!m) throw new FilterSyntaxError(`invalid port range '${t}'`)
      lo = Number(m[1])
      hi = Number(m[2])
    } else {
      if (!/^\d+$/.test(t)) throw new FilterSyntaxError(`invalid port '${t}' (names are not resolved)`)
      lo = hi = Number(t)
    }
    if (lo > 65535 || hi > 65535 || lo > hi) throw new FilterSyntaxError(`invalid port '${t}'`)
    const inR = (p: number) => p >= lo && p <= hi
    const hasPorts = (v: PacketView) => v.hasL4 && (v.proto === IPPROTO_TCP || v.proto === IPPROTO_UDP)
    if (dir === 'src') return (v) => hasPorts(v) && inR(v.sport)
    if (dir === 'dst') return (v) => hasPorts(v) && inR(v.dport)
    if (dir === 'src and dst') return (v) => hasPorts(v) && inR(v.sport) && inR(v.dport)
    return (v) => hasPorts(v) && (inR(v.sport) || inR(v.dport))
  }
}

function isQualifier(t: string): boolean {
  return t === 'src' || t === 'dst' || t === 'host' || t === 'net' || t === 'port' || t === 'portrange'
}

function addrTest(dir: Dir, test: (a: number) => boolean): PacketFilter {
  if (dir === 'src') return (v) => test(v.src)
  if (dir === 'dst') return (v) => test(v.dst)
  if (dir === 'src and dst') return (v) => test(v.src) && test(v.dst)
  return (v) => test(v.src) || test(v.dst)
}

/** `net 10` / `net 10.1` style: pads missing octets with zeros. */
function padNet(a: string): string {
  const parts = a.split('.')
  while (parts.length < 4) parts.push('0')
  return parts.join('.')
}

function impliedPrefix(a: string): number {
  return Math.min(32, a.split('.').length * 8)
}
