/**
 * Felix's WireGuard manager (felix/wireguard) plus calico-node's part of it (allocateip):
 *
 *   - FelixConfiguration `wireguardEnabled` (per node over default) on -> a key pair (generated
 *     once per process), link `wireguard.cali` (MTU host-60 unless `wireguardMTU`), an address
 *     from IPAM (handle `wireguard-tunnel-addr-<node>`, attribute type `wireguardTunnelAddress`)
 *     published as the Calico Node's `spec.wireguard.interfaceIPv4Address`, the public key
 *     published as `status.wireguardPublicKey`, one peer per other node with a key, their
 *     blocks routed `dev wireguard.cali` in table 1, and the rule
 *     `99: not from all fwmark 0x100000/0x100000 lookup 1`;
 *   - off -> link, routes and rule removed, key and address withdrawn from the Node, the
 *     address released.
 *
 * `onUpdates` records and marks dirty (CONVENTIONS §5); `apply()` reconciles the kernel at once
 * and the datastore on a serialised async chain that retries while anything is left to do.
 */
import { formatWgShow, generateWireguardKeyPair, type Netns, type WireguardKeyPair } from '@calilab/dataplane'
import type { Clock, Logger } from '@calilab/kit'
import { formatIPv4, type KubeObject, tryParseIPv4 } from '@calilab/model'
import type { KubeClient } from '@calilab/proto'
import type { SyncerUpdate } from '../io/syncer/types.ts'
import type { IpamShell } from '../ipam/shell.ts'
import type { Tool } from '../tools/types.ts'
import { ApplySoon, applyToViews } from './follow.ts'
import { type DesiredWireguard, desiredWireguard, WG_FWMARK, WG_TABLE } from './wireguard-desired.ts'

const V3_NODES = '/apis/projectcalico.org/v3/nodes'
const RETRY_MS = 1000

export interface WireguardManagerInit {
  nodeName: string
  netns: Netns
  client: KubeClient
  ipam: Pick<IpamShell, 'allocateTunnel' | 'releaseTunnel'>
  log: Logger
  clock: Clock
}

export interface WireguardManagerStatus {
  enabled: boolean
  iface: string
  publicKey?: string
  address?: string
  peers: number
  routes: string[]
  datastore: 'idle' | 'busy'
  errors: number
}

export class WireguardManager {
  private readonly init: WireguardManagerInit
  private readonly log: Logger
  private readonly view = {
    felixConfigs: new Map<string, KubeObject>(),
    calicoNodes: new Map<string, KubeObject>(),
    blocks: new Map<string, KubeObject>(),
  }
  private keys: WireguardKeyPair | undefined
  /** The address IPAM gave this node (undefined while none). */
  private address: string | undefined
  private last: DesiredWireguard | undefined
  /** Interface and table-1 routes as programmed ("dst/prefix" -> iface). */
  private programmedIface: string | undefined
  private readonly routes = new Set<string>()
  private rulePriority: number | undefined
  private busy = false
  private again = false
  private retry: { cancel(): void } | undefined
  private errors = 0
  private closed = false

  constructor(init: WireguardManagerInit) {
    this.init = init
    this.log = init.log.child({ component: 'felix.wireguard', node: init.nodeName })
  }

  onUpdates(batch: readonly SyncerUpdate[]): void {
    const v = this.view
    const changed = applyToViews(batch, {
      'projectcalico.org/felixconfigurations': v.felixConfigs,
      'projectcalico.org/nodes': v.calicoNodes,
      'projectcalico.org/ipamblocks': v.blocks,
    })
    if (changed) this.schedule()
  }

  private readonly soon = new ApplySoon(() => {
    if (!this.closed) this.apply()
  })

  private schedule(): void {
    if (!this.closed) this.soon.schedule()
  }

  /** Reconciles the kernel now and starts (or re-arms) the datastore sync. */
  apply(): void {
    const d = desiredWireguard(this.view, this.init.nodeName)
    this.last = d
    try {
      if (d.enabled) this.programKernel(d)
      else this.removeKernel()
    } catch (err) {
      this.errors++
      this.log.warn({ err }, 'wireguard: kernel programming failed')
    }
    const wantKey = d.enabled ? this.keys?.publicKey : undefined
    const dsDone =
      d.own.publicKey === wantKey && (d.enabled ? d.own.address !== undefined : d.own.address === undefined)
    if (!dsDone) this.syncDatastore()
  }

  private programKernel(d: DesiredWireguard): void {
    const root = this.init.netns
    if (!this.keys) {
      this.keys = generateWireguardKeyPair()
      this.log.info({ publicKey: this.keys.publicKey }, 'wireguard key pair generated')
    }
    if (this.programmedIface !== undefined && this.programmedIface !== d.iface) this.removeKernel()
    if (!root.link(d.iface)) {
      root.addLink(d.iface, 'wireguard', { up: true, ...(d.mtu !== undefined ? { mtu: d.mtu } : {}) })
      this.log.info({ iface: d.iface }, 'wireguard interface created')
    } else if (d.mtu !== undefined && root.link(d.iface)?.mtu !== d.mtu) root.setMtu(d.iface, d.mtu)
    this.programmedIface = d.iface
    // The address: what IPAM gave us, else what the Node says (after a restart of this agent).
    const want = tryParseIPv4(this.address ?? d.own.address ?? '')
    for (const a of root.addrs())
      if (root.linkByIndex(a.ifindex)?.name === d.iface && a.ip !== want) root.delAddr(d.iface, a.ip, a.prefix)
    if (want !== undefined && !root.addrs().some((a) => a.ip === want)) root.addAddr(d.iface, want, 32)
    root.setWireguard(d.iface, {
      privateKey: this.keys.privateKey,
      listenPort: d.port,
      fwmark: WG_FWMARK,
      peers: d.peers.map((p) => ({ publicKey: p.publicKey, endpoint: p.nodeIp, allowedIps: p.allowed })),
    })
    if (this.rulePriority !== d.rulePriority) {
      if (this.rulePriority !== undefined) root.routes.delRule({ priority: this.rulePriority, table: WG_TABLE })
      const r = root.routes.addRule({
        priority: d.rulePriority,
        table: WG_TABLE,
        fwmark: WG_FWMARK,
        fwmask: WG_FWMARK,
        not: true,
      })
      if (r.ok || r.code === 'EEXIST') this.rulePriority = d.rulePriority
    }
    // Table 1: each peer's blocks (not its /32 WireGuard address: the block holds it).
    const want1 = new Map<string, { ip: number; prefix: number }>()
    for (const p of d.peers)
      for (const a of p.allowed)
        if (a.prefix < 32 || !p.allowed.some((b) => b.prefix < 32 && (a.ip ^ b.ip) >>> (32 - b.prefix) === 0))
          want1.set(`${formatIPv4(a.ip)}/${a.prefix}`, a)
    for (const k of this.routes) {
      if (want1.has(k)) continue
      const [ip, prefix] = k.split('/')
      root.routes.del({ table: WG_TABLE, dst: tryParseIPv4(ip ?? '') ?? 0, prefix: Number(prefix) })
      this.routes.delete(k)
    }
    for (const [k, a] of want1) {
      if (this.routes.has(k)) continue
      const r = root.routes.replace({ table: WG_TABLE, dst: a.ip, prefix: a.prefix, dev: d.iface, proto: 80 })
      if (r.ok) this.routes.add(k)
      else this.log.warn({ route: k, code: r.code }, 'wireguard route not programmed')
    }
  }

  private removeKernel(): void {
    const root = this.init.netns
    if (this.rulePriority !== undefined) {
      root.routes.delRule({ priority: this.rulePriority, table: WG_TABLE })
      this.rulePriority = undefined
    }
    // Deleting the link flushes every route through it (table 1 included).
    if (this.programmedIface !== undefined && root.link(this.programmedIface)) {
      root.delLink(this.programmedIface)
      this.log.info({ iface: this.programmedIface }, 'wireguard interface removed')
    }
    this.programmedIface = undefined
    this.routes.clear()
  }

  /** Serialised: one pass at a time; a request during a pass runs one more pass after it. */
  private syncDatastore(): void {
    if (this.closed) return
    if (this.busy) {
      this.again = true
      return
    }
    this.busy = true
    this.retry?.cancel()
    this.retry = undefined
    this.syncOnce()
      .then(() => false)
      .catch((err) => {
        this.errors++
        this.log.warn({ err }, 'wireguard: datastore sync failed; retrying')
        return true
      })
      .then((failed) => {
        this.busy = false
        if (this.closed) return
        if (this.again) {
          this.again = false
          this.schedule()
        } else if (failed) this.retry = this.init.clock.setTimeout(() => this.schedule(), RETRY_MS)
      })
  }

  private async syncOnce(): Promise<void> {
    const d = this.last
    if (!d) return
    const c = this.init.client
    const path = `${V3_NODES}/${encodeURIComponent(this.init.nodeName)}`
    const cur = await c.get<KubeObject>(path)
    const curKey = (cur.status as { wireguardPublicKey?: string } | undefined)?.wireguardPublicKey
    const curAddr = (cur.spec as { wireguard?: { interfaceIPv4Address?: string } } | undefined)?.wireguard
      ?.interfaceIPv4Address
    if (d.enabled && this.keys) {
      if (this.address === undefined) {
        const a = await this.init.ipam.allocateTunnel('wireguard')
        if (!a.ok) throw new Error(`wireguard address: ${a.error.message}`)
        this.address = a.ip
        this.log.info({ ip: a.ip }, 'wireguard tunnel address assigned')
        this.schedule()
      }
      if (curAddr !== this.address)
        await c.patch(path, { spec: { wireguard: { interfaceIPv4Address: this.address } } }, 'merge')
      if (curKey !== this.keys.publicKey)
        await c.patch(`${path}/status`, { status: { wireguardPublicKey: this.keys.publicKey } }, 'merge')
      return
    }
    if (curKey) await c.patch(`${path}/status`, { status: { wireguardPublicKey: null } }, 'merge')
    if (curAddr) await c.patch(path, { spec: { wireguard: null } }, 'merge')
    if (this.address !== undefined || curAddr) {
      const released = await this.init.ipam.releaseTunnel('wireguard')
      if (released.length) this.log.info({ ips: released }, 'wireguard tunnel address released')
      this.address = undefined
    }
  }

  status(): WireguardManagerStatus {
    const d = this.last
    const s: WireguardManagerStatus = {
      enabled: d?.enabled ?? false,
      iface: d?.iface ?? 'wireguard.cali',
      peers: d?.enabled ? d.peers.length : 0,
      routes: [...this.routes].sort(),
      datastore: this.busy ? 'busy' : 'idle',
      errors: this.errors,
    }
    if (d?.enabled && this.keys) s.publicKey = this.keys.publicKey
    if (this.address !== undefined) s.address = this.address
    return s
  }

  /** `wg` / `wg show [DEV] [public-key|listen-port|peers|endpoints|allowed-ips]` on the node. */
  tool(): Tool {
    return async (argv, _env, io) => {
      const args = argv.slice(1)
      if (args.length > 0 && args[0] !== 'show') {
        io.stderr(
          `Invalid subcommand: \`${args[0]}'\nUsage: wg show [<interface>] [public-key|listen-port|peers|endpoints|allowed-ips]\n`,
        )
        return 1
      }
      const root = this.init.netns
      const devs = root
        .links()
        .filter((l) => l.kind === 'wireguard')
        .map((l) => l.name)
      const dev = args[1] === undefined || args[1] === 'all' ? undefined : args[1]
      if (dev !== undefined && !devs.includes(dev)) {
        io.stderr(`Unable to access interface: No such device\n`)
        return 1
      }
      const sts = (dev ? [dev] : devs).map((d) => root.wireguardStatus(d)).filter((x) => x !== undefined)
      const field = args[2]
      for (const st of sts) {
        if (field === 'public-key') io.stdout(`${st.publicKey}\n`)
        else if (field === 'listen-port') io.stdout(`${st.listenPort}\n`)
        else if (field === 'peers') io.stdout(st.peers.map((p) => `${p.publicKey}\n`).join(''))
        else if (field === 'endpoints') io.stdout(st.peers.map((p) => `${p.publicKey}\t${p.endpoint}\n`).join(''))
        else if (field === 'allowed-ips')
          io.stdout(st.peers.map((p) => `${p.publicKey}\t${p.allowedIps.join(' ')}\n`).join(''))
        else io.stdout(formatWgShow(st))
      }
      return 0
    }
  }

  close(): void {
    this.closed = true
    this.retry?.cancel()
  }
}
