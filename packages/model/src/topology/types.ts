/**
 * The topology schema: which emulated hosts exist, their emulated node IPs and the real loopback
 * endpoints their sockets bind to, the API server and Typha addresses, pools and AS numbers.
 * Pure data; `calilab up` reads it (YAML) and every process gets its part as flags.
 */

export type HostRole = 'control' | 'worker' | 'router'

export const HOST_ROLES: readonly HostRole[] = ['control', 'worker', 'router']

export interface TopologyHost {
  name: string
  role: HostRole
  /** Emulated node IP (what every view shows). */
  nodeIP: string
  /** Real loopback address the host's sockets bind to (127.0.0.0/8). */
  endpoint: string
  /** AS number (routers; Calico nodes use the cluster AS unless set). */
  asNumber?: number
  /** The node's pod block (/26) when pre-assigned; IPAM picks one otherwise. */
  podBlock?: string
}

export interface TopologyApiServer {
  host: string
  /** 0 = ephemeral (tests, several clusters side by side). */
  port: number
}

export interface TopologyTypha {
  replicas: number
  basePort: number
}

export interface TopologyPools {
  podCidr: string
  defaultPool: string
  serviceCidr: string
}

export interface TopologyPorts {
  bgp: number
  underlay: number
}

export interface Topology {
  hosts: TopologyHost[]
  apiserver: TopologyApiServer
  typha: TopologyTypha
  pools: TopologyPools
  clusterAS: number
  ports: TopologyPorts
}
