/** `ipset` command lines, `ipset restore` input and `ipset list` output. */
import { NetfilterError } from './errors.ts'
import type { IpSet, IpSetOptions, IpSetStore, IpSetType } from './ipset.ts'
import { tokenize } from './tokenize.ts'

const REVISIONS: Record<IpSetType, number> = { 'hash:ip': 4, 'hash:net': 6, 'hash:ip,port': 5, 'list:set': 3 }

/** Approximates the kernel's "Size in memory" (a fixed header plus per-entry cost). */
function memSize(s: IpSet): number {
  if (s.type === 'list:set') return 88 + s.size * 32
  const per = s.type === 'hash:net' ? 24 : s.type === 'hash:ip,port' ? 16 : 8
  return 200 + s.size * per + (s.size > 0 ? 64 : 0)
}

/** One set as `ipset list NAME` prints it. */
export function formatIpSet(s: IpSet): string {
  const header =
    s.type === 'list:set'
      ? `size ${s.options.size}`
      : `family ${s.options.family} hashsize ${s.options.hashsize} maxelem ${s.options.maxelem}`
  const members = s.entries()
  return (
    `Name: ${s.name}\nType: ${s.type}\nRevision: ${REVISIONS[s.type]}\nHeader: ${header}\n` +
    `Size in memory: ${memSize(s)}\nReferences: ${s.references}\nNumber of entries: ${members.length}\nMembers:\n` +
    members.map((m) => `${m}\n`).join('')
  )
}

/** `ipset list [NAME]`; with several sets they are separated by a blank line. */
export function listIpSets(store: IpSetStore, name?: string, namesOnly = false): string {
  const sets = name === undefined ? store.names().map((n) => store.get(n)!) : [store.mustGet(name)]
  if (namesOnly) return sets.map((s) => `${s.name}\n`).join('')
  return sets.map(formatIpSet).join('\n')
}

/** `ipset save` format (also what `ipset restore` reads). */
export function saveIpSets(store: IpSetStore): string {
  let s = ''
  for (const n of store.names()) {
    const set = store.get(n)!
    const o = set.options
    s +=
      set.type === 'list:set'
        ? `create ${n} list:set size ${o.size}\n`
        : `create ${n} ${set.type} family ${o.family} hashsize ${o.hashsize} maxelem ${o.maxelem}\n`
    for (const e of set.entries()) s += `add ${n} ${e}\n`
  }
  return s
}

function parseCreateOptions(args: readonly string[]): IpSetOptions {
  const o: IpSetOptions = {}
  for (let i = 0; i < args.length; i++) {
    const k = args[i]!
    const v = args[i + 1]
    if (k === 'family') {
      if (v !== 'inet')
        throw new NetfilterError(
          'IPSET_BAD_TYPE',
          `ipset v7.5: Syntax error: family ${v ?? ''} is not supported (inet only)`,
        )
      i++
    } else if (k === 'hashsize' || k === 'maxelem' || k === 'size') {
      if (v === undefined || !/^\d+$/.test(v))
        throw new NetfilterError('IPSET_BAD_ENTRY', `ipset v7.5: Syntax error: '${k}' requires a number`)
      o[k] = Number(v)
      i++
    } else if (k === 'comment' || k === 'counters') {
      // accepted, not modelled
    } else if (k === 'timeout' || k === 'netmask' || k === 'bucketsize' || k === 'initval') i++
    else throw new NetfilterError('IPSET_BAD_ENTRY', `ipset v7.5: Syntax error: Unknown argument: '${k}'`)
  }
  return o
}

/** `v`, an argument command `cmd` needs (a module function, not a closure made per command). */
function needArg(cmd: string | undefined, v: string | undefined): string {
  if (v === undefined)
    throw new NetfilterError('NF_BAD_ARGUMENT', `ipset v7.5: Syntax error: command '${cmd}' needs more arguments`)
  return v
}

/** Runs one `ipset` command (argv without the program name); returns its stdout. */
export function runIpset(store: IpSetStore, argv: readonly string[]): string {
  let exist = false
  const args = argv.filter((a) => {
    if (a === '-exist' || a === '-!') {
      exist = true
      return false
    }
    return true
  })
  const [cmd, a1, a2, ...rest] = args
  switch (cmd) {
    case 'create':
    case 'n':
      store.create(needArg(cmd, a1), needArg(cmd, a2) as IpSetType, parseCreateOptions(rest), exist)
      return ''
    case 'add':
    case 'a':
      store.add(needArg(cmd, a1), needArg(cmd, a2), exist)
      return ''
    case 'del':
    case 'd':
      store.del(needArg(cmd, a1), needArg(cmd, a2), exist)
      return ''
    case 'test':
    case 't': {
      const s = store.mustGet(needArg(cmd, a1))
      const e = needArg(cmd, a2)
      const has = s.entries().includes(e) || (s.type !== 'hash:ip,port' && s.type !== 'list:set' && testIp(store, s, e))
      if (!has) throw new NetfilterError('IPSET_BAD_ENTRY', `${e} is NOT in set ${s.name}.`)
      return `${e} is in set ${s.name}.\n`
    }
    case 'swap':
    case 'w':
      store.swap(needArg(cmd, a1), needArg(cmd, a2))
      return ''
    case 'flush':
    case 'F':
      store.flush(a1)
      return ''
    case 'destroy':
    case 'x':
      store.destroy(a1)
      return ''
    case 'rename':
    case 'e':
      store.rename(needArg(cmd, a1), needArg(cmd, a2))
      return ''
    case 'list':
    case 'l':
      if (a1 === '-n' || a1 === '-name') return listIpSets(store, undefined, true)
      return listIpSets(store, a1)
    case 'save':
    case 's':
      return saveIpSets(store)
  }
  throw new NetfilterError('NF_BAD_ARGUMENT', `ipset v7.5: No command specified: unknown argument ${cmd ?? ''}`)
}

function testIp(store: IpSetStore, s: IpSet, e: string): boolean {
  const parts = e.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return false
  const ip = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0
  return store.matches(s, ip, 0, 0)
}

/**
 * `ipset restore`: one command per line (create/add/del/swap/flush/destroy/rename), `COMMIT`
 * ignored. Applied line by line like the real tool; an error names the line.
 */
export function ipsetRestore(store: IpSetStore, text: string, exist = false): void {
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue
    try {
      runIpset(store, exist ? [...tokenize(line), '-exist'] : tokenize(line))
    } catch (e) {
      if (e instanceof NetfilterError)
        throw new NetfilterError(
          e.code as never,
          `ipset v7.5: Error in line ${i + 1}: ${e.message.replace(/^ipset v7\.5: /, '')}`,
          { line: i + 1 },
        )
      throw e
    }
  }
}
