import { notRunningError, resolveHome } from '../home.ts'
import { out } from '../io.ts'
import { formatUptime, isCalilabPid, readState } from '../supervisor/state.ts'
import { formatTable } from '../table.ts'

export function status(opts: { home?: string; output?: string }): number {
  const paths = resolveHome(opts.home)
  const s = readState(paths.state)
  if (!s) throw notRunningError(paths)
  if (opts.output === 'json') {
    out(JSON.stringify(s, null, 2))
    return 0
  }
  const now = Date.now()
  const supAlive = isCalilabPid(s.supervisor.pid)
  const rows: string[][] = [
    [
      'supervisor',
      '-',
      String(s.supervisor.pid),
      supAlive ? formatUptime(now - Date.parse(s.supervisor.started)) : '-',
      '0',
      supAlive ? s.phase : 'dead',
    ],
  ]
  for (const p of s.processes) {
    const alive = isCalilabPid(p.pid)
    rows.push([
      p.instance ?? p.component,
      p.node && !p.instance ? p.node : '-',
      p.pid ? String(p.pid) : '-',
      alive && p.started ? formatUptime(now - Date.parse(p.started)) : '-',
      String(p.restarts),
      alive || p.health === 'restarting' ? p.health : 'dead',
    ])
  }
  out(formatTable(['COMPONENT', 'NODE', 'PID', 'UPTIME', 'RESTARTS', 'HEALTH'], rows))
  if (s.apiserver) out(`\napiserver ${s.apiserver.url}; kubeconfig ${paths.kubeconfig}`)
  return supAlive ? 0 : 1
}
