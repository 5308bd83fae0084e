import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type RunningApiServer, startApiServer } from '@calilab/apiserver'
import { seededRng, silentLogger } from '@calilab/kit'
import { runCli } from '../src/program.ts'

/** Runs `calilab ARGS` in process against an in-process API server, capturing what it prints. */

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

export interface CliLab {
  server: RunningApiServer
  /** `calilab kubectl -s URL ARGS` */
  kubectl(...args: string[]): Promise<CliRun>
  /** `calilab calicoctl ARGS -s URL` */
  calicoctl(...args: string[]): Promise<CliRun>
  /** Writes a file in the lab's temp dir and returns its path. */
  file(name: string, text: string): string
  /** Revision and every stored object: equal snapshots mean nothing was written. */
  snapshot(): string
  close(): Promise<void>
}

/**
 * One command at a time: stdout/stderr writes and process.exitCode are swapped for the call and
 * restored after it (the test's own exit code stays clean).
 */
async function capture(argv: string[]): Promise<CliRun> {
  const outW = process.stdout.write
  const errW = process.stderr.write
  let stdout = ''
  let stderr = ''
  const sink =
    (append: (s: string) => void) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'))
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined
      cb?.()
      return true
    }
  process.stdout.write = sink((s) => (stdout += s)) as typeof process.stdout.write
  process.stderr.write = sink((s) => (stderr += s)) as typeof process.stderr.write
  process.exitCode = 0
  try {
    await runCli(argv)
  } finally {
    process.stdout.write = outW
    process.stderr.write = errW
  }
  const code = Number(process.exitCode ?? 0)
  process.exitCode = 0
  return { code, stdout, stderr }
}

export async function startCliLab(): Promise<CliLab> {
  const server = await startApiServer({ port: 0, log: silentLogger(), rng: seededRng(11), controllers: false })
  const dir = mkdtempSync(path.join(tmpdir(), 'calilab-cli-'))
  return {
    server,
    kubectl: (...args) => capture(['kubectl', '-s', server.url, ...args]),
    calicoctl: (...args) => capture(['calicoctl', ...args, '-s', server.url]),
    file: (name, text) => {
      const p = path.join(dir, name)
      writeFileSync(p, text)
      return p
    },
    snapshot: () => JSON.stringify({ rev: server.api.store.revision, all: server.api.store.list('/').items }),
    close: async () => {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
