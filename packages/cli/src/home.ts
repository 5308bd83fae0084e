import { existsSync } from 'node:fs'
import path from 'node:path'
import { CliError } from './io.ts'

/** Where one calilab instance keeps its state: data/, logs/, run/, kubeconfig. */
export interface HomePaths {
  home: string
  data: string
  logs: string
  run: string
  state: string
  kubeconfig: string
  topology: string
  supervisorLog: string
}

/** --home, else $CALILAB_HOME, else ./.calilab. */
export function resolveHome(flag?: string): HomePaths {
  const home = path.resolve(flag ?? process.env['CALILAB_HOME'] ?? '.calilab')
  return {
    home,
    data: path.join(home, 'data'),
    logs: path.join(home, 'logs'),
    run: path.join(home, 'run'),
    state: path.join(home, 'run', 'state.json'),
    kubeconfig: path.join(home, 'kubeconfig'),
    topology: path.join(home, 'run', 'topology.json'),
    supervisorLog: path.join(home, 'logs', 'supervisor.log'),
  }
}

export function notRunningError(paths: HomePaths): CliError {
  return new CliError(
    `calilab is not running here (no ${path.relative(process.cwd(), paths.state) || paths.state}); start it with: calilab up`,
  )
}

export function requireState(paths: HomePaths): void {
  if (!existsSync(paths.state)) throw notRunningError(paths)
}

export function logFileName(component: string, node?: string): string {
  return node ? `${component}-${node}.log` : `${component}.log`
}
