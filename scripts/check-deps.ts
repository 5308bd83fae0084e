/**
 * Enforces the import table of ARCHITECTURE.md: which workspace packages each package may import,
 * that no package reaches into another by relative path, that nothing imports @calilab/cli, and
 * that src/core/ stays pure (no sockets, files, timers, Date.now or Math.random).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

export const ALLOWED: Record<string, readonly string[]> = {
  kit: [],
  model: [],
  proto: ['model'],
  dataplane: ['kit', 'model'],
  apiserver: ['kit', 'model', 'proto'],
  typha: ['kit', 'model', 'proto'],
  'bgp-speaker': ['kit', 'model', 'proto'],
  'node-agent': ['kit', 'model', 'proto', 'dataplane', 'bgp-speaker'],
  cli: ['kit', 'model', 'proto', 'dataplane', 'apiserver', 'typha', 'bgp-speaker', 'node-agent'],
  testkit: ['kit', 'model', 'proto', 'dataplane', 'apiserver', 'typha', 'bgp-speaker', 'node-agent'],
}

const IMPURE =
  /from ['"](node:)?(fs|net|dgram|http|https|child_process|worker_threads|timers)(\/[a-z]+)?['"]|from ['"](ws|piscina|pino)['"]|Date\.now\(|Math\.random\(|[^.a-zA-Z]setTimeout\(|[^.a-zA-Z]setInterval\(/

function files(dir: string): string[] {
  let out: string[] = []
  for (const e of readdirSync(dir)) {
    const p = join(dir, e)
    if (statSync(p).isDirectory()) out = out.concat(files(p))
    else if (p.endsWith('.ts')) out.push(p)
  }
  return out
}

export function checkDeps(root: string): string[] {
  const problems: string[] = []
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src')
    const allowed = ALLOWED[pkg]
    if (!allowed) {
      problems.push(`packages/${pkg}: not in the import table of ARCHITECTURE.md`)
      continue
    }
    let list: string[] = []
    try {
      list = files(src)
    } catch {
      continue
    }
    for (const f of list) {
      const text = readFileSync(f, 'utf8')
      const rel = f.slice(root.length + 1)
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]@calilab\/([a-z-]+)/g)) {
        const used = m[1] as string
        if (used === pkg) problems.push(`${rel}: imports its own package by name`)
        else if (used === 'cli') problems.push(`${rel}: nothing may import @calilab/cli`)
        else if (!allowed.includes(used))
          problems.push(
            `${rel}: @calilab/${pkg} may not import @calilab/${used} (allowed: ${allowed.join(', ') || 'none'})`,
          )
      }
      if (/from ['"](\.\.\/)+(packages\/|\.\.\/[a-z-]+\/src)/.test(text))
        problems.push(`${rel}: reaches into another package by relative path`)
      if (/\/src\/core\//.test(f)) {
        text.split('\n').forEach((line, i) => {
          if (IMPURE.test(line) && !/^\s*(\/\/|\*)/.test(line))
            problems.push(`${rel}:${i + 1}: src/core must stay pure: ${line.trim()}`)
        })
      }
    }
  }
  return problems
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = checkDeps(process.cwd())
  if (problems.length) {
    for (const p of problems) process.stderr.write(`check-deps: ${p}\n`)
    process.exit(1)
  }
  process.stdout.write('check-deps: import rules hold\n')
}
