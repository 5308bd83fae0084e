import { defaultTopology } from './defaults.ts'
import { HOST_ROLES, type HostRole, type Topology, type TopologyHost } from './types.ts'

/** One problem in a topology document, named by its field path (`hosts[1].nodeIP`). */
export interface TopologyIssue {
  path: string
  message: string
}

export type TopologyResult = { ok: true; topology: Topology } | { ok: false; issues: TopologyIssue[] }

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

function ipv4ToInt(s: string): number | undefined {
  const m = IPV4.exec(s)
  if (!m) return undefined
  let v = 0
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i])
    if (o > 255) return undefined
    v = v * 256 + o
  }
  return v
}

function parseCidr(s: string): { base: number; len: number } | undefined {
  const [ip, len, extra] = s.split('/')
  if (ip === undefined || len === undefined || extra !== undefined || !/^\d{1,2}$/.test(len)) return undefined
  const base = ipv4ToInt(ip)
  const n = Number(len)
  if (base === undefined || n > 32) return undefined
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0
  if ((base & ~mask) >>> 0 !== 0) return undefined
  return { base, len: n }
}

function cidrContains(outer: { base: number; len: number }, inner: { base: number; len: number }): boolean {
  if (inner.len < outer.len) return false
  const mask = outer.len === 0 ? 0 : (0xffffffff << (32 - outer.len)) >>> 0
  return (inner.base & mask) >>> 0 === outer.base
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

class Checker {
  readonly issues: TopologyIssue[] = []
  add(path: string, message: string): void {
    this.issues.push({ path, message })
  }
  obj(v: unknown, path: string): Record<string, unknown> | undefined {
    if (v === undefined) return {}
    if (!isObject(v)) {
      this.add(path, `must be a mapping, got ${JSON.stringify(v)}`)
      return undefined
    }
    return v
  }
  unknownKeys(o: Record<string, unknown>, known: readonly string[], path: string): void {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) this.add(path ? `${path}.${k}` : k, `unknown field (known: ${known.join(', ')})`)
    }
  }
  int(v: unknown, def: number, path: string, min: number, max: number): number {
    if (v === undefined) return def
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.add(path, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
      return def
    }
    return v
  }
  str(v: unknown, path: string, def?: string): string {
    if (v === undefined && def !== undefined) return def
    if (typeof v !== 'string' || v === '') {
      this.add(path, v === undefined ? 'required' : `must be a non-empty string, got ${JSON.stringify(v)}`)
      return ''
    }
    return v
  }
  ip(v: unknown, path: string, def?: string): string {
    const s = this.str(v, path, def)
    if (s && ipv4ToInt(s) === undefined) this.add(path, `must be an IPv4 address, got ${JSON.stringify(s)}`)
    return s
  }
  cidr(v: unknown, path: string, def: string): string {
    const s = this.str(v, path, def)
    if (s && !parseCidr(s))
      this.add(path, `must be an IPv4 CIDR with no host bits (a.b.c.d/n), got ${JSON.stringify(s)}`)
    return s
  }
}

/**
 * Checks a parsed topology document (from YAML or JSON) and fills in defaults for what it leaves
 * out. Every problem is reported with its field path; nothing throws.
 */
export function validateTopology(doc: unknown): TopologyResult {
  const c = new Checker()
  const d = defaultTopology()
  const root = c.obj(doc ?? {}, '(root)')
  if (!root) return { ok: false, issues: c.issues }
  c.unknownKeys(root, ['hosts', 'apiserver', 'typha', 'pools', 'clusterAS', 'ports'], '')

  const api = c.obj(root['apiserver'], 'apiserver') ?? {}
  c.unknownKeys(api, ['host', 'port'], 'apiserver')
  const apiserver = {
    host: c.ip(api['host'], 'apiserver.host', d.apiserver.host),
    port: c.int(api['port'], d.apiserver.port, 'apiserver.port', 0, 65535),
  }
  const ty = c.obj(root['typha'], 'typha') ?? {}
  c.unknownKeys(ty, ['replicas', 'basePort'], 'typha')
  const typha = {
    replicas: c.int(ty['replicas'], d.typha.replicas, 'typha.replicas', 0, 20),
    basePort: c.int(ty['basePort'], d.typha.basePort, 'typha.basePort', 0, 65535),
  }
  const po = c.obj(root['pools'], 'pools') ?? {}
  c.unknownKeys(po, ['podCidr', 'defaultPool', 'serviceCidr'], 'pools')
  const pools = {
    podCidr: c.cidr(po['podCidr'], 'pools.podCidr', d.pools.podCidr),
    defaultPool: c.cidr(po['defaultPool'], 'pools.defaultPool', d.pools.defaultPool),
    serviceCidr: c.cidr(po['serviceCidr'], 'pools.serviceCidr', d.pools.serviceCidr),
  }
  const pod = parseCidr(pools.podCidr)
  const def = parseCidr(pools.defaultPool)
  const svc = parseCidr(pools.serviceCidr)
  if (pod && def && !cidrContains(pod, def))
    c.add('pools.defaultPool', `must lie inside pools.podCidr ${pools.podCidr}`)
  if (pod && svc && (cidrContains(pod, svc) || cidrContains(svc, pod))) {
    c.add('pools.serviceCidr', `must not overlap pools.podCidr ${pools.podCidr}`)
  }
  const clusterAS = c.int(root['clusterAS'], d.clusterAS, 'clusterAS', 1, 4294967295)
  const pt = c.obj(root['ports'], 'ports') ?? {}
  c.unknownKeys(pt, ['bgp', 'underlay'], 'ports')
  const ports = {
    bgp: c.int(pt['bgp'], d.ports.bgp, 'ports.bgp', 1, 65535),
    underlay: c.int(pt['underlay'], d.ports.underlay, 'ports.underlay', 1, 65535),
  }

  let hosts: TopologyHost[] = d.hosts
  const rawHosts = root['hosts']
  if (rawHosts !== undefined) {
    hosts = []
    if (!Array.isArray(rawHosts)) c.add('hosts', 'must be a list of hosts')
    else {
      rawHosts.forEach((raw, i) => {
        const p = `hosts[${i}]`
        const h = c.obj(raw, p)
        if (!h) return
        c.unknownKeys(h, ['name', 'role', 'nodeIP', 'endpoint', 'asNumber', 'podBlock'], p)
        const name = c.str(h['name'], `${p}.name`)
        if (name && !NAME.test(name))
          c.add(`${p}.name`, `must be a DNS label (a-z, 0-9, '-'), got ${JSON.stringify(name)}`)
        const role = c.str(h['role'], `${p}.role`, 'worker')
        if (role && !HOST_ROLES.includes(role as HostRole)) {
          c.add(`${p}.role`, `must be one of ${HOST_ROLES.join(', ')}, got ${JSON.stringify(role)}`)
        }
        const nodeIP = c.ip(h['nodeIP'], `${p}.nodeIP`)
        const endpoint = c.ip(h['endpoint'], `${p}.endpoint`)
        if (endpoint && ipv4ToInt(endpoint) !== undefined && !endpoint.startsWith('127.')) {
          c.add(`${p}.endpoint`, `must be a loopback address (127.0.0.0/8), got ${JSON.stringify(endpoint)}`)
        }
        const host: TopologyHost = { name, role: role as HostRole, nodeIP, endpoint }
        if (h['asNumber'] !== undefined) host.asNumber = c.int(h['asNumber'], 0, `${p}.asNumber`, 1, 4294967295)
        if (h['podBlock'] !== undefined) {
          host.podBlock = c.cidr(h['podBlock'], `${p}.podBlock`, '')
          const b = parseCidr(host.podBlock)
          if (b && pod && !cidrContains(pod, b))
            c.add(`${p}.podBlock`, `must lie inside pools.podCidr ${pools.podCidr}`)
        }
        hosts.push(host)
      })
    }
  }
  const seen = new Map<string, string>()
  hosts.forEach((h, i) => {
    for (const [field, value] of [
      ['name', h.name],
      ['nodeIP', h.nodeIP],
      ['endpoint', h.endpoint],
    ] as const) {
      if (!value) continue
      const key = `${field}=${value}`
      const prev = seen.get(key)
      if (prev !== undefined) c.add(`hosts[${i}].${field}`, `duplicate value ${JSON.stringify(value)} (also ${prev})`)
      else seen.set(key, `hosts[${i}]`)
    }
  })
  if (rawHosts !== undefined && Array.isArray(rawHosts)) {
    const controls = hosts.filter((h) => h.role === 'control').length
    if (controls !== 1) c.add('hosts', `must have exactly one host with role control, found ${controls}`)
  }
  if (c.issues.length > 0) return { ok: false, issues: c.issues }
  return { ok: true, topology: { hosts, apiserver, typha, pools, clusterAS, ports } }
}

/** Issues as the lines a user sees: `topology.yaml: hosts[1].nodeIP: must be an IPv4 address, ...`. */
export function formatTopologyIssues(issues: readonly TopologyIssue[], source = 'topology'): string {
  return issues.map((i) => `${source}: ${i.path}: ${i.message}`).join('\n')
}

/** Kubernetes nodes (control + workers), in topology order. */
export function clusterNodes(t: Topology): TopologyHost[] {
  return t.hosts.filter((h) => h.role !== 'router')
}
