/**
 * The public interface of one node's emulated kernel: network namespaces (links, addresses,
 * routes, iptables, conntrack), the packet pipeline, and the socket layer that apps and the
 * emulated tools (curl, nc, ping, dig) use. Implementations live beside this file
 * (`host.ts`, `netns.ts`) and in `../stack/`.
 *
 * Addresses are IPv4 numbers (uint32, as `@calilab/model`'s parseIPv4 returns); the socket API
 * also accepts dotted strings. Everything is synchronous and deterministic except the socket
 * layer's promises; time comes from the injected Clock.
 *
 * Stability: this file is the contract other packages wire against. Add, never change.
 */
import type { Clock, Rng } from '@calilab/kit'
import type { BpfNote } from '../core/bpf/index.ts'
import type { Conntrack } from '../core/conntrack/index.ts'
import type { IpSetStore, Netfilter, TraceStep } from '../core/netfilter/index.ts'
import type { TcProgram } from './tc.ts'

// ---------------------------------------------------------------------------------------------
// Links

/** Link kinds, as `ip -d link` names them. */
export type LinkKind = 'loopback' | 'ethernet' | 'veth' | 'ipip' | 'vxlan' | 'wireguard' | 'dummy'

/** Operational state as `ip link` prints it (`state UP`, `state DOWN`, `state UNKNOWN`). */
export type OperState = 'UP' | 'DOWN' | 'UNKNOWN' | 'LOWERLAYERDOWN'

export interface LinkInfo {
  readonly ifindex: number
  readonly name: string
  readonly kind: LinkKind
  /** Administrative up (`ip link set X up`). */
  readonly up: boolean
  readonly operState: OperState
  readonly mtu: number
  /** `aa:bb:cc:dd:ee:ff`; '' for links without one (ipip, wireguard). */
  readonly mac: string
  /** veth: the peer's ifindex (`eth0@if7`) and the peer namespace's id as seen from here (`link-netnsid 0`). */
  readonly peerIfindex?: number
  readonly linkNetnsid?: number
  /** /proc/sys/net/ipv4/conf/IF/proxy_arp (Calico sets it on the host side of each pod veth). */
  readonly proxyArp: boolean
  /** vxlan: VNI, local VTEP address, UDP port. */
  readonly vxlan?: { readonly vni: number; readonly local: number; readonly port: number }
  /** tc programs attached (eBPF dataplane; Netns.setTc). */
  readonly tc?: TcProgram | undefined
}

export interface AddLinkOptions {
  mtu?: number
  mac?: string
  up?: boolean
  proxyArp?: boolean
  /** vxlan only (defaults: VNI 4096, port 4789, local = the node IP). */
  vxlan?: { vni?: number; local?: number; port?: number }
}

// ---------------------------------------------------------------------------------------------
// Addresses

export type AddrScope = 'host' | 'link' | 'global'

export interface AddrInfo {
  readonly ifindex: number
  readonly ip: number
  readonly prefix: number
  readonly scope: AddrScope
  /** Defaults to the link name. */
  readonly label: string
}

// ---------------------------------------------------------------------------------------------
// Routes (netlink-like: what the BGP speaker and the agent program)

/** rtm_protocol names as `ip route` prints them (`proto bird`); a number for others (Felix's VXLAN routes: 80). */
export type RouteProto = 'kernel' | 'boot' | 'static' | 'bird' | 'dhcp' | 'redirect' | number
export type RouteScope = 'global' | 'link' | 'host'
export type RouteType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'local' | 'broadcast'
/** 'main' (254) and 'local' (255), or a numeric table id. */
export type RouteTable = 'main' | 'local' | number

export interface Nexthop {
  /** Gateway; absent for a directly connected (`dev X scope link`) route. */
  via?: number
  dev: string
  /** ECMP weight (1 by default; `ip route` prints `weight 1`). */
  weight?: number
  /** `onlink`: the gateway is reachable on dev even without a covering connected route. */
  onlink?: boolean
}

/**
 * A route as given to add/replace/del. Defaults: table main, type unicast, proto boot (as
 * `ip route add` does), scope link when there is no gateway and type is unicast, else global;
 * metric 0. Give either `via`/`dev` or `nexthops` (2+ entries = ECMP).
 */
export interface RouteSpec {
  dst: number
  prefix: number
  table?: RouteTable
  type?: RouteType
  proto?: RouteProto
  scope?: RouteScope
  via?: number
  dev?: string
  onlink?: boolean
  nexthops?: Nexthop[]
  metric?: number
  /** Preferred source (`src X`). */
  src?: number
}

/** A route as stored and listed (defaults filled in; `nexthops` always has 1+ entry unless blackhole etc.). */
export interface Route {
  readonly dst: number
  readonly prefix: number
  readonly table: RouteTable
  readonly type: RouteType
  readonly proto: RouteProto
  readonly scope: RouteScope
  readonly metric: number
  readonly src?: number
  /** Empty for blackhole/unreachable/prohibit; 2+ entries for ECMP. */
  readonly nexthops: readonly RouteNexthop[]
}

export interface RouteNexthop {
  readonly via?: number
  readonly dev: string
  readonly weight: number
  readonly onlink: boolean
}

/** Errors as RTNETLINK reports them (`RTNETLINK answers: File exists`). */
export type RouteErrorCode = 'EEXIST' | 'ESRCH' | 'ENODEV' | 'ENETUNREACH' | 'EINVAL'
export type RouteResult = { ok: true } | { ok: false; code: RouteErrorCode; message: string }

export interface RouteFilter {
  table?: RouteTable | 'all'
  proto?: RouteProto
  dev?: string
  /** Exact prefix match. */
  dst?: { ip: number; prefix: number }
}

export type RouteEvent = { type: 'add' | 'del'; route: Route }

/** The netlink-like route interface (RTM_NEWROUTE/DELROUTE/GETROUTE + RTNLGRP_IPV4_ROUTE). */
export interface RouteApi {
  /** NLM_F_CREATE|NLM_F_EXCL: EEXIST when the same (table, dst/prefix, metric) exists. */
  add(r: RouteSpec): RouteResult
  /** NLM_F_CREATE|NLM_F_REPLACE. */
  replace(r: RouteSpec): RouteResult
  /** Deletes the route with this table/dst/prefix (and metric/proto when given); ESRCH when none. */
  del(r: Pick<RouteSpec, 'dst' | 'prefix'> & Partial<RouteSpec>): RouteResult
  list(f?: RouteFilter): Route[]
  /** Longest-prefix match (local table first, then main), what `ip route get` resolves. */
  lookup(dst: number, flowHash?: number): RouteLookup | undefined
  /** Change events (add/del; a replace is del+add). Returns an unsubscribe function. */
  subscribe(fn: (e: RouteEvent) => void): () => void
  /** `ip rule add`: policy routing reduced to tables looked up before main (see PolicyRule). */
  addRule(r: PolicyRule): RouteResult
  delRule(r: Pick<PolicyRule, 'priority' | 'table'>): RouteResult
  rules(): PolicyRule[]
}

/**
 * An `ip rule` beyond the kernel's three (local 0, main 32766, default 32767). Every lookup
 * consults the rules' tables in priority order after `local` and before `main`; a table with no
 * match falls through. The fwmark selector is kept for `ip rule` output but not evaluated (the
 * only rule calilab adds, WireGuard's, excludes already-encrypted packets, which in the emulation
 * are never routed through that table: their destination is a node IP, not a pod block).
 */
export interface PolicyRule {
  priority: number
  table: number
  /** `not from all fwmark MARK/MASK lookup TABLE` when `not` is set. */
  fwmark?: number
  fwmask?: number
  not?: boolean
}

export interface RouteLookup {
  readonly route: Route
  /** The chosen nexthop (ECMP picks by flow hash). */
  readonly dev: string
  readonly via?: number
}

// ---------------------------------------------------------------------------------------------
// Packets through the pipeline

/** Why a packet stopped (tests and `calilab trace` read it). */
export type DropReason =
  | 'PARSE_ERROR'
  | 'BAD_CHECKSUM'
  | 'NO_ROUTE'
  | 'BLACKHOLE'
  | 'UNREACHABLE'
  | 'TTL_EXCEEDED'
  | 'LINK_DOWN'
  | 'NF_DROP'
  | 'NF_REJECT'
  | 'NO_SOCKET'
  | 'NO_NEIGHBOUR'
  | 'CT_FULL'
  | 'NO_UNDERLAY'
  /** A tc program (eBPF dataplane) dropped it. */
  | 'TC_DROP'
  /** WireGuard: no peer for the destination, or a message that does not authenticate. */
  | 'WG_NO_PEER'
  | 'WG_AUTH'

/** One step of a packet's walk, in order, across namespaces. */
export type PacketTraceStep =
  | { kind: 'rx'; ns: string; dev: string; summary: string }
  | { kind: 'hook'; ns: string; hook: string; table: string; verdict: string }
  | { kind: 'rule'; ns: string; step: TraceStep }
  | { kind: 'conntrack'; ns: string; state: string; nat?: string }
  | { kind: 'route'; ns: string; decision: 'local' | 'forward' | 'drop'; dev?: string; via?: number; route?: string }
  | { kind: 'tx'; ns: string; dev: string; summary: string }
  /** `port`: the outer UDP destination port (WireGuard). */
  | {
      kind: 'encap'
      ns: string
      dev: string
      outerSrc: number
      outerDst: number
      mode: 'ipip' | 'vxlan' | 'wireguard'
      port?: number
    }
  /** `outerSrc`/`port`: the sending peer's address and UDP port (WireGuard). */
  | { kind: 'decap'; ns: string; dev: string; mode: 'ipip' | 'vxlan' | 'wireguard'; outerSrc?: number; port?: number }
  | { kind: 'underlay'; ns: string; nextHop: number }
  | { kind: 'deliver'; ns: string; proto: number; port: number; socket: boolean }
  | { kind: 'drop'; ns: string; reason: DropReason; detail?: string }
  | { kind: 'icmp-error'; ns: string; type: number; code: number }
  /**
   * A tc program (eBPF dataplane) on `dev`: the packet it saw (`summary`), what it did (`notes`),
   * its decision and, for pass/redirect, the packet after (`after`); redirect: out of `to` via `via`.
   */
  | {
      kind: 'tc'
      ns: string
      dev: string
      dir: 'ingress' | 'egress'
      program: string
      summary: string
      notes: BpfNote[]
      action: 'unchanged' | 'pass' | 'redirect' | 'drop'
      after?: string
      to?: string
      via?: number
      reason?: string
    }

export interface PacketOptions {
  /** Collect steps into this array (`calilab trace`). */
  trace?: PacketTraceStep[]
}

/** What happened to one packet in one namespace (later hops are in the trace). */
export type PacketOutcome =
  | { kind: 'local' }
  | { kind: 'forwarded'; dev: string }
  | { kind: 'underlay'; nextHop: number }
  | { kind: 'dropped'; reason: DropReason }

/** Where packets leave the node: the caller's underlay (UDP between node endpoints). */
export interface Underlay {
  /** One underlay packet (plain IPv4, IPIP or VXLAN-in-UDP, outer dst = a node IP) for `nextHop`. */
  send(nextHop: number, bytes: Uint8Array): void
}

// ---------------------------------------------------------------------------------------------
// tcpdump taps

export interface TapOptions {
  /** tcpdump filter expression (`tcp port 80`); '' or absent = everything. */
  filter?: string
  /** Direction: 'in' (received on the link), 'out' (sent), 'inout' (default). */
  direction?: 'in' | 'out' | 'inout'
}

export interface Tap {
  /** Stops the capture. */
  close(): void
  /** Packets seen so far. */
  readonly count: number
}

// ---------------------------------------------------------------------------------------------
// Sockets

export interface SockAddr {
  readonly ip: number
  readonly port: number
}

/** Socket-layer error codes (what the tools map to exit codes: curl 7 refused, 28 timeout). */
export type SocketErrorCode =
  | 'ECONNREFUSED'
  | 'ETIMEDOUT'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'ECONNRESET'
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'EPIPE'

export interface TcpConnectOptions {
  dst: number | string
  port: number
  /** Source address (default: the route's preferred source / the outgoing link's address). */
  src?: number | string
  /** Source port (default: an ephemeral port 32768-60999). */
  sport?: number
  /** Overall connect timeout (curl --connect-timeout). Default: the kernel's SYN retries (~127 s). */
  timeoutMs?: number
}

export interface TcpConn {
  readonly local: SockAddr
  readonly remote: SockAddr
  /** 'SYN_SENT' ... 'ESTABLISHED' ... 'CLOSED' (TCP state names). */
  readonly state: string
  write(data: Uint8Array | string): void
  /** Called for each received segment's payload, in order. */
  onData(cb: (data: Uint8Array) => void): void
  /** Peer sent FIN (half close). */
  onEnd(cb: () => void): void
  /** Connection fully closed; err set on RST/timeout. */
  onClose(cb: (err?: SocketError) => void): void
  /** Sends FIN after queued data. */
  end(): void
  /** Sends RST and closes at once. */
  destroy(): void
}

export interface SocketError {
  readonly code: SocketErrorCode
  readonly message: string
}

export interface TcpListener {
  readonly port: number
  close(): void
}

export interface UdpSocket {
  readonly port: number
  send(dst: number | string, port: number, data: Uint8Array | string, src?: number): void
  close(): void
}

export interface PingOptions {
  count?: number
  /** Per-reply wait (ping -W), default 1000 ms. */
  timeoutMs?: number
  /** Between requests (ping -i), default 1000 ms. */
  intervalMs?: number
  ttl?: number
  payloadSize?: number
}

export interface PingReply {
  readonly seq: number
  readonly from: number
  readonly ttl: number
  readonly rttMs: number
  readonly bytes: number
}

export interface PingResult {
  readonly dst: number
  readonly transmitted: number
  readonly received: number
  readonly replies: readonly PingReply[]
  /** ICMP errors received instead of replies (`From 10.0.0.1 icmp_seq=1 Destination Host Unreachable`). */
  readonly errors: readonly { seq: number; from: number; type: number; code: number }[]
}

/** The socket layer of one namespace. */
export interface SocketApi {
  tcpConnect(o: TcpConnectOptions): Promise<TcpConn>
  tcpListen(port: number, onConn: (c: TcpConn) => void, o?: { addr?: number }): TcpListener
  udpBind(
    port: number,
    onMsg: (data: Uint8Array, from: SockAddr, to: SockAddr) => void,
    o?: { addr?: number },
  ): UdpSocket
  ping(dst: number | string, o?: PingOptions): Promise<PingResult>
}

// ---------------------------------------------------------------------------------------------
// Namespaces and hosts

/** Output of an emulated command (`ip ...`). */
export interface CmdResult {
  stdout: string
  stderr: string
  code: number
}

export interface Netns extends SocketApi {
  readonly name: string
  /** netnsid as the root namespace sees it (root: undefined). */
  readonly id: number | undefined
  readonly host: Host
  readonly nf: Netfilter
  readonly sets: IpSetStore
  readonly conntrack: Conntrack
  readonly routes: RouteApi

  // links
  addLink(name: string, kind: LinkKind, o?: AddLinkOptions): LinkInfo
  delLink(name: string): boolean
  link(name: string): LinkInfo | undefined
  linkByIndex(ifindex: number): LinkInfo | undefined
  links(): LinkInfo[]
  setLinkUp(name: string, up: boolean): void
  setMtu(name: string, mtu: number): void
  setProxyArp(name: string, on: boolean): void

  // addresses (adding a.b.c.d/n adds the kernel's local and, for n<32, connected routes)
  addAddr(dev: string, ip: number, prefix: number, o?: { scope?: AddrScope; noprefixroute?: boolean }): RouteResult
  delAddr(dev: string, ip: number, prefix: number): RouteResult
  addrs(): AddrInfo[]
  isLocal(ip: number): boolean

  /** VXLAN FDB: remote VTEP address (a route's gateway on vxlan.calico) -> underlay node IP. */
  /** Attaches (or with undefined detaches) tc programs on link `dev`; false when there is no such link. */
  setTc(dev: string, prog: TcProgram | undefined): boolean

  setVxlanPeer(vtepIp: number, nodeIp: number): void
  delVxlanPeer(vtepIp: number): void

  /** WireGuard device state of a `wireguard` link (`wg set`); undefined removes it. ENODEV-like throw when not such a link. */
  setWireguard(dev: string, cfg: WireguardConfig | undefined): void
  /** `wg show DEV`; undefined when the link has no WireGuard state. */
  wireguardStatus(dev: string): WireguardStatus | undefined

  // pipeline
  /** A packet arrives on link `dev` (from a veth peer, or the underlay on eth0). */
  receive(pkt: Uint8Array, dev: string, o?: PacketOptions): PacketOutcome
  /** A locally generated packet (raw socket semantics: a full IPv4 packet). */
  output(pkt: Uint8Array, o?: PacketOptions): PacketOutcome

  /** tcpdump -i dev: calls onPacket(bytes, timeMs, dir) for each matching packet. */
  tap(dev: string, onPacket: (pkt: Uint8Array, timeMs: number, dir: 'in' | 'out') => void, o?: TapOptions): Tap

  /** The emulated `ip` command (`addr`, `link`, `route`, `route get`, `neigh`; -c, -d, -o partly). */
  ip(argv: readonly string[]): CmdResult
}

export interface HostInit {
  name: string
  /** The node IP on eth0 (198.19.0.x). */
  nodeIp: number
  /** eth0 prefix length (default 20, the lab's 198.19.0.0/20). */
  nodePrefix?: number
  /** Default gateway on eth0 (optional). */
  gateway?: number
  clock: Clock
  rng: Rng
  underlay?: Underlay
}

/** A node: its root namespace plus pod namespaces. Made by `createHost(init)` (kernel/host.ts). */
export interface Host {
  readonly name: string
  readonly nodeIp: number
  readonly clock: Clock
  readonly root: Netns
  /** Where packets for other nodes go now (undefined: NO_UNDERLAY drops). */
  readonly underlay: Underlay | undefined
  setUnderlay(u: Underlay | undefined): void
  /** An underlay packet arrived for this node (same as root.receive(bytes, 'eth0')). */
  fromUnderlay(bytes: Uint8Array, o?: PacketOptions): PacketOutcome
  createPodNetns(name: string): Netns
  deletePodNetns(name: string): boolean
  netns(name: string): Netns | undefined
  /** All namespaces, root first. */
  namespaces(): Netns[]
  /**
   * Creates a veth pair: `hostName` (cali + 11 hex) in hostNs, `podName` (eth0) in podNs; both
   * up; the host side gets proxy_arp on (Calico's setting) so the pod's `default via 169.254.1.1`
   * resolves across the pair. Returns both ends.
   */
  addVethPair(hostNs: Netns, hostName: string, podNs: Netns, podName: string): { host: LinkInfo; pod: LinkInfo }
}

// ---------------------------------------------------------------------------------------------
// WireGuard (kernel/wireguard.ts)

export interface WireguardPeerConfig {
  /** Base64 X25519 public key. */
  publicKey: string
  /** Underlay address of the peer (its node IP) and UDP port (default: this device's port). */
  endpoint: number
  endpointPort?: number
  /** Inner sources accepted from and destinations sent to this peer. */
  allowedIps: { ip: number; prefix: number }[]
}

export interface WireguardConfig {
  /** Base64 X25519 private key. */
  privateKey: string
  /** UDP listen port (default 51820). */
  listenPort?: number
  fwmark?: number
  peers: WireguardPeerConfig[]
}

export interface WireguardStatus {
  dev: string
  publicKey: string
  listenPort: number
  fwmark: number
  /** Messages dropped: tag did not verify, unknown receiver index, replays, source outside allowed IPs, no peer. */
  drops: { auth: number; unknownPeer: number; replay: number; notAllowed: number; noPeer: number }
  peers: {
    publicKey: string
    endpoint: string
    allowedIps: string[]
    rxBytes: number
    txBytes: number
    rxPackets: number
    txPackets: number
  }[]
}
