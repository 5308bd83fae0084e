/**
 * The table calicoctl v3.21 prints through olekukonko/tablewriter with its defaults: `+---+`
 * borders, headers upper-cased and centred (left gets the smaller half of the gap), cells padded
 * by one space, cells that look like plain numbers right-aligned and everything else left-aligned.
 * Cells are never wrapped here (tablewriter wraps only cells over 30 characters that contain
 * spaces, which calicoctl's never do).
 */

const DECIMAL = /^-?(?:\d{1,3}(?:,\d{3})*|\d+)(?:\.\d+)?$/

function title(h: string): string {
  return h.replace(/_/g, ' ').trim().toUpperCase()
}

export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const heads = header.map(title)
  const widths = heads.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`
  const center = (s: string, w: number) => {
    const gap = w - s.length
    if (gap <= 0) return s
    const left = Math.floor(gap / 2)
    return ' '.repeat(left) + s + ' '.repeat(gap - left)
  }
  const cell = (s: string, w: number) => (DECIMAL.test(s.trim()) ? s.padStart(w) : s.padEnd(w))
  const out = [line, `|${heads.map((h, i) => ` ${center(h, widths[i] ?? 0)} `).join('|')}|`, line]
  for (const r of rows) out.push(`|${widths.map((w, i) => ` ${cell(r[i] ?? '', w)} `).join('|')}|`)
  out.push(line)
  return `${out.join('\n')}\n`
}

/** Go's `%.5g` for the non-negative integers IPAM counts (exact, ties to even). */
export function goG5(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (n === 0) return '0'
  if (!Number.isInteger(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) return goGFallback(n)
  const digits = String(n)
  const exp = digits.length - 1
  if (exp < 5) return digits
  // round to 5 significant digits, ties to even
  let mant = BigInt(digits.slice(0, 5))
  const rest = digits.slice(5)
  const half = `5${'0'.repeat(rest.length - 1)}`
  if (rest > half || (rest === half && mant % 2n === 1n)) mant += 1n
  let e = exp
  let m = mant.toString()
  if (m.length > 5) {
    m = m.slice(0, 5)
    e++
  }
  const frac = m.slice(1).replace(/0+$/, '')
  return `${m[0]}${frac ? `.${frac}` : ''}e+${String(e).padStart(2, '0')}`
}

function goGFallback(n: number): string {
  const s = n.toPrecision(5)
  const m = /^(-?[\d.]+)(?:e([+-])(\d+))?$/.exec(s)
  if (!m) return s
  const mant = (m[1] ?? '').includes('.') ? (m[1] ?? '').replace(/\.?0+$/, '') : (m[1] ?? '')
  if (m[2] === undefined) return mant
  return `${mant}e${m[2]}${(m[3] ?? '').padStart(2, '0')}`
}

/** Go's `%.f`: round half to even. */
export function goF0(x: number): string {
  const f = Math.floor(x)
  const d = x - f
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1
  return String(r)
}
