/**
 * The command runner and the emulated /bin/bash: `runCommand(argv)` runs one program (sudo is
 * accepted and ignored; `sh -c`/`bash -c` run a script), `runScript` runs a command line with
 * pipes and `;`/`&&`/`||`, and `interactiveShell` is the prompt `kubectl exec -ti POD -- /bin/bash`
 * and `calilab ssh NODE` give (a line discipline that echoes when a tty is attached).
 */

import * as basic from './basic.ts'
import { Channel, lines } from './channel.ts'
import { curl } from './curl.ts'
import { dig } from './dig.ts'
import { nc } from './nc.ts'
import { conntrack, ip, ipset, iptables, iptablesSave } from './net.ts'
import { ping } from './ping.ts'
import { tcpdump } from './tcpdump.ts'
import type { Tool, ToolEnv, ToolIo } from './types.ts'
import { parseCommandLine, splitList } from './words.ts'

export const TOOLS: Readonly<Record<string, Tool>> = {
  echo: basic.echo,
  hostname: basic.hostname,
  cat: basic.cat,
  true: basic.trueCmd,
  false: basic.falseCmd,
  sleep: basic.sleepCmd,
  grep: basic.grep,
  egrep: basic.grep,
  head: basic.head,
  tail: basic.tail,
  wc: basic.wc,
  whoami: basic.whoami,
  pwd: basic.pwd,
  id: basic.id,
  uname: basic.uname,
  env: basic.envCmd,
  date: basic.date,
  ip,
  iptables,
  'iptables-legacy': iptables,
  'iptables-save': iptablesSave,
  ipset,
  conntrack,
  tcpdump,
  curl,
  nc,
  netcat: nc,
  ping,
  dig,
}

/** Thrown by the `exit` builtin so it unwinds a script. */
export class ShellExit extends Error {
  readonly code: number
  constructor(code: number) {
    super(`exit ${code}`)
    this.code = code
  }
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1)
}

/** Runs one program with its arguments. */
export async function runCommand(argv: readonly string[], env: ToolEnv, io: ToolIo): Promise<number> {
  let args = [...argv]
  while (args[0] === 'sudo') {
    args = args.slice(1)
    while (args[0]?.startsWith('-')) args = args.slice(1)
  }
  const prog = args[0]
  if (prog === undefined) return 0
  const name = baseName(prog)
  if (name === 'sh' || name === 'bash' || name === 'ash') {
    const c = args.indexOf('-c')
    if (c >= 0) {
      try {
        return await runScript(args[c + 1] ?? '', env, io)
      } catch (e) {
        if (e instanceof ShellExit) return e.code
        throw e
      }
    }
    return interactiveShell(env, io, { tty: false })
  }
  if (name === 'exit') throw new ShellExit(args[1] === undefined ? Number(env.vars?.['?'] ?? 0) : Number(args[1]) & 255)
  if (name === 'cd' || name === 'export' || name === 'clear' || name === 'set') return 0
  const tool = (env.tools && Object.hasOwn(env.tools, name) ? env.tools[name] : undefined) ?? TOOLS[name]
  if (!tool) {
    io.stderr(`bash: ${prog}: command not found\n`)
    return 127
  }
  try {
    return await tool(args, env, io)
  } catch (e) {
    if (e instanceof ShellExit) throw e
    io.stderr(`${name}: ${(e as Error).message}\n`)
    return 1
  }
}

/** Runs a command line (pipes, `;`, `&&`, `||`, quoting, $VAR). Throws ShellExit on `exit`. */
export async function runScript(line: string, env: ToolEnv, io: ToolIo): Promise<number> {
  const vars = (env.vars ??= { '?': '0', HOSTNAME: env.hostname, HOME: '/root' })
  const whole = parseCommandLine(line, {})
  if (!whole.ok) {
    io.stderr(`bash: ${whole.message}\n`)
    vars['?'] = '2'
    return 2
  }
  let rc = Number(vars['?'] ?? 0)
  for (const part of splitList(line)) {
    if (part.op === '&&' && rc !== 0) continue
    if (part.op === '||' && rc === 0) continue
    const parsed = parseCommandLine(part.text, vars)
    if (!parsed.ok) continue
    for (const item of parsed.list.items) {
      rc = await runPipeline(item.pipeline, env, io)
      vars['?'] = String(rc)
    }
  }
  return rc
}

async function runPipeline(cmds: string[][], env: ToolEnv, io: ToolIo): Promise<number> {
  if (cmds.length === 1) return runCommand(cmds[0] as string[], env, io)
  const runs: Promise<number>[] = []
  let input: AsyncIterable<string> | undefined = io.stdin
  for (let i = 0; i < cmds.length; i++) {
    const last = i === cmds.length - 1
    const out = last ? undefined : new Channel()
    const sub: ToolIo = {
      stdout: out ? (s) => out.push(s) : io.stdout,
      ...(!out && io.stdoutBytes ? { stdoutBytes: io.stdoutBytes } : {}),
      stderr: io.stderr,
      signal: io.signal,
      ...(input ? { stdin: input } : {}),
    }
    runs.push(runCommand(cmds[i] as string[], env, sub).finally(() => out?.end()))
    input = out
  }
  const codes = await Promise.all(runs)
  return codes[codes.length - 1] ?? 0
}

export interface ShellOptions {
  /** A terminal is attached: echo input, \r\n line ends, prompt. */
  tty: boolean
}

/** The interactive shell: prompt, read a line, run it, until `exit` or end of input. */
export async function interactiveShell(env: ToolEnv, io: ToolIo, o: ShellOptions): Promise<number> {
  const prompt = () => `root@${env.hostname}:/# `
  const out = o.tty ? (s: string) => io.stdout(s.replace(/\r?\n/g, '\r\n')) : io.stdout
  const err = o.tty ? (s: string) => io.stderr(s.replace(/\r?\n/g, '\r\n')) : io.stderr
  const vars = (env.vars ??= { '?': '0', HOSTNAME: env.hostname, HOME: '/root' })
  const input = o.tty ? ttyLines(io, out) : lines(io.stdin ?? [])
  if (o.tty) out(prompt())
  for (;;) {
    let cmdAbort: AbortController | undefined
    const next = await input.next()
    if (next.done) {
      if (o.tty) out('exit\n')
      return Number(vars['?'] ?? 0)
    }
    const line = next.value
    if (line === '\u0003') {
      vars['?'] = '130'
      if (o.tty) out(prompt())
      continue
    }
    cmdAbort = new AbortController()
    const onAbort = () => cmdAbort?.abort()
    io.signal.addEventListener('abort', onAbort, { once: true })
    const sub: ToolIo = { stdout: out, stderr: err, signal: cmdAbort.signal }
    try {
      await runScript(line, env, sub)
    } catch (e) {
      if (e instanceof ShellExit) {
        if (o.tty) out('exit\n')
        return e.code
      }
      throw e
    } finally {
      io.signal.removeEventListener('abort', onAbort)
    }
    if (io.signal.aborted) return 130
    if (o.tty) out(prompt())
  }
}

/** A terminal line discipline over raw input: echo, backspace, Ctrl-C (yields '\u0003'), Ctrl-D. */
async function* ttyLines(io: ToolIo, echo: (s: string) => void): AsyncGenerator<string> {
  let line = ''
  for await (const chunk of io.stdin ?? []) {
    for (const ch of chunk) {
      if (ch === '\r' || ch === '\n') {
        echo('\n')
        const l = line
        line = ''
        yield l
      } else if (ch === '\u007f' || ch === '\b') {
        if (line.length > 0) {
          line = line.slice(0, -1)
          echo('\b \b')
        }
      } else if (ch === '\u0003') {
        echo('^C\n')
        line = ''
        yield '\u0003'
      } else if (ch === '\u0004') {
        if (line === '') return
      } else if (ch === '\u0015') {
        echo('\b \b'.repeat(line.length))
        line = ''
      } else if (ch === '\u001b') {
        // escape sequences (arrows) are ignored
      } else if (ch >= ' ' || ch === '\t') {
        line += ch
        echo(ch)
      }
    }
  }
}
