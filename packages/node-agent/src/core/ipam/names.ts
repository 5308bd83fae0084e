/** Names and handle ids Calico gives IPAM records (libcalico-go KDD backend, calico-node). */

/** `198.19.22.128/26` → `198-19-22-128-26` (IPAMBlock object name). */
export function blockName(cidr: string): string {
  return cidr.replace(/[./]/g, '-')
}

/** BlockAffinity object name: `<node>-<block name>`. */
export function affinityName(node: string, cidr: string): string {
  return `${node}-${blockName(cidr)}`
}

/** IPAMHandle object name: the handle id lower-cased. */
export function handleName(handleId: string): string {
  return handleId.toLowerCase()
}

/** The CNI plugin's handle for a pod's sandbox: `k8s-pod-network.<containerID>`. */
export function podHandle(containerId: string): string {
  return `k8s-pod-network.${containerId}`
}

export type TunnelKind = 'ipip' | 'vxlan' | 'wireguard'

/** calico-node's handles for tunnel addresses: `ipip-tunnel-addr-<node>` etc. */
export function tunnelHandle(kind: TunnelKind, node: string): string {
  return `${kind}-tunnel-addr-${node}`
}

/** The allocation `type` attribute calico-node writes for a tunnel address. */
export function tunnelAttrType(kind: TunnelKind): string {
  switch (kind) {
    case 'ipip':
      return 'ipipTunnelAddress'
    case 'vxlan':
      return 'vxlanTunnelAddress'
    case 'wireguard':
      return 'wireguardTunnelAddress'
  }
}

/** The `affinity` field of a block affine to `node`. */
export function hostAffinity(node: string): string {
  return `host:${node}`
}

/** The node of a `host:<node>` affinity, or undefined. */
export function affinityNode(affinity: string | undefined): string | undefined {
  if (affinity === undefined || !affinity.startsWith('host:')) return undefined
  return affinity.slice(5)
}

/** 32-bit FNV-1 (not 1a) of a string's UTF-8 bytes: Calico seeds a host's block walk with it. */
export function fnv1_32(s: string): number {
  let h = 0x811c9dc5
  for (const b of Buffer.from(s, 'utf8')) {
    h = Math.imul(h, 0x01000193) >>> 0
    h = (h ^ b) >>> 0
  }
  return h >>> 0
}
