/**
 * The common rule line of an iptables-restore, `-A CHAIN -m comment --comment "VALUE" TAIL`
 * (Felix and kube-proxy tag every rule so), parsed once per distinct TAIL. A restore of 100k+
 * rules has a few thousand distinct tails (the comments are per-rule hashes): a line whose tail was
 * seen before in this restore gets the spec parsed then, with its own comment, without being
 * tokenised or parsed again.
 *
 * The result is the spec `parseIptablesArgs` gives for the whole line: the three leading tokens
 * parse to a comment match whatever VALUE is (a plain quoted token: no backslash, no quote, not
 * starting with '-', at most 255 characters), and tokens after a space are cut the same whatever
 * came before them. A line the shape does not fit, or whose tail has not been parsed yet, goes
 * through the full parser (the caller's slow path), which then `remember`s it.
 */
import type { MatchSpec, RuleSpec } from './types.ts'

const PREFIX = '-A '
const COMMENT = ' -m comment --comment "'
const MAX_COMMENT = 255

/**
 * Reads the common-shape lines of one restore and keeps the tails it has parsed. `read` looks at
 * one line in place (a range of the input: no line string is cut for it) and sets `chain`,
 * `comment` and `tail`; `spec` gives the parsed spec when the tail was seen before.
 */
export class RuleLines {
  chain = ''
  comment = ''
  tail = ''
  private readonly specs = new Map<string, RuleSpec>()

  /** Whether text[start, end) (a line without blanks at either end) has the common shape. */
  read(text: string, start: number, end: number): boolean {
    if (!text.startsWith(PREFIX, start)) return false
    const c0 = start + PREFIX.length
    // Rules come chain by chain: the previous line's chain name is reused when it is the same.
    const prev = this.chain
    let chainEnd = c0 + prev.length
    if (prev === '' || chainEnd >= end || text.charCodeAt(chainEnd) !== 0x20 || !text.startsWith(prev, c0)) {
      chainEnd = text.indexOf(' ', c0)
      if (chainEnd < 0 || chainEnd >= end || chainEnd === c0 || text.charCodeAt(c0) === 0x2d) return false
      for (let k = c0; k < chainEnd; k++) if (!plain(text.charCodeAt(k))) return false
      this.chain = text.slice(c0, chainEnd)
    }
    if (!text.startsWith(COMMENT, chainEnd)) return false
    const vStart = chainEnd + COMMENT.length
    const vEnd = text.indexOf('"', vStart)
    if (vEnd < 0 || vEnd >= end || vEnd - vStart > MAX_COMMENT) return false
    if (vEnd > vStart && text.charCodeAt(vStart) === 0x2d) return false
    for (let k = vStart; k < vEnd; k++) if (text.charCodeAt(k) === 0x5c) return false
    let tail = ''
    if (vEnd + 1 < end) {
      // A space, then the first token of the tail (not another space: the tail is cut from there).
      if (text.charCodeAt(vEnd + 1) !== 0x20 || vEnd + 2 >= end || text.charCodeAt(vEnd + 2) === 0x20) return false
      tail = text.slice(vEnd + 2, end)
    }
    this.comment = text.slice(vStart, vEnd)
    this.tail = tail
    return true
  }

  /** The spec of the line just read, when its tail was remembered. */
  spec(): RuleSpec | undefined {
    const t = this.specs.get(this.tail)
    if (t === undefined) return undefined
    const n = t.matches.length
    const matches = new Array<MatchSpec>(n + 1)
    matches[0] = { m: 'comment', comment: this.comment }
    for (let k = 0; k < n; k++) matches[k + 1] = t.matches[k]!
    // The parts besides the comment are shared between rules: specs are never changed once parsed.
    // Built field by field (a spread of templates of many shapes goes through a slow generic path).
    const spec: RuleSpec = { matches }
    if (t.src !== undefined) spec.src = t.src
    if (t.dst !== undefined) spec.dst = t.dst
    if (t.iif !== undefined) spec.iif = t.iif
    if (t.oif !== undefined) spec.oif = t.oif
    if (t.proto !== undefined) spec.proto = t.proto
    if (t.target !== undefined) spec.target = t.target
    return spec
  }

  /**
   * Keeps what the full parser made of the line just read: `toks` its tokens, `full` its spec.
   * Not kept when the tail itself could have set the leading comment (a `--comment` before any
   * `-m comment` of its own): then the comment is not the line's VALUE alone.
   */
  remember(toks: readonly string[], full: RuleSpec): void {
    const comment = this.comment
    const first = full.matches[0]
    if (first?.m !== 'comment' || first.comment !== comment) return
    if (toks[0] !== '-A' || toks[1] !== this.chain) return
    if (toks[2] !== '-m' || toks[3] !== 'comment' || toks[4] !== '--comment' || toks[5] !== comment) return
    let own = false
    for (let k = 6; k < toks.length; k++) {
      const t = toks[k]!
      if ((t === '-m' || t === '--match') && toks[k + 1] === 'comment') own = true
      else if (t === '--comment' && !own) return
    }
    this.specs.set(this.tail, { ...full, matches: full.matches.slice(1) })
  }
}

/** Not a blank, quote or backslash (a character the tokenizer takes as it is). */
function plain(c: number): boolean {
  return c > 0x20 && c !== 0x22 && c !== 0x27 && c !== 0x5c
}
