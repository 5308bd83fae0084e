/** Commands that need no network: echo, hostname, cat, grep, head, tail, wc, sleep, true/false... */

import { lines, readAll } from './channel.ts'
import { sleep, type Tool } from './types.ts'

export const echo: Tool = async (argv, _env, io) => {
  let args = argv.slice(1)
  let newline = true
  let escapes = false
  while (args[0] && /^-[neE]+$/.test(args[0])) {
    if (args[0].includes('n')) newline = false
    if (args[0].includes('e')) escapes = true
    args = args.slice(1)
  }
  let s = args.join(' ')
  if (escapes) s = s.replace(/\\n/g, '\n').replace(/\\t/g, '\t').replace(/\\\\/g, '\\')
  io.stdout(newline ? `${s}\n` : s)
  return 0
}

export const hostname: Tool = async (argv, env, io) => {
  if (argv[1] === '-i' || argv[1] === '-I') {
    const ips = env.netns
      ?.addrs()
      .filter((a) => a.scope === 'global')
      .map((a) => [a.ip >>> 24, (a.ip >>> 16) & 255, (a.ip >>> 8) & 255, a.ip & 255].join('.'))
    io.stdout(`${(ips ?? []).join(' ')}${argv[1] === '-I' ? ' ' : ''}\n`)
    return 0
  }
  io.stdout(`${env.hostname}\n`)
  return 0
}

export const cat: Tool = async (argv, env, io) => {
  const files = argv.slice(1).filter((a) => !a.startsWith('-') || a === '-')
  if (files.length === 0) {
    for await (const c of io.stdin ?? []) io.stdout(c)
    return 0
  }
  let rc = 0
  for (const f of files) {
    if (f === '-') {
      io.stdout(await readAll(io.stdin))
      continue
    }
    const text = env.files[f]
    if (text === undefined) {
      io.stderr(`cat: ${f}: No such file or directory\n`)
      rc = 1
    } else io.stdout(text)
  }
  return rc
}

export const trueCmd: Tool = async () => 0
export const falseCmd: Tool = async () => 1

export const sleepCmd: Tool = async (argv, env, io) => {
  const s = Number(argv[1])
  if (!Number.isFinite(s)) {
    io.stderr(`sleep: invalid time interval '${argv[1] ?? ''}'\n`)
    return 1
  }
  try {
    await sleep(env, s * 1000, io.signal)
  } catch {
    return 130
  }
  return 0
}

export const grep: Tool = async (argv, env, io) => {
  let invert = false
  let icase = false
  let count = false
  let max = Infinity
  let pattern: string | undefined
  const files: string[] = []
  const args = argv.slice(1)
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    if (a === '-m') max = Number(args[++i])
    else if (a === '-e') pattern = args[++i]
    else if (/^-[vicEFqw]+$/.test(a) || /^-m\d+$/.test(a)) {
      if (a.startsWith('-m')) max = Number(a.slice(2))
      else {
        if (a.includes('v')) invert = true
        if (a.includes('i')) icase = true
        if (a.includes('c')) count = true
      }
    } else if (pattern === undefined) pattern = a
    else files.push(a)
  }
  if (pattern === undefined) {
    io.stderr('Usage: grep [OPTION]... PATTERNS [FILE]...\n')
    return 2
  }
  let re: RegExp
  try {
    re = new RegExp(pattern, icase ? 'i' : '')
  } catch {
    re = new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), icase ? 'i' : '')
  }
  const src: AsyncIterable<string> =
    files.length > 0
      ? (async function* () {
          for (const f of files) yield env.files[f] ?? ''
        })()
      : (io.stdin ?? (async function* () {})())
  let n = 0
  for await (const l of lines(src)) {
    if (n >= max) continue
    if (re.test(l) !== invert) {
      n++
      if (!count) io.stdout(`${l}\n`)
    }
  }
  if (count) io.stdout(`${n}\n`)
  return n > 0 ? 0 : 1
}

function nArg(argv: readonly string[], def: number): number {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '-n') return Number(argv[i + 1])
    if (/^-n?\d+$/.test(a)) return Number(a.replace(/^-n?/, ''))
  }
  return def
}

export const head: Tool = async (argv, _env, io) => {
  const n = nArg(argv, 10)
  let i = 0
  for await (const l of lines(io.stdin ?? [])) if (i++ < n) io.stdout(`${l}\n`)
  return 0
}

export const tail: Tool = async (argv, _env, io) => {
  const n = nArg(argv, 10)
  const keep: string[] = []
  for await (const l of lines(io.stdin ?? [])) {
    keep.push(l)
    if (keep.length > n) keep.shift()
  }
  io.stdout(keep.map((l) => `${l}\n`).join(''))
  return 0
}

export const wc: Tool = async (argv, _env, io) => {
  const text = await readAll(io.stdin)
  const l = (text.match(/\n/g) ?? []).length
  const w = text.split(/\s+/).filter(Boolean).length
  if (argv.includes('-l')) io.stdout(`${l}\n`)
  else if (argv.includes('-w')) io.stdout(`${w}\n`)
  else if (argv.includes('-c')) io.stdout(`${Buffer.byteLength(text)}\n`)
  else io.stdout(`${String(l).padStart(7)} ${String(w).padStart(7)} ${String(Buffer.byteLength(text)).padStart(7)}\n`)
  return 0
}

export const whoami: Tool = async (_a, _e, io) => {
  io.stdout('root\n')
  return 0
}
export const pwd: Tool = async (_a, _e, io) => {
  io.stdout('/\n')
  return 0
}
export const id: Tool = async (_a, _e, io) => {
  io.stdout('uid=0(root) gid=0(root) groups=0(root)\n')
  return 0
}
export const uname: Tool = async (argv, env, io) => {
  io.stdout(
    argv.includes('-a')
      ? `Linux ${env.hostname} 5.4.0-1059-calilab #62-Ubuntu SMP x86_64 x86_64 x86_64 GNU/Linux\n`
      : argv.includes('-r')
        ? '5.4.0-1059-calilab\n'
        : 'Linux\n',
  )
  return 0
}
export const envCmd: Tool = async (_a, env, io) => {
  const v = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOSTNAME: env.hostname,
    HOME: '/root',
  }
  io.stdout(
    Object.entries(v)
      .map(([k, x]) => `${k}=${x}\n`)
      .join(''),
  )
  return 0
}
export const date: Tool = async (_a, env, io) => {
  const d = new Date(env.clock.now())
  io.stdout(`${d.toUTCString().replace('GMT', 'UTC')}\n`)
  return 0
}
