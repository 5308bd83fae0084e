/**
 * Splits a command line the way iptables-restore and a shell do: whitespace, "quotes", 'quotes', \escapes.
 * Runs of plain characters are sliced out of the line (no per-character string building): this
 * runs for every line of an iptables-restore or ipset restore of 100k+ lines.
 */
export function tokenize(line: string): string[] {
  return tokenizePlain(line) ?? tokenizeFull(line)
}

/**
 * The common case in one pass of native searches: tokens separated by single or repeated spaces,
 * whole-token "double quotes" without escapes inside. Undefined for anything else (tabs, CR/LF,
 * backslashes, single quotes, a quote inside or right after a token).
 */
function tokenizePlain(line: string): string[] | undefined {
  if (
    line.indexOf('\\') >= 0 ||
    line.indexOf("'") >= 0 ||
    line.indexOf('\t') >= 0 ||
    line.indexOf('\r') >= 0 ||
    line.indexOf('\n') >= 0
  )
    return undefined
  const out: string[] = []
  const n = line.length
  let nextQuote = line.indexOf('"')
  if (nextQuote < 0) nextQuote = n
  let i = 0
  while (i < n) {
    if (line.charCodeAt(i) === 0x20) {
      i++
      continue
    }
    if (i === nextQuote) {
      const close = line.indexOf('"', i + 1)
      if (close < 0 || (close + 1 < n && line.charCodeAt(close + 1) !== 0x20)) return undefined
      out.push(line.slice(i + 1, close))
      i = close + 1
      nextQuote = line.indexOf('"', i)
      if (nextQuote < 0) nextQuote = n
      continue
    }
    let end = line.indexOf(' ', i)
    if (end < 0) end = n
    if (nextQuote < end) return undefined
    out.push(word(line, i, end))
    i = end
  }
  return out
}

function tokenizeFull(line: string): string[] {
  const out: string[] = []
  const n = line.length
  let i = 0
  for (;;) {
    // Skip whitespace.
    while (i < n && isSpace(line.charCodeAt(i))) i++
    if (i >= n) break
    let cur = ''
    let start = i
    for (;;) {
      if (i >= n) {
        cur += cur === '' ? word(line, start, i) : line.slice(start, i)
        break
      }
      const c = line.charCodeAt(i)
      if (isSpace(c)) {
        cur += cur === '' ? word(line, start, i) : line.slice(start, i)
        break
      }
      if (c === 0x22 || c === 0x27) {
        // A quoted run: up to the matching quote; inside "…" a backslash escapes the next character.
        cur += line.slice(start, i)
        i++
        let qs = i
        for (;;) {
          if (i >= n) throw new SyntaxError(`unterminated quoted string in: ${line}`)
          const q = line.charCodeAt(i)
          if (q === c) break
          if (q === 0x5c && c === 0x22 && i + 1 < n) {
            cur += line.slice(qs, i)
            i++
            qs = i
          }
          i++
        }
        cur += line.slice(qs, i)
        i++
        start = i
        continue
      }
      if (c === 0x5c && i + 1 < n) {
        cur += line.slice(start, i)
        start = i + 1
        i += 2
        continue
      }
      i++
    }
    out.push(cur)
  }
  return out
}

/**
 * Words that make up most of an iptables-restore (option and module names, targets): a plain
 * token equal to one is returned as this constant instead of a fresh copy, which spares the
 * garbage collector ~10 short strings per rule line. Constant data, by length.
 */
const MAX_WORD = 20
const WORDS: readonly (readonly string[] | undefined)[] = (() => {
  const words = [
    '!',
    '-A',
    '-I',
    '-D',
    '-N',
    '-X',
    '-F',
    '-P',
    '-m',
    '-j',
    '-g',
    '-p',
    '-s',
    '-d',
    '-i',
    '-o',
    '-c',
    'tcp',
    'udp',
    'icmp',
    'src',
    'dst',
    'set',
    'mark',
    'comment',
    'multiport',
    'conntrack',
    'state',
    'addrtype',
    'statistic',
    'physdev',
    'MARK',
    'ACCEPT',
    'DROP',
    'RETURN',
    'REJECT',
    'LOG',
    'DNAT',
    'SNAT',
    'MASQUERADE',
    'CT',
    '--comment',
    '--mark',
    '--match-set',
    '--ctstate',
    '--state',
    '--set-xmark',
    '--dport',
    '--sport',
    '--dports',
    '--sports',
    '--icmp-type',
    '--dst-type',
    '--src-type',
    '--tcp-flags',
    '--to-destination',
    '--to-source',
    '--reject-with',
    '--log-prefix',
    '--mode',
    '--probability',
    'ESTABLISHED',
    'RELATED',
    'NEW',
    'INVALID',
    'RELATED,ESTABLISHED',
    'src,dst',
    'dst,dst',
    'src,src',
    'dst,src',
    'LOCAL',
    'random',
    'hash:ip',
    'hash:net',
    'hash:ip,port',
    'list:set',
    'add',
    'create',
    'family',
    'inet',
    'hashsize',
    'maxelem',
    'filter',
    'nat',
    'mangle',
    'raw',
  ]
  // Indexed by length and last character: one or two candidates to compare.
  const byKey: (string[] | undefined)[] = new Array(wordKey(MAX_WORD + 1, 0)).fill(undefined)
  for (const w of words) (byKey[wordKey(w.length, w.charCodeAt(w.length - 1))] ??= []).push(w)
  return byKey
})()

function wordKey(len: number, last: number): number {
  return len * 128 + (last & 0x7f)
}

/** line[start, end) as a string: one of WORDS when it is one, else a slice. */
function word(line: string, start: number, end: number): string {
  const len = end - start
  if (len <= MAX_WORD) {
    const ws = WORDS[wordKey(len, line.charCodeAt(end - 1))]
    if (ws !== undefined)
      for (let k = 0; k < ws.length; k++) {
        const w = ws[k]!
        if (line.startsWith(w, start)) return w
      }
  }
  return line.slice(start, end)
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}
