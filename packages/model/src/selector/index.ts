/**
 * Calico's selector language: parse, canonical print, compiled evaluation, AST transforms.
 * Pure: no I/O, no module-level state.
 */
import { createHash } from 'node:crypto'
import { type Labels, labelKeysOf, type SelectorNode } from './ast.ts'
import { compileSelector, type Matcher } from './compile.ts'
import { SelectorError } from './errors.ts'
import { parseSelectorNode } from './parser.ts'
import { printSelector } from './print.ts'

export * from './ast.ts'
export { compileSelector, type Matcher } from './compile.ts'
export { formatSelectorError, SELECTOR_PARSE, SelectorError, type SelectorErrorData } from './errors.ts'
export { MAX_LABEL_LENGTH, parseSelectorNode } from './parser.ts'
export { printSelector } from './print.ts'

export interface Selector {
  /** The text it was parsed from (for a selector built from an AST: its canonical form). */
  readonly source: string
  evaluate(labels: Labels): boolean
  /** Canonical form, as Calico renders it. */
  toString(): string
  readonly ast: SelectorNode
  /** Calico's id: `s:` + base64url(SHA-224(`s:` + canonical)), unpadded; IP set names derive from it. */
  readonly uniqueId: string
  /** The label keys it reads, sorted. */
  labelKeys(): string[]
}

/** Calico's `hash.MakeUniqueID(prefix, content)`. */
export function makeUniqueId(prefix: string, content: string): string {
  return `${prefix}:${createHash('sha224').update(`${prefix}:${content}`).digest('base64url')}`
}

class CompiledSelector implements Selector {
  readonly source: string
  readonly ast: SelectorNode
  readonly evaluate: Matcher
  readonly #canonical: string
  #id: string | undefined

  constructor(source: string | undefined, ast: SelectorNode) {
    this.ast = ast
    this.#canonical = printSelector(ast)
    this.source = source ?? this.#canonical
    this.evaluate = compileSelector(ast)
  }

  get uniqueId(): string {
    if (this.#id === undefined) this.#id = makeUniqueId('s', this.#canonical)
    return this.#id
  }

  toString(): string {
    return this.#canonical
  }

  labelKeys(): string[] {
    return labelKeysOf(this.ast)
  }

  toJSON(): string {
    return this.#canonical
  }
}

/** Parses and compiles a selector; throws {@link SelectorError} (code `SELECTOR_PARSE`). */
export function parseSelector(src: string): Selector {
  return new CompiledSelector(src, parseSelectorNode(src))
}

export type TryParseResult =
  | { ok: true; selector: Selector }
  | { ok: false; error: { message: string; column: number } }

/** Like {@link parseSelector} but returns the error (1-based column) instead of throwing. */
export function tryParseSelector(src: string): TryParseResult {
  try {
    return { ok: true, selector: parseSelector(src) }
  } catch (e) {
    if (e instanceof SelectorError) return { ok: false, error: { message: e.message, column: e.column } }
    throw e
  }
}

/** A compiled selector for an AST (after mapLabelKeys / replaceAll / andSelectors). */
export function selectorFromNode(ast: SelectorNode, source?: string): Selector {
  return new CompiledSelector(source, ast)
}
