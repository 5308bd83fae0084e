import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import path from 'node:path'
import { logFileName, notRunningError, resolveHome } from '../home.ts'
import { CliError, sleep } from '../io.ts'
import { readState } from '../supervisor/state.ts'

/** `calilab logs COMPONENT [--node N] [-f]`: the process's log file under .calilab/logs. */
export async function logs(
  component: string,
  opts: { home?: string; node?: string; follow?: boolean; tail?: number },
): Promise<number> {
  const paths = resolveHome(opts.home)
  const s = readState(paths.state)
  let file: string
  if (component === 'supervisor') file = paths.supervisorLog
  else if (s) {
    const procs = s.processes.filter(
      (p) => (p.component === component || p.instance === component) && (!opts.node || p.node === opts.node),
    )
    if (procs.length === 0) {
      const names = [...new Set(s.processes.map((p) => p.instance ?? p.component))].join(', ')
      throw new CliError(
        `no process ${component}${opts.node ? ` on node ${opts.node}` : ''}; components: supervisor, ${names}`,
      )
    }
    if (procs.length > 1) {
      throw new CliError(
        `${component} runs on several nodes; choose one with --node (${procs.map((p) => p.node ?? p.instance).join(', ')})`,
      )
    }
    file = procs[0]!.logFile
  } else {
    file = path.join(paths.logs, logFileName(component, opts.node))
    if (!existsSync(file)) throw notRunningError(paths)
  }
  if (!existsSync(file)) throw new CliError(`no log file ${file} yet`)
  let text = readFileSync(file, 'utf8')
  if (opts.tail !== undefined && opts.tail >= 0) {
    const lines = text.split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    text = lines.slice(-opts.tail).join('\n') + (opts.tail > 0 ? '\n' : '')
  }
  process.stdout.write(text)
  if (!opts.follow) return 0
  let pos = statSync(file).size
  for (;;) {
    await sleep(200)
    const size = existsSync(file) ? statSync(file).size : 0
    if (size < pos) pos = 0
    if (size > pos) {
      const fd = openSync(file, 'r')
      const buf = Buffer.alloc(size - pos)
      readSync(fd, buf, 0, buf.length, pos)
      closeSync(fd)
      pos = size
      process.stdout.write(buf)
    }
  }
}
