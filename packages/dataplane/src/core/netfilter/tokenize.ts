/** Splits a command line the way iptables-restore and a shell do: whitespace, "quotes", 'quotes', \escapes. */
export function tokenize(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let inTok = false
  let quote: '"' | "'" | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote) {
      if (c === quote) quote = undefined
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i]
      else cur += c
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      inTok = true
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i]
      inTok = true
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inTok) out.push(cur)
      cur = ''
      inTok = false
    } else {
      cur += c
      inTok = true
    }
  }
  if (quote) throw new SyntaxError(`unterminated quoted string in: ${line}`)
  if (inTok) out.push(cur)
  return out
}
