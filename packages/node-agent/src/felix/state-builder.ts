/**
 * The Felix calculation graph's front end for policy: turns the syncer's key/value updates into
 * the policy core's input (`PolicyState`), keeping one converted entry per datastore key so an
 * update costs one conversion (CONVENTIONS §4: the output depends only on what is held now).
 *
 * Kinds: k8s NetworkPolicy (→ `knp.default.*`), Calico NetworkPolicy / GlobalNetworkPolicy,
 * NetworkSet / GlobalNetworkSet, HostEndpoint, Namespace (→ profile `kns.<ns>`), ServiceAccount
 * (→ `ksa.<ns>.<sa>`), Calico Profile, and Pods (→ workload endpoints, the way the Calico CNI
 * names them). References to missing things fail closed: a pod whose namespace or service
 * account is unknown names a profile that renders empty (drop); a policy that cannot be
 * converted becomes a deny-all over its namespace (NP) or every endpoint (GNP).
 */
import type {
  CalicoNetworkPolicy,
  GlobalNetworkPolicy,
  GlobalNetworkSet,
  HostEndpoint,
  K8sNetworkPolicy,
  KubeObject,
  NetworkSet,
  Pod,
  Rule,
} from '@calilab/model'
import { printSelector } from '@calilab/model'
import { workloadEndpoint } from '../core/cni/wep.ts'
import {
  DEFAULT_ALLOW_PROFILE,
  defaultAllowProfile,
  emptyRule,
  type FelixNetworkSet,
  type FelixPolicy,
  type FelixProfile,
  globalNetworkPolicyToFelix,
  globalNetworkSetToFelix,
  k8sNetworkPolicyToCalico,
  namespaceProfile,
  networkPolicyToFelix,
  networkSetToFelix,
  npSelector,
  type PolicyEndpoint,
  type PolicyState,
  ruleToFelix,
  serviceAccountProfile,
} from '../core/policy/index.ts'
import type { SyncerUpdate } from '../io/syncer/types.ts'

/** A store key `/<group|core>/<plural>/<ns|_>/<name>`, split. */
export interface StoreKey {
  group: string
  plural: string
  namespace: string | undefined
  name: string
}

export function parseStoreKey(key: string): StoreKey | undefined {
  const parts = key.split('/')
  if (parts.length !== 5 || parts[0] !== '') return undefined
  const [, group, plural, ns, name] = parts as [string, string, string, string, string]
  return { group, plural, namespace: ns === '_' ? undefined : ns, name }
}

/** A workload endpoint on this node, with what trace and probe need to find its netns. */
export interface LocalWorkload {
  namespace: string
  pod: string
  iface: string
  ips: string[]
  endpointId: string
}

/** What one update did, for the manager's counters and logs. */
export type BuilderChange = 'policy' | 'profile' | 'endpoint' | 'networkset' | 'ignored'

export interface ConversionError {
  key: string
  message: string
}

type Kind = 'policy' | 'profile' | 'endpoint' | 'networkset'

/**
 * Converted entries that changed since the last `takeChanges()` (undefined: gone); what the
 * incremental renderer is fed. Several updates of one key in between fold into one entry.
 * Policies, profiles and network sets by id; endpoints by store key, since workload endpoint
 * names repeat across namespaces (`node1-k8s-web-eth0` in two namespaces).
 */
export interface PolicyStateChanges {
  policies: Map<string, FelixPolicy | undefined>
  profiles: Map<string, FelixProfile | undefined>
  endpoints: Map<string, PolicyEndpoint | undefined>
  networkSets: Map<string, FelixNetworkSet | undefined>
}

type Entry = FelixPolicy | FelixProfile | PolicyEndpoint | FelixNetworkSet

function failClosedPolicy(id: string, ns: string | undefined, types: readonly string[] | undefined): FelixPolicy {
  const ingress = types === undefined || types.includes('Ingress')
  const egress = types?.includes('Egress') === true
  return {
    id,
    tier: 'default',
    order: 0,
    selector: ns === undefined ? 'all()' : printSelector(npSelector(ns)),
    ingress,
    egress,
    inbound: [emptyRule('deny')],
    outbound: [emptyRule('deny')],
    doNotTrack: false,
    preDNAT: false,
    applyOnForward: false,
  }
}

const CHANGE_FIELD = {
  policy: 'policies',
  profile: 'profiles',
  endpoint: 'endpoints',
  networkset: 'networkSets',
} as const satisfies Record<Kind, keyof PolicyStateChanges>

/**
 * The object with the name and namespace its store key gives. A module function, not a closure
 * made per update (tsx's keep-names wraps every closure it creates in a defineProperty call).
 */
function withNs<T extends KubeObject>(o: T, k: StoreKey): T {
  return { ...o, metadata: { ...o.metadata, name: o.metadata.name ?? k.name, namespace: k.namespace } } as T
}

interface ProfileObj extends KubeObject {
  spec?: { ingress?: Rule[]; egress?: Rule[]; labelsToApply?: Record<string, string> }
}

export class PolicyStateBuilder {
  readonly nodeName: string
  private readonly policies = new Map<string, FelixPolicy>()
  private readonly profiles = new Map<string, FelixProfile>()
  private readonly endpoints = new Map<string, PolicyEndpoint>()
  private readonly networkSets = new Map<string, FelixNetworkSet>()
  private readonly workloads = new Map<string, LocalWorkload>()
  private readonly errors = new Map<string, ConversionError>()
  /** key → its entry before the first update since the last takeChanges(). */
  private readonly journal = new Map<string, { kind: Kind; before: Entry | undefined }>()
  private readonly defaultAllow = defaultAllowProfile()
  private cached: PolicyState | undefined
  private cachedKeys: string[] = []

  constructor(nodeName: string) {
    this.nodeName = nodeName
  }

  /** Applies one syncer update; returns what kind of input it changed. */
  apply(u: SyncerUpdate): BuilderChange {
    const k = parseStoreKey(u.key)
    if (!k) return 'ignored'
    const kind = this.kindOf(k)
    if (!kind) return 'ignored'
    this.cached = undefined
    this.errors.delete(u.key)
    const map = this.mapOf(kind)
    if (!this.journal.has(u.key)) this.journal.set(u.key, { kind, before: map.get(u.key) as Entry | undefined })
    if (u.value === null) {
      map.delete(u.key)
      this.workloads.delete(u.key)
      return kind
    }
    try {
      this.put(u.key, k, u.value)
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      this.errors.set(u.key, { key: u.key, message })
      if (kind === 'policy') {
        const v = u.value as { spec?: { types?: string[]; policyTypes?: string[] } }
        const types = v.spec?.types ?? v.spec?.policyTypes
        const id = k.namespace === undefined ? `default.${k.name}` : `${k.namespace}/${k.name}`
        this.policies.set(u.key, failClosedPolicy(id, k.namespace, types))
      } else {
        map.delete(u.key)
        this.workloads.delete(u.key)
      }
    }
    return kind
  }

  /** Applies a batch; returns the kinds it touched. */
  applyAll(updates: readonly SyncerUpdate[]): Set<BuilderChange> {
    const out = new Set<BuilderChange>()
    for (const u of updates) out.add(this.apply(u))
    out.delete('ignored')
    return out
  }

  /** The policy core's input as it is now (the built-in default-allow profile included). */
  state(): PolicyState {
    if (!this.cached) {
      const profiles = new Map<string, FelixProfile>()
      profiles.set(DEFAULT_ALLOW_PROFILE, this.defaultAllow)
      for (const p of this.profiles.values()) profiles.set(p.id, p)
      this.cached = {
        policies: [...this.policies.values()],
        profiles: [...profiles.values()],
        endpoints: [...this.endpoints.values()],
        networkSets: [...this.networkSets.values()],
      }
      this.cachedKeys = [...this.endpoints.keys()]
    }
    return this.cached
  }

  /** The store key of each of `state().endpoints`, in the same order. */
  endpointKeys(): readonly string[] {
    this.state()
    return this.cachedKeys
  }

  /** What changed since the last call (or `discardChanges()`), as the state() entries by id. */
  takeChanges(): PolicyStateChanges {
    const out: PolicyStateChanges = {
      policies: new Map(),
      profiles: new Map(),
      endpoints: new Map(),
      networkSets: new Map(),
    }
    for (const [key, { kind, before }] of this.journal) {
      const after = this.mapOf(kind).get(key) as Entry | undefined
      if (before === after) continue
      if (kind === 'endpoint') {
        out.endpoints.set(key, after as PolicyEndpoint | undefined)
        continue
      }
      const m = out[CHANGE_FIELD[kind]] as Map<string, Entry | undefined>
      // Ids are unique across keys in practice; should two keys share one, an upsert wins over a removal.
      if (before && (!after || before.id !== after.id) && !m.has(before.id)) m.set(before.id, undefined)
      if (after) m.set(after.id, after)
    }
    this.journal.clear()
    // The built-in profile comes back when a Profile object of that name goes.
    if (out.profiles.has(DEFAULT_ALLOW_PROFILE) && out.profiles.get(DEFAULT_ALLOW_PROFILE) === undefined)
      out.profiles.set(DEFAULT_ALLOW_PROFILE, this.defaultAllow)
    return out
  }

  /** Forgets pending changes (the caller is about to render state() in full). */
  discardChanges(): void {
    this.journal.clear()
  }

  /** Workload endpoints on this node. */
  localWorkloads(): LocalWorkload[] {
    return [...this.workloads.values()]
  }

  /** The local workload with this `<ns>/<pod>`, or this IP. */
  findWorkload(q: { namespace?: string; pod?: string; ip?: string }): LocalWorkload | undefined {
    for (const w of this.workloads.values()) {
      if (q.ip !== undefined && w.ips.includes(q.ip)) return w
      if (q.pod !== undefined && w.pod === q.pod && (q.namespace === undefined || w.namespace === q.namespace)) return w
    }
    return undefined
  }

  /** Endpoint (any node) owning this IP. */
  endpointByIp(ip: string): PolicyEndpoint | undefined {
    for (const e of this.endpoints.values()) if (e.ips.includes(ip)) return e
    return undefined
  }

  /** Objects that could not be converted (each fails closed). */
  conversionErrors(): ConversionError[] {
    return [...this.errors.values()]
  }

  private kindOf(k: StoreKey): Kind | undefined {
    if (k.group === 'networking.k8s.io' && k.plural === 'networkpolicies') return 'policy'
    if (k.group === 'projectcalico.org') {
      if (k.plural === 'networkpolicies' || k.plural === 'globalnetworkpolicies') return 'policy'
      if (k.plural === 'networksets' || k.plural === 'globalnetworksets') return 'networkset'
      if (k.plural === 'hostendpoints') return 'endpoint'
      if (k.plural === 'profiles') return 'profile'
    }
    if (k.group === 'core') {
      if (k.plural === 'pods') return 'endpoint'
      if (k.plural === 'namespaces' || k.plural === 'serviceaccounts') return 'profile'
    }
    return undefined
  }

  private mapOf(kind: Kind): Map<string, unknown> {
    switch (kind) {
      case 'policy':
        return this.policies
      case 'profile':
        return this.profiles
      case 'endpoint':
        return this.endpoints
      case 'networkset':
        return this.networkSets
    }
  }

  private put(key: string, k: StoreKey, v: KubeObject): void {
    if (k.group === 'networking.k8s.io') {
      this.policies.set(key, networkPolicyToFelix(k8sNetworkPolicyToCalico(withNs(v as K8sNetworkPolicy, k))))
      return
    }
    if (k.group === 'projectcalico.org') {
      switch (k.plural) {
        case 'networkpolicies':
          this.policies.set(key, networkPolicyToFelix(withNs(v as CalicoNetworkPolicy, k)))
          return
        case 'globalnetworkpolicies':
          this.policies.set(key, globalNetworkPolicyToFelix(v as GlobalNetworkPolicy))
          return
        case 'networksets':
          this.networkSets.set(key, networkSetToFelix(withNs(v as NetworkSet, k)))
          return
        case 'globalnetworksets':
          this.networkSets.set(key, globalNetworkSetToFelix(v as GlobalNetworkSet))
          return
        case 'hostendpoints': {
          const h = v as HostEndpoint
          const spec = h.spec ?? {}
          const ep: PolicyEndpoint = {
            kind: 'host',
            id: h.metadata.name ?? k.name,
            node: spec.node ?? '',
            iface: spec.interfaceName ?? '',
            ips: (spec.expectedIPs ?? []).filter((ip) => !ip.includes(':')),
            labels: { ...(h.metadata.labels ?? {}) },
            profileIds: [...(spec.profiles ?? [])],
          }
          if (spec.ports) ep.ports = spec.ports.map((p) => ({ ...p }))
          this.endpoints.set(key, ep)
          return
        }
        case 'profiles': {
          const p = v as ProfileObj
          const id = p.metadata.name ?? k.name
          const labels: Record<string, string> = { ...(p.spec?.labelsToApply ?? {}) }
          this.profiles.set(key, {
            id,
            labels,
            inbound: (p.spec?.ingress ?? []).map((r) => ruleToFelix(r, undefined)),
            outbound: (p.spec?.egress ?? []).map((r) => ruleToFelix(r, undefined)),
          })
          return
        }
      }
      return
    }
    // core
    if (k.plural === 'namespaces') {
      this.profiles.set(key, namespaceProfile(k.name, v.metadata.labels ?? {}))
      return
    }
    if (k.plural === 'serviceaccounts') {
      this.profiles.set(key, serviceAccountProfile(k.namespace ?? 'default', k.name, v.metadata.labels ?? {}))
      return
    }
    // pods
    const raw = withNs(v as Pod, k)
    const pod: Pod = { ...raw, spec: { ...raw.spec, containers: raw.spec?.containers ?? [] } }
    const phase = pod.status?.phase
    if (
      pod.spec?.hostNetwork === true ||
      !pod.spec?.nodeName ||
      phase === 'Succeeded' ||
      phase === 'Failed' ||
      (pod.metadata as { deletionTimestamp?: string }).deletionTimestamp !== undefined
    ) {
      this.endpoints.delete(key)
      this.workloads.delete(key)
      return
    }
    const wep = workloadEndpoint({ pod })
    const ips = wep.spec.ipNetworks.filter((n) => !n.includes(':')).map((n) => n.replace(/\/32$/, ''))
    if (ips.length === 0) {
      // No address yet: nothing to program (the CNI has not finished).
      this.endpoints.delete(key)
      this.workloads.delete(key)
      return
    }
    const ep: PolicyEndpoint = {
      kind: 'workload',
      id: wep.metadata.name ?? k.name,
      node: wep.spec.node,
      iface: wep.spec.interfaceName,
      ips,
      labels: { ...(wep.metadata.labels ?? {}) },
      profileIds: [...wep.spec.profiles],
    }
    if (wep.spec.ports && wep.spec.ports.length > 0)
      ep.ports = wep.spec.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port }))
    this.endpoints.set(key, ep)
    if (ep.node === this.nodeName)
      this.workloads.set(key, {
        namespace: k.namespace ?? 'default',
        pod: k.name,
        iface: ep.iface,
        ips,
        endpointId: ep.id,
      })
    else this.workloads.delete(key)
  }
}
