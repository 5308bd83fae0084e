/**
 * The process bundle: the CLI and every package it starts, bundled by esbuild into plain ESM that
 * `node` runs without tsx (tsx's loader thread alone costs ~94 MiB RSS per process, and compiling
 * TypeScript on every start costs time). `calilab up`'s supervisor starts its children from it.
 *
 * Layout, under `<repo>/build/bundle/` (gitignored):
 * - `<hash>/calilab.mjs`: the whole CLI (what bin/calilab.js runs when the bundle is fresh);
 *   `<hash>/calilab-run.mjs`: `calilab run ...` only, what the supervisor's children run; their
 *   chunks (code splitting: a node process loads the node agent, not the API server); one entry per
 *   worker file (`new URL('./worker.ts', import.meta.url)` in a source becomes
 *   `new URL('./worker-<name>.mjs', import.meta.url)`, so piscina finds the bundled worker).
 *   Directories are immutable once renamed into place: a running process never sees its chunks
 *   change under it, and one a live process runs from is not pruned.
 * - `current.json`: the manifest of the newest build: content hash, entry, and the (mtime, size)
 *   of every input as stat'ed before the build. Fresh = every input still has those; when one
 *   differs, the contents are hashed again and, if unchanged, the bundle is kept; otherwise rebuilt.
 *
 * Third-party packages stay external (resolved from the repository's node_modules at run time):
 * pino and piscina load their own files by path and must not be bundled. Other `import.meta.url`
 * uses (assets, the CLI's bin) are replaced by the source file's own URL, so they resolve as
 * under tsx. `bin/calilab.js` reads the same manifest (a duplicate of `freshBundle`, in plain JS).
 */
import { createHash } from 'node:crypto'
import { type Dirent, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Plugin } from 'esbuild'

/** Bump when the build options or the plugin change: older bundles are then rebuilt. */
const BUNDLE_FORMAT = 2
const ENTRY = 'calilab.mjs'
const RUN_ENTRY = 'calilab-run.mjs'
const KEEP_RECENT = 6
const KEEP_YOUNGER_MS = 60 * 60 * 1000

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const THIS_FILE = fileURLToPath(import.meta.url)

export interface BundleManifest {
  format: number
  hash: string
  /** Entry, relative to the manifest's folder (`<hash>/calilab.mjs`). */
  entry: string
  esbuild: string
  builtAt: string
  buildMs: number
  /** [path relative to the root, mtimeMs, size] as stat'ed before the build read it. */
  inputs: [string, number, number][]
}

export interface BundleOptions {
  /** Repository root (default: this checkout). */
  root?: string
  /** Output folder (default `<root>/build/bundle`). */
  outDir?: string
  /** Called with progress lines (`building the process bundle ...`, `... built in 812 ms`). */
  onProgress?: (msg: string) => void
}

export interface Bundle {
  /** Absolute path of calilab.mjs (the whole CLI). */
  entry: string
  /** Absolute path of calilab-run.mjs: `calilab run ...` only, what supervised children run. */
  run: string
  hash: string
  /** How this call got it: reused as is, reused after re-hashing, or built. */
  how: 'fresh' | 'rehashed' | 'built'
  buildMs: number
}

function outDirOf(o: BundleOptions): { root: string; out: string } {
  const root = o.root ?? REPO_ROOT
  return { root, out: o.outDir ?? path.join(root, 'build', 'bundle') }
}

function readManifest(out: string): BundleManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(path.join(out, 'current.json'), 'utf8')) as BundleManifest
    return m.format === BUNDLE_FORMAT && Array.isArray(m.inputs) ? m : undefined
  } catch {
    return undefined
  }
}

function statOf(file: string): [number, number] | undefined {
  try {
    const s = statSync(file)
    return [s.mtimeMs, s.size]
  } catch {
    return undefined
  }
}

/** The current bundle when every input still has the recorded mtime and size (no esbuild, ~ms). */
export function freshBundle(o: BundleOptions = {}): Bundle | undefined {
  const { root, out } = outDirOf(o)
  const m = readManifest(out)
  if (!m) return undefined
  for (const [rel, mtime, size] of m.inputs) {
    const s = statOf(path.join(root, rel))
    if (!s || s[0] !== mtime || s[1] !== size) return undefined
  }
  const entry = path.join(out, m.entry)
  if (!statOf(entry) || !statOf(runOf(entry))) return undefined
  return { entry, run: runOf(entry), hash: m.hash, how: 'fresh', buildMs: 0 }
}

function runOf(entry: string): string {
  return path.join(path.dirname(entry), RUN_ENTRY)
}

/** Every file a build may read from the repository: package sources, manifests, tsconfigs. */
function candidateInputs(root: string): string[] {
  const files: string[] = ['tsconfig.base.json', 'package.json', path.relative(root, THIS_FILE)]
  const walk = (rel: string) => {
    let entries: Dirent[]
    try {
      entries = readdirSync(path.join(root, rel), { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = path.join(rel, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.(ts|mts|js|mjs|json)$/.test(e.name) && !e.name.endsWith('.d.ts')) files.push(p)
    }
  }
  for (const pkg of readdirSync(path.join(root, 'packages'))) {
    files.push(path.join('packages', pkg, 'package.json'), path.join('packages', pkg, 'tsconfig.json'))
    walk(path.join('packages', pkg, 'src'))
  }
  return [...new Set(files)]
}

interface Snapshot {
  stats: Map<string, [number, number]>
  texts: Map<string, string>
}

/** Stats first, then contents: a file changed after its stat reads as stale next time. */
function snapshot(root: string, rels: readonly string[]): Snapshot {
  const stats = new Map<string, [number, number]>()
  const texts = new Map<string, string>()
  for (const rel of rels) {
    const s = statOf(path.join(root, rel))
    if (!s) continue
    stats.set(rel, s)
    try {
      texts.set(rel, readFileSync(path.join(root, rel), 'utf8'))
    } catch {
      stats.delete(rel)
    }
  }
  return { stats, texts }
}

function contentHash(rels: readonly string[], texts: ReadonlyMap<string, string>, esbuild: string): string {
  const h = createHash('sha256').update(`calilab-bundle ${BUNDLE_FORMAT} esbuild ${esbuild} ${process.version}\n`)
  for (const rel of [...rels].sort()) h.update(`${rel}\0${texts.get(rel) ?? '<missing>'}\0`)
  return h.digest('hex').slice(0, 16)
}

const WORKER_URL = /new URL\(\s*(['"])(\.{1,2}\/[^'"]+\.m?ts)\1\s*,\s*import\.meta\.url\s*\)/g
const TSX_EXEC_ARGV = /\[\s*(['"])--import\1\s*,\s*(['"])tsx\2\s*\]/g
/** Each source's own URL (esbuild's define maps import.meta.url to it; one per module, renamed apart). */
const SOURCE_URL = '__calilab_source_url'
/** The URL of the output file a line of code lands in (declared by the banner of every output file). */
const OUTPUT_URL = '__calilab_output_url'

/** Worker files named by `new URL('./x.ts', import.meta.url)` in any source: absolute path -> entry name. */
function findWorkers(root: string, texts: ReadonlyMap<string, string>): Map<string, string> {
  const workers = new Map<string, string>()
  for (const [rel, text] of texts) {
    if (!rel.endsWith('.ts') || !text.includes('import.meta.url')) continue
    for (const m of text.matchAll(WORKER_URL)) {
      const abs = path.resolve(root, path.dirname(rel), m[2] as string)
      if (!statOf(abs)) continue // an example in a comment
      const name = path
        .relative(path.join(root, 'packages'), abs)
        .replace(/\/src\//, '/')
        .replace(/\.m?ts$/, '')
        .replace(/[^A-Za-z0-9]+/g, '-')
      workers.set(abs, `worker-${name}`)
    }
  }
  return workers
}

/** Rewrites worker URLs to the bundled workers and every other import.meta.url to the source's own URL. */
function sourcePlugin(root: string, workers: ReadonlyMap<string, string>): Plugin {
  return {
    name: 'calilab-sources',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('@calilab/') || path.isAbsolute(args.path)) return undefined
        return { path: args.path, external: true }
      })
      // Every first-party module (any that reads import.meta.url must declare SOURCE_URL).
      b.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
        if (!args.path.startsWith(root) || args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined
        const loader = /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js'
        let text = readFileSync(args.path, 'utf8')
        if (!text.includes('import.meta.url')) return { contents: text, loader }
        let rewroteWorker = false
        text = text.replace(WORKER_URL, (all, _q: string, rel: string) => {
          const name = workers.get(path.resolve(path.dirname(args.path), rel))
          if (!name) return all
          rewroteWorker = true
          return `new URL(${JSON.stringify(`./${name}.mjs`)}, ${OUTPUT_URL})`
        })
        // A bundled worker is plain JS: it needs no tsx loader thread.
        if (rewroteWorker) text = text.replace(TSX_EXEC_ARGV, '[]')
        // On line 1, so line numbers stay those of the source.
        const decl = `const ${SOURCE_URL} = ${JSON.stringify(pathToFileURL(args.path).href)};`
        return { contents: `${decl}${text}`, loader }
      })
    },
  }
}

const NON_ASCII = /[^\x00-\x7f]/
/** Where a comment starts on a line of output: `//`, `/*`, or ` * ` continuing a block comment. */
const COMMENT_START = /\/\/|\/\*|^\s*\*/

/**
 * Makes an output file plain ASCII: esbuild escapes non-ASCII characters in code (charset
 * `ascii`, the default) but keeps comments as written, and one `→` in a comment makes V8 hold the
 * whole chunk's source as a two-byte string (twice the heap: ~0.75 MiB in a node process). Each
 * such character in a comment becomes `?` per UTF-16 unit, so source map columns stay right; a
 * character outside a comment (esbuild could not escape it) is left as it is. Returns the text.
 */
export function asciiComments(text: string): string {
  if (!NON_ASCII.test(text)) return text
  return text
    .split('\n')
    .map((line) => {
      const at = line.search(NON_ASCII)
      if (at < 0) return line
      const comment = line.search(COMMENT_START)
      if (comment < 0 || comment > at) return line
      return line.slice(0, comment) + line.slice(comment).replace(/[^\x00-\x7f]/gu, (c) => '?'.repeat(c.length))
    })
    .join('\n')
}

function asciiOutputs(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.mjs')) continue
    const file = path.join(dir, name)
    const text = readFileSync(file, 'utf8')
    const ascii = asciiComments(text)
    if (ascii !== text) writeFileSync(file, ascii)
  }
}

/** Bundle folders named on the command line of a live process (Linux /proc; empty elsewhere). */
function inUse(): Set<string> {
  const used = new Set<string>()
  let pids: string[] = []
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return used
  }
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      for (const m of cmd.matchAll(/bundle[/\\]([0-9a-f]{16})[/\\]/g)) used.add(m[1] as string)
    } catch {
      // gone, or not ours to read
    }
  }
  return used
}

/**
 * Removes old bundle folders: never the current one, one a live process runs from (it may still
 * load a lazy chunk or a worker), the newest few, or one built in the last hour.
 */
function prune(out: string, keep: string): void {
  let dirs: { name: string; mtime: number }[] = []
  try {
    dirs = readdirSync(out, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => ({ name: e.name, mtime: statOf(path.join(out, e.name))?.[0] ?? 0 }))
  } catch {
    return
  }
  const now = Date.now()
  dirs.sort((a, b) => b.mtime - a.mtime)
  const old = dirs.filter((d, i) => {
    const tmp = d.name.startsWith('.tmp-')
    return d.name !== keep && (tmp || i >= KEEP_RECENT) && now - d.mtime >= KEEP_YOUNGER_MS
  })
  if (!old.length) return
  const used = inUse()
  for (const d of old) if (!used.has(d.name)) rmSync(path.join(out, d.name), { recursive: true, force: true })
}

function writeManifest(out: string, m: BundleManifest): void {
  const tmp = path.join(out, `.current-${process.pid}-${Date.now()}.json`)
  writeFileSync(tmp, `${JSON.stringify(m)}\n`)
  renameSync(tmp, path.join(out, 'current.json'))
}

/**
 * The bundle, built when missing or stale. Safe to call from several processes at once: each
 * builds into a private folder and renames it into place; the manifest is replaced atomically.
 * Throws when esbuild is missing or the build fails (the caller falls back to tsx).
 */
export async function ensureBundle(o: BundleOptions = {}): Promise<Bundle> {
  const fresh = freshBundle(o)
  if (fresh) return fresh
  const { root, out } = outDirOf(o)
  const esbuild = await import('esbuild')
  const prev = readManifest(out)
  const prevEntry = prev && path.join(out, prev.entry)
  if (prev && prevEntry && prev.esbuild === esbuild.version && statOf(prevEntry) && statOf(runOf(prevEntry))) {
    // Something was touched: reuse the bundle when the contents are the same.
    const rels = prev.inputs.map((i) => i[0])
    const snap = snapshot(root, rels)
    if (snap.stats.size === rels.length && contentHash(rels, snap.texts, esbuild.version) === prev.hash) {
      writeManifest(out, { ...prev, inputs: rels.map((r) => [r, ...(snap.stats.get(r) as [number, number])]) })
      const entry = path.join(out, prev.entry)
      return { entry, run: runOf(entry), hash: prev.hash, how: 'rehashed', buildMs: 0 }
    }
  }

  const t0 = performance.now()
  const snap = snapshot(root, candidateInputs(root))
  const workers = findWorkers(root, snap.texts)
  o.onProgress?.(`building the process bundle (esbuild, ${snap.texts.size} files, ${workers.size} worker(s))...`)
  mkdirSync(out, { recursive: true })
  const tmp = path.join(out, `.tmp-${process.pid}-${Date.now().toString(36)}`)
  let result: Awaited<ReturnType<typeof esbuild.build>>
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [
        { in: path.join(root, 'packages/cli/src/main.ts'), out: 'calilab' },
        { in: path.join(root, 'packages/cli/src/run/main.ts'), out: 'calilab-run' },
        ...[...workers].map(([abs, name]) => ({ in: abs, out: name })),
      ],
      outdir: tmp,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      outExtension: { '.js': '.mjs' },
      chunkNames: '[name]-[hash]',
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      legalComments: 'none',
      define: { 'import.meta.url': SOURCE_URL },
      banner: {
        js: `import { createRequire as __calilabRequire } from 'node:module'; const require = __calilabRequire(import.meta.url); const ${OUTPUT_URL} = import.meta.url;`,
      },
      plugins: [sourcePlugin(root, workers)],
    })
    asciiOutputs(tmp)
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    throw e
  }
  // Inputs: what esbuild read, plus the manifests and tsconfigs that steer resolution.
  const read = new Set(
    Object.keys(result.metafile?.inputs ?? {}).map((p) => path.relative(root, path.resolve(root, p))),
  )
  for (const rel of snap.stats.keys()) if (/(^|\/)(package|tsconfig(\.base)?)\.json$/.test(rel)) read.add(rel)
  read.add(path.relative(root, THIS_FILE))
  const rels = [...read].filter((r) => snap.stats.has(r)).sort()
  const hash = contentHash(rels, snap.texts, esbuild.version)
  const final = path.join(out, hash)
  try {
    if (!statOf(path.join(final, ENTRY))) {
      rmSync(final, { recursive: true, force: true })
      renameSync(tmp, final)
    }
  } catch (e) {
    // Another process renamed the same build into place first.
    if (!statOf(path.join(final, ENTRY))) throw e
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  const buildMs = Math.round(performance.now() - t0)
  writeManifest(out, {
    format: BUNDLE_FORMAT,
    hash,
    entry: `${hash}/${ENTRY}`,
    esbuild: esbuild.version,
    builtAt: new Date().toISOString(),
    buildMs,
    inputs: rels.map((r) => [r, ...(snap.stats.get(r) as [number, number])]),
  })
  prune(out, hash)
  o.onProgress?.(`process bundle built in ${buildMs} ms (${path.relative(root, final)})`)
  return { entry: path.join(final, ENTRY), run: path.join(final, RUN_ENTRY), hash, how: 'built', buildMs }
}
