/**
 * The small JSONPath subset CRD additionalPrinterColumns use: `.spec.foo`, `.a.b[0]`, `.a[*].b`,
 * `.status.conditions[?(@.type=="Ready")].status`, optionally wrapped in `{}`. Pure.
 */
import { isObject } from './json.ts'

type Step =
  | { kind: 'field'; name: string }
  | { kind: 'index'; i: number }
  | { kind: 'all' }
  | { kind: 'filter'; path: string[]; op: '==' | '!='; value: unknown }

function parse(expr: string): Step[] | undefined {
  let s = expr.trim()
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1).trim()
  if (s.startsWith('$')) s = s.slice(1)
  const steps: Step[] = []
  let i = 0
  while (i < s.length) {
    const c = s[i]
    if (c === '.') {
      let j = i + 1
      while (j < s.length && s[j] !== '.' && s[j] !== '[') j++
      const name = s.slice(i + 1, j)
      if (name === '') return undefined
      steps.push(name === '*' ? { kind: 'all' } : { kind: 'field', name })
      i = j
    } else if (c === '[') {
      const close = s.indexOf(']', i)
      if (close < 0) return undefined
      const inner = s.slice(i + 1, close).trim()
      i = close + 1
      if (inner === '*') steps.push({ kind: 'all' })
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', i: Number(inner) })
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) })
      else {
        const m = /^\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*(==|!=)\s*(.+)\)$/.exec(inner)
        if (!m) return undefined
        const raw = (m[3] as string).trim()
        let value: unknown
        if (/^'.*'$/.test(raw)) value = raw.slice(1, -1)
        else {
          try {
            value = JSON.parse(raw)
          } catch {
            return undefined
          }
        }
        steps.push({ kind: 'filter', path: (m[1] as string).slice(1).split('.'), op: m[2] as '==' | '!=', value })
      }
    } else return undefined
  }
  return steps
}

function getIn(v: unknown, path: string[]): unknown {
  let cur = v
  for (const p of path) {
    if (!isObject(cur)) return undefined
    cur = cur[p]
  }
  return cur
}

/** Evaluates the expression; every value found, in order (empty when none or the path is invalid). */
export function evalJsonPath(obj: unknown, expr: string): unknown[] {
  const steps = parse(expr)
  if (!steps) return []
  let cur: unknown[] = [obj]
  for (const st of steps) {
    const next: unknown[] = []
    for (const v of cur) {
      switch (st.kind) {
        case 'field':
          if (isObject(v) && v[st.name] !== undefined) next.push(v[st.name])
          break
        case 'index':
          if (Array.isArray(v)) {
            const x = v[st.i < 0 ? v.length + st.i : st.i]
            if (x !== undefined) next.push(x)
          }
          break
        case 'all':
          if (Array.isArray(v)) next.push(...v)
          else if (isObject(v)) next.push(...Object.values(v))
          break
        case 'filter':
          if (Array.isArray(v)) {
            for (const el of v) {
              const got = getIn(el, st.path)
              if (got === undefined) continue
              if ((got === st.value) === (st.op === '==')) next.push(el)
            }
          }
          break
      }
    }
    cur = next
  }
  return cur
}
