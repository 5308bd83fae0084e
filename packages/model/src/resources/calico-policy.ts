/** projectcalico.org/v3 policy kinds: NetworkPolicy, GlobalNetworkPolicy, NetworkSet, GlobalNetworkSet. */

import { ipOrCidr, selector } from './fields.ts'
import { type KindDef, specOf } from './kind.ts'
import type { KubeObject, Typed } from './meta.ts'
import {
  bool,
  type Errs,
  enumOf,
  has,
  int,
  isObject,
  type Json,
  list,
  map,
  number,
  object,
  openObject,
  type Schema,
  string,
} from './schema.ts'

// ---- types ----------------------------------------------------------------------------------

export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass'
export type CalicoProtocol = 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'SCTP' | 'UDPLite' | number
export type CalicoPort = number | string

export interface EntityRule {
  nets?: string[]
  notNets?: string[]
  selector?: string
  notSelector?: string
  namespaceSelector?: string
  ports?: CalicoPort[]
  notPorts?: CalicoPort[]
  serviceAccounts?: { names?: string[]; selector?: string }
  services?: { name: string; namespace?: string }
}
export interface IcmpFields {
  type?: number
  code?: number
}
export interface Rule {
  action: RuleAction
  protocol?: CalicoProtocol
  notProtocol?: CalicoProtocol
  icmp?: IcmpFields
  notICMP?: IcmpFields
  ipVersion?: 4 | 6
  source?: EntityRule
  destination?: EntityRule
  http?: Record<string, unknown>
  metadata?: { annotations?: Record<string, string> }
}
export type PolicyType = 'Ingress' | 'Egress'
export interface NetworkPolicySpec {
  order?: number
  tier?: string
  selector?: string
  serviceAccountSelector?: string
  types?: PolicyType[]
  ingress?: Rule[]
  egress?: Rule[]
  performanceHints?: string[]
}
export interface GlobalNetworkPolicySpec extends NetworkPolicySpec {
  namespaceSelector?: string
  doNotTrack?: boolean
  preDNAT?: boolean
  applyOnForward?: boolean
}
export type CalicoNetworkPolicy = Typed<NetworkPolicySpec>
export type GlobalNetworkPolicy = Typed<GlobalNetworkPolicySpec>
export type NetworkSet = Typed<{ nets?: string[] }>
export type GlobalNetworkSet = Typed<{ nets?: string[] }>

// ---- schema ---------------------------------------------------------------------------------

const PROTOCOL_NAMES = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'] as const
const PORT_PROTOCOLS: readonly unknown[] = ['TCP', 'UDP', 'SCTP', 6, 17, 132]

const protocol = (): Schema => ({
  type: 'intOrString',
  validate(v, path, errs) {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 1 || v > 255) errs.invalid(path, v, 'protocol number must be between 1 and 255')
    } else if (typeof v === 'string') {
      if (!(PROTOCOL_NAMES as readonly string[]).includes(v)) errs.notSupported(path, v, PROTOCOL_NAMES)
    } else errs.typeInvalid(path, v, 'integer or string')
  },
})

const NAMED_PORT = /^[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?$/
/** A Calico port: 1-65535, "a:b" (inclusive range, a<=b), or a named port. */
export function calicoPortError(v: unknown): string | undefined {
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= 1 && v <= 65535 ? undefined : 'port must be between 1 and 65535'
  }
  if (typeof v !== 'string') return 'must be an integer or a string'
  const m = /^([0-9]+):([0-9]+)$/.exec(v)
  if (m !== null) {
    const a = Number(m[1])
    const b = Number(m[2])
    if (a < 1 || a > 65535 || b < 1 || b > 65535) return 'port range bounds must be between 1 and 65535'
    if (a > b) return 'port range minimum must not exceed maximum'
    return undefined
  }
  if (/^[0-9]+$/.test(v)) {
    const n = Number(v)
    return n >= 1 && n <= 65535 ? undefined : 'port must be between 1 and 65535'
  }
  return NAMED_PORT.test(v) && v.length <= 128 ? undefined : 'invalid port: must be a number, "min:max" or a port name'
}
const calicoPort = (): Schema => ({
  type: 'intOrString',
  validate(v, path, errs) {
    const d = calicoPortError(v)
    if (d !== undefined) errs.invalid(path, v, d)
  },
})

const entityRule = object({
  nets: list(string(ipOrCidr)),
  notNets: list(string(ipOrCidr)),
  selector: selector(),
  notSelector: selector(),
  namespaceSelector: selector(),
  ports: list(calicoPort()),
  notPorts: list(calicoPort()),
  serviceAccounts: object({ names: list(string()), selector: selector() }),
  services: object({ name: string(), namespace: string() }, { required: ['name'] }),
})

const icmp = object(
  { type: int(0, 254), code: int(0, 255) },
  {
    rules: [
      (v, path, errs) => {
        if (has(v, 'code') && !has(v, 'type'))
          errs.invalid(`${path}.code`, v.code, 'ICMP code specified without an ICMP type')
      },
    ],
  },
)

function ruleRules(r: Json, path: string, errs: Errs): void {
  const usesPorts = [r.source, r.destination].some(
    (e) =>
      isObject(e) &&
      ((Array.isArray(e.ports) && e.ports.length > 0) || (Array.isArray(e.notPorts) && e.notPorts.length > 0)),
  )
  if (usesPorts && !PORT_PROTOCOLS.includes(r.protocol)) {
    errs.invalid(
      `${path}.protocol`,
      r.protocol ?? null,
      'rules that specify ports must set protocol to TCP, UDP or SCTP',
    )
  }
  const icmpProto: readonly unknown[] = ['ICMP', 'ICMPv6', 1, 58]
  for (const f of ['icmp', 'notICMP']) {
    if (has(r, f) && !icmpProto.includes(r.protocol)) {
      errs.invalid(`${path}.${f}`, r[f], 'ICMP fields require protocol ICMP or ICMPv6')
    }
  }
  if (r.ipVersion === 4 && (r.protocol === 'ICMPv6' || r.protocol === 58)) {
    errs.invalid(`${path}.ipVersion`, 4, 'ICMPv6 protocol requires ipVersion 6')
  }
  if (r.ipVersion === 6 && (r.protocol === 'ICMP' || r.protocol === 1)) {
    errs.invalid(`${path}.ipVersion`, 6, 'ICMP protocol requires ipVersion 4')
  }
}

export const ruleSchema = object(
  {
    action: enumOf('Allow', 'Deny', 'Log', 'Pass'),
    protocol: protocol(),
    notProtocol: protocol(),
    icmp,
    notICMP: icmp,
    ipVersion: {
      type: 'integer',
      validate(v, path, errs) {
        if (v !== 4 && v !== 6) errs.notSupported(path, v, [4, 6])
      },
    },
    source: entityRule,
    destination: entityRule,
    http: openObject(),
    metadata: object({ annotations: map(string()) }),
  },
  { required: ['action'], rules: [ruleRules] },
)

const types = list(enumOf('Ingress', 'Egress'), { unique: true })

const npFields = {
  order: number(),
  tier: string(),
  selector: selector(),
  serviceAccountSelector: selector(),
  types,
  ingress: list(ruleSchema),
  egress: list(ruleSchema),
  performanceHints: list(enumOf('AssumeNeededOnEveryNode')),
}

function gnpRules(s: Json, path: string, errs: Errs): void {
  const preDNAT = s.preDNAT === true
  const doNotTrack = s.doNotTrack === true
  if (preDNAT && doNotTrack) {
    errs.invalid(`${path}.preDNAT`, true, 'PreDNAT and DoNotTrack cannot both be true, for a given PolicySpec')
  }
  if (preDNAT && Array.isArray(s.egress) && s.egress.length > 0) {
    errs.invalid(`${path}.egress`, s.egress, 'PreDNAT PolicySpec cannot have any EgressRules')
  }
  if (preDNAT && Array.isArray(s.types) && s.types.includes('Egress')) {
    errs.invalid(`${path}.types`, s.types, "PreDNAT PolicySpec types cannot include 'egress'")
  }
  if ((preDNAT || doNotTrack) && s.applyOnForward !== true) {
    errs.invalid(
      `${path}.applyOnForward`,
      s.applyOnForward ?? false,
      'ApplyOnForward must be true if either PreDNAT or DoNotTrack is true, for a given PolicySpec',
    )
  }
}

const npSpec = object(npFields)
const gnpSpec = object(
  {
    ...npFields,
    namespaceSelector: selector(),
    doNotTrack: bool(),
    preDNAT: bool(),
    applyOnForward: bool(),
  },
  { rules: [gnpRules] },
)

/** Calico's policy types defaulting (clientv3 defaultPolicyTypesField). */
export function defaultPolicyTypes(spec: { ingress?: unknown; egress?: unknown; types?: unknown }): PolicyType[] {
  if (Array.isArray(spec.types) && spec.types.length > 0) return spec.types as PolicyType[]
  const hasIngress = Array.isArray(spec.ingress) && spec.ingress.length > 0
  const hasEgress = Array.isArray(spec.egress) && spec.egress.length > 0
  if (hasEgress && hasIngress) return ['Ingress', 'Egress']
  if (hasEgress) return ['Egress']
  return ['Ingress']
}

function defaultPolicy(o: KubeObject): KubeObject {
  const s: Json = { ...specOf(o) }
  s.types = defaultPolicyTypes(s)
  return { ...o, spec: s }
}

const netsSpec = object({ nets: list(string(ipOrCidr)) })

export const calicoPolicyKinds: Readonly<Record<string, KindDef>> = Object.freeze({
  'projectcalico.org/NetworkPolicy': { root: object({ spec: npSpec }), defaults: defaultPolicy },
  'projectcalico.org/GlobalNetworkPolicy': { root: object({ spec: gnpSpec }), defaults: defaultPolicy },
  'projectcalico.org/NetworkSet': { root: object({ spec: netsSpec }) },
  'projectcalico.org/GlobalNetworkSet': { root: object({ spec: netsSpec }) },
} satisfies Record<string, KindDef>)
