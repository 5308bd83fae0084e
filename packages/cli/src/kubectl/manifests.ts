import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import type { KubeObject } from '@calilab/model'
import { parseAllDocuments } from 'yaml'
import { CliError } from '../io.ts'

export interface Manifest {
  object: KubeObject
  /** The file it came from (`-` for stdin), for messages. */
  source: string
}

function readStdin(): string {
  return readFileSync(0, 'utf8')
}

function filesOf(p: string): string[] {
  if (p === '-') return ['-']
  let st: ReturnType<typeof statSync>
  try {
    st = statSync(p)
  } catch {
    throw new CliError(`error: the path "${p}" does not exist`)
  }
  if (!st.isDirectory()) return [p]
  return readdirSync(p)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => path.join(p, f))
}

/** Parses multi-document YAML/JSON text into objects (`kind: List` flattened, empty docs skipped). */
export function parseManifests(text: string, source: string): Manifest[] {
  const out: Manifest[] = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new CliError(`error: error parsing ${source}: ${doc.errors[0]?.message}`)
    const v = doc.toJS() as unknown
    if (v === null || v === undefined) continue
    if (typeof v !== 'object' || Array.isArray(v)) throw new CliError(`error: error parsing ${source}: not an object`)
    const o = v as KubeObject
    if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o['items'])) {
      for (const item of o['items'] as KubeObject[]) out.push({ object: item, source })
      continue
    }
    if (!o.kind || !o.apiVersion) {
      throw new CliError(`error: error validating data from ${source}: apiVersion and kind must be set`)
    }
    o.metadata ??= {}
    out.push({ object: o, source })
  }
  return out
}

/** Objects from every -f argument (file, directory, or `-` for stdin), in order. */
export function readManifests(paths: readonly string[]): Manifest[] {
  if (paths.length === 0) throw new CliError('error: must specify one of -f and -k')
  const out: Manifest[] = []
  for (const p of paths) {
    for (const f of filesOf(p)) {
      const text = f === '-' ? readStdin() : readFileSync(f, 'utf8')
      out.push(...parseManifests(text, f))
    }
  }
  return out
}
