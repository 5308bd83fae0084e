/**
 * A small POSIX-shell command-line parser: words with '…', "…" and \ quoting, $VAR / ${VAR} / $?
 * expansion, and the operators `|`, `;`, `&&`, `||`. Enough for the lines people type in the lab.
 */

export type Pipeline = string[][]
export interface CommandList {
  /** Pipelines joined by `;` (always run), `&&` (run on success), `||` (run on failure). */
  readonly items: { op: ';' | '&&' | '||'; pipeline: Pipeline }[]
}

export type ParseResult = { ok: true; list: CommandList } | { ok: false; message: string }

export function parseCommandLine(line: string, vars: Readonly<Record<string, string>> = {}): ParseResult {
  type Tok = { w: string } | { op: string }
  const toks: Tok[] = []
  let i = 0
  let cur: string | undefined
  const push = () => {
    if (cur !== undefined) toks.push({ w: cur })
    cur = undefined
  }
  const expand = (): string => {
    // at line[i] === '$'
    const rest = line.slice(i + 1)
    let m = /^\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(rest)
    if (m) {
      i += 1 + m[0].length
      return vars[m[1] as string] ?? ''
    }
    m = /^([A-Za-z_][A-Za-z0-9_]*|\?|\$)/.exec(rest)
    if (m) {
      i += 1 + m[0].length
      return vars[m[1] as string] ?? ''
    }
    i++
    return '$'
  }
  while (i < line.length) {
    const c = line[i] as string
    if (c === ' ' || c === '\t') {
      push()
      i++
    } else if (c === '#' && cur === undefined) break
    else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) return { ok: false, message: "unexpected EOF while looking for matching `''" }
      cur = (cur ?? '') + line.slice(i + 1, end)
      i = end + 1
    } else if (c === '"') {
      i++
      let s = ''
      for (;;) {
        if (i >= line.length) return { ok: false, message: 'unexpected EOF while looking for matching `"\'' }
        const d = line[i] as string
        if (d === '"') break
        if (d === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1] as string)) {
          s += line[i + 1]
          i += 2
        } else if (d === '$') s += expand()
        else {
          s += d
          i++
        }
      }
      cur = (cur ?? '') + s
      i++
    } else if (c === '\\') {
      cur = (cur ?? '') + (line[i + 1] ?? '')
      i += 2
    } else if (c === '$') {
      cur = (cur ?? '') + expand()
    } else if (c === '|' || c === ';' || c === '&') {
      push()
      const two = line.slice(i, i + 2)
      if (two === '&&' || two === '||') {
        toks.push({ op: two })
        i += 2
      } else if (c === '&') {
        // background: run in the foreground (no job control here)
        i++
      } else {
        toks.push({ op: c })
        i++
      }
    } else {
      cur = (cur ?? '') + c
      i++
    }
  }
  push()
  const items: CommandList['items'] = []
  let op: ';' | '&&' | '||' = ';'
  let pipeline: Pipeline = []
  let words: string[] = []
  const endCmd = (): boolean => {
    if (words.length === 0) return false
    pipeline.push(words)
    words = []
    return true
  }
  for (const t of toks) {
    if ('w' in t) words.push(t.w)
    else if (t.op === '|') {
      if (!endCmd()) return { ok: false, message: "syntax error near unexpected token `|'" }
    } else {
      if (!endCmd() && pipeline.length > 0)
        return { ok: false, message: `syntax error near unexpected token \`${t.op}'` }
      if (pipeline.length > 0) items.push({ op, pipeline })
      else if (t.op !== ';') return { ok: false, message: `syntax error near unexpected token \`${t.op}'` }
      pipeline = []
      op = t.op as ';' | '&&' | '||'
    }
  }
  if (!endCmd() && pipeline.length > 0) return { ok: false, message: 'syntax error: unexpected end of file' }
  if (pipeline.length > 0) items.push({ op, pipeline })
  return { ok: true, list: { items } }
}

/**
 * Splits a line at top-level `;`, `&&`, `||` (outside quotes) without expanding anything, so each
 * part can be expanded when it runs (`false; echo $?` sees the new status).
 */
export function splitList(line: string): { op: ';' | '&&' | '||'; text: string }[] {
  const out: { op: ';' | '&&' | '||'; text: string }[] = []
  let op: ';' | '&&' | '||' = ';'
  let start = 0
  let q: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (q) {
      if (c === q) q = undefined
      else if (c === '\\' && q === '"') i++
      continue
    }
    if (c === "'" || c === '"') q = c
    else if (c === '\\') i++
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) break
    else if (c === ';' || line.startsWith('&&', i) || line.startsWith('||', i)) {
      out.push({ op, text: line.slice(start, i) })
      op = c === ';' ? ';' : (line.slice(i, i + 2) as '&&' | '||')
      if (c !== ';') i++
      start = i + 1
    }
  }
  if (!q) out.push({ op, text: line.slice(start) })
  else out.push({ op, text: line.slice(start) })
  return out.filter((x, i) => x.text.trim() !== '' || i === 0)
}
