import path from 'node:path'
import type { Topology } from '@calilab/model'
import type { HomePaths } from '../home.ts'
import { logFileName } from '../home.ts'
import { podBlockFor } from '../topology.ts'

/** One process the supervisor keeps running: `calilab run <component> <args>`. */
export interface ProcSpec {
  component: 'apiserver' | 'typha' | 'node' | 'bgp-speaker'
  node?: string
  /** Replica name for components without a node (`typha-0`). */
  instance?: string
  /** Arguments after `run <component>`; filled in once the API server (and Typha) addresses are known. */
  args: (ctx: SpecContext) => string[]
  /** Node/V8 options put before the script (`node <execArgv> <script> run ...`). */
  execArgv?: readonly string[]
  logFile: string
}

/**
 * Node/V8 options of a node process (docs/cli.md, "Memory of a node process"). V8 grows the young
 * generation to 2 x 8-16 MiB under the burst of starting pods and keeps it, ~15-30 MiB of RSS for
 * a heap of ~20 MiB: a 1 MiB semi-space caps it at 2 MiB (a scavenge per MiB allocated, ~0.3-1 ms
 * each). One V8 platform thread instead of four (background GC and compiler tasks; each thread
 * keeps its own malloc arena, ~1-4 MiB) on boxes where nodes share a few cores.
 */
export const NODE_EXEC_ARGV: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=1']

/** What a process's arguments may depend on. */
export interface SpecContext {
  /** The API server's URL. */
  api: string
  /** `host:port` of every Typha replica that is up (empty before Typha starts or without Typha). */
  typha: string[]
}

/** A Typha replica; `port` 0 = ephemeral (a restart keeps the port the first incarnation got). */
export function typhaSpec(t: Topology, paths: HomePaths, index: number, port: number): ProcSpec {
  const name = `typha-${index}`
  return {
    component: 'typha',
    instance: name,
    args: (ctx) => [
      '--apiserver',
      ctx.api,
      '--host',
      t.apiserver.host,
      '--port',
      String(port),
      '--index',
      String(index),
    ],
    logFile: path.join(paths.logs, `${name}.log`),
  }
}

export function apiserverSpec(t: Topology, paths: HomePaths, port: number): ProcSpec {
  return {
    component: 'apiserver',
    args: () => [
      '--host',
      t.apiserver.host,
      '--port',
      String(port),
      '--data-dir',
      paths.data,
      '--service-cidr',
      t.pools.serviceCidr,
    ],
    logFile: path.join(paths.logs, logFileName('apiserver')),
  }
}

/** Everything that starts once the API server is up: Typha replicas, nodes, external routers. */
export function dependentSpecs(t: Topology, paths: HomePaths, calico: 'installed' | 'operator'): ProcSpec[] {
  const specs: ProcSpec[] = []
  const ephemeral = t.apiserver.port === 0
  for (let i = 0; i < t.typha.replicas; i++) {
    specs.push(typhaSpec(t, paths, i, ephemeral ? 0 : t.typha.basePort + i))
  }
  // Nodes route what leaves the cluster to the first external router (host1) over the underlay.
  const gw = t.hosts.find((h) => h.role === 'router')
  const underlayPort = String(t.ports.underlay)
  const bgpPort = String(t.ports.bgp)
  // Nodes dial external routers (host1) once a BGPPeer names their IP; routers wait for them.
  const routers = t.hosts.filter((h) => h.role === 'router')
  const nodes = t.hosts.filter((h) => h.role !== 'router')
  const bgpEndpoints = routers.map((r) => `${r.nodeIP}=${r.endpoint}:${bgpPort}`).join(',')
  const nodePeers = nodes.map((n) => `${n.name}=${n.nodeIP}@${n.endpoint}:${bgpPort}`).join(',')
  for (const h of t.hosts) {
    if (h.role === 'router') {
      specs.push({
        component: 'bgp-speaker',
        node: h.name,
        args: (ctx) => [
          '--name',
          h.name,
          '--ip',
          h.nodeIP,
          '--endpoint',
          h.endpoint,
          '--as',
          String(h.asNumber ?? t.clusterAS),
          '--port',
          String(t.ports.bgp),
          '--apiserver',
          ctx.api,
          ...(nodePeers ? ['--peers', nodePeers, '--passive'] : []),
          '--kernel',
          '--underlay-port',
          underlayPort,
        ],
        logFile: path.join(paths.logs, logFileName('bgp-speaker', h.name)),
      })
      continue
    }
    specs.push({
      component: 'node',
      node: h.name,
      execArgv: NODE_EXEC_ARGV,
      args: (ctx) => [
        '--name',
        h.name,
        '--ip',
        h.nodeIP,
        '--endpoint',
        h.endpoint,
        '--role',
        h.role,
        '--calico',
        calico,
        '--pod-block',
        podBlockFor(t, h),
        '--apiserver',
        ctx.api,
        ...(ctx.typha.length ? ['--typha', ctx.typha.join(',')] : []),
        '--underlay-port',
        underlayPort,
        '--bgp-port',
        bgpPort,
        ...(bgpEndpoints ? ['--bgp-endpoints', bgpEndpoints] : []),
        ...(gw ? ['--gateway', gw.nodeIP, '--gateway-endpoint', `${gw.endpoint}:${underlayPort}`] : []),
      ],
      logFile: path.join(paths.logs, logFileName('node', h.name)),
    })
  }
  return specs
}
