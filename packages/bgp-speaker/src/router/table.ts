/**
 * The router's own routing table and how it prints (`ip route`, iproute2 style). A {@link RouteSink}
 * is what the router writes learned routes to: this table now, the emulated kernel later.
 */
import { tryParseCidr } from '@calilab/model'

export interface RouteSink {
  /** Installs or replaces a route; several next hops = ECMP (multipath). */
  replace(prefix: string, nexthops: readonly string[]): void
  delete(prefix: string): void
}

export interface TableRoute {
  prefix: string
  nexthops: string[]
  proto: 'bird' | 'kernel' | 'static'
  dev: string
  metric?: number
  /** `scope link src ...` for connected routes. */
  src?: string
  /** `default via ...`. */
  via?: string
}

export interface RouteTableInit {
  dev?: string
  /** Metric of BGP routes (BIRD's kernel protocol: 32). */
  metric?: number
  /** The connected subnet of the host: `198.19.0.0/20 dev eth0 proto kernel scope link src 198.19.15.254`. */
  connected?: { prefix: string; src: string }[]
}

const key = (prefix: string): [number, number] => {
  const r = tryParseCidr(prefix)
  return r.ok ? [r.cidr.network, r.cidr.prefix] : [0, 0]
}

const ipNum = (s: string) => {
  const [a = 0, b = 0, c = 0, d = 0] = s.split('.').map(Number)
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

export class RouteTable implements RouteSink {
  private readonly routes = new Map<string, TableRoute>()
  private readonly dev: string
  private readonly metric: number
  /** Every change, for tests and `ip monitor`-like use. */
  changes = 0

  constructor(init: RouteTableInit = {}) {
    this.dev = init.dev ?? 'eth0'
    this.metric = init.metric ?? 32
    for (const c of init.connected ?? []) {
      this.routes.set(c.prefix, { prefix: c.prefix, nexthops: [], proto: 'kernel', dev: this.dev, src: c.src })
    }
  }

  replace(prefix: string, nexthops: readonly string[]): void {
    if (nexthops.length === 0) {
      this.delete(prefix)
      return
    }
    const hops = [...new Set(nexthops)].sort((a, b) => ipNum(a) - ipNum(b))
    this.routes.set(prefix, { prefix, nexthops: hops, proto: 'bird', dev: this.dev, metric: this.metric })
    this.changes++
  }

  delete(prefix: string): void {
    if (this.routes.get(prefix)?.proto !== 'bird') return
    this.routes.delete(prefix)
    this.changes++
  }

  get(prefix: string): TableRoute | undefined {
    return this.routes.get(prefix)
  }

  list(): TableRoute[] {
    return [...this.routes.values()].sort((a, b) => {
      const [na, la] = key(a.prefix)
      const [nb, lb] = key(b.prefix)
      return na - nb || la - lb
    })
  }

  /** `ip route` text (one route per line, ECMP next hops on indented `nexthop` lines). */
  format(): string {
    return formatIpRoute(this.list())
  }
}

export function formatIpRoute(routes: readonly TableRoute[]): string {
  const lines: string[] = []
  for (const r of routes) {
    const dst = r.prefix === '0.0.0.0/0' ? 'default' : r.prefix.endsWith('/32') ? r.prefix.slice(0, -3) : r.prefix
    const metric = r.metric !== undefined ? ` metric ${r.metric}` : ''
    if (r.proto === 'kernel') {
      lines.push(`${dst} dev ${r.dev} proto kernel scope link${r.src !== undefined ? ` src ${r.src}` : ''}`)
    } else if (r.nexthops.length === 1) {
      lines.push(`${dst} via ${r.nexthops[0]} dev ${r.dev} proto ${r.proto}${metric}`)
    } else {
      lines.push(`${dst} proto ${r.proto}${metric}`)
      for (const h of r.nexthops) lines.push(`\tnexthop via ${h} dev ${r.dev} weight 1`)
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : ''
}
