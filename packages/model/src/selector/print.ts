import type { SelectorNode } from './ast.ts'

/** Calico quotes with `"` unless the value contains one, then with `'`. */
function quote(v: string): string {
  return v.includes('"') ? `'${v}'` : `"${v}"`
}

/**
 * Canonical text, as Calico's `collectFragments` renders it: `k == "v"`, `has(k)`, `all()`,
 * `global()`, `!` + operand, `k in {"a", "b"}`, and every and/or wrapped in parentheses joined by
 * ` && ` / ` || `. A value containing both quote characters cannot be written in the language (it
 * has no escapes); the parser never produces one.
 */
export function printSelector(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()'
    case 'global':
      return 'global()'
    case 'has':
      return `has(${node.key})`
    case 'compare':
      return `${node.key} ${node.op} ${quote(node.value)}`
    case 'set':
      return `${node.key} ${node.op} {${node.values.map(quote).join(', ')}}`
    case 'not':
      return `!${printSelector(node.operand)}`
    case 'and':
      return `(${node.operands.map(printSelector).join(' && ')})`
    case 'or':
      return `(${node.operands.map(printSelector).join(' || ')})`
  }
}
