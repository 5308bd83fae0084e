import { existsSync, readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { notRunningError, resolveHome } from '../home.ts'
import { CliError } from '../io.ts'
import { createKubeClient, type KubeClient, KubeClientError } from '../kube.ts'

export interface ConnectOpts {
  kubeconfig?: string
  server?: string
  home?: string
}

interface KubeconfigDoc {
  'current-context'?: string
  contexts?: { name: string; context?: { cluster?: string; namespace?: string } }[]
  clusters?: { name: string; cluster?: { server?: string } }[]
}

/** The API server URL and default namespace named by a kubeconfig (current context). */
export function readKubeconfig(file: string): { server: string; namespace: string } {
  let doc: KubeconfigDoc
  try {
    doc = (parse(readFileSync(file, 'utf8')) ?? {}) as KubeconfigDoc
  } catch (e) {
    throw new CliError(`cannot read kubeconfig ${file}: ${(e as Error).message}`)
  }
  const ctxName = doc['current-context']
  const ctx = doc.contexts?.find((c) => c.name === ctxName) ?? doc.contexts?.[0]
  const cluster = doc.clusters?.find((c) => c.name === ctx?.context?.cluster) ?? doc.clusters?.[0]
  const server = cluster?.cluster?.server
  if (!server) throw new CliError(`kubeconfig ${file} names no cluster server`)
  return { server, namespace: ctx?.context?.namespace ?? 'default' }
}

/** --server, else --kubeconfig, else the calilab home's kubeconfig (--home, $CALILAB_HOME, ./.calilab). */
export function connect(opts: ConnectOpts): { client: KubeClient; namespace: string } {
  if (opts.server)
    return { client: createKubeClient({ server: opts.server, userAgent: 'calilab-kubectl' }), namespace: 'default' }
  let file = opts.kubeconfig
  if (!file) {
    const paths = resolveHome(opts.home)
    if (!existsSync(paths.kubeconfig)) throw notRunningError(paths)
    file = paths.kubeconfig
  }
  const kc = readKubeconfig(file)
  return { client: createKubeClient({ server: kc.server, userAgent: 'calilab-kubectl' }), namespace: kc.namespace }
}

/** kubectl's one-line form of a server error. */
export function serverErrorLine(e: unknown, context?: string): string {
  if (e instanceof KubeClientError) {
    const reason = e.status.reason || 'Unknown'
    return `Error from server (${reason}): ${context ? `${context}: ` : ''}${e.status.message}`
  }
  if (e instanceof CliError) return e.message
  return `error: ${(e as Error).message ?? String(e)}`
}

export function isNotFound(e: unknown): boolean {
  return e instanceof KubeClientError && e.code === 404
}
