import { NetfilterError } from './errors.ts'
import { parseRuleSpec } from './parse.ts'
import { type Policy, type RuleSpec, TABLE_NAMES, type TableName } from './types.ts'
import { bad } from './values.ts'

export type IptablesOp =
  | 'append'
  | 'insert'
  | 'delete'
  | 'replace'
  | 'check'
  | 'list'
  | 'list-rules'
  | 'flush'
  | 'zero'
  | 'new-chain'
  | 'delete-chain'
  | 'policy'
  | 'rename-chain'

export interface IptablesCommand {
  table: TableName
  op: IptablesOp
  chain?: string
  /** 1-based rule number for -I/-R/-D/-L/-S when given. */
  index?: number
  rule?: RuleSpec
  policy?: Policy
  newName?: string
  verbose: boolean
  numeric: boolean
  exact: boolean
  lineNumbers: boolean
  /** -Z together with -L. */
  zero: boolean
}

const COMMANDS = new Map<string, IptablesOp>(
  Object.entries({
    '-A': 'append',
    '--append': 'append',
    '-I': 'insert',
    '--insert': 'insert',
    '-D': 'delete',
    '--delete': 'delete',
    '-R': 'replace',
    '--replace': 'replace',
    '-C': 'check',
    '--check': 'check',
    '-L': 'list',
    '--list': 'list',
    '-S': 'list-rules',
    '--list-rules': 'list-rules',
    '-F': 'flush',
    '--flush': 'flush',
    '-Z': 'zero',
    '--zero': 'zero',
    '-N': 'new-chain',
    '--new-chain': 'new-chain',
    '-X': 'delete-chain',
    '--delete-chain': 'delete-chain',
    '-P': 'policy',
    '--policy': 'policy',
    '-E': 'rename-chain',
    '--rename-chain': 'rename-chain',
  }) as [string, IptablesOp][],
)
const COMBINED = /^-[a-zA-Z]{2,}$/

/** The argument after `i` when it does not start with '-' (a chain name, a policy). */
function positional(argv: readonly string[], i: number): string | undefined {
  const v = argv[i + 1]
  return v !== undefined && !v.startsWith('-') ? v : undefined
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

/** Parses an `iptables` command line (without the program name). */
export function parseIptablesArgs(argv: readonly string[]): IptablesCommand {
  const cmd: IptablesCommand = {
    table: 'filter',
    op: 'list',
    verbose: false,
    numeric: false,
    exact: false,
    lineNumbers: false,
    zero: false,
  }
  let op: IptablesOp | undefined
  const rest: string[] = []
  // No closures here (tsx's keep-names wraps each in a defineProperty call): this runs for every
  // rule of an iptables-restore.
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!
    // Commands and the options below all start with '-': anything else goes to the rule spec.
    if (a.charCodeAt(0) !== 0x2d) {
      rest.push(a)
      continue
    }
    // Combined short flags such as -nvL or -vnL.
    if (a.length > 2 && a.charCodeAt(0) === 0x2d && a.charCodeAt(1) !== 0x2d && COMBINED.test(a)) {
      const letters = a.slice(1).split('')
      const expanded = letters.map((c) => `-${c}`)
      argv = [...argv.slice(0, i), ...expanded, ...argv.slice(i + 1)]
      a = argv[i]!
    }
    const o = COMMANDS.get(a)
    if (o !== undefined) {
      if (o === 'zero' && op === 'list') {
        cmd.zero = true
        const c = positional(argv, i)
        if (c !== undefined) {
          cmd.chain = c
          i++
        }
        continue
      }
      if (o === 'list' && op === 'zero') {
        op = 'list'
        cmd.zero = true
        const c = positional(argv, i)
        if (c !== undefined) {
          cmd.chain = c
          i++
        }
        continue
      }
      if (op !== undefined) throw bad('Cannot use more than one command option')
      op = o
      const c = positional(argv, i)
      if (c !== undefined) {
        cmd.chain = c
        i++
      } else if (!['list', 'list-rules', 'flush', 'zero', 'delete-chain'].includes(o))
        throw bad(`option "${a}" requires an argument`)
      if (o === 'insert' || o === 'replace' || o === 'delete' || o === 'list' || o === 'list-rules') {
        const n = argv[i + 1]
        if (n !== undefined && isDigits(n)) {
          cmd.index = Number(n)
          i++
        }
      }
      if (o === 'policy') {
        const p = positional(argv, i)
        if (p !== undefined) i++
        if (p !== 'ACCEPT' && p !== 'DROP') throw bad(`Bad policy name. Run \`dmesg' for more information.`)
        cmd.policy = p
      }
      if (o === 'rename-chain') {
        const n = positional(argv, i)
        if (n === undefined) throw bad('-E requires old-chain-name and new-chain-name')
        i++
        cmd.newName = n
      }
      continue
    }
    switch (a) {
      case '-t':
      case '--table': {
        const t = argv[i + 1]
        if (!t || !(TABLE_NAMES as readonly string[]).includes(t))
          throw new NetfilterError(
            'NF_BAD_TABLE',
            `can't initialize iptables table \`${t ?? ''}': Table does not exist (do you need to insmod?)`,
            {},
            3,
          )
        cmd.table = t as TableName
        i++
        continue
      }
      case '-v':
      case '--verbose':
        cmd.verbose = true
        continue
      case '-n':
      case '--numeric':
        cmd.numeric = true
        continue
      case '-x':
      case '--exact':
        cmd.exact = true
        continue
      case '--line-numbers':
        cmd.lineNumbers = true
        continue
      case '-w':
      case '--wait':
        if (argv[i + 1] !== undefined && /^\d+(\.\d+)?$/.test(argv[i + 1]!)) i++
        continue
      case '-W':
      case '--wait-interval':
        i++
        continue
    }
    rest.push(a)
  }
  if (op === undefined) throw bad('no command specified')
  cmd.op = op
  if (['append', 'insert', 'delete', 'replace', 'check'].includes(op)) {
    if (op === 'delete' && cmd.index !== undefined) {
      if (rest.length) throw bad(`Bad argument \`${rest[0]}'`)
    } else cmd.rule = parseRuleSpec(rest)
  } else if (rest.length) throw bad(`Bad argument \`${rest[0]}'`)
  return cmd
}
