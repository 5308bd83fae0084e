import type { Labels, SelectorNode } from './ast.ts'

export type Matcher = (labels: Labels) => boolean

const TRUE: Matcher = () => true

/** Small sets are scanned; larger ones use a Set. */
const SET_THRESHOLD = 8

/**
 * Compiles an AST once into closures, so evaluation does no tree walking or dispatch on kinds.
 * A label is present when its value is a string (`typeof`), which also keeps keys such as
 * `constructor` or `__proto__` from matching through the prototype chain.
 */
export function compileSelector(node: SelectorNode): Matcher {
  switch (node.kind) {
    case 'all':
    case 'global':
      return TRUE
    case 'has': {
      const k = node.key
      return (l) => typeof l[k] === 'string'
    }
    case 'compare': {
      const k = node.key
      const v = node.value
      switch (node.op) {
        case '==':
          return (l) => l[k] === v
        case '!=':
          return (l) => l[k] !== v
        case 'contains':
          return (l) => {
            const x = l[k]
            return typeof x === 'string' && x.includes(v)
          }
        case 'starts with':
          return (l) => {
            const x = l[k]
            return typeof x === 'string' && x.startsWith(v)
          }
        case 'ends with':
          return (l) => {
            const x = l[k]
            return typeof x === 'string' && x.endsWith(v)
          }
      }
      break
    }
    case 'set': {
      const k = node.key
      const values = node.values
      const neg = node.op === 'not in'
      if (values.length === 0) return neg ? TRUE : () => false
      if (values.length === 1) {
        const v = values[0] as string
        return neg ? (l) => l[k] !== v : (l) => l[k] === v
      }
      if (values.length <= SET_THRESHOLD) {
        const arr = [...values]
        return neg
          ? (l) => {
              const x = l[k]
              return typeof x !== 'string' || !arr.includes(x)
            }
          : (l) => {
              const x = l[k]
              return typeof x === 'string' && arr.includes(x)
            }
      }
      const set = new Set(values)
      return neg
        ? (l) => {
            const x = l[k]
            return typeof x !== 'string' || !set.has(x)
          }
        : (l) => {
            const x = l[k]
            return typeof x === 'string' && set.has(x)
          }
    }
    case 'not': {
      const f = compileSelector(node.operand)
      return (l) => !f(l)
    }
    case 'and': {
      const fs = node.operands.map(compileSelector)
      if (fs.length === 2) {
        const [a, b] = fs as [Matcher, Matcher]
        return (l) => a(l) && b(l)
      }
      return (l) => {
        for (const f of fs) if (!f(l)) return false
        return true
      }
    }
    case 'or': {
      const fs = node.operands.map(compileSelector)
      if (fs.length === 2) {
        const [a, b] = fs as [Matcher, Matcher]
        return (l) => a(l) || b(l)
      }
      return (l) => {
        for (const f of fs) if (f(l)) return true
        return false
      }
    }
  }
  throw new Error('unreachable')
}
