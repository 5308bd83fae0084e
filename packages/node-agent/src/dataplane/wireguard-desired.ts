/**
 * What Felix's WireGuard manager wants, computed from the datastore view alone (pure): whether
 * WireGuard is on for this node (FelixConfiguration `node.<name>` over `default`), the device's
 * settings, and one peer per other node that publishes a public key.
 */
import { type KubeObject, parseCidr, tryParseIPv4 } from '@calilab/model'

export const WG_IFACE = 'wireguard.cali'
export const WG_PORT = 51820
/** Felix's defaults: routing table 1 (first of RouteTableRange), rule priority 99, mark bit 0x100000. */
export const WG_TABLE = 1
export const WG_RULE_PRIORITY = 99
export const WG_FWMARK = 0x100000

export interface WireguardView {
  felixConfigs: ReadonlyMap<string, KubeObject>
  calicoNodes: ReadonlyMap<string, KubeObject>
  blocks: ReadonlyMap<string, KubeObject>
}

export interface DesiredWgPeer {
  node: string
  publicKey: string
  nodeIp: number
  /** The node's affine blocks and its WireGuard address (/32), as [ip, prefix]. */
  allowed: { ip: number; prefix: number }[]
}

export interface DesiredWireguard {
  enabled: boolean
  iface: string
  port: number
  /** undefined: host MTU - 60 (the link kind's default, 1440). */
  mtu: number | undefined
  rulePriority: number
  peers: DesiredWgPeer[]
  /** This node's Calico Node as the datastore has it: the key and address it publishes. */
  own: { publicKey: string | undefined; address: string | undefined }
}

interface WgFelixSpec {
  wireguardEnabled?: boolean
  wireguardListeningPort?: number
  wireguardInterfaceName?: string
  wireguardMTU?: number
  wireguardRoutingRulePriority?: number
}

interface NodeSpec {
  bgp?: { ipv4Address?: string }
  wireguard?: { interfaceIPv4Address?: string }
}

function lastSegment(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1)
}

/** FelixConfiguration fields for `node`: the per-node object's values over the default's. */
export function wireguardSettings(
  felixConfigs: ReadonlyMap<string, KubeObject>,
  node: string,
): Required<Pick<WgFelixSpec, 'wireguardEnabled'>> & WgFelixSpec {
  let def: WgFelixSpec = {}
  let mine: WgFelixSpec = {}
  for (const [k, o] of felixConfigs) {
    const name = o.metadata.name ?? lastSegment(k)
    if (name === 'default') def = (o.spec ?? {}) as WgFelixSpec
    else if (name === `node.${node}`) mine = (o.spec ?? {}) as WgFelixSpec
  }
  const pick = <K extends keyof WgFelixSpec>(f: K): WgFelixSpec[K] => mine[f] ?? def[f]
  const out: Required<Pick<WgFelixSpec, 'wireguardEnabled'>> & WgFelixSpec = {
    wireguardEnabled: pick('wireguardEnabled') === true,
  }
  const port = pick('wireguardListeningPort')
  if (typeof port === 'number') out.wireguardListeningPort = port
  const name = pick('wireguardInterfaceName')
  if (typeof name === 'string' && name !== '') out.wireguardInterfaceName = name
  const mtu = pick('wireguardMTU')
  if (typeof mtu === 'number' && mtu > 0) out.wireguardMTU = mtu
  const prio = pick('wireguardRoutingRulePriority')
  if (typeof prio === 'number') out.wireguardRoutingRulePriority = prio
  return out
}

export function desiredWireguard(view: WireguardView, nodeName: string): DesiredWireguard {
  const s = wireguardSettings(view.felixConfigs, nodeName)
  const blocksOf = new Map<string, { ip: number; prefix: number }[]>()
  for (const b of view.blocks.values()) {
    const spec = (b.spec ?? {}) as { cidr?: string; affinity?: string; deleted?: boolean }
    if (!spec.cidr || spec.deleted || !spec.affinity?.startsWith('host:')) continue
    const owner = spec.affinity.slice(5)
    try {
      const c = parseCidr(spec.cidr)
      const list = blocksOf.get(owner) ?? []
      list.push({ ip: c.network, prefix: c.prefix })
      blocksOf.set(owner, list)
    } catch {
      // a malformed block names no destination
    }
  }
  const peers: DesiredWgPeer[] = []
  let own: DesiredWireguard['own'] = { publicKey: undefined, address: undefined }
  for (const [k, n] of view.calicoNodes) {
    const name = n.metadata.name ?? lastSegment(k)
    const spec = (n.spec ?? {}) as NodeSpec
    const key = (n.status as { wireguardPublicKey?: string } | undefined)?.wireguardPublicKey
    const addr = spec.wireguard?.interfaceIPv4Address
    if (name === nodeName) {
      own = { publicKey: key || undefined, address: addr || undefined }
      continue
    }
    const nodeIp = tryParseIPv4(spec.bgp?.ipv4Address?.split('/')[0] ?? '')
    if (!key || nodeIp === undefined) continue
    const allowed = [...(blocksOf.get(name) ?? [])].sort((a, b) => a.ip - b.ip)
    const wgIp = addr ? tryParseIPv4(addr.split('/')[0] ?? '') : undefined
    if (wgIp !== undefined && !allowed.some((a) => a.prefix === 32 && a.ip === wgIp))
      allowed.push({ ip: wgIp, prefix: 32 })
    peers.push({ node: name, publicKey: key, nodeIp, allowed })
  }
  peers.sort((a, b) => a.node.localeCompare(b.node))
  return {
    enabled: s.wireguardEnabled,
    iface: s.wireguardInterfaceName ?? WG_IFACE,
    port: s.wireguardListeningPort ?? WG_PORT,
    mtu: s.wireguardMTU,
    rulePriority: s.wireguardRoutingRulePriority ?? WG_RULE_PRIORITY,
    peers,
    own,
  }
}
