/**
 * The selector AST, its normalising constructors and the transforms policy rendering needs.
 *
 * Invariants (the parser and every constructor here keep them, so that
 * `parse(print(x))` is structurally equal to `x`):
 * - `and` / `or` nodes have at least two operands (one operand collapses to itself);
 * - a `not` never directly wraps another `not` (Calico's parser folds any run of `!` by parity);
 * - set values are sorted (by UTF-16 code units, like Go's byte order for ASCII) and de-duplicated.
 *
 * Nesting is kept as written: `(a && b) && c` is an `and` whose first operand is an `and`, exactly
 * as Calico's parser builds it, so canonical strings (and selector ids) match Calico's.
 */

export type Labels = Readonly<Record<string, string>>

/** `all()`: matches everything in the scope the selector is evaluated over. */
export interface AllNode {
  readonly kind: 'all'
}

/**
 * `global()`: like Calico's GlobalNode it evaluates to true everywhere. Its meaning comes from
 * rewriting: in a rule's `namespaceSelector`, after the `pcns.` prefixing, Calico replaces it with
 * `!has(projectcalico.org/namespace)`, i.e. "non-namespaced things" (host endpoints,
 * GlobalNetworkSets). Use {@link replaceGlobal} for that rewrite.
 */
export interface GlobalNode {
  readonly kind: 'global'
}

/** `has(k)`: label `k` present (any value, including ""). */
export interface HasNode {
  readonly kind: 'has'
  readonly key: string
}

export type CompareOp = '==' | '!=' | 'contains' | 'starts with' | 'ends with'

/** `k <op> "v"`. `!=` also matches when `k` is absent; every other op needs `k` present. */
export interface CompareNode {
  readonly kind: 'compare'
  readonly op: CompareOp
  readonly key: string
  readonly value: string
}

export type SetOp = 'in' | 'not in'

/** `k in {..}` / `k not in {..}`. `not in` also matches when `k` is absent. */
export interface SetNode {
  readonly kind: 'set'
  readonly op: SetOp
  readonly key: string
  /** Sorted, unique. */
  readonly values: readonly string[]
}

export interface NotNode {
  readonly kind: 'not'
  readonly operand: SelectorNode
}

export interface AndNode {
  readonly kind: 'and'
  /** At least two. */
  readonly operands: readonly SelectorNode[]
}

export interface OrNode {
  readonly kind: 'or'
  /** At least two. */
  readonly operands: readonly SelectorNode[]
}

export type SelectorNode = AllNode | GlobalNode | HasNode | CompareNode | SetNode | NotNode | AndNode | OrNode

export const COMPARE_OPS: readonly CompareOp[] = ['==', '!=', 'contains', 'starts with', 'ends with']
export const SET_OPS: readonly SetOp[] = ['in', 'not in']

// ---- constructors (normalising) ----

export function allNode(): AllNode {
  return { kind: 'all' }
}

export function globalNode(): GlobalNode {
  return { kind: 'global' }
}

export function hasNode(key: string): HasNode {
  return { kind: 'has', key }
}

export function compareNode(op: CompareOp, key: string, value: string): CompareNode {
  return { kind: 'compare', op, key, value }
}

/** Sorts and de-duplicates `values`. */
export function setNode(op: SetOp, key: string, values: Iterable<string>): SetNode {
  return { kind: 'set', op, key, values: sortedUnique(values) }
}

/** `!x`; `!!x` folds to `x`. */
export function notNode(operand: SelectorNode): SelectorNode {
  return operand.kind === 'not' ? operand.operand : { kind: 'not', operand }
}

/** An `and` of the operands as given (no flattening); one operand is returned as is, none is `all()`. */
export function andNode(operands: readonly SelectorNode[]): SelectorNode {
  if (operands.length === 0) return allNode()
  if (operands.length === 1) return operands[0] as SelectorNode
  return { kind: 'and', operands: [...operands] }
}

/** An `or` of the operands as given; one operand is returned as is. Needs at least one. */
export function orNode(operands: readonly SelectorNode[]): SelectorNode {
  if (operands.length === 0) throw new RangeError('orNode needs at least one operand')
  if (operands.length === 1) return operands[0] as SelectorNode
  return { kind: 'or', operands: [...operands] }
}

/**
 * `(a) && (b)`, the way Calico combines selectors textually (`(<sel>) && <ns clause>`) and then
 * re-parses: the result is a two-operand `and` whose operands keep their own structure.
 */
export function andSelectors(a: SelectorNode, b: SelectorNode): SelectorNode {
  return { kind: 'and', operands: [a, b] }
}

export function sortedUnique(values: Iterable<string>): string[] {
  const out = [...new Set(values)]
  out.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
  return out
}

// ---- transforms ----

/** Rebuilds `node` bottom-up, letting `leaf` replace each leaf node; keeps the invariants. */
export function mapLeaves(
  node: SelectorNode,
  leaf: (n: Exclude<SelectorNode, NotNode | AndNode | OrNode>) => SelectorNode,
): SelectorNode {
  switch (node.kind) {
    case 'not':
      return notNode(mapLeaves(node.operand, leaf))
    case 'and':
      return andNode(node.operands.map((o) => mapLeaves(o, leaf)))
    case 'or':
      return orNode(node.operands.map((o) => mapLeaves(o, leaf)))
    default:
      return leaf(node)
  }
}

/**
 * Renames every label key the selector reads (Calico's PrefixVisitor), e.g.
 * `mapLabelKeys(n, (k) => 'pcns.' + k)` for a namespaceSelector. The new keys are not validated.
 */
export function mapLabelKeys(node: SelectorNode, fn: (key: string) => string): SelectorNode {
  return mapLeaves(node, (n) => {
    switch (n.kind) {
      case 'has':
        return hasNode(fn(n.key))
      case 'compare':
        return compareNode(n.op, fn(n.key), n.value)
      case 'set':
        return { kind: 'set', op: n.op, key: fn(n.key), values: n.values }
      default:
        return n
    }
  })
}

/**
 * Replaces every `all()` with `replacement` (Calico rewrites the text `all()` to
 * `has(projectcalico.org/namespace)` in GNP namespaceSelectors). Unlike Calico's textual
 * replacement this never touches a quoted value that happens to contain "all()".
 */
export function replaceAll(node: SelectorNode, replacement: SelectorNode): SelectorNode {
  return mapLeaves(node, (n) => (n.kind === 'all' ? replacement : n))
}

/** Replaces every `global()` with `replacement` (rule namespaceSelector: `!has(projectcalico.org/namespace)`). */
export function replaceGlobal(node: SelectorNode, replacement: SelectorNode): SelectorNode {
  return mapLeaves(node, (n) => (n.kind === 'global' ? replacement : n))
}

/** The label keys a selector reads, sorted and unique. */
export function labelKeysOf(node: SelectorNode): string[] {
  const keys = new Set<string>()
  const walk = (n: SelectorNode): void => {
    switch (n.kind) {
      case 'has':
      case 'compare':
      case 'set':
        keys.add(n.key)
        return
      case 'not':
        walk(n.operand)
        return
      case 'and':
      case 'or':
        for (const o of n.operands) walk(o)
        return
      default:
        return
    }
  }
  walk(node)
  return sortedUnique(keys)
}

/** Structural equality of two ASTs. */
export function nodesEqual(a: SelectorNode, b: SelectorNode): boolean {
  switch (a.kind) {
    case 'all':
    case 'global':
      return b.kind === a.kind
    case 'has':
      return b.kind === 'has' && b.key === a.key
    case 'compare':
      return b.kind === 'compare' && b.op === a.op && b.key === a.key && b.value === a.value
    case 'set':
      return (
        b.kind === 'set' &&
        b.op === a.op &&
        b.key === a.key &&
        b.values.length === a.values.length &&
        a.values.every((v, i) => b.values[i] === v)
      )
    case 'not':
      return b.kind === 'not' && nodesEqual(a.operand, b.operand)
    case 'and':
    case 'or':
      return (
        b.kind === a.kind &&
        b.operands.length === a.operands.length &&
        a.operands.every((o, i) => nodesEqual(o, b.operands[i] as SelectorNode))
      )
  }
}
