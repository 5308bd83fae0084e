/**
 * kube-proxy's iptables mode as the lab runs it (k3s v1.18, upstream
 * pkg/proxy/iptables/proxier.go `syncProxyRules` of that release): the filter and nat tables as
 * one `iptables-restore` input (filter first, then nat, each `:CHAIN - [0:0]` lines then `-A`
 * rules then `COMMIT`), meant to be loaded with `--noflush` as kube-proxy does, plus the jump
 * rules kube-proxy (and kubelet) prepend to the built-in chains.
 *
 * Rules are written in `iptables-save` canonical form. kube-proxy walks a Go map, so a real
 * node's service order varies; here services are sorted by `ns/svc:port` then protocol.
 * Endpoints are sorted by their `ip:port` string (what makes the lab's chain names reproducible).
 */

import type { EndpointAddress, Endpoints, Service, ServicePort } from '@calilab/model'
import { endpointChainName, firewallChainName, localChainName, serviceChainName, servicePortName } from './names.ts'
import { comment, probabilityText, type RuleSpec, renderRule, toCidr } from './rule.ts'

export const KUBE_SERVICES = 'KUBE-SERVICES'
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES'
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS'
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING'
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ'
export const KUBE_MARK_DROP = 'KUBE-MARK-DROP'
export const KUBE_FORWARD = 'KUBE-FORWARD'
export const KUBE_FIREWALL = 'KUBE-FIREWALL'

/** Above this many endpoint chains kube-proxy drops the per-service comments from SVC/SEP rules. */
export const ENDPOINT_CHAINS_COMMENT_THRESHOLD = 1000

export interface KubeProxyInput {
  readonly services: readonly Service[]
  readonly endpoints: readonly Endpoints[]
  /** This node: endpoints with this nodeName are local (externalTrafficPolicy Local). */
  readonly nodeName: string
  /** The node's primary address (LoadBalancer source ranges that contain it also allow the LB IP). */
  readonly nodeIP?: string
  /** `--cluster-cidr`: traffic to a ClusterIP from outside it is masqueraded. */
  readonly clusterCIDR?: string
  readonly masqueradeAll?: boolean
  /** `--iptables-masquerade-bit` (14 → 0x4000). */
  readonly masqueradeBit?: number
  /** The iptables binary supports `--random-fully` (kube-proxy then adds it to the MASQUERADE rule). */
  readonly randomFully?: boolean
  /** `--nodeport-addresses` resolved to this node's addresses; empty = every local address. */
  readonly nodePortAddresses?: readonly string[]
  /** Also declare kubelet's KUBE-MARK-DROP (nat) and KUBE-FIREWALL (filter), which KUBE-XLB/FW rules use. Default true. */
  readonly includeKubeletChains?: boolean
}

export interface JumpRule {
  readonly table: 'filter' | 'nat'
  readonly chain: string
  /** `-A CHAIN ...` text; to be inserted at position 1 when absent (`iptables -C` / `-I CHAIN 1`). */
  readonly rule: string
}

export interface ServicePortChains {
  readonly servicePortName: string
  readonly protocol: string
  readonly clusterIP: string
  readonly port: number
  readonly nodePort?: number
  readonly svcChain: string
  /** Endpoint `ip:port` → KUBE-SEP chain, in rule order. */
  readonly endpoints: readonly { endpoint: string; chain: string; local: boolean }[]
}

export interface KubeProxyRules {
  readonly filter: string
  readonly nat: string
  /** `filter` + `nat`: one `iptables-restore --noflush` input. */
  readonly restore: string
  /** In the order kube-proxy ensures them (each prepended). */
  readonly jumps: readonly JumpRule[]
  readonly servicePorts: readonly ServicePortChains[]
}

interface Ep {
  ip: string
  port: number
  endpoint: string
  local: boolean
}

interface SvcPort {
  spn: string
  proto: string
  clusterIP: string
  port: number
  nodePort: number | undefined
  externalIPs: string[]
  lbIPs: string[]
  sourceRanges: string[]
  onlyLocal: boolean
  affinitySeconds: number | undefined
  eps: Ep[]
}

function markHex(bit: number): string {
  const v = (1 << bit) >>> 0
  return `0x${v.toString(16)}/0x${v.toString(16)}`
}

function portMatches(svcPort: ServicePort, epPortName: string | undefined): boolean {
  return (svcPort.name ?? '') === (epPortName ?? '')
}

function collect(input: KubeProxyInput): SvcPort[] {
  const epsByKey = new Map<string, Endpoints>()
  for (const e of input.endpoints) epsByKey.set(`${e.metadata.namespace ?? 'default'}/${e.metadata.name ?? ''}`, e)
  const out: SvcPort[] = []
  for (const svc of input.services) {
    const spec = svc.spec
    if (spec.type === 'ExternalName') continue
    const clusterIP = spec.clusterIP
    if (clusterIP === undefined || clusterIP === '' || clusterIP === 'None') continue
    const ns = svc.metadata.namespace ?? 'default'
    const name = svc.metadata.name ?? ''
    const epObj = epsByKey.get(`${ns}/${name}`)
    const onlyLocal =
      spec.externalTrafficPolicy === 'Local' && (spec.type === 'NodePort' || spec.type === 'LoadBalancer')
    const affinityCfg = (spec as { sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } } })
      .sessionAffinityConfig
    const affinitySeconds =
      spec.sessionAffinity === 'ClientIP' ? (affinityCfg?.clientIP?.timeoutSeconds ?? 10800) : undefined
    for (const p of spec.ports ?? []) {
      const eps = new Map<string, Ep>()
      for (const sub of epObj?.subsets ?? []) {
        for (const ep of sub.ports ?? []) {
          if (!portMatches(p, ep.name)) continue
          for (const a of sub.addresses ?? ([] as EndpointAddress[])) {
            const endpoint = `${a.ip}:${ep.port}`
            eps.set(endpoint, { ip: a.ip, port: ep.port, endpoint, local: a.nodeName === input.nodeName })
          }
        }
      }
      out.push({
        spn: servicePortName(ns, name, p.name),
        proto: (p.protocol ?? 'TCP').toLowerCase(),
        clusterIP,
        port: p.port,
        nodePort:
          (spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort !== undefined && p.nodePort !== 0
            ? p.nodePort
            : undefined,
        externalIPs: [...(spec.externalIPs ?? [])],
        lbIPs: (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== ''),
        sourceRanges: [...(spec.loadBalancerSourceRanges ?? [])],
        onlyLocal,
        affinitySeconds,
        eps: [...eps.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0)),
      })
    }
  }
  return out.sort((a, b) =>
    a.spn < b.spn ? -1 : a.spn > b.spn ? 1 : a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0,
  )
}

function cidrContainsIp(cidr: string, ip: string): boolean {
  const [base, len] = cidr.split('/')
  const toN = (s: string) => s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0)
  const bits = Number(len ?? 32)
  const size = 2 ** (32 - bits)
  const b = Math.floor(toN(base ?? '0.0.0.0') / size) * size
  const n = toN(ip)
  return n >= b && n < b + size
}

export function renderKubeProxy(input: KubeProxyInput): KubeProxyRules {
  const mark = markHex(input.masqueradeBit ?? 14)
  const clusterCIDR = input.clusterCIDR ?? ''
  const kubelet = input.includeKubeletChains ?? true
  const ports = collect(input)
  const endpointChains = ports.reduce((n, p) => n + p.eps.length, 0)
  const svcComment = (spn: string): string[] =>
    endpointChains > ENDPOINT_CHAINS_COMMENT_THRESHOLD ? [] : [comment(spn)]

  const filterChains = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD]
  const filterRules: string[] = []
  const natChains = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]
  const natRules: string[] = []
  const nat = (r: RuleSpec) => natRules.push(renderRule(r))
  const filt = (r: RuleSpec) => filterRules.push(renderRule(r))

  nat({
    chain: KUBE_POSTROUTING,
    matches: [comment('kubernetes service traffic requiring SNAT'), `-m mark --mark ${mark}`],
    target: input.randomFully ? 'MASQUERADE --random-fully' : 'MASQUERADE',
  })
  nat({ chain: KUBE_MARK_MASQ, target: `MARK --set-xmark ${mark}` })

  const summary: ServicePortChains[] = []
  for (const sp of ports) {
    const { spn, proto } = sp
    const hasEndpoints = sp.eps.length > 0
    const svcChain = serviceChainName(spn, proto)
    const xlbChain = localChainName(spn, proto)
    const fwChain = firewallChainName(spn, proto)
    const l4 = (dport: number) => `-m ${proto} --dport ${dport}`
    if (hasEndpoints) natChains.push(svcChain)
    if (sp.onlyLocal) natChains.push(xlbChain)

    // ClusterIP
    if (hasEndpoints) {
      const base = {
        chain: KUBE_SERVICES,
        dst: toCidr(sp.clusterIP),
        proto,
        matches: [comment(`${spn} cluster IP`), l4(sp.port)],
      }
      if (input.masqueradeAll) nat({ ...base, target: KUBE_MARK_MASQ })
      else if (clusterCIDR !== '') nat({ ...base, src: clusterCIDR, notSrc: true, target: KUBE_MARK_MASQ })
      nat({ ...base, target: svcChain })
    } else {
      filt({
        chain: KUBE_SERVICES,
        dst: toCidr(sp.clusterIP),
        proto,
        matches: [comment(`${spn} has no endpoints`), l4(sp.port)],
        target: 'REJECT --reject-with icmp-port-unreachable',
      })
    }

    // externalIPs
    for (const ext of sp.externalIPs) {
      if (hasEndpoints) {
        const base = { chain: KUBE_SERVICES, dst: toCidr(ext), proto }
        const m = [comment(`${spn} external IP`), l4(sp.port)]
        nat({ ...base, matches: m, target: KUBE_MARK_MASQ })
        nat({
          ...base,
          matches: [...m, '-m physdev ! --physdev-is-in', '-m addrtype ! --src-type LOCAL'],
          target: svcChain,
        })
        nat({ ...base, matches: [...m, '-m addrtype --dst-type LOCAL'], target: svcChain })
      } else {
        filt({
          chain: KUBE_EXTERNAL_SERVICES,
          dst: toCidr(ext),
          proto,
          matches: [comment(`${spn} has no endpoints`), l4(sp.port)],
          target: 'REJECT --reject-with icmp-port-unreachable',
        })
      }
    }

    // load-balancer ingress
    for (const ing of sp.lbIPs) {
      if (hasEndpoints) {
        if (!natChains.includes(fwChain)) natChains.push(fwChain)
        nat({
          chain: KUBE_SERVICES,
          dst: toCidr(ing),
          proto,
          matches: [comment(`${spn} loadbalancer IP`), l4(sp.port)],
          target: fwChain,
        })
        const fw = { chain: fwChain, matches: [comment(`${spn} loadbalancer IP`)] }
        let chosen = xlbChain
        if (!sp.onlyLocal) {
          nat({ ...fw, target: KUBE_MARK_MASQ })
          chosen = svcChain
        }
        if (sp.sourceRanges.length === 0) nat({ ...fw, target: chosen })
        else {
          let allowFromNode = false
          for (const src of sp.sourceRanges) {
            nat({ ...fw, src, target: chosen })
            if (input.nodeIP !== undefined && cidrContainsIp(src, input.nodeIP)) allowFromNode = true
          }
          if (allowFromNode) nat({ ...fw, src: toCidr(ing), target: chosen })
        }
        nat({ ...fw, target: KUBE_MARK_DROP })
      } else {
        filt({
          chain: KUBE_SERVICES,
          dst: toCidr(ing),
          proto,
          matches: [comment(`${spn} has no endpoints`), l4(sp.port)],
          target: 'REJECT --reject-with icmp-port-unreachable',
        })
      }
    }

    // NodePort
    if (sp.nodePort !== undefined) {
      if (hasEndpoints) {
        const base = { chain: KUBE_NODEPORTS, proto, matches: [comment(spn), l4(sp.nodePort)] }
        if (!sp.onlyLocal) {
          nat({ ...base, target: KUBE_MARK_MASQ })
          nat({ ...base, target: svcChain })
        } else {
          nat({ ...base, src: '127.0.0.0/8', target: KUBE_MARK_MASQ })
          nat({ ...base, target: xlbChain })
        }
      } else {
        filt({
          chain: KUBE_EXTERNAL_SERVICES,
          proto,
          matches: [comment(`${spn} has no endpoints`), '-m addrtype --dst-type LOCAL', l4(sp.nodePort)],
          target: 'REJECT --reject-with icmp-port-unreachable',
        })
      }
    }

    const epChains = sp.eps.map((e) => endpointChainName(spn, proto, e.endpoint))
    summary.push({
      servicePortName: spn,
      protocol: proto,
      clusterIP: sp.clusterIP,
      port: sp.port,
      ...(sp.nodePort !== undefined ? { nodePort: sp.nodePort } : {}),
      svcChain,
      endpoints: sp.eps.map((e, i) => ({ endpoint: e.endpoint, chain: epChains[i] as string, local: e.local })),
    })
    if (!hasEndpoints) continue
    natChains.push(...epChains)

    // session affinity
    if (sp.affinitySeconds !== undefined) {
      for (const c of epChains) {
        nat({
          chain: svcChain,
          matches: [
            ...svcComment(spn),
            `-m recent --rcheck --seconds ${sp.affinitySeconds} --reap --name ${c} --mask 255.255.255.255 --rsource`,
          ],
          target: c,
        })
      }
    }
    // load balancing and DNAT
    const n = epChains.length
    const local: string[] = []
    sp.eps.forEach((ep, i) => {
      const c = epChains[i] as string
      if (sp.onlyLocal && ep.local) local.push(c)
      const stat = i < n - 1 ? [`-m statistic --mode random --probability ${probabilityText(n - i)}`] : []
      nat({ chain: svcChain, matches: [...svcComment(spn), ...stat], target: c })
      nat({ chain: c, src: toCidr(ep.ip), matches: svcComment(spn), target: KUBE_MARK_MASQ })
      const recent =
        sp.affinitySeconds !== undefined ? [`-m recent --set --name ${c} --mask 255.255.255.255 --rsource`] : []
      nat({
        chain: c,
        proto,
        matches: [...svcComment(spn), ...recent, `-m ${proto}`],
        target: `DNAT --to-destination ${ep.endpoint}`,
      })
    })

    if (!sp.onlyLocal) continue
    if (clusterCIDR !== '') {
      nat({
        chain: xlbChain,
        src: clusterCIDR,
        matches: [comment('Redirect pods trying to reach external loadbalancer VIP to clusterIP')],
        target: svcChain,
      })
    }
    nat({
      chain: xlbChain,
      matches: [comment(`masquerade LOCAL traffic for ${spn} LB IP`), '-m addrtype --src-type LOCAL'],
      target: KUBE_MARK_MASQ,
    })
    nat({
      chain: xlbChain,
      matches: [comment(`route LOCAL traffic for ${spn} LB IP to service chain`), '-m addrtype --src-type LOCAL'],
      target: svcChain,
    })
    if (local.length === 0) {
      nat({ chain: xlbChain, matches: [comment(`${spn} has no local endpoints`)], target: KUBE_MARK_DROP })
    } else {
      if (sp.affinitySeconds !== undefined) {
        for (const c of local) {
          nat({
            chain: xlbChain,
            matches: [
              comment(spn),
              `-m recent --rcheck --seconds ${sp.affinitySeconds} --reap --name ${c} --mask 255.255.255.255 --rsource`,
            ],
            target: c,
          })
        }
      }
      local.forEach((c, i) => {
        const stat =
          i < local.length - 1 ? [`-m statistic --mode random --probability ${probabilityText(local.length - i)}`] : []
        nat({ chain: xlbChain, matches: [comment(`Balancing rule ${i} for ${spn}`), ...stat], target: c })
      })
    }
  }

  // Tail call to the nodeports chain.
  const npComment = comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain')
  const addrs = input.nodePortAddresses ?? []
  if (addrs.length === 0)
    nat({ chain: KUBE_SERVICES, matches: [npComment, '-m addrtype --dst-type LOCAL'], target: KUBE_NODEPORTS })
  else
    for (const a of addrs) nat({ chain: KUBE_SERVICES, dst: toCidr(a), matches: [npComment], target: KUBE_NODEPORTS })

  filt({ chain: KUBE_FORWARD, matches: ['-m conntrack --ctstate INVALID'], target: 'DROP' })
  filt({
    chain: KUBE_FORWARD,
    matches: [comment('kubernetes forwarding rules'), `-m mark --mark ${mark}`],
    target: 'ACCEPT',
  })
  if (clusterCIDR !== '') {
    filt({
      chain: KUBE_FORWARD,
      src: clusterCIDR,
      matches: [
        comment('kubernetes forwarding conntrack pod source rule'),
        '-m conntrack --ctstate RELATED,ESTABLISHED',
      ],
      target: 'ACCEPT',
    })
    filt({
      chain: KUBE_FORWARD,
      dst: clusterCIDR,
      matches: [
        comment('kubernetes forwarding conntrack pod destination rule'),
        '-m conntrack --ctstate RELATED,ESTABLISHED',
      ],
      target: 'ACCEPT',
    })
  }

  if (kubelet) {
    natChains.push(KUBE_MARK_DROP)
    natRules.push(renderRule({ chain: KUBE_MARK_DROP, target: 'MARK --set-xmark 0x8000/0x8000' }))
    filterChains.push(KUBE_FIREWALL)
    filterRules.push(
      renderRule({
        chain: KUBE_FIREWALL,
        matches: [comment('kubernetes firewall for dropping marked packets'), '-m mark --mark 0x8000/0x8000'],
        target: 'DROP',
      }),
    )
  }

  const table = (name: string, chains: string[], rules: string[]) =>
    `*${name}\n${chains.map((c) => `:${c} - [0:0]\n`).join('')}${rules.map((r) => `${r}\n`).join('')}COMMIT\n`
  const filter = table('filter', filterChains, filterRules)
  const natText = table('nat', natChains, natRules)
  return { filter, nat: natText, restore: filter + natText, jumps: jumpRules(kubelet), servicePorts: summary }
}

/** kube-proxy's `iptablesJumpChains` (v1.18), then kubelet's, as `-A` lines in ensure order. */
export function jumpRules(includeKubelet = true): JumpRule[] {
  const j = (table: 'filter' | 'nat', chain: string, extra: string[], text: string, target: string): JumpRule => ({
    table,
    chain,
    rule: renderRule({ chain, matches: [...extra, comment(text)], target }),
  })
  const NEW = ['-m conntrack --ctstate NEW']
  const out = [
    j('filter', 'INPUT', NEW, 'kubernetes externally-visible service portals', KUBE_EXTERNAL_SERVICES),
    j('filter', 'FORWARD', NEW, 'kubernetes service portals', KUBE_SERVICES),
    j('filter', 'OUTPUT', NEW, 'kubernetes service portals', KUBE_SERVICES),
    j('filter', 'INPUT', NEW, 'kubernetes service portals', KUBE_SERVICES),
    j('filter', 'FORWARD', [], 'kubernetes forwarding rules', KUBE_FORWARD),
    j('nat', 'OUTPUT', [], 'kubernetes service portals', KUBE_SERVICES),
    j('nat', 'PREROUTING', [], 'kubernetes service portals', KUBE_SERVICES),
    j('nat', 'POSTROUTING', [], 'kubernetes postrouting rules', KUBE_POSTROUTING),
  ]
  if (includeKubelet) {
    out.push(
      { table: 'filter', chain: 'INPUT', rule: renderRule({ chain: 'INPUT', target: KUBE_FIREWALL }) },
      { table: 'filter', chain: 'OUTPUT', rule: renderRule({ chain: 'OUTPUT', target: KUBE_FIREWALL }) },
    )
  }
  return out
}
