// The fresh check of src/bundle.ts (freshBundle), in plain JS so it runs before tsx is registered:
// the bundle's manifest lists every input with its mtime and size; any difference means stale.
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Must match BUNDLE_FORMAT in src/bundle.ts. */
export const BUNDLE_FORMAT = 2
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * calilab.mjs of the current bundle when every input is unchanged, else undefined. `run`:
 * calilab-run.mjs instead (`calilab run ...` only: what the supervisor starts, and docker compose).
 */
export function freshBundleEntry(root = ROOT, run = false) {
  const out = path.join(root, 'build', 'bundle')
  let m
  try {
    m = JSON.parse(readFileSync(path.join(out, 'current.json'), 'utf8'))
  } catch {
    return undefined
  }
  if (m?.format !== BUNDLE_FORMAT || !Array.isArray(m.inputs) || typeof m.entry !== 'string') return undefined
  try {
    for (const [rel, mtime, size] of m.inputs) {
      const s = statSync(path.join(root, rel))
      if (s.mtimeMs !== mtime || s.size !== size) return undefined
    }
    const entry = path.join(out, m.entry)
    const chosen = run ? path.join(path.dirname(entry), 'calilab-run.mjs') : entry
    statSync(chosen)
    return chosen
  } catch {
    return undefined
  }
}
