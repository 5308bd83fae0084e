/**
 * IP sets (the kernel's ipset): hash:ip, hash:net, hash:ip,port and list:set, with create, add,
 * del, test, swap, flush, destroy and rename. Lookups are O(1) per set (hash:net: one Set probe per
 * distinct prefix length present, longest first, as the kernel does).
 */
import { formatIPv4, prefixMask, tryParseIPv4 } from '@calilab/model'
import { NetfilterError } from './errors.ts'

export type IpSetType = 'hash:ip' | 'hash:net' | 'hash:ip,port' | 'list:set'
export const IPSET_TYPES: readonly IpSetType[] = ['hash:ip', 'hash:net', 'hash:ip,port', 'list:set']

export interface IpSetOptions {
  family?: 'inet'
  hashsize?: number
  maxelem?: number
  /** list:set size. */
  size?: number
}

const PROTO_IDX: Record<string, number> = { tcp: 0, udp: 1, sctp: 2 }
const PROTO_NAME = ['tcp', 'udp', 'sctp'] as const

/** Key for hash:ip,port entries: ip * 2^18 + protoIdx * 2^16 + port (exact in a double). */
function ipPortKey(ip: number, protoIdx: number, port: number): number {
  return ip * 262144 + protoIdx * 65536 + port
}

export class IpSet {
  name: string
  readonly type: IpSetType
  readonly options: Required<IpSetOptions>
  /** hash:ip members; hash:ip,port keys. */
  private keys = new Set<number>()
  /** hash:net: prefix -> networks; `prefixes` lists the lengths in use, longest first. */
  private nets = new Map<number, Set<number>>()
  private prefixes: number[] = []
  /** list:set member names (resolved through the store at test time). */
  private members: string[] = []
  /** Rules (kept by the iptables model) and list:sets that reference this set. */
  ruleRefs = 0
  listRefs = 0
  get references(): number {
    return this.ruleRefs + this.listRefs
  }

  /** Counts changes to the contents of every set of one store (the walk cache's validity). */
  private readonly owner: { version: number }

  constructor(name: string, type: IpSetType, options: IpSetOptions = {}, owner: { version: number } = { version: 0 }) {
    this.owner = owner
    this.name = name
    this.type = type
    this.options = {
      family: 'inet',
      hashsize: options.hashsize ?? 1024,
      maxelem: options.maxelem ?? 65536,
      size: options.size ?? 8,
    }
  }

  get size(): number {
    if (this.type === 'hash:net') {
      let n = 0
      for (const s of this.nets.values()) n += s.size
      return n
    }
    if (this.type === 'list:set') return this.members.length
    return this.keys.size
  }

  /** hash:ip / hash:net membership of one address. */
  hasIp(ip: number): boolean {
    if (this.type === 'hash:ip') return this.keys.has(ip)
    const pf = this.prefixes
    for (let i = 0; i < pf.length; i++) {
      const p = pf[i]!
      const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0
      if (this.nets.get(p)!.has((ip & mask) >>> 0)) return true
    }
    return false
  }

  hasIpPort(ip: number, proto: number, port: number): boolean {
    const idx = proto === 6 ? 0 : proto === 17 ? 1 : proto === 132 ? 2 : -1
    return idx >= 0 && this.keys.has(ipPortKey(ip, idx, port))
  }

  /** Raw member operations; `entry` is the text form ipset takes. Throws IPSET_BAD_ENTRY. */
  add(entry: string, exist = false): void {
    this.mutate(entry, true, exist)
  }

  del(entry: string, exist = false): void {
    this.mutate(entry, false, exist)
  }

  flush(): void {
    this.owner.version++
    this.keys = new Set()
    this.nets = new Map()
    this.prefixes = []
    this.members = []
  }

  listMembers(): string[] {
    return [...this.members]
  }

  /** Members as `ipset list` prints them. */
  entries(): string[] {
    if (this.type === 'hash:ip') return [...this.keys].map(formatIPv4)
    if (this.type === 'hash:net') {
      const out: string[] = []
      for (const p of this.prefixes)
        for (const n of this.nets.get(p)!) out.push(p === 32 ? formatIPv4(n) : `${formatIPv4(n)}/${p}`)
      return out
    }
    if (this.type === 'hash:ip,port') {
      return [...this.keys].map((k) => {
        const ip = Math.floor(k / 262144)
        const rest = k - ip * 262144
        return `${formatIPv4(ip)},${PROTO_NAME[rest >> 16]}:${rest & 0xffff}`
      })
    }
    return [...this.members]
  }

  /** Moves all contents between two sets of the same type (ipset swap). */
  swapContents(o: IpSet): void {
    this.owner.version++
    o.owner.version++
    const k = this.keys
    const n = this.nets
    const p = this.prefixes
    const m = this.members
    this.keys = o.keys
    this.nets = o.nets
    this.prefixes = o.prefixes
    this.members = o.members
    o.keys = k
    o.nets = n
    o.prefixes = p
    o.members = m
  }

  private mutate(entry: string, add: boolean, exist: boolean): void {
    this.owner.version++
    // Errors through entryError, not closures made per call: this runs for every member of an
    // ipset restore, and tsx's keep-names wraps each closure it creates in a defineProperty call.
    if (this.type === 'list:set') {
      const i = this.members.indexOf(entry)
      if (add) {
        if (i >= 0) {
          if (!exist) throw entryError(this.name, 'dup', entry)
          return
        }
        if (this.members.length >= this.options.size) throw entryError(this.name, 'full', entry)
        this.members.push(entry)
      } else if (i < 0) {
        if (!exist) throw entryError(this.name, 'missing', entry)
      } else this.members.splice(i, 1)
      return
    }
    if (this.type === 'hash:ip,port') {
      const m = /^([\d.]+),(?:(tcp|udp|sctp):)?(\d+)$/.exec(entry)
      const ipn = m ? tryParseIPv4(m[1]!) : undefined
      const port = m ? Number(m[3]) : -1
      if (!m || ipn === undefined || port > 65535)
        throw entryError(this.name, 'syntax', entry, `'${entry}' is not a valid ip,port entry`)
      const key = ipPortKey(ipn, PROTO_IDX[m[2] ?? 'tcp']!, port)
      this.setKey(key, add, exist, entry)
      return
    }
    const [addr, pfx] = entry.split('/')
    const ipn = tryParseIPv4(addr ?? '')
    if (ipn === undefined) throw entryError(this.name, 'syntax', entry, `'${entry}' is not a valid IPv4 address`)
    if (this.type === 'hash:ip') {
      if (pfx !== undefined && pfx !== '32')
        throw entryError(this.name, 'syntax', entry, `'${entry}': hash:ip takes single addresses`)
      this.setKey(ipn, add, exist, entry)
      return
    }
    const p = pfx === undefined ? 32 : Number(pfx)
    if (!Number.isInteger(p) || p < 1 || p > 32)
      throw entryError(this.name, 'syntax', entry, `'${entry}': prefix must be 1-32`)
    const net = (ipn & prefixMask(p)) >>> 0
    let s = this.nets.get(p)
    if (add) {
      if (s?.has(net)) {
        if (!exist) throw entryError(this.name, 'dup', entry)
        return
      }
      if (this.size >= this.options.maxelem) throw entryError(this.name, 'full', entry)
      if (!s) {
        s = new Set()
        this.nets.set(p, s)
        this.prefixes = [...this.nets.keys()].sort((a, b) => b - a)
      }
      s.add(net)
    } else {
      if (!s?.has(net)) {
        if (!exist) throw entryError(this.name, 'missing', entry)
        return
      }
      s.delete(net)
      if (s.size === 0) {
        this.nets.delete(p)
        this.prefixes = [...this.nets.keys()].sort((a, b) => b - a)
      }
    }
  }

  private setKey(key: number, add: boolean, exist: boolean, entry: string): void {
    if (add) {
      if (this.keys.has(key)) {
        if (!exist) throw entryError(this.name, 'dup', entry)
        return
      }
      if (this.keys.size >= this.options.maxelem) throw entryError(this.name, 'full', entry)
      this.keys.add(key)
    } else if (!this.keys.delete(key) && !exist) throw entryError(this.name, 'missing', entry)
  }
}

function entryError(set: string, kind: 'syntax' | 'dup' | 'full' | 'missing', entry: string, why = ''): NetfilterError {
  switch (kind) {
    case 'syntax':
      return new NetfilterError('IPSET_BAD_ENTRY', `ipset v7.5: Syntax error: ${why}`, { set, entry })
    case 'full':
      return new NetfilterError('IPSET_BAD_ENTRY', `ipset v7.5: Hash is full, cannot add more elements`, { set })
    case 'missing':
      return new NetfilterError(
        'IPSET_BAD_ENTRY',
        `ipset v7.5: Element cannot be deleted from the set: it's not added`,
        { set, entry },
      )
    case 'dup':
      return new NetfilterError(
        'IPSET_BAD_ENTRY',
        `ipset v7.5: Element cannot be added to the set: it's already added`,
        { set, entry },
      )
  }
}

/** All sets of one node. */
export class IpSetStore {
  private readonly sets = new Map<string, IpSet>()
  /** Bumped by every change to a set or to the set of sets. */
  private readonly counter = { version: 0 }
  get version(): number {
    return this.counter.version
  }

  get(name: string): IpSet | undefined {
    return this.sets.get(name)
  }

  mustGet(name: string): IpSet {
    const s = this.sets.get(name)
    if (!s)
      throw new NetfilterError('IPSET_NO_SET', `ipset v7.5: The set with the given name does not exist`, { set: name })
    return s
  }

  names(): string[] {
    return [...this.sets.keys()]
  }

  create(name: string, type: IpSetType, options: IpSetOptions = {}, exist = false): IpSet {
    const cur = this.sets.get(name)
    if (cur) {
      if (exist && cur.type === type) return cur
      throw new NetfilterError(
        'IPSET_EXISTS',
        `ipset v7.5: Set cannot be created: set with the same name already exists`,
        { set: name },
      )
    }
    if (!IPSET_TYPES.includes(type))
      throw new NetfilterError('IPSET_BAD_TYPE', `ipset v7.5: Syntax error: typename '${type}' is unknown`, { type })
    const s = new IpSet(name, type, options, this.counter)
    this.counter.version++
    this.sets.set(name, s)
    return s
  }

  add(name: string, entry: string, exist = false): void {
    const s = this.mustGet(name)
    if (s.type === 'list:set') {
      const member = this.mustGet(entry)
      if (member.type === 'list:set')
        throw new NetfilterError('IPSET_BAD_ENTRY', 'ipset v7.5: list:set cannot contain list:set', { set: name })
      const had = s.listMembers().includes(entry)
      s.add(entry, exist)
      if (!had) member.listRefs++
      return
    }
    s.add(entry, exist)
  }

  del(name: string, entry: string, exist = false): void {
    const s = this.mustGet(name)
    const had = s.type === 'list:set' && s.listMembers().includes(entry)
    s.del(entry, exist)
    if (had) {
      const m = this.sets.get(entry)
      if (m) m.listRefs--
    }
  }

  /** Membership test as the set match does it (`ip,port` entries for hash:ip,port). */
  test(name: string, ip: number, proto = 0, port = 0): boolean {
    return this.matches(this.mustGet(name), ip, proto, port)
  }

  matches(s: IpSet, ip: number, proto: number, port: number): boolean {
    if (s.type === 'hash:ip,port') return s.hasIpPort(ip, proto, port)
    if (s.type === 'list:set') {
      for (const m of s.listMembers()) {
        const ms = this.sets.get(m)
        if (ms && this.matches(ms, ip, proto, port)) return true
      }
      return false
    }
    return s.hasIp(ip)
  }

  swap(a: string, b: string): void {
    const sa = this.mustGet(a)
    const sb = this.mustGet(b)
    if (sa.type !== sb.type)
      throw new NetfilterError(
        'IPSET_TYPE_MISMATCH',
        `ipset v7.5: The sets cannot be swapped: their type does not match`,
        { a, b },
      )
    sa.swapContents(sb)
  }

  flush(name?: string): void {
    if (name === undefined) for (const s of this.sets.values()) s.flush()
    else this.mustGet(name).flush()
  }

  destroy(name?: string): void {
    const targets = name === undefined ? [...this.sets.values()] : [this.mustGet(name)]
    for (const s of targets) {
      if (s.references > 0)
        throw new NetfilterError(
          'IPSET_IN_USE',
          `ipset v7.5: Set cannot be destroyed: it is in use by a kernel component`,
          { set: s.name },
        )
    }
    for (const s of targets) {
      if (s.type === 'list:set') for (const m of s.listMembers()) this.sets.get(m)!.listRefs--
      this.sets.delete(s.name)
    }
    this.counter.version++
  }

  rename(from: string, to: string): void {
    const s = this.mustGet(from)
    if (this.sets.has(to))
      throw new NetfilterError(
        'IPSET_EXISTS',
        `ipset v7.5: Set cannot be renamed: a set with the new name already exists`,
        { set: to },
      )
    this.counter.version++
    this.sets.delete(from)
    s.name = to
    this.sets.set(to, s)
  }
}
