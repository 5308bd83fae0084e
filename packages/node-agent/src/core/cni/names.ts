/**
 * Names the Calico CNI plugin gives a pod's interfaces and endpoint
 * (libcalico-go/lib/backend/k8s/conversion/workload_endpoint_default.go, lib/names).
 */

import { createHash } from 'node:crypto'

/** Host-side veth: `cali` + first 11 hex of SHA-1(`<namespace>.<pod>`) (15 chars = IFNAMSIZ-1). */
export function vethName(namespace: string, pod: string, prefix = 'cali'): string {
  const h = createHash('sha1').update(`${namespace}.${pod}`).digest('hex')
  return `${prefix}${h.slice(0, 11)}`
}

function escapeDashes(s: string): string {
  return s.replace(/-/g, '--')
}

/** WorkloadEndpoint name: `<node>-k8s-<pod>-<endpoint>`, each `-` inside a segment doubled. */
export function workloadEndpointName(node: string, pod: string, endpoint = 'eth0'): string {
  return `${escapeDashes(node)}-k8s-${escapeDashes(pod)}-${escapeDashes(endpoint)}`
}

/** Felix's workload id for the endpoint: `<namespace>/<pod>`. */
export function workloadId(namespace: string, pod: string): string {
  return `${namespace}/${pod}`
}
