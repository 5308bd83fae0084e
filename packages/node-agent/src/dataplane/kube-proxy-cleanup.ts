/**
 * What Felix does to kube-proxy's iptables rules in eBPF mode with
 * `bpfKubeProxyIptablesCleanupEnabled` (the default): the jumps into KUBE-* chains from the
 * built-in chains go, then the chains themselves (kubelet's own KUBE-FIREWALL, KUBE-MARK-DROP and
 * KUBE-KUBELET-CANARY stay).
 */
import { type Netfilter, runIptables, tokenize } from '@calilab/dataplane'

const KUBELET_CHAINS = new Set(['KUBE-FIREWALL', 'KUBE-MARK-DROP', 'KUBE-KUBELET-CANARY'])

/** Removes kube-proxy's rules from the nat and filter tables; returns how many chains went. */
export function removeKubeProxyRules(nf: Netfilter): number {
  let chains = 0
  for (const table of ['nat', 'filter']) {
    const lines = runIptables(nf, ['-t', table, '-S']).stdout.split('\n')
    const ours = (c: string | undefined) => c?.startsWith('KUBE-') === true && !KUBELET_CHAINS.has(c)
    for (const line of lines) {
      const w = tokenize(line)
      if (w[0] !== '-A' || ours(w[1])) continue
      const j = w.indexOf('-j')
      if (j >= 0 && ours(w[j + 1])) runIptables(nf, ['-t', table, '-D', ...w.slice(1)])
    }
    const names = lines
      .map((l) => tokenize(l))
      .filter((w) => w[0] === '-N' && ours(w[1]))
      .map((w) => w[1] as string)
    for (const c of names) runIptables(nf, ['-t', table, '-F', c])
    for (const c of names) if (runIptables(nf, ['-t', table, '-X', c]).exitCode === 0) chains++
  }
  return chains
}
