/** JSON patch (RFC 6902) with JSON pointers (RFC 6901). Pure. */

import { deepClone, deepEqual, isObject } from './json.ts'
import { ApiError, apiErrors } from './status.ts'

/**
 * A patch that parses but cannot be applied: 422 Invalid, as kube-apiserver answers when
 * evanphx/json-patch fails to apply (a malformed patch is 400 BadRequest).
 */
function unprocessable(message: string): ApiError {
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'Invalid',
    code: 422,
  })
}

/** Splits a JSON pointer into unescaped tokens; `''` is the whole document. */
export function parseJsonPointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/'))
    throw new Error(`JSON pointer must be empty or start with "/": ${JSON.stringify(pointer)}`)
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~[^01]|~$/.test(t)) throw new Error(`invalid escape in JSON pointer token ${JSON.stringify(t)}`)
      return t.replace(/~1/g, '/').replace(/~0/g, '~')
    })
}

const INDEX = /^(0|[1-9][0-9]*)$/

interface OpContext {
  index: number
  op: string
  path: string
}

function fail(c: OpContext, why: string): ApiError {
  return unprocessable(
    `json patch ${c.op} operation ${c.index} on path ${JSON.stringify(c.path)} does not apply: ${why}`,
  )
}

/** Resolves all tokens but the last; returns the container and the last token. */
function parent(doc: unknown, tokens: string[], c: OpContext): { container: unknown; key: string } {
  let cur = doc
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i] as string
    if (Array.isArray(cur)) {
      if (!INDEX.test(t) || Number(t) >= cur.length) throw fail(c, `doc is missing path: index ${t} out of range`)
      cur = cur[Number(t)]
    } else if (isObject(cur)) {
      if (!Object.hasOwn(cur, t)) throw fail(c, `doc is missing path: key ${JSON.stringify(t)} not found`)
      cur = cur[t]
    } else {
      throw fail(c, `doc is missing path: cannot descend into a ${cur === null ? 'null' : typeof cur}`)
    }
  }
  return { container: cur, key: tokens[tokens.length - 1] as string }
}

function getAt(doc: unknown, tokens: string[], c: OpContext): unknown {
  if (tokens.length === 0) return doc
  const { container, key } = parent(doc, tokens, c)
  if (Array.isArray(container)) {
    if (!INDEX.test(key) || Number(key) >= container.length) throw fail(c, `index ${key} out of range`)
    return container[Number(key)]
  }
  if (isObject(container) && Object.hasOwn(container, key)) return container[key]
  throw fail(c, `missing value`)
}

function addAt(doc: unknown, tokens: string[], value: unknown, c: OpContext): unknown {
  if (tokens.length === 0) return value
  const { container, key } = parent(doc, tokens, c)
  if (Array.isArray(container)) {
    if (key === '-') container.push(value)
    else if (INDEX.test(key) && Number(key) <= container.length) container.splice(Number(key), 0, value)
    else throw fail(c, `index ${key} out of range`)
  } else if (isObject(container)) {
    container[key] = value
  } else {
    throw fail(c, `doc is missing path: parent is not an object or array`)
  }
  return doc
}

function removeAt(doc: unknown, tokens: string[], c: OpContext): { doc: unknown; removed: unknown } {
  if (tokens.length === 0) throw fail(c, 'cannot remove the whole document')
  const { container, key } = parent(doc, tokens, c)
  if (Array.isArray(container)) {
    if (!INDEX.test(key) || Number(key) >= container.length) throw fail(c, `index ${key} out of range`)
    const [removed] = container.splice(Number(key), 1)
    return { doc, removed }
  }
  if (isObject(container) && Object.hasOwn(container, key)) {
    const removed = container[key]
    delete container[key]
    return { doc, removed }
  }
  throw fail(c, 'missing value')
}

/** Applies an RFC 6902 patch (an array of operations). The target is not modified. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw apiErrors.badRequest('json patch must be an array of operations')
  let doc = deepClone(target)
  ops.forEach((raw, index) => {
    if (!isObject(raw)) throw apiErrors.badRequest(`json patch operation ${index} is not an object`)
    const op = raw['op']
    const path = raw['path']
    if (typeof op !== 'string') throw apiErrors.badRequest(`json patch operation ${index}: missing "op"`)
    if (typeof path !== 'string') throw apiErrors.badRequest(`json patch operation ${index} (${op}): missing "path"`)
    const c: OpContext = { index, op, path }
    const pointer = (p: string, what: string): string[] => {
      try {
        return parseJsonPointer(p)
      } catch (e) {
        throw apiErrors.badRequest(`json patch operation ${index} (${op}): invalid ${what}: ${(e as Error).message}`)
      }
    }
    const tokens = pointer(path, 'path')
    const needValue = (): unknown => {
      if (!Object.hasOwn(raw, 'value') || raw['value'] === undefined)
        throw apiErrors.badRequest(`json patch operation ${index} (${op} ${path}): missing "value"`)
      return deepClone(raw['value'])
    }
    const needFrom = (): string[] => {
      const from = raw['from']
      if (typeof from !== 'string')
        throw apiErrors.badRequest(`json patch operation ${index} (${op} ${path}): missing "from"`)
      return pointer(from, 'from')
    }
    switch (op) {
      case 'add':
        doc = addAt(doc, tokens, needValue(), c)
        break
      case 'remove':
        doc = removeAt(doc, tokens, c).doc
        break
      case 'replace': {
        const value = needValue()
        if (tokens.length === 0) {
          doc = value
          break
        }
        getAt(doc, tokens, c)
        const { container, key } = parent(doc, tokens, c)
        if (Array.isArray(container)) container[Number(key)] = value
        else (container as Record<string, unknown>)[key] = value
        break
      }
      case 'move': {
        const from = needFrom()
        if (from.length < tokens.length && from.every((t, i) => tokens[i] === t))
          throw fail(c, 'cannot move a value into one of its children')
        const r = removeAt(doc, from, c)
        doc = addAt(r.doc, tokens, r.removed, c)
        break
      }
      case 'copy': {
        const from = needFrom()
        doc = addAt(doc, tokens, deepClone(getAt(doc, from, c)), c)
        break
      }
      case 'test': {
        const value = needValue()
        if (!deepEqual(getAt(doc, tokens, c), value)) throw fail(c, 'test failed: value differs')
        break
      }
      default:
        throw apiErrors.badRequest(`json patch operation ${index}: unexpected op ${JSON.stringify(op)}`)
    }
  })
  return doc
}
