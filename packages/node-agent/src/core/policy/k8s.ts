/**
 * Kubernetes NetworkPolicy → Calico NetworkPolicy, as libcalico-go's `K8sNetworkPolicyToCalico`
 * converts it (v3.21; calico.md §1.15).
 */
import type {
  CalicoNetworkPolicy,
  CalicoPort,
  EntityRule,
  K8sNetworkPolicy,
  LabelSelector,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Rule,
} from '@calilab/model'

const ORCH = "projectcalico.org/orchestrator == 'k8s'"

/** A k8s label selector as Calico selector text; `pod` adds the orchestrator clause first. */
export function k8sSelectorToCalico(s: LabelSelector | undefined, pod: boolean): string {
  const parts: string[] = pod ? [ORCH] : []
  if (s) {
    const ml = s.matchLabels ?? {}
    for (const k of Object.keys(ml).sort()) parts.push(`${k} == '${ml[k]}'`)
    for (const e of s.matchExpressions ?? []) {
      const vals = (e.values ?? []).map((v) => `'${v}'`).join(', ')
      if (e.operator === 'In') parts.push(`${e.key} in { ${vals} }`)
      else if (e.operator === 'NotIn') parts.push(`${e.key} not in { ${vals} }`)
      else if (e.operator === 'Exists') parts.push(`has(${e.key})`)
      else parts.push(`! has(${e.key})`)
    }
  }
  return parts.join(' && ')
}

/** Merges numeric ports into minimal ranges (numbers first, then names), like SimplifyPorts. */
export function simplifyPorts(ports: readonly CalicoPort[]): CalicoPort[] {
  const ranges: [number, number][] = []
  const named: string[] = []
  for (const p of ports) {
    if (typeof p === 'number') ranges.push([p, p])
    else {
      const m = /^(\d+):(\d+)$/.exec(p)
      if (m) ranges.push([Number(m[1]), Number(m[2])])
      else if (!named.includes(p)) named.push(p)
    }
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const merged: [number, number][] = []
  for (const r of ranges) {
    const last = merged[merged.length - 1]
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1])
    else merged.push([r[0], r[1]])
  }
  return [...merged.map(([a, b]): CalicoPort => (a === b ? a : `${a}:${b}`)), ...named]
}

interface PeerFields {
  selector?: string
  namespaceSelector?: string
  nets?: string[]
  notNets?: string[]
}

function peerFields(peer: NetworkPolicyPeer | undefined): PeerFields {
  if (!peer) return {}
  if (peer.ipBlock) {
    const out: PeerFields = { nets: [peer.ipBlock.cidr] }
    if (peer.ipBlock.except && peer.ipBlock.except.length > 0) out.notNets = [...peer.ipBlock.except]
    return out
  }
  const out: PeerFields = {}
  if (peer.podSelector) out.selector = k8sSelectorToCalico(peer.podSelector, true)
  if (peer.namespaceSelector) out.namespaceSelector = k8sSelectorToCalico(peer.namespaceSelector, false) || 'all()'
  return out
}

/** Ports grouped by protocol (sorted): `undefined` = the whole protocol; no entry = no port match. */
function protocolPorts(
  ports: readonly NetworkPolicyPort[] | undefined,
): { protocol?: 'TCP' | 'UDP' | 'SCTP'; ports?: CalicoPort[] }[] {
  if (!ports || ports.length === 0) return [{}]
  const by = new Map<'TCP' | 'UDP' | 'SCTP', CalicoPort[] | undefined>()
  for (const p of ports) {
    const proto = p.protocol ?? 'TCP'
    if (p.port === undefined) {
      by.set(proto, undefined)
      continue
    }
    if (by.has(proto) && by.get(proto) === undefined) continue
    const list = by.get(proto) ?? []
    if (typeof p.port === 'number')
      list.push(p.endPort !== undefined && p.endPort !== p.port ? `${p.port}:${p.endPort}` : p.port)
    else if (/^\d+$/.test(p.port)) list.push(Number(p.port))
    else list.push(p.port)
    by.set(proto, list)
  }
  return [...by.keys()].sort().map((protocol) => {
    const l = by.get(protocol)
    return l === undefined ? { protocol } : { protocol, ports: simplifyPorts(l) }
  })
}

function k8sRule(
  peers: readonly NetworkPolicyPeer[] | undefined,
  ports: readonly NetworkPolicyPort[] | undefined,
  ingress: boolean,
): Rule[] {
  const out: Rule[] = []
  const peerList: (NetworkPolicyPeer | undefined)[] = peers && peers.length > 0 ? [...peers] : [undefined]
  for (const pp of protocolPorts(ports)) {
    for (const peer of peerList) {
      const f = peerFields(peer)
      const portSide: EntityRule = pp.ports ? { ports: pp.ports } : {}
      const peerSide: EntityRule = { ...f }
      const rule: Rule = { action: 'Allow' }
      if (pp.protocol) rule.protocol = pp.protocol
      if (ingress) {
        if (Object.keys(peerSide).length > 0) rule.source = peerSide
        if (Object.keys(portSide).length > 0) rule.destination = portSide
      } else {
        const d = { ...peerSide, ...portSide }
        if (Object.keys(d).length > 0) rule.destination = d
      }
      out.push(rule)
    }
  }
  return out
}

/** A k8s NetworkPolicy as the Calico NetworkPolicy `knp.default.<name>` (order 1000). */
export function k8sNetworkPolicyToCalico(np: K8sNetworkPolicy): CalicoNetworkPolicy {
  const spec = np.spec
  const types =
    spec.policyTypes && spec.policyTypes.length > 0
      ? [...spec.policyTypes]
      : spec.egress && spec.egress.length > 0
        ? (['Ingress', 'Egress'] as const)
        : (['Ingress'] as const)
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: `knp.default.${np.metadata.name ?? ''}`, namespace: np.metadata.namespace ?? 'default' },
    spec: {
      order: 1000,
      selector: k8sSelectorToCalico(spec.podSelector, true),
      types: [...types],
      ingress: (spec.ingress ?? []).flatMap((r) => k8sRule(r.from, r.ports, true)),
      egress: (spec.egress ?? []).flatMap((r) => k8sRule(r.to, r.ports, false)),
    },
  } as CalicoNetworkPolicy
}
