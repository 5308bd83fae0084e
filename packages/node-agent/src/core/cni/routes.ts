/**
 * The routes a node programs for pod networking (calico.md §3.2-3.3): a scope-link /32 on the
 * pod's cali interface (kernel proto `boot`, which `ip route` omits), a blackhole for each block
 * the node owns (proto bird in BGP mode, 80 under VXLAN; none for /32 blocks), and in the pod
 * the link route to 169.254.1.1 and the default route through it.
 */

export const POD_GATEWAY = '169.254.1.1'

export interface PodNetRoute {
  /** `a.b.c.d/n`. */
  readonly dst: string
  readonly type?: 'unicast' | 'blackhole'
  readonly dev?: string
  readonly via?: string
  readonly scope?: 'link' | 'global'
  readonly proto?: 'boot' | 'kernel' | 'static' | 'bird' | '80'
}

/** `<ip> dev <cali> scope link`. */
export function localPodRoute(ip: string, iface: string): PodNetRoute {
  return { dst: `${ip.split('/')[0]}/32`, dev: iface, scope: 'link', proto: 'boot' }
}

/** `blackhole <block> proto bird` (VXLAN: proto 80); undefined for a /32 block. */
export function blockBlackhole(block: string, mode: 'bgp' | 'vxlan' = 'bgp'): PodNetRoute | undefined {
  if (block.endsWith('/32')) return undefined
  return { dst: block, type: 'blackhole', proto: mode === 'vxlan' ? '80' : 'bird' }
}

/** Inside the pod: `169.254.1.1 dev eth0 scope link`, `default via 169.254.1.1 dev eth0`. */
export function podNamespaceRoutes(dev = 'eth0'): PodNetRoute[] {
  return [
    { dst: '0.0.0.0/0', via: POD_GATEWAY, dev },
    { dst: `${POD_GATEWAY}/32`, dev, scope: 'link' },
  ]
}

/** The line `ip route` prints for it (host routes without `/32`, `default` for 0/0, proto boot hidden). */
export function formatPodNetRoute(r: PodNetRoute): string {
  const dst = r.dst === '0.0.0.0/0' ? 'default' : r.dst.endsWith('/32') ? r.dst.slice(0, -3) : r.dst
  const parts = r.type === 'blackhole' ? ['blackhole', dst] : [dst]
  if (r.via) parts.push('via', r.via)
  if (r.dev) parts.push('dev', r.dev)
  if (r.proto && r.proto !== 'boot') parts.push('proto', r.proto)
  if (r.scope === 'link') parts.push('scope', 'link')
  return parts.join(' ')
}
