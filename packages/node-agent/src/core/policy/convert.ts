/**
 * Calico v3 NetworkPolicy / GlobalNetworkPolicy → Felix v1 policy, with the syncer's selector
 * rewriting (calico.md §1.4); namespaces, service accounts and network sets as Felix sees them.
 */
import {
  andSelectors,
  type CalicoNetworkPolicy,
  type CalicoPort,
  type CalicoProtocol,
  compareNode,
  defaultPolicyTypes,
  type EntityRule,
  formatCidr,
  type GlobalNetworkPolicy,
  type GlobalNetworkSet,
  hasNode,
  type Labels,
  mapLabelKeys,
  type NetworkSet,
  notNode,
  parseCidr,
  parseSelectorNode,
  printSelector,
  type Rule,
  replaceAll,
  replaceGlobal,
  type SelectorNode,
  setNode,
} from '@calilab/model'
import {
  emptyRule,
  type FelixAction,
  type FelixNetworkSet,
  type FelixPolicy,
  type FelixProfile,
  type FelixRule,
  type PortRange,
} from './types.ts'

export const NAMESPACE_LABEL = 'projectcalico.org/namespace'
export const SERVICE_ACCOUNT_LABEL = 'projectcalico.org/serviceaccount'
export const ORCHESTRATOR_LABEL = 'projectcalico.org/orchestrator'
export const NAME_LABEL = 'projectcalico.org/name'
export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow'

const PROTOCOLS: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 }

export function protocolNumber(p: CalicoProtocol): number {
  return typeof p === 'number' ? p : (PROTOCOLS[p] ?? 0)
}

const ACTIONS: Record<Rule['action'], FelixAction> = { Allow: 'allow', Deny: 'deny', Log: 'log', Pass: 'next-tier' }

/** The name the v3.21 client stores (and Felix sees): `<tier>.<name>` unless `knp.`/`ossg.`. */
export function storageName(name: string, tier = 'default'): string {
  if (name.startsWith('knp.') || name.startsWith('ossg.') || name.startsWith(`${tier}.`)) return name
  return `${tier}.${name}`
}

const parse = (s: string | undefined): SelectorNode | undefined =>
  s === undefined || s.trim() === '' ? undefined : parseSelectorNode(s)

const prefixed = (n: SelectorNode, p: string): SelectorNode => mapLabelKeys(n, (k) => p + k)

function saSelectorNode(sel: string | undefined): SelectorNode | undefined {
  const n = parse(sel)
  return n && replaceAll(prefixed(n, 'pcsa.'), hasNode(SERVICE_ACCOUNT_LABEL))
}

/** Top-level selector of a namespaced NetworkPolicy. */
export function npSelector(ns: string, selector?: string, serviceAccountSelector?: string): SelectorNode {
  const nsClause = compareNode('==', NAMESPACE_LABEL, ns)
  const s = parse(selector)
  let out = s ? andSelectors(s, nsClause) : nsClause
  const sa = saSelectorNode(serviceAccountSelector)
  if (sa) out = andSelectors(out, sa)
  return out
}

/** Top-level selector of a GlobalNetworkPolicy. */
export function gnpSelector(
  selector?: string,
  namespaceSelector?: string,
  serviceAccountSelector?: string,
): SelectorNode {
  let out = parse(selector)
  const nsSel = parse(namespaceSelector)
  if (nsSel) {
    const p = prefixed(nsSel, 'pcns.')
    out = replaceAll(out ? andSelectors(out, p) : p, hasNode(NAMESPACE_LABEL))
  }
  const saSel = parse(serviceAccountSelector)
  if (saSel) {
    const p = prefixed(saSel, 'pcsa.')
    out = replaceAll(out ? andSelectors(out, p) : p, hasNode(SERVICE_ACCOUNT_LABEL))
  }
  return out ?? { kind: 'all' }
}

/** The selector a rule's entity resolves to (scope folded in), or undefined for "any IP". */
export function entitySelector(e: EntityRule, policyNs: string | undefined): SelectorNode | undefined {
  let scope: SelectorNode | undefined
  const nsSel = parse(e.namespaceSelector)
  if (nsSel) {
    scope = replaceGlobal(
      replaceAll(prefixed(nsSel, 'pcns.'), hasNode(NAMESPACE_LABEL)),
      notNode(hasNode(NAMESPACE_LABEL)),
    )
  } else if (policyNs !== undefined) scope = compareNode('==', NAMESPACE_LABEL, policyNs)
  let combined = parse(e.selector)
  if (e.serviceAccounts) {
    const parts: SelectorNode[] = []
    const names = e.serviceAccounts.names ?? []
    if (names.length > 0) parts.push(setNode('in', SERVICE_ACCOUNT_LABEL, names))
    const sa = parse(e.serviceAccounts.selector)
    if (sa) parts.push(prefixed(sa, 'pcsa.'))
    const saNode = parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : andSelectors(parts[0]!, parts[1]!)
    if (saNode) combined = combined ? andSelectors(saNode, combined) : saNode
  }
  if (scope && (combined || e.notSelector || e.namespaceSelector)) {
    combined = combined ? andSelectors(scope, combined) : scope
  }
  return combined
}

function ports(list: readonly CalicoPort[] | undefined): { ranges: PortRange[]; named: string[] } {
  const ranges: PortRange[] = []
  const named: string[] = []
  for (const p of list ?? []) {
    if (typeof p === 'number') ranges.push({ first: p, last: p })
    else if (/^\d+$/.test(p)) ranges.push({ first: Number(p), last: Number(p) })
    else {
      const m = /^(\d+):(\d+)$/.exec(p)
      if (m) ranges.push({ first: Number(m[1]), last: Number(m[2]) })
      else named.push(p)
    }
  }
  return { ranges, named }
}

function nets(list: readonly string[] | undefined): string[] {
  return (list ?? []).filter((n) => !n.includes(':')).map((n) => formatCidr(parseCidr(n.includes('/') ? n : `${n}/32`)))
}

/** One v3 rule → the v1 rule Felix sees. */
export function ruleToFelix(r: Rule, policyNs: string | undefined): FelixRule {
  const out = emptyRule(ACTIONS[r.action])
  if (r.protocol !== undefined) out.protocol = protocolNumber(r.protocol)
  if (r.notProtocol !== undefined) out.notProtocol = protocolNumber(r.notProtocol)
  if (r.icmp?.type !== undefined) out.icmpType = r.icmp.type
  if (r.icmp?.code !== undefined) out.icmpCode = r.icmp.code
  if (r.notICMP?.type !== undefined) out.notIcmpType = r.notICMP.type
  if (r.notICMP?.code !== undefined) out.notIcmpCode = r.notICMP.code
  if (r.ipVersion !== undefined) out.ipVersion = r.ipVersion
  if (r.protocol === 'ICMPv6' || r.protocol === 58) out.ipVersion = 6
  const s = r.source ?? {}
  const d = r.destination ?? {}
  out.srcNets = nets(s.nets)
  out.notSrcNets = nets(s.notNets)
  out.dstNets = nets(d.nets)
  out.notDstNets = nets(d.notNets)
  const ss = entitySelector(s, policyNs)
  if (ss) out.srcSelector = printSelector(ss)
  const ds = entitySelector(d, policyNs)
  if (ds) out.dstSelector = printSelector(ds)
  const ns = parse(s.notSelector)
  if (ns) out.notSrcSelector = printSelector(ns)
  const nd = parse(d.notSelector)
  if (nd) out.notDstSelector = printSelector(nd)
  let p = ports(s.ports)
  out.srcPorts = p.ranges
  out.srcNamedPorts = p.named
  p = ports(s.notPorts)
  out.notSrcPorts = p.ranges
  out.notSrcNamedPorts = p.named
  p = ports(d.ports)
  out.dstPorts = p.ranges
  out.dstNamedPorts = p.named
  p = ports(d.notPorts)
  out.notDstPorts = p.ranges
  out.notDstNamedPorts = p.named
  const ann = r.metadata?.annotations
  if (ann && Object.keys(ann).length > 0) out.annotations = { ...ann }
  return out
}

/** A Calico NetworkPolicy (namespaced) as Felix sees it. */
export function networkPolicyToFelix(p: CalicoNetworkPolicy): FelixPolicy {
  const ns = p.metadata.namespace ?? 'default'
  const spec = p.spec ?? {}
  const tier = spec.tier ?? 'default'
  const types = defaultPolicyTypes(spec)
  const out: FelixPolicy = {
    id: `${ns}/${storageName(p.metadata.name ?? '', tier)}`,
    tier,
    selector: printSelector(npSelector(ns, spec.selector, spec.serviceAccountSelector)),
    ingress: types.includes('Ingress'),
    egress: types.includes('Egress'),
    inbound: (spec.ingress ?? []).map((r) => ruleToFelix(r, ns)),
    outbound: (spec.egress ?? []).map((r) => ruleToFelix(r, ns)),
    doNotTrack: false,
    preDNAT: false,
    applyOnForward: true,
  }
  if (spec.order !== undefined) out.order = spec.order
  return out
}

/** A GlobalNetworkPolicy as Felix sees it. */
export function globalNetworkPolicyToFelix(p: GlobalNetworkPolicy): FelixPolicy {
  const spec = p.spec ?? {}
  const tier = spec.tier ?? 'default'
  const types = defaultPolicyTypes(spec)
  const out: FelixPolicy = {
    id: storageName(p.metadata.name ?? '', tier),
    tier,
    selector: printSelector(gnpSelector(spec.selector, spec.namespaceSelector, spec.serviceAccountSelector)),
    ingress: types.includes('Ingress'),
    egress: types.includes('Egress'),
    inbound: (spec.ingress ?? []).map((r) => ruleToFelix(r, undefined)),
    outbound: (spec.egress ?? []).map((r) => ruleToFelix(r, undefined)),
    doNotTrack: spec.doNotTrack === true,
    preDNAT: spec.preDNAT === true,
    applyOnForward: spec.applyOnForward === true,
  }
  if (spec.order !== undefined) out.order = spec.order
  return out
}

/** Namespace `ns` as profile `kns.<ns>`: allow all both ways; lends `pcns.*` labels. */
export function namespaceProfile(ns: string, labels: Labels = {}): FelixProfile {
  const l: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels)) l[`pcns.${k}`] = v
  l[`pcns.${NAME_LABEL}`] = ns
  return { id: `kns.${ns}`, labels: l, inbound: [emptyRule('allow')], outbound: [emptyRule('allow')] }
}

/** Service account `sa` in `ns` as profile `ksa.<ns>.<sa>`: no rules; lends `pcsa.*` labels. */
export function serviceAccountProfile(ns: string, sa: string, labels: Labels = {}): FelixProfile {
  const l: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels)) l[`pcsa.${k}`] = v
  l[`pcsa.${NAME_LABEL}`] = sa
  return { id: `ksa.${ns}.${sa}`, labels: l, inbound: [], outbound: [] }
}

/** The built-in `projectcalico-default-allow` profile (auto host endpoints use it). */
export function defaultAllowProfile(): FelixProfile {
  return { id: DEFAULT_ALLOW_PROFILE, labels: {}, inbound: [emptyRule('allow')], outbound: [emptyRule('allow')] }
}

/** A namespaced NetworkSet: gains the namespace label and the namespace profile as parent. */
export function networkSetToFelix(s: NetworkSet): FelixNetworkSet {
  const ns = s.metadata.namespace ?? 'default'
  return {
    id: `${ns}/${s.metadata.name ?? ''}`,
    labels: { ...(s.metadata.labels ?? {}), [NAMESPACE_LABEL]: ns },
    nets: nets(s.spec?.nets),
    profileIds: [`kns.${ns}`],
  }
}

export function globalNetworkSetToFelix(s: GlobalNetworkSet): FelixNetworkSet {
  return {
    id: s.metadata.name ?? '',
    labels: { ...(s.metadata.labels ?? {}) },
    nets: nets(s.spec?.nets),
    profileIds: [],
  }
}

/** Effective labels: own labels, else the first parent profile that has the key. */
export function effectiveLabels(
  own: Labels,
  profileIds: readonly string[],
  profiles: ReadonlyMap<string, FelixProfile>,
): Labels {
  const out: Record<string, string> = {}
  for (let i = profileIds.length - 1; i >= 0; i--) {
    const p = profiles.get(profileIds[i]!)
    if (p) Object.assign(out, p.labels)
  }
  return Object.assign(out, own)
}
