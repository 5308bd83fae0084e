import type { Rng } from '@calilab/kit'
import type { FieldError, KubeObject } from '@calilab/model'

/** Cluster IP and NodePort allocation for Services, derived from what is stored plus what is in flight. */
export interface ServiceAllocator {
  readonly cidr: string
  /** The first usable address (`kubernetes` service). */
  readonly firstIp: string
  /**
   * Fills spec.clusterIP/clusterIPs and nodePorts of `svc` (carrying over from `old` what the
   * client left out). Returns field errors; on success the chosen values are reserved until
   * `release` is called with the returned token.
   */
  allocate(svc: KubeObject, old: KubeObject | undefined, stored: KubeObject[]): { errors: FieldError[]; token: number }
  release(token: number): void
}

const NODE_PORT_MIN = 30000
const NODE_PORT_MAX = 32767

export function ipToInt(ip: string): number | undefined {
  const p = ip.split('.')
  if (p.length !== 4) return undefined
  let n = 0
  for (const s of p) {
    if (!/^\d{1,3}$/.test(s)) return undefined
    const v = Number(s)
    if (v > 255) return undefined
    n = n * 256 + v
  }
  return n
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

function specOf(o: KubeObject | undefined): Record<string, unknown> {
  const s = o?.spec
  return typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {}
}

function portsOf(spec: Record<string, unknown>): Record<string, unknown>[] {
  return Array.isArray(spec['ports'])
    ? (spec['ports'] as unknown[]).filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null)
    : []
}

export function createServiceAllocator(cidr: string, rng: Rng): ServiceAllocator {
  const [addr, lenStr] = cidr.split('/')
  const base0 = ipToInt(addr ?? '')
  const len = Number(lenStr)
  if (base0 === undefined || !Number.isInteger(len) || len < 8 || len > 30) throw new Error(`bad service CIDR ${cidr}`)
  const size = 2 ** (32 - len)
  const base = base0 - (base0 % size)
  const pendingIps = new Map<number, string[]>()
  const pendingPorts = new Map<number, number[]>()
  let nextToken = 1

  const inRange = (n: number) => n > base && n < base + size - 1

  return {
    cidr,
    firstIp: intToIp(base + 1),
    allocate(svc, old, stored) {
      const errors: FieldError[] = []
      const token = nextToken++
      const spec = specOf(svc)
      const oldSpec = specOf(old)
      const selfKey = `${svc.metadata.namespace}/${svc.metadata.name}`
      const usedIps = new Set<string>()
      const usedPorts = new Set<number>()
      for (const o of stored) {
        if (`${o.metadata.namespace}/${o.metadata.name}` === selfKey) continue
        const s = specOf(o)
        if (typeof s['clusterIP'] === 'string') usedIps.add(s['clusterIP'])
        for (const p of portsOf(s)) if (typeof p['nodePort'] === 'number') usedPorts.add(p['nodePort'])
      }
      for (const ips of pendingIps.values()) for (const ip of ips) usedIps.add(ip)
      for (const ports of pendingPorts.values()) for (const p of ports) usedPorts.add(p)

      const type = typeof spec['type'] === 'string' ? spec['type'] : 'ClusterIP'
      const myIps: string[] = []
      const myPorts: number[] = []
      if (type !== 'ExternalName') {
        let ip = spec['clusterIP']
        if ((ip === undefined || ip === '') && typeof oldSpec['clusterIP'] === 'string') ip = oldSpec['clusterIP']
        if (ip === undefined || ip === '') {
          let chosen: number | undefined
          for (let i = 0; i < 64 && chosen === undefined; i++) {
            const c = base + 2 + rng.int(size - 3)
            if (!usedIps.has(intToIp(c))) chosen = c
          }
          for (let c = base + 2; chosen === undefined && c < base + size - 1; c++)
            if (!usedIps.has(intToIp(c))) chosen = c
          if (chosen === undefined) {
            errors.push({ type: 'FieldValueInvalid', field: 'spec.clusterIPs', detail: 'range is full' })
          } else {
            ip = intToIp(chosen)
          }
        } else if (ip !== 'None' && typeof ip === 'string' && ip !== oldSpec['clusterIP']) {
          const n = ipToInt(ip)
          if (n === undefined) {
            errors.push({
              type: 'FieldValueInvalid',
              field: 'spec.clusterIPs',
              value: [ip],
              detail: 'must be a valid IP address',
            })
          } else if (!inRange(n)) {
            errors.push({
              type: 'FieldValueInvalid',
              field: 'spec.clusterIPs',
              value: [ip],
              detail: `failed to allocate IP ${ip}: provided IP is not in the valid range. The range of valid IPs is ${cidr}`,
            })
          } else if (usedIps.has(ip)) {
            errors.push({
              type: 'FieldValueInvalid',
              field: 'spec.clusterIPs',
              value: [ip],
              detail: `failed to allocate IP ${ip}: provided IP is already allocated`,
            })
          }
        }
        if (typeof ip === 'string' && ip !== '') {
          spec['clusterIP'] = ip
          spec['clusterIPs'] = [ip]
          if (ip !== 'None') myIps.push(ip)
          if (spec['ipFamilies'] === undefined) spec['ipFamilies'] = ['IPv4']
          if (spec['ipFamilyPolicy'] === undefined) spec['ipFamilyPolicy'] = 'SingleStack'
        }
      }
      if (type === 'NodePort' || type === 'LoadBalancer') {
        const oldPorts = portsOf(oldSpec)
        const ports = portsOf(spec)
        ports.forEach((p, i) => {
          let np = p['nodePort']
          if (np === undefined || np === 0) {
            const prev = oldPorts.find(
              (o) => o['port'] === p['port'] && (o['protocol'] ?? 'TCP') === (p['protocol'] ?? 'TCP'),
            )
            if (prev && typeof prev['nodePort'] === 'number') np = prev['nodePort']
          }
          if (np === undefined || np === 0) {
            let chosen: number | undefined
            for (let k = 0; k < 64 && chosen === undefined; k++) {
              const c = NODE_PORT_MIN + rng.int(NODE_PORT_MAX - NODE_PORT_MIN + 1)
              if (!usedPorts.has(c)) chosen = c
            }
            for (let c = NODE_PORT_MIN; chosen === undefined && c <= NODE_PORT_MAX; c++)
              if (!usedPorts.has(c)) chosen = c
            if (chosen === undefined) {
              errors.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, detail: 'range is full' })
              return
            }
            np = chosen
          } else if (typeof np === 'number') {
            const wasMine = oldPorts.some((o) => o['nodePort'] === np)
            if (np < NODE_PORT_MIN || np > NODE_PORT_MAX) {
              errors.push({
                type: 'FieldValueInvalid',
                field: `spec.ports[${i}].nodePort`,
                value: np,
                detail: `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
              })
              return
            }
            if (!wasMine && (usedPorts.has(np) || myPorts.includes(np))) {
              errors.push({
                type: 'FieldValueInvalid',
                field: `spec.ports[${i}].nodePort`,
                value: np,
                detail: 'provided port is already allocated',
              })
              return
            }
          }
          if (typeof np === 'number') {
            p['nodePort'] = np
            myPorts.push(np)
          }
        })
      } else {
        // ClusterIP services carry no node ports.
        for (const p of portsOf(spec)) delete p['nodePort']
      }
      if (!errors.length) {
        pendingIps.set(token, myIps)
        pendingPorts.set(token, myPorts)
      }
      return { errors, token }
    },
    release(token) {
      pendingIps.delete(token)
      pendingPorts.delete(token)
    },
  }
}
