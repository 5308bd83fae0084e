import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { seededRng, silentLogger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import { LAB_DIR } from '@calilab/testkit'
import { type RunningApiServer, startApiServer } from '../src/server.ts'

/** Shared by the kubectl tests: one in-process server per file and a kubeconfig in a temp dir. */

export const REPO = resolve(import.meta.dirname, '../../..')
export const LAB = LAB_DIR
export const KUBECTL_132 = '/usr/bin/kubectl'
export const KUBECTL_120 = join(REPO, '.ci/kubectl-1.20/usr/bin/kubectl')

export interface Run {
  code: number
  stdout: string
  stderr: string
}

export interface Lab {
  server: RunningApiServer
  dir: string
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<Run>
  /** Creates an object through the service layer (what controllers would do). */
  put(resource: string, namespace: string | undefined, body: unknown): Promise<KubeObject>
  close(): Promise<void>
}

export async function startLab(bin: string): Promise<Lab> {
  const server = await startApiServer({ port: 0, log: silentLogger(), rng: seededRng(7), controllers: false })
  const dir = mkdtempSync(join(tmpdir(), 'calilab-kubectl-'))
  const kubeconfig = join(dir, 'kubeconfig')
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: lab',
      '  cluster:',
      `    server: ${server.url}`,
      'contexts:',
      '- name: lab',
      '  context:',
      '    cluster: lab',
      '    user: lab',
      '    namespace: default',
      'current-context: lab',
      'users:',
      '- name: lab',
      '  user: {}',
      '',
    ].join('\n'),
  )
  const kubectl = (args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> =>
    new Promise((done) => {
      const child = execFile(
        bin,
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
        { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HOME: dir } },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
          done({ code, stdout, stderr })
        },
      )
      if (opts.input !== undefined) child.stdin?.end(opts.input)
    })
  const put = async (resource: string, namespace: string | undefined, body: unknown): Promise<KubeObject> => {
    const r = server.api.resources.resolve(resource)
    if (!r) throw new Error(`no resource ${resource}`)
    return (await server.api.create(r, namespace, body)).object
  }
  return {
    server,
    dir,
    kubectl,
    put,
    close: async () => {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export function haveKubectl(bin: string): boolean {
  return existsSync(bin)
}

/** Header line of `kubectl get` output, whitespace-normalised. */
export function header(out: string): string {
  return (out.split('\n')[0] ?? '')
    .trim()
    .split(/\s{2,}|\s+(?=[A-Z])/)
    .join(' ')
}

export function cols(out: string): string[] {
  return (out.split('\n')[0] ?? '').trim().split(/\s{2,}/)
}

/** Runs kubectl until its stdout satisfies `until` (then kills it), or the timeout passes. */
export function kubectlUntil(
  lab: Lab,
  bin: string,
  args: string[],
  until: (out: string) => boolean,
  timeoutMs = 15_000,
): Promise<Run> {
  return new Promise((done) => {
    const kubeconfig = join(lab.dir, 'kubeconfig')
    const child = spawn(bin, ['--kubeconfig', kubeconfig, '--cache-dir', join(lab.dir, 'cache'), ...args], {
      env: { ...process.env, HOME: lab.dir },
    })
    let stdout = ''
    let stderr = ''
    let finished = false
    const finish = (code: number) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      child.kill('SIGTERM')
      done({ code, stdout, stderr })
    }
    const timer = setTimeout(() => finish(124), timeoutMs)
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8')
      if (until(stdout)) finish(0)
    })
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
    child.on('exit', (code) => finish(code ?? 1))
  })
}
