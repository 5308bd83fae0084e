/** networking.k8s.io/v1 NetworkPolicy. */

import { cidrContains, tryParseCidr } from '../net/cidr.ts'
import type { LabelSelector } from './apps.ts'
import { cidr, defaultPortProtocols, labelSelector, portName, portNumber, protocol } from './fields.ts'
import { type KindDef, specOf } from './kind.ts'
import type { KubeObject, Typed } from './meta.ts'
import type { Protocol } from './pod.ts'
import { type Errs, enumOf, int, intOrString, isObject, type Json, list, object } from './schema.ts'

export interface NetworkPolicyPort {
  protocol?: Protocol
  port?: number | string
  endPort?: number
}
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector
  namespaceSelector?: LabelSelector
  ipBlock?: { cidr: string; except?: string[] }
}
export interface K8sNetworkPolicySpec {
  podSelector: LabelSelector
  policyTypes?: ('Ingress' | 'Egress')[]
  ingress?: { from?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[]
  egress?: { to?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[]
}
export type K8sNetworkPolicy = Typed<K8sNetworkPolicySpec>

const npPort = object(
  {
    protocol: protocol(),
    port: intOrString(portNumber, portName),
    endPort: int(1, 65535),
  },
  {
    rules: [
      (p, path, errs) => {
        if (p.endPort === undefined || p.endPort === null) return
        if (typeof p.port !== 'number') {
          errs.required(`${path}.port`, 'must be specified when endPort is specified')
        } else if (typeof p.endPort === 'number' && p.endPort < p.port) {
          errs.invalid(`${path}.endPort`, p.endPort, 'must be greater than or equal to `port`')
        }
      },
    ],
  },
)

function exceptInside(b: Json, path: string, errs: Errs): void {
  if (typeof b.cidr !== 'string' || !Array.isArray(b.except)) return
  const outer = tryParseCidr(b.cidr)
  if (!outer.ok) return
  b.except.forEach((e, i) => {
    if (typeof e !== 'string') return
    const inner = tryParseCidr(e)
    if (!inner.ok) return
    if (!cidrContains(outer.cidr, inner.cidr) || inner.cidr.prefix <= outer.cidr.prefix) {
      errs.invalid(`${path}.except[${i}]`, e, 'must be a strict subset of `cidr`')
    }
  })
}

const peer = object(
  {
    podSelector: labelSelector(),
    namespaceSelector: labelSelector(),
    ipBlock: object({ cidr: cidr(), except: list(cidr()) }, { required: ['cidr'], rules: [exceptInside] }),
  },
  {
    rules: [
      (p, path, errs) => {
        const n = ['podSelector', 'namespaceSelector', 'ipBlock'].filter((k) => p[k] !== undefined && p[k] !== null)
        if (n.length === 0) errs.required(path, 'must specify a peer')
        else if (n.includes('ipBlock') && n.length > 1)
          errs.forbidden(path, 'may not specify both ipBlock and another peer')
      },
    ],
  },
)

const spec = object({
  podSelector: labelSelector(),
  policyTypes: list(enumOf('Ingress', 'Egress'), { unique: true }),
  ingress: list(object({ from: list(peer), ports: list(npPort) })),
  egress: list(object({ to: list(peer), ports: list(npPort) })),
})

function defaultPorts(rules: unknown): unknown {
  if (!Array.isArray(rules)) return rules
  return rules.map((r) => (isObject(r) && Array.isArray(r.ports) ? { ...r, ports: defaultPortProtocols(r.ports) } : r))
}

export const networkingKinds: Readonly<Record<string, KindDef>> = Object.freeze({
  'networking.k8s.io/NetworkPolicy': {
    root: object({ spec }),
    defaults: (o: KubeObject) => {
      const s: Json = { ...specOf(o) }
      s.podSelector ??= {}
      if (!Array.isArray(s.policyTypes) || s.policyTypes.length === 0) {
        s.policyTypes = Array.isArray(s.egress) && s.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress']
      }
      if (s.ingress !== undefined) s.ingress = defaultPorts(s.ingress)
      if (s.egress !== undefined) s.egress = defaultPorts(s.egress)
      return { ...o, spec: s }
    },
  },
} satisfies Record<string, KindDef>)
