/**
 * What an emulated command sees: its output streams, an optional stdin, the namespace it runs in
 * (the kernel's Netns: sockets, links, routes, iptables), the files a container has that the
 * tools read (/etc/resolv.conf, /etc/hostname) and a clock. Tools return their exit status.
 */

import type { Netns } from '@calilab/dataplane'
import type { Clock } from '@calilab/kit'

export interface ToolIo {
  stdout(s: string): void
  /** Binary stdout (`tcpdump -w -`), where the channel carries bytes (exec sessions); else absent. */
  stdoutBytes?(b: Uint8Array): void
  stderr(s: string): void
  /** Lines or bytes typed at the command (pipes feed the previous command's output here). */
  stdin?: AsyncIterable<string>
  /** Aborted on Ctrl-C / the client going away. */
  signal: AbortSignal
}

export interface ToolEnv {
  /** `customer-6b8c8d7f5b-x2x9k`, `node1`. */
  hostname: string
  /** The namespace commands run in; absent where no kernel is wired (then network tools fail). */
  netns?: Netns | undefined
  /** Files the container has (`/etc/resolv.conf`, `/etc/hostname`, `/etc/hosts`). */
  files: Readonly<Record<string, string>>
  clock: Clock
  /** Shell variables (`HOSTNAME`, `?`). */
  vars?: Record<string, string>
  /** Commands this host has beyond the common ones (`birdc`, `calicoctl` on a node); they win over TOOLS. */
  tools?: Readonly<Record<string, Tool>>
}

export type Tool = (argv: readonly string[], env: ToolEnv, io: ToolIo) => Promise<number>

/** The resolv.conf a pod gets (ClusterFirst): kube-dns's service IP and the search path. */
export function podResolvConf(namespace: string, nameserver = '198.19.32.10'): string {
  return `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver ${nameserver}\noptions ndots:5\n`
}

/** A host's resolv.conf (systemd-resolved's stub, as the lab's Ubuntu VMs have it). */
export function hostResolvConf(nameserver = '198.19.32.10'): string {
  return `nameserver ${nameserver}\n`
}

export function parseResolvConf(text: string): { nameservers: string[]; search: string[]; ndots: number } {
  const nameservers: string[] = []
  let search: string[] = []
  let ndots = 1
  for (const line of text.split('\n')) {
    const w = line.trim().split(/\s+/)
    if (w[0] === 'nameserver' && w[1]) nameservers.push(w[1])
    else if (w[0] === 'search') search = w.slice(1)
    else if (w[0] === 'options') for (const o of w.slice(1)) if (o.startsWith('ndots:')) ndots = Number(o.slice(6)) || 1
  }
  return { nameservers, search, ndots }
}

/** Waits `ms` on the env's clock; rejects when `signal` aborts. */
export function sleep(env: ToolEnv, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'))
    const t = env.clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      t.cancel()
      reject(new Error('aborted'))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
