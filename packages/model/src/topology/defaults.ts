import type { Topology, TopologyHost } from './types.ts'

const BASE = {
  apiserver: { host: '127.0.0.1', port: 6443 },
  typha: { replicas: 1, basePort: 5473 },
  pools: { podCidr: '198.19.16.0/20', defaultPool: '198.19.16.0/21', serviceCidr: '198.19.32.0/20' },
  clusterAS: 64512,
  ports: { bgp: 1790, underlay: 4789 },
} as const

/** The lab topology (ARCHITECTURE.md): control, node1, node2 and the external router host1. */
export function defaultTopology(): Topology {
  return {
    hosts: [
      { name: 'control', role: 'control', nodeIP: '198.19.0.1', endpoint: '127.0.1.1' },
      { name: 'node1', role: 'worker', nodeIP: '198.19.0.2', endpoint: '127.0.1.2' },
      { name: 'node2', role: 'worker', nodeIP: '198.19.0.3', endpoint: '127.0.1.3' },
      { name: 'host1', role: 'router', nodeIP: '198.19.15.254', endpoint: '127.0.1.254', asNumber: 64512 },
    ],
    apiserver: { ...BASE.apiserver },
    typha: { ...BASE.typha },
    pools: { ...BASE.pools },
    clusterAS: BASE.clusterAS,
    ports: { ...BASE.ports },
  }
}

/** Largest node count generateTopology accepts (node IPs 198.19.0.1 .. 198.19.15.253). */
export const MAX_GENERATED_NODES = 4000

/**
 * A topology with `nodes` Kubernetes nodes: control, node1 .. node<n-1>, plus host1 (router).
 * Node i (0 = control) gets node IP 198.19.0.0 + i + 1 and endpoint 127.1.<hi>.<lo> for i >= 254,
 * 127.0.1.<i+1> below that, so the lab's addresses are kept for n <= 3.
 */
export function generateTopology(nodes: number, opts: { router?: boolean } = {}): Topology {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_GENERATED_NODES) {
    throw new RangeError(`nodes: must be an integer from 1 to ${MAX_GENERATED_NODES}, got ${String(nodes)}`)
  }
  const hosts: TopologyHost[] = []
  for (let i = 0; i < nodes; i++) {
    const n = i + 1
    const nodeIP = `198.19.${Math.floor(n / 256)}.${n % 256}`
    const endpoint = n < 254 ? `127.0.1.${n}` : `127.1.${Math.floor(n / 256)}.${n % 256}`
    hosts.push({ name: i === 0 ? 'control' : `node${i}`, role: i === 0 ? 'control' : 'worker', nodeIP, endpoint })
  }
  const t = defaultTopology()
  if (opts.router !== false) {
    const router = t.hosts.find((h) => h.role === 'router')
    if (router) hosts.push(router)
  }
  t.hosts = hosts
  // One Typha per 200 nodes (operator guidance), at least 1, at most 20.
  t.typha.replicas = Math.min(20, Math.max(1, Math.ceil(nodes / 200)))
  return t
}
