/**
 * Router mode (host1): best routes learned over BGP pass an import filter and are installed into a
 * routing table (a {@link RouteSink}), ECMP when the best path has several next hops (BIRD's
 * `merge paths`). The router keeps what it accepted, per prefix and peer, for `birdc show route`.
 */
import type { Clock } from '@calilab/kit'
import { formatIPv4 } from '@calilab/model'
import type { PathAttributes } from '../core/codec/attrs/types.ts'
import { formatPrefix } from '../core/codec/prefix.ts'
import type { RouteChange } from '../core/rib.ts'
import { filterAccepts, type ImportFilter } from './filter.ts'
import type { RouteSink } from './table.ts'

export interface RouterPath {
  /** The peer's protocol name (BIRD `[Node1 10:20:45.123]`). */
  peer: string
  nextHop: string
  attrs: PathAttributes
  /** clock.now() when this path was learned. */
  since: number
  /** The selected route (`*`). */
  primary: boolean
}

export interface RouterRoute {
  prefix: string
  paths: RouterPath[]
}

export interface RouterSpeaker {
  onRoutes(fn: (changes: RouteChange[]) => void): () => void
}

export interface RouterInit {
  filter: ImportFilter
  sink: RouteSink
  clock: Pick<Clock, 'now'>
}

export class BgpRouter {
  readonly filter: ImportFilter
  private readonly sink: RouteSink
  private readonly clock: Pick<Clock, 'now'>
  private readonly routes = new Map<string, RouterRoute>()
  /** Prefixes refused by the import filter (count of changes). */
  filtered = 0

  constructor(init: RouterInit) {
    this.filter = init.filter
    this.sink = init.sink
    this.clock = init.clock
  }

  /** Subscribes to a speaker's best-route changes; returns the unsubscribe function. */
  attach(sp: RouterSpeaker): () => void {
    return sp.onRoutes((c) => this.apply(c))
  }

  apply(changes: readonly RouteChange[]): void {
    for (const ch of changes) {
      const prefix = formatPrefix(ch.prefix)
      if (!filterAccepts(this.filter, ch.prefix)) {
        if (ch.best) this.filtered++
        continue
      }
      const learned = ch.paths.filter((r) => r.peer !== undefined && r.attrs.nextHop !== undefined)
      if (!ch.best || learned.length === 0) {
        if (this.routes.delete(prefix)) this.sink.delete(prefix)
        continue
      }
      const old = this.routes.get(prefix)
      const now = this.clock.now()
      const paths: RouterPath[] = learned.map((r, i) => {
        const peer = r.peer?.id ?? ''
        const nextHop = formatIPv4(r.attrs.nextHop ?? 0)
        const prev = old?.paths.find((p) => p.peer === peer && p.nextHop === nextHop)
        return { peer, nextHop, attrs: r.attrs, since: prev?.since ?? now, primary: i === 0 }
      })
      this.routes.set(prefix, { prefix, paths })
      this.sink.replace(
        prefix,
        paths.map((p) => p.nextHop),
      )
    }
  }

  /** Accepted routes, by address then prefix length. */
  list(): RouterRoute[] {
    return [...this.routes.values()].sort((a, b) => cmpPrefix(a.prefix, b.prefix))
  }

  /** Routes per peer: imported (accepted paths) and preferred (paths that are primary). */
  countsFor(peer: string): { imported: number; preferred: number } {
    let imported = 0
    let preferred = 0
    for (const r of this.routes.values()) {
      for (const p of r.paths) {
        if (p.peer !== peer) continue
        imported++
        if (p.primary) preferred++
      }
    }
    return { imported, preferred }
  }
}

function cmpPrefix(a: string, b: string): number {
  const pa = parse(a)
  const pb = parse(b)
  return pa[0] - pb[0] || pa[1] - pb[1]
}

function parse(p: string): [number, number] {
  const [ip = '0.0.0.0', len = '0'] = p.split('/')
  const [a = 0, b = 0, c = 0, d = 0] = ip.split('.').map(Number)
  return [((a << 24) | (b << 16) | (c << 8) | d) >>> 0, Number(len)]
}
