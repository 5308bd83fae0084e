/**
 * Kubernetes label selectors (k8s.io/apimachinery/pkg/labels): the string syntax of
 * `?labelSelector=` and `kubectl -l`, and metav1.LabelSelector objects. Pure.
 */
import { apiErrors } from './status.ts'

export type LabelOperator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt'

export interface LabelRequirement {
  key: string
  operator: LabelOperator
  /** Sorted and de-duplicated; empty for exists / `!`. */
  values: string[]
}

/** A parsed selector: the AND of its requirements (sorted by key). `nothing` matches no object. */
export interface LabelSelector {
  requirements: LabelRequirement[]
  nothing?: boolean
}

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: string; values?: string[] }[]
}

// ---- validation (k8s.io/apimachinery/pkg/util/validation) ----

const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

const NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
const VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

/** The problems with a label key (a qualified name, `prefix/name`), empty when valid. */
export function labelKeyErrors(key: string): string[] {
  const errs: string[] = []
  const parts = key.split('/')
  let name = key
  if (parts.length === 2) {
    const prefix = parts[0] as string
    name = parts[1] as string
    if (prefix.length === 0) errs.push('prefix part must be non-empty')
    else if (prefix.length > 253) errs.push('prefix part must be no more than 253 characters')
    else if (!DNS1123_SUBDOMAIN_RE.test(prefix))
      errs.push(
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      )
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ]
  }
  if (name.length === 0) errs.push('name part must be non-empty')
  else if (name.length > 63) errs.push('name part must be no more than 63 characters')
  else if (!NAME_RE.test(name)) errs.push(NAME_MSG)
  return errs
}

/** The problems with a label value, empty when valid. */
export function labelValueErrors(v: string): string[] {
  const errs: string[] = []
  if (v.length > 63) errs.push('must be no more than 63 characters')
  if (!VALUE_RE.test(v)) errs.push(VALUE_MSG)
  return errs
}

class SelectorError extends Error {}

function newRequirement(key: string, operator: LabelOperator, values: string[]): LabelRequirement {
  const keyErrs = labelKeyErrors(key)
  if (keyErrs.length) throw new SelectorError(`key: Invalid value: ${JSON.stringify(key)}: ${keyErrs.join('; ')}`)
  const uniq = [...new Set(values)].sort()
  switch (operator) {
    case 'in':
    case 'notin':
      if (uniq.length === 0)
        throw new SelectorError("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty")
      break
    case '=':
    case '==':
    case '!=':
      if (uniq.length !== 1)
        throw new SelectorError(
          `values: Invalid value: ${JSON.stringify(uniq)}: exact-match compatibility requires one single value`,
        )
      break
    case 'exists':
    case '!':
      if (uniq.length !== 0)
        throw new SelectorError(
          `values: Invalid value: ${JSON.stringify(uniq)}: values set must be empty for exists and does not exist`,
        )
      break
    case 'gt':
    case 'lt':
      if (uniq.length !== 1)
        throw new SelectorError(
          `values: Invalid value: ${JSON.stringify(uniq)}: for 'Gt', 'Lt' operators, exactly one value is required`,
        )
      if (!/^-?[0-9]+$/.test(uniq[0] as string))
        throw new SelectorError(
          `values[0]: Invalid value: ${JSON.stringify(uniq[0])}: for 'Gt', 'Lt' operators, the value must be an integer`,
        )
      break
  }
  if (operator !== 'gt' && operator !== 'lt') {
    uniq.forEach((v, i) => {
      const errs = labelValueErrors(v)
      if (errs.length)
        throw new SelectorError(`values[${i}][${key}]: Invalid value: ${JSON.stringify(v)}: ${errs.join('; ')}`)
    })
  }
  return { key, operator, values: uniq }
}

// ---- lexer and parser (labels/selector.go) ----

type Tok = 'id' | 'eos' | '(' | ')' | ',' | '!' | '=' | '==' | '!=' | '>' | '<' | 'in' | 'notin'

const SYMBOLS = ['!=', '==', '=', '!', '(', ')', ',', '>', '<'] as const
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n'
const isSpecial = (c: string): boolean => '=!(),><'.includes(c)

function lex(s: string): { tok: Tok; lit: string }[] {
  const out: { tok: Tok; lit: string }[] = []
  let i = 0
  for (;;) {
    while (i < s.length && isSpace(s[i] as string)) i++
    if (i >= s.length) {
      out.push({ tok: 'eos', lit: '' })
      return out
    }
    const c = s[i] as string
    if (isSpecial(c)) {
      const sym = SYMBOLS.find((x) => s.startsWith(x, i)) as string
      out.push({ tok: sym as Tok, lit: sym })
      i += sym.length
    } else {
      let j = i
      while (j < s.length && !isSpace(s[j] as string) && !isSpecial(s[j] as string)) j++
      const word = s.slice(i, j)
      out.push({ tok: word === 'in' || word === 'notin' ? word : 'id', lit: word })
      i = j
    }
  }
}

const BINARY_OPERATORS = 'in, notin, =, ==, !=, gt, lt'

class Parser {
  readonly items: { tok: Tok; lit: string }[]
  pos = 0
  constructor(s: string) {
    this.items = lex(s)
  }
  /** In the "values" context the keywords in/notin are plain identifiers. */
  private view(i: number, values: boolean): { tok: Tok; lit: string } {
    const it = this.items[Math.min(i, this.items.length - 1)] as { tok: Tok; lit: string }
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'id', lit: it.lit } : it
  }
  lookahead(values = true): { tok: Tok; lit: string } {
    return this.view(this.pos, values)
  }
  consume(values = true): { tok: Tok; lit: string } {
    return this.view(this.pos++, values)
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = []
    for (;;) {
      const { tok, lit } = this.lookahead()
      if (tok === 'id' || tok === '!') {
        let r: LabelRequirement
        try {
          r = this.requirement()
        } catch (e) {
          if (e instanceof SelectorError) throw new SelectorError(`unable to parse requirement: ${e.message}`)
          throw e
        }
        reqs.push(r)
        const next = this.consume()
        if (next.tok === 'eos') return reqs
        if (next.tok === ',') {
          const after = this.lookahead()
          if (after.tok !== 'id' && after.tok !== '!')
            throw new SelectorError(`found '${after.lit}', expected: identifier after ','`)
          continue
        }
        throw new SelectorError(`found '${next.lit}', expected: ',' or 'end of string'`)
      }
      if (tok === 'eos') return reqs
      throw new SelectorError(`found '${lit}', expected: !, identifier, or 'end of string'`)
    }
  }

  private requirement(): LabelRequirement {
    let notExists = false
    let { tok, lit } = this.consume()
    if (tok === '!') {
      notExists = true
      ;({ tok, lit } = this.consume())
    }
    if (tok !== 'id') throw new SelectorError(`found '${lit}', expected: identifier`)
    const key = lit
    const keyErrs = labelKeyErrors(key)
    if (keyErrs.length) throw new SelectorError(`key: Invalid value: ${JSON.stringify(key)}: ${keyErrs.join('; ')}`)
    const la = this.lookahead().tok
    // `!a=b`: the requirement ends at the key; parse() then rejects the `=` that follows.
    if (notExists) return newRequirement(key, '!', [])
    if (la === 'eos' || la === ',') return newRequirement(key, 'exists', [])
    const opTok = this.consume(false)
    let op: LabelOperator
    switch (opTok.tok) {
      case 'in':
      case 'notin':
      case '=':
      case '==':
      case '!=':
        op = opTok.tok
        break
      case '>':
        op = 'gt'
        break
      case '<':
        op = 'lt'
        break
      default:
        throw new SelectorError(`found '${opTok.lit}', expected: ${BINARY_OPERATORS}`)
    }
    const values = op === 'in' || op === 'notin' ? this.setValues() : this.exactValue()
    return newRequirement(key, op, values)
  }

  private setValues(): string[] {
    const open = this.consume()
    if (open.tok !== '(') throw new SelectorError(`found '${open.lit}' expected: '('`)
    const la = this.lookahead()
    if (la.tok === ')') {
      this.consume()
      return ['']
    }
    if (la.tok !== 'id' && la.tok !== ',')
      throw new SelectorError(`found '${la.lit}', expected: ',', ')' or identifier`)
    const vals = new Set<string>()
    for (;;) {
      const { tok, lit } = this.consume()
      if (tok === 'id') {
        vals.add(lit)
        const next = this.lookahead()
        if (next.tok === ',') continue
        if (next.tok === ')') break
        throw new SelectorError(`found '${next.lit}', expected: ',' or ')'`)
      }
      if (tok === ',') {
        if (vals.size === 0) vals.add('')
        const next = this.lookahead()
        if (next.tok === ')') {
          vals.add('')
          break
        }
        if (next.tok === ',') {
          this.consume()
          vals.add('')
        }
        continue
      }
      throw new SelectorError(`found '${lit}', expected: ',', or identifier`)
    }
    const close = this.consume()
    if (close.tok !== ')') throw new SelectorError(`found '${close.lit}', expected: ')'`)
    return [...vals]
  }

  private exactValue(): string[] {
    const la = this.lookahead()
    if (la.tok === 'eos' || la.tok === ',') return ['']
    const { tok, lit } = this.consume()
    if (tok === 'id') return [lit]
    throw new SelectorError(`found '${lit}', expected: identifier`)
  }
}

function byKey(a: LabelRequirement, b: LabelRequirement): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}

/**
 * Parses the label selector string syntax (`app=web,tier in (a,b),!canary`). An empty string
 * selects everything. Errors are ApiError 400 with the real parser's message.
 */
export function parseLabelSelector(s: string): LabelSelector {
  try {
    const reqs = new Parser(s).parse()
    return { requirements: reqs.sort(byKey) }
  } catch (e) {
    if (e instanceof SelectorError) throw apiErrors.badRequest(e.message)
    throw e
  }
}

function matchesRequirement(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key)
  const v = labels[r.key]
  switch (r.operator) {
    case 'exists':
      return has
    case '!':
      return !has
    case '=':
    case '==':
    case 'in':
      return has && r.values.includes(v as string)
    case '!=':
    case 'notin':
      return !has || !r.values.includes(v as string)
    case 'gt':
    case 'lt': {
      if (!has || !/^-?[0-9]+$/.test(v as string)) return false
      const lv = Number(v)
      const rv = Number(r.values[0])
      return r.operator === 'gt' ? lv > rv : lv < rv
    }
  }
}

/** Whether a label set satisfies every requirement of the selector. */
export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  if (sel.nothing) return false
  const l = labels ?? {}
  return sel.requirements.every((r) => matchesRequirement(r, l))
}

/** The selector that matches everything. */
export function everything(): LabelSelector {
  return { requirements: [] }
}

/** labels.SelectorFromSet: `k=v` for each entry (Service.spec.selector). Empty or absent matches everything. */
export function selectorFromMap(map: Record<string, string> | undefined): LabelSelector {
  const reqs = Object.entries(map ?? {}).map(([k, v]) => newRequirementOrBad(k, '=', [v]))
  return { requirements: reqs.sort(byKey) }
}

function newRequirementOrBad(key: string, op: LabelOperator, values: string[]): LabelRequirement {
  try {
    return newRequirement(key, op, values)
  } catch (e) {
    if (e instanceof SelectorError) throw apiErrors.badRequest(e.message)
    throw e
  }
}

const SPEC_OPERATORS: Record<string, LabelOperator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' }

/**
 * metav1.LabelSelectorAsSelector for a `matchLabels`/`matchExpressions` object. Absent or empty
 * matches everything (what Deployments and NetworkPolicy podSelectors mean by `{}`).
 */
export function labelSelectorFromSpec(spec: LabelSelectorSpec | undefined): LabelSelector {
  if (!spec) return everything()
  const reqs: LabelRequirement[] = []
  for (const [k, v] of Object.entries(spec.matchLabels ?? {})) reqs.push(newRequirementOrBad(k, '=', [v]))
  for (const e of spec.matchExpressions ?? []) {
    const op = SPEC_OPERATORS[e.operator]
    if (!op) throw apiErrors.badRequest(`${JSON.stringify(e.operator)} is not a valid label selector operator`)
    reqs.push(newRequirementOrBad(e.key, op, op === 'in' || op === 'notin' ? (e.values ?? []) : []))
  }
  return { requirements: reqs.sort(byKey) }
}

function formatRequirement(r: LabelRequirement): string {
  switch (r.operator) {
    case 'exists':
      return r.key
    case '!':
      return `!${r.key}`
    case 'in':
    case 'notin':
      return `${r.key} ${r.operator} (${r.values.join(',')})`
    case 'gt':
      return `${r.key}>${r.values[0]}`
    case 'lt':
      return `${r.key}<${r.values[0]}`
    default:
      return `${r.key}${r.operator}${r.values[0]}`
  }
}

/** The canonical string form (labels.Selector.String): requirements by key, comma-joined. */
export function formatLabelSelector(sel: LabelSelector): string {
  return sel.requirements.map(formatRequirement).join(',')
}

/** labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort()
  if (keys.length === 0) return '<none>'
  return keys.map((k) => `${k}=${(labels as Record<string, string>)[k]}`).join(',')
}
