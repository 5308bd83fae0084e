import t from 'tap'
import { parseSelector, SELECTOR_PARSE, SelectorError, tryParseSelector } from '../src/index.ts'

// [selector, 1-based column, fragment of the reason]
type ErrCase = readonly [string, number, string]

const long = 'a'.repeat(513)

const errors: ErrCase[] = [
  ['app == ', 8, 'expected a quoted value after =='],
  ['app ==', 7, 'expected a quoted value after =='],
  ['app != ', 8, 'expected a quoted value after !='],
  ['app == x', 8, 'expected a quoted value after =='],
  ['app contains', 13, 'expected a quoted value after contains'],
  ['app starts with 5', 17, 'expected a quoted value after starts with'],
  ['app ends with', 14, 'expected a quoted value after ends with'],
  ['app', 4, 'expected an operator'],
  ['app   ', 7, 'expected an operator'],
  ['app = "x"', 5, "single '='"],
  ['app == "x', 8, 'unterminated string'],
  ["app == 'x", 8, 'unterminated string'],
  ['app == "x\'', 8, 'unterminated string'],
  ['app == "x" &', 12, 'expected &&'],
  ['app == "x" & b == "y"', 12, 'expected &&'],
  ['app == "x" | b == "y"', 12, 'expected ||'],
  ['(app == "x"', 12, 'expected ) to close the ( at column 1'],
  ['a == "b" && (c == "d"', 22, 'expected ) to close the ( at column 13'],
  ['app == "x")', 11, "unexpected ')'"],
  ['a == "b" )', 10, "unexpected ')'"],
  ['()', 2, 'expected an expression'],
  ['has()', 5, 'expected a label inside has()'],
  ['has(a', 6, 'expected ) after has(a'],
  ['has(a b)', 7, 'expected ) after has(a'],
  ['has("a")', 5, 'expected a label inside has()'],
  ['all(x)', 5, 'takes no arguments'],
  ['global(1)', 8, 'takes no arguments'],
  ['all(', 5, 'takes no arguments'],
  ['foo(bar)', 1, 'unknown function foo()'],
  ['app in "x"', 8, 'expected { after in'],
  ['app not in "x"', 12, 'expected { after not in'],
  ['app in {x}', 9, 'expected a quoted value or }'],
  ['app in {"a",,}', 13, 'expected a quoted value or }'],
  ['app in {"a" "b"}', 13, 'expected , or }'],
  ['app in {"a",', 13, 'unterminated set'],
  ['app in {', 9, 'unterminated set: no } for the { at column 8'],
  ['app in {"a"', 12, 'unterminated set'],
  ['app in {"a}', 9, 'unterminated string'],
  ['app not "x"', 9, 'expected "not in"'],
  ['app not is {"x"}', 9, 'expected "not in" but found "not is"'],
  ['app starts "x"', 12, 'expected "starts with"'],
  ['app ends without "x"', 10, 'expected "ends with" but found "ends without"'],
  ['app equals "x"', 5, 'but found "equals"'],
  ['app inn {"x"}', 5, 'but found "inn"'],
  ['a > "b"', 3, "but found '>'"],
  ['a ! "b"', 3, "but found '!'"],
  ['&& a == "b"', 1, "expected a label, has(), all(), global(), ! or ( but found '&'"],
  ['a == "b" &&', 12, 'unexpected end of selector'],
  ['a == "b" ||', 12, 'unexpected end of selector'],
  ['a == "b" && && c == "d"', 13, "but found '&'"],
  ['!', 2, 'unexpected end of selector'],
  ['!(', 3, 'unexpected end of selector'],
  ['!= "x"', 1, "unexpected '!='"],
  ['a == "b" c == "d"', 10, "expected && or || but found 'c'"],
  ['app in {"a"} x', 14, "expected && or || but found 'x'"],
  ['"x" == a', 1, `but found '"'`],
  ['ü == "x"', 1, "but found 'ü'"],
  ['a\n== "x"', 2, 'expected an operator'],
  ['{} == "x"', 1, "but found '{'"],
  [`${long} == "x"`, 1, 'label is 513 characters long; the limit is 512'],
  [`has(${long})`, 5, 'the limit is 512'],
  [`app in {"x"} && ${long} in {}`, 17, 'the limit is 512'],
]

t.test('at least 30 error cases', (t) => {
  t.ok(errors.length >= 30, `${errors.length} cases`)
  t.end()
})

for (const [src, column, fragment] of errors) {
  t.test(`error: ${JSON.stringify(src.length > 40 ? `${src.slice(0, 37)}...` : src)}`, (t) => {
    let caught: unknown
    try {
      parseSelector(src)
    } catch (e) {
      caught = e
    }
    t.ok(caught instanceof SelectorError, 'throws SelectorError')
    const err = caught as SelectorError
    t.equal(err.code, SELECTOR_PARSE)
    t.equal(err.column, column, 'column (1-based)')
    t.match(err.reason, fragment)
    t.equal(err.message, `selector ${JSON.stringify(src)} column ${column}: ${err.reason}`)
    const r = tryParseSelector(src)
    t.same(r, { ok: false, error: { message: err.message, column } })
    t.end()
  })
}

t.test('the message names the selector, the column and what was expected', (t) => {
  const r = tryParseSelector('app == ')
  t.equal(r.ok, false)
  if (!r.ok) {
    t.match(r.error.message, /^selector "app == " column 8: expected a quoted value after ==/)
    t.equal(r.error.column, 8)
  }
  t.end()
})

t.test('SelectorError is a coded error that crosses boundaries as plain data', (t) => {
  const r = (() => {
    try {
      parseSelector('a = "b"')
    } catch (e) {
      return e
    }
    return undefined
  })()
  t.ok(r instanceof Error)
  const err = r as SelectorError
  t.equal(err.name, 'SelectorError')
  t.same(err.details, { selector: 'a = "b"', column: 3, reason: "expected == but found a single '='" })
  const json = JSON.parse(JSON.stringify(err)) as Record<string, unknown>
  t.same(json, {
    code: 'SELECTOR_PARSE',
    message: `selector "a = \\"b\\"" column 3: expected == but found a single '='`,
    selector: 'a = "b"',
    column: 3,
    reason: "expected == but found a single '='",
  })
  t.end()
})

t.test('labels of exactly 512 characters are accepted', (t) => {
  const k = 'k'.repeat(512)
  t.equal(parseSelector(`${k} == "x"`).evaluate({ [k]: 'x' }), true)
  t.equal(parseSelector(`has(${k})`).labelKeys()[0], k)
  t.end()
})

t.test('tryParseSelector returns the selector on success and rethrows nothing else', (t) => {
  const r = tryParseSelector('has(a)')
  t.equal(r.ok, true)
  if (r.ok) t.equal(r.selector.evaluate({ a: '' }), true)
  t.end()
})
