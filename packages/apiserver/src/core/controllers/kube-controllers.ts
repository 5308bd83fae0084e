import type { KubeObject } from '@calilab/model'
import type { Action, NodeObj } from './types.ts'
import { clone, jsonEqual } from './types.ts'

export const CREATED_BY = 'projectcalico.org/created-by'
export const CREATED_BY_VALUE = 'calico-kube-controllers'

export interface CalicoNode extends KubeObject {
  spec?: {
    bgp?: { ipv4Address?: string; ipv6Address?: string; ipv4IPIPTunnelAddr?: string }
    ipv4VXLANTunnelAddr?: string
    wireguard?: { interfaceIPv4Address?: string }
    [k: string]: unknown
  }
}

export function autoCreateEnabled(kcc: KubeObject | undefined): boolean {
  const spec = kcc?.spec as { controllers?: { node?: { hostEndpoint?: { autoCreate?: string } } } } | undefined
  return spec?.controllers?.node?.hostEndpoint?.autoCreate === 'Enabled'
}

/** The auto host endpoint of a node (kube-controllers node/hostendpoints.go). */
export function autoHostEndpoint(node: CalicoNode): KubeObject {
  const s = node.spec ?? {}
  const ips = [
    s.bgp?.ipv4Address,
    s.bgp?.ipv6Address,
    s.bgp?.ipv4IPIPTunnelAddr,
    s.ipv4VXLANTunnelAddr,
    s.wireguard?.interfaceIPv4Address,
  ]
    .filter((x): x is string => typeof x === 'string' && x !== '')
    .map((x) => x.split('/')[0] as string)
  const spec: Record<string, unknown> = {
    node: node.metadata.name,
    interfaceName: '*',
    profiles: ['projectcalico-default-allow'],
  }
  if (ips.length) spec.expectedIPs = ips
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: {
      name: `${node.metadata.name}-auto-hep`,
      labels: { ...(node.metadata.labels ?? {}), [CREATED_BY]: CREATED_BY_VALUE },
    },
    spec,
  }
}

export interface KubeControllersInput {
  kcc: KubeObject | undefined
  k8sNodes: NodeObj[]
  calicoNodes: CalicoNode[]
  hostEndpoints: KubeObject[]
}

/**
 * kube-controllers' node controller: Calico Node labels follow the k8s Node (syncLabels), and with
 * hostEndpoint.autoCreate Enabled each node has `<node>-auto-hep`; auto HEPs go when disabled or
 * when their node goes.
 */
export function reconcileKubeControllers(input: KubeControllersInput): Action[] {
  const actions: Action[] = []
  const k8s = new Map(input.k8sNodes.map((n) => [n.metadata.name ?? '', n]))
  const synced: CalicoNode[] = []
  for (const cn of input.calicoNodes) {
    const kn = k8s.get(cn.metadata.name ?? '')
    if (kn && !jsonEqual(cn.metadata.labels ?? {}, kn.metadata.labels ?? {})) {
      const next = clone(cn)
      next.metadata.labels = { ...(kn.metadata.labels ?? {}) }
      actions.push({ op: 'update', obj: next })
      synced.push(next)
    } else synced.push(cn)
  }
  const enabled = autoCreateEnabled(input.kcc)
  const want = new Map<string, KubeObject>()
  if (enabled) {
    for (const cn of synced) {
      if (!k8s.has(cn.metadata.name ?? '')) continue
      const hep = autoHostEndpoint(cn)
      want.set(hep.metadata.name ?? '', hep)
    }
  }
  const have = new Map(
    input.hostEndpoints
      .filter((h) => h.metadata.labels?.[CREATED_BY] === CREATED_BY_VALUE)
      .map((h) => [h.metadata.name ?? '', h]),
  )
  for (const [name, hep] of want) {
    const cur = have.get(name)
    if (!cur) {
      if (!input.hostEndpoints.some((h) => h.metadata.name === name)) actions.push({ op: 'create', obj: hep })
    } else if (!jsonEqual(cur.spec, hep.spec) || !jsonEqual(cur.metadata.labels ?? {}, hep.metadata.labels ?? {})) {
      const next = clone(cur)
      next.spec = hep.spec
      next.metadata.labels = hep.metadata.labels ?? {}
      actions.push({ op: 'update', obj: next })
    }
  }
  for (const [name, cur] of have) {
    if (!want.has(name)) {
      actions.push({ op: 'delete', apiVersion: cur.apiVersion, kind: 'HostEndpoint', name })
    }
  }
  return actions
}
