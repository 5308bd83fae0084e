/**
 * `calilab ssh/exec ... -- tcpdump -w FILE`: the user expects FILE on their machine, relative to
 * where they ran calilab. The command is sent as `tcpdump -w -` (the node writes the pcap bytes to
 * stdout, binary through the exec channel) and the CLI writes them to FILE. `-r FILE` is sent with
 * FILE made absolute: the node process reads it (nodes run on the user's machine, loopback only).
 * Only a command run directly (`tcpdump ...`, `sudo tcpdump ...`) is rewritten, not one inside
 * `sh -c '...'`.
 */
import { resolve } from 'node:path'

export interface CaptureRewrite {
  command: string[]
  /** Where stdout goes instead of the terminal (absolute). */
  stdoutFile?: string
}

/** tcpdump's flags that take a value. */
const WITH_VALUE = new Set(['i', 'c', 'w', 'r', 's', 'C', 'W', 'G', 'E', 'F', 'y', 'B', 'T', 'Z', 'j', 'M'])

export function rewriteCapture(command: readonly string[], cwd = process.cwd()): CaptureRewrite {
  let at = 0
  if (command[0] === 'sudo') at = 1
  const prog = command[at]
  if (prog === undefined || !/(^|\/)tcpdump$/.test(prog)) return { command: [...command] }
  const out = command.slice(0, at + 1)
  let stdoutFile: string | undefined
  const rest = command.slice(at + 1)
  for (let i = 0; i < rest.length; i++) {
    const x = rest[i] as string
    if (x === '--' || !x.startsWith('-') || x === '-' || x.startsWith('--')) {
      out.push(x)
      if (x === '--') out.push(...rest.slice(i + 1))
      if (x === '--') break
      continue
    }
    let k = 1
    while (k < x.length && !WITH_VALUE.has(x[k] as string)) k++
    if (k >= x.length) {
      out.push(x)
      continue
    }
    const f = x[k] as string
    const inline = x.slice(k + 1)
    if (f !== 'w' && f !== 'r') {
      // Not ours: pass the word (and its separate value) through as typed.
      out.push(x)
      if (inline === '' && i + 1 < rest.length) out.push(rest[++i] as string)
      continue
    }
    const v = inline !== '' ? inline : rest[++i]
    if (k > 1) out.push(x.slice(0, k))
    if (v === undefined) {
      out.push(`-${f}`)
      continue
    }
    if (f === 'w' && v !== '-') {
      stdoutFile = resolve(cwd, v)
      out.push('-w', '-')
    } else if (f === 'r' && v !== '-') out.push('-r', resolve(cwd, v))
    else out.push(`-${f}`, v)
  }
  return stdoutFile !== undefined ? { command: out, stdoutFile } : { command: out }
}
