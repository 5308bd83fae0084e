/**
 * Recursive-descent parser for Calico's selector language (see shared/reference/calico.md §2):
 *
 *   selector := ε | or ;  or := and { "||" and } ;  and := unary { "&&" unary }
 *   unary    := { "!" } primary          (a run of "!" folds by parity, as Calico does)
 *   primary  := "(" or ")" | "all()" | "global()" | "has(" label ")"
 *             | label ("==" | "!=" | "contains" | "starts with" | "ends with") string
 *             | label ("in" | "not in") "{" [ string { "," string } [","] ] "}"
 *
 * Whitespace (space, tab) is allowed between tokens. Labels are 1..512 of [A-Za-z0-9_./-].
 * Strings are '..' or ".." with no escapes. Word operators end at a word boundary; `notin`,
 * `startswith` and `endswith` are accepted like Calico's tokenizer does. Function names must be
 * followed directly by "(" (`has (x)` is a label "has" followed by junk, as in Calico), but
 * whitespace is allowed inside the parentheses.
 *
 * Columns in errors are 1-based; end of input is `length + 1`.
 */
import {
  allNode,
  type CompareOp,
  compareNode,
  globalNode,
  hasNode,
  notNode,
  type SelectorNode,
  type SetOp,
  setNode,
} from './ast.ts'
import { SelectorError } from './errors.ts'

export const MAX_LABEL_LENGTH = 512

function isLabelChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 95 || // _
    c === 46 || // .
    c === 47 || // /
    c === 45 // -
  )
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9
}

function describe(src: string, pos: number): string {
  if (pos >= src.length) return 'end of selector'
  const ch = src[pos] as string
  return ch < ' ' ? JSON.stringify(ch) : `'${ch}'`
}

class Parser {
  readonly src: string
  pos = 0

  constructor(src: string) {
    this.src = src
  }

  fail(pos: number, reason: string): never {
    throw new SelectorError(this.src, pos + 1, reason)
  }

  code(at = this.pos): number {
    return at < this.src.length ? this.src.charCodeAt(at) : -1
  }

  skipWs(): void {
    while (this.pos < this.src.length && isSpace(this.src.charCodeAt(this.pos))) this.pos++
  }

  atEnd(): boolean {
    return this.pos >= this.src.length
  }

  parseTop(): SelectorNode {
    this.skipWs()
    if (this.atEnd()) return allNode()
    const node = this.parseOr()
    this.skipWs()
    if (!this.atEnd()) {
      const c = this.src[this.pos]
      if (c === ')') this.fail(this.pos, `unexpected ')' with no matching '('`)
      this.fail(this.pos, `expected && or || but found ${describe(this.src, this.pos)}`)
    }
    return node
  }

  /** Consumes a two-character operator (`&&`, `||`) if next; a lone `&` / `|` is an error. */
  binaryOp(ch: '&' | '|'): boolean {
    this.skipWs()
    if (this.src[this.pos] !== ch) return false
    if (this.src[this.pos + 1] !== ch) this.fail(this.pos, `expected ${ch}${ch}, found a single '${ch}'`)
    this.pos += 2
    return true
  }

  parseOr(): SelectorNode {
    const first = this.parseAnd()
    const ops: SelectorNode[] = [first]
    while (this.binaryOp('|')) ops.push(this.parseAnd())
    return ops.length === 1 ? first : { kind: 'or', operands: ops }
  }

  parseAnd(): SelectorNode {
    const first = this.parseUnary()
    const ops: SelectorNode[] = [first]
    while (this.binaryOp('&')) ops.push(this.parseUnary())
    return ops.length === 1 ? first : { kind: 'and', operands: ops }
  }

  parseUnary(): SelectorNode {
    let negated = false
    for (;;) {
      this.skipWs()
      if (this.src[this.pos] !== '!') break
      if (this.src[this.pos + 1] === '=')
        this.fail(this.pos, `unexpected '!=' where a label, has(), all(), global(), ! or ( was expected`)
      negated = !negated
      this.pos++
    }
    const node = this.parsePrimary()
    return negated ? notNode(node) : node
  }

  parsePrimary(): SelectorNode {
    this.skipWs()
    const start = this.pos
    if (this.atEnd()) this.fail(start, 'unexpected end of selector; expected a label, has(), all(), global(), ! or (')
    const c = this.src[start] as string
    if (c === '(') {
      this.pos++
      this.skipWs()
      if (this.src[this.pos] === ')') this.fail(this.pos, 'expected an expression inside ( )')
      const inner = this.parseOr()
      this.skipWs()
      if (this.src[this.pos] !== ')') {
        this.fail(
          this.pos,
          `expected ) to close the ( at column ${start + 1} but found ${describe(this.src, this.pos)}`,
        )
      }
      this.pos++
      return inner
    }
    if (!isLabelChar(this.code())) {
      this.fail(start, `expected a label, has(), all(), global(), ! or ( but found ${describe(this.src, start)}`)
    }
    const label = this.readLabel()
    if (this.src[this.pos] === '(') {
      if (label === 'all' || label === 'global') {
        this.pos++
        this.skipWs()
        if (this.src[this.pos] !== ')') this.fail(this.pos, `expected ) after ${label}(; ${label}() takes no arguments`)
        this.pos++
        return label === 'all' ? allNode() : globalNode()
      }
      if (label === 'has') {
        this.pos++
        this.skipWs()
        if (!isLabelChar(this.code())) {
          this.fail(this.pos, `expected a label inside has() but found ${describe(this.src, this.pos)}`)
        }
        const key = this.readLabel()
        this.skipWs()
        if (this.src[this.pos] !== ')') this.fail(this.pos, `expected ) after has(${key}`)
        this.pos++
        return hasNode(key)
      }
      this.fail(start, `unknown function ${label}(); expected has(), all() or global()`)
    }
    return this.parseMatch(label)
  }

  readLabel(): string {
    const start = this.pos
    while (this.pos < this.src.length && isLabelChar(this.src.charCodeAt(this.pos))) this.pos++
    if (this.pos - start > MAX_LABEL_LENGTH) {
      this.fail(start, `label is ${this.pos - start} characters long; the limit is ${MAX_LABEL_LENGTH}`)
    }
    return this.src.slice(start, this.pos)
  }

  readWord(): string {
    const start = this.pos
    while (this.pos < this.src.length && isWordChar(this.src.charCodeAt(this.pos))) this.pos++
    return this.src.slice(start, this.pos)
  }

  /** After `label`: an operator and its operand. */
  parseMatch(label: string): SelectorNode {
    this.skipWs()
    const opStart = this.pos
    const expectedOp = `expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "${label}"`
    if (this.atEnd()) this.fail(opStart, `${expectedOp} but the selector ended`)
    const c = this.src[opStart] as string
    if (c === '=' || c === '!') {
      if (this.src[opStart + 1] !== '=') {
        if (c === '=') this.fail(opStart, `expected == but found a single '='`)
        this.fail(opStart, `${expectedOp} but found '!'`)
      }
      this.pos += 2
      return this.compare(c === '=' ? '==' : '!=', label)
    }
    if (!isWordChar(this.code())) this.fail(opStart, `${expectedOp} but found ${describe(this.src, opStart)}`)
    const word = this.readWord()
    switch (word) {
      case 'in':
        return this.set('in', label)
      case 'notin':
        return this.set('not in', label)
      case 'startswith':
        return this.compare('starts with', label)
      case 'endswith':
        return this.compare('ends with', label)
      case 'contains':
        return this.compare('contains', label)
      case 'not':
      case 'starts':
      case 'ends': {
        const second = word === 'not' ? 'in' : 'with'
        this.skipWs()
        const at = this.pos
        const next = this.readWord()
        if (next !== second)
          this.fail(
            at,
            `expected "${word} ${second}" but found ${next ? `"${word} ${next}"` : `"${word}" followed by ${describe(this.src, at)}`}`,
          )
        if (word === 'not') return this.set('not in', label)
        return this.compare(word === 'starts' ? 'starts with' : 'ends with', label)
      }
      default:
        this.fail(opStart, `${expectedOp} but found "${word}"`)
    }
  }

  readString(after: string): string | undefined {
    this.skipWs()
    const q = this.src[this.pos]
    if (q !== '"' && q !== "'") return undefined
    const open = this.pos
    const close = this.src.indexOf(q, open + 1)
    if (close < 0) this.fail(open, `unterminated string: no closing ${q} for the one ${after}`)
    this.pos = close + 1
    return this.src.slice(open + 1, close)
  }

  compare(op: CompareOp, label: string): SelectorNode {
    const v = this.readString(`after ${op}`)
    if (v === undefined)
      this.fail(this.pos, `expected a quoted value after ${op} but found ${describe(this.src, this.pos)}`)
    return compareNode(op, label, v)
  }

  set(op: SetOp, label: string): SelectorNode {
    this.skipWs()
    if (this.src[this.pos] !== '{')
      this.fail(this.pos, `expected { after ${op} but found ${describe(this.src, this.pos)}`)
    const open = this.pos
    this.pos++
    const values: string[] = []
    for (;;) {
      this.skipWs()
      if (this.src[this.pos] === '}') break
      const v = this.readString('in the set')
      if (v === undefined) {
        if (this.atEnd()) this.fail(this.pos, `unterminated set: no } for the { at column ${open + 1}`)
        this.fail(this.pos, `expected a quoted value or } in the set but found ${describe(this.src, this.pos)}`)
      }
      values.push(v)
      this.skipWs()
      if (this.src[this.pos] === ',') {
        this.pos++
        continue
      }
      if (this.src[this.pos] === '}') break
      if (this.atEnd()) this.fail(this.pos, `unterminated set: no } for the { at column ${open + 1}`)
      this.fail(this.pos, `expected , or } in the set but found ${describe(this.src, this.pos)}`)
    }
    this.pos++
    return setNode(op, label, values)
  }
}

/** Parses selector text into an AST; throws {@link SelectorError}. The empty selector is `all()`. */
export function parseSelectorNode(src: string): SelectorNode {
  return new Parser(src).parseTop()
}
