import { readFileSync } from 'node:fs'
import {
  defaultTopology,
  formatTopologyIssues,
  generateTopology,
  type Topology,
  type TopologyHost,
  validateTopology,
} from '@calilab/model'
import { parse } from 'yaml'
import { CliError } from './io.ts'

/** Reads and validates a topology file (YAML or JSON); errors name the file and the field path. */
export function loadTopologyFile(file: string): Topology {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new CliError(`cannot read topology file ${file}: ${(e as Error).message}`)
  }
  let doc: unknown
  try {
    doc = parse(text)
  } catch (e) {
    throw new CliError(`${file}: not valid YAML: ${(e as Error).message}`)
  }
  const r = validateTopology(doc)
  if (!r.ok)
    throw new CliError(`${formatTopologyIssues(r.issues, file)}\nfix the topology file and run the command again`)
  return r.topology
}

export function resolveTopology(opts: { topology?: string; nodes?: number }): Topology {
  if (opts.topology && opts.nodes !== undefined) throw new CliError('use either --topology or --nodes, not both')
  if (opts.topology) return loadTopologyFile(opts.topology)
  if (opts.nodes !== undefined) {
    try {
      return generateTopology(opts.nodes)
    } catch (e) {
      throw new CliError(`--nodes: ${(e as Error).message}`)
    }
  }
  return defaultTopology()
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0)
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** The node's /26 pod block: the topology's, else the index-th /26 of the default pool. */
export function podBlockFor(t: Topology, host: TopologyHost): string {
  if (host.podBlock) return host.podBlock
  const nodes = t.hosts.filter((h) => h.role !== 'router')
  const i = Math.max(0, nodes.indexOf(host))
  const base = ipToInt(t.pools.defaultPool.split('/')[0] ?? '198.19.16.0')
  return `${intToIp(base + i * 64)}/26`
}
