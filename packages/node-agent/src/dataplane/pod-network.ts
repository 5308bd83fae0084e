/**
 * The CNI plugin's work for one pod, on the emulated kernel: a netns with lo and eth0 (the pod
 * IP /32, `169.254.1.1 dev eth0 scope link`, `default via 169.254.1.1 dev eth0`), the host-side
 * `cali<11 hex>` veth with proxy ARP, and the `/32` route to the pod via it. Teardown reverses it.
 */
import type { Host, Netns } from '@calilab/dataplane'
import { tryParseIPv4 } from '@calilab/model'
import { POD_GATEWAY, vethName } from '../core/cni/index.ts'

/** What the kubelet calls when a pod starts or stops (injected into `startNode`). */
export interface PodNetwork {
  setup(pod: PodRef, ip: string): void | Promise<void>
  teardown(pod: PodRef): void | Promise<void>
  /** The pod's namespace in the kernel (apps and `kubectl exec` run there). */
  podNetns(namespace: string, name: string): Netns | undefined
}

export interface PodRef {
  metadata: { namespace?: string | undefined; name?: string | undefined }
}

/** The netns name a pod gets (`<namespace>/<pod>`). */
export function podNetnsName(namespace: string, name: string): string {
  return `${namespace}/${name}`
}

export interface PodNetInfo {
  namespace: string
  name: string
  ip: string
  iface: string
  netns: string
}

/** Creates (or re-creates) the pod's netns, veth pair and routes. */
export function setupPodNetwork(host: Host, namespace: string, name: string, ip: string): PodNetInfo {
  const addr = tryParseIPv4(ip)
  if (addr === undefined) throw new Error(`pod ${namespace}/${name}: bad IP ${JSON.stringify(ip)}`)
  const nsName = podNetnsName(namespace, name)
  const iface = vethName(namespace, name)
  if (host.netns(nsName)) teardownPodNetwork(host, namespace, name)
  const root = host.root
  if (root.link(iface)) root.delLink(iface)
  const ns = host.createPodNetns(nsName)
  host.addVethPair(root, iface, ns, 'eth0')
  root.setProxyArp(iface, true)
  ns.addAddr('eth0', addr, 32)
  const gw = tryParseIPv4(POD_GATEWAY) as number
  ns.routes.add({ dst: gw, prefix: 32, dev: 'eth0', scope: 'link' })
  ns.routes.add({ dst: 0, prefix: 0, via: gw, dev: 'eth0' })
  root.routes.replace({ dst: addr, prefix: 32, dev: iface, scope: 'link' })
  return { namespace, name, ip, iface, netns: nsName }
}

export function teardownPodNetwork(host: Host, namespace: string, name: string): void {
  const iface = vethName(namespace, name)
  host.root.delLink(iface) // also drops the /32 route on it and the pod's end
  host.deletePodNetns(podNetnsName(namespace, name))
}
