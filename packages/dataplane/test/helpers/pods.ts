import { parseIPv4 as ip } from '@calilab/model'
import type { Host, Netns } from '../../src/kernel/api.ts'

/** A pod as Calico's CNI sets it up: veth pair, /32 address, default via 169.254.1.1, the host's /32 route. */
export function addPod(h: Host, name: string, podIp: string, veth: string): Netns {
  const ns = h.createPodNetns(name)
  h.addVethPair(h.root, veth, ns, 'eth0')
  ns.addAddr('eth0', ip(podIp), 32)
  ns.routes.add({ dst: ip('169.254.1.1'), prefix: 32, dev: 'eth0', scope: 'link' })
  ns.routes.add({ dst: 0, prefix: 0, via: ip('169.254.1.1'), dev: 'eth0' })
  h.root.routes.add({ dst: ip(podIp), prefix: 32, dev: veth, scope: 'link' })
  return ns
}
