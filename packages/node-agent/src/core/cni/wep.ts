/**
 * The projectcalico.org/v3 WorkloadEndpoint Calico derives from a pod
 * (conversion.go `PodToWorkloadEndpoints`): labels = pod labels + projectcalico.org/namespace,
 * orchestrator and serviceaccount; profiles kns.<ns> and ksa.<ns>.<sa>; one port per named
 * container port.
 */

import type { KubeObject, Pod } from '@calilab/model'
import { vethName, workloadEndpointName } from './names.ts'

export const LABEL_NAMESPACE = 'projectcalico.org/namespace'
export const LABEL_ORCHESTRATOR = 'projectcalico.org/orchestrator'
export const LABEL_SERVICE_ACCOUNT = 'projectcalico.org/serviceaccount'

export interface WorkloadEndpointPort {
  name: string
  protocol: 'TCP' | 'UDP' | 'SCTP'
  port: number
  hostPort?: number
  hostIP?: string
}

export interface WorkloadEndpointSpec {
  orchestrator: 'k8s'
  node: string
  containerID?: string
  pod: string
  endpoint: string
  serviceAccountName?: string
  ipNetworks: string[]
  profiles: string[]
  interfaceName: string
  ports?: WorkloadEndpointPort[]
}

export interface WorkloadEndpoint extends KubeObject {
  spec: WorkloadEndpointSpec
}

export interface WepInput {
  readonly pod: Pod
  /** Defaults to the pod's spec.nodeName. */
  readonly node?: string
  readonly containerId?: string
  /** Pod addresses (without prefix); default: status.podIPs / podIP. */
  readonly ips?: readonly string[]
  readonly interfacePrefix?: string
}

/** A label value Kubernetes accepts (≤63, alphanumeric ends, `-_.` inside). */
function validLabelValue(v: string): boolean {
  return v.length < 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v)
}

export function podServiceAccount(pod: Pod): string {
  return pod.spec.serviceAccountName ?? pod.spec.serviceAccount ?? 'default'
}

export function podIPs(pod: Pod): string[] {
  const list = pod.status?.podIPs?.map((p) => p.ip) ?? []
  if (list.length > 0) return list
  return pod.status?.podIP ? [pod.status.podIP] : []
}

export function workloadEndpoint(input: WepInput): WorkloadEndpoint {
  const { pod } = input
  const ns = pod.metadata.namespace ?? 'default'
  const name = pod.metadata.name ?? ''
  const node = input.node ?? pod.spec.nodeName ?? ''
  const sa = podServiceAccount(pod)
  const labels: Record<string, string> = { ...(pod.metadata.labels ?? {}) }
  labels[LABEL_NAMESPACE] = ns
  labels[LABEL_ORCHESTRATOR] = 'k8s'
  if (validLabelValue(sa)) labels[LABEL_SERVICE_ACCOUNT] = sa
  const ports: WorkloadEndpointPort[] = []
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) {
      if (!p.name) continue
      const port: WorkloadEndpointPort = { name: p.name, protocol: p.protocol ?? 'TCP', port: p.containerPort }
      if (p.hostPort !== undefined) port.hostPort = p.hostPort
      if (p.hostIP !== undefined) port.hostIP = p.hostIP
      ports.push(port)
    }
  }
  const spec: WorkloadEndpointSpec = {
    orchestrator: 'k8s',
    node,
    pod: name,
    endpoint: 'eth0',
    serviceAccountName: sa,
    ipNetworks: (input.ips ?? podIPs(pod)).map((ip) => (ip.includes('/') ? ip : `${ip}/32`)),
    profiles: [`kns.${ns}`, `ksa.${ns}.${sa}`],
    interfaceName: vethName(ns, name, input.interfacePrefix),
  }
  if (input.containerId !== undefined) spec.containerID = input.containerId
  if (ports.length > 0) spec.ports = ports
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: workloadEndpointName(node, name), namespace: ns, labels },
    spec,
  }
}
