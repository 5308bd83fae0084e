/**
 * The conformance suite's cluster model: namespaces x, y, z (label ns=<name>) with pods a, b, c
 * (label pod=<name>) spread over the three nodes, and the probe ports. Each scenario states its
 * expected truth table as a small predicate over (source, destination, port) in these terms.
 */

export const NAMESPACES = ['x', 'y', 'z'] as const
export const PODS = ['a', 'b', 'c'] as const
export const NODES = ['control', 'node1', 'node2'] as const
export type Ns = (typeof NAMESPACES)[number]
export type PodName = (typeof PODS)[number]

/** `80/TCP` (nginx listens), `81/TCP` (nothing listens: refused = reachable), `ICMP`, `53/UDP`. */
export type Port = '80/TCP' | '81/TCP' | 'ICMP' | '53/UDP' | '80/UDP'

export interface Pod {
  ns: Ns
  pod: PodName
  /** `x/a` */
  id: string
  node: string
  /** Service account: a and b run as `front` (role=front), c as `back` (role=back). */
  sa: 'front' | 'back'
  /** Named ports: a, b: web=80, alt=81; c: web=81, alt=80. */
  web: number
  ip: string
}

export function pods(): Pod[] {
  const out: Pod[] = []
  for (const [i, ns] of NAMESPACES.entries())
    for (const [j, pod] of PODS.entries())
      out.push({
        ns,
        pod,
        id: `${ns}/${pod}`,
        node: NODES[(i + j) % 3]!,
        sa: pod === 'c' ? 'back' : 'front',
        web: pod === 'c' ? 81 : 80,
        ip: '',
      })
  return out
}

export const tcp = (p: Port) => p === '80/TCP' || p === '81/TCP'
export const portNum = (p: Port) => (p === 'ICMP' ? 0 : Number(p.split('/')[0]))

/** The matrix's manifests: namespaces, service accounts, pods. */
export function clusterManifests(all: Pod[]): object[] {
  const docs: object[] = []
  for (const ns of NAMESPACES) {
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ns } } })
    for (const sa of ['front', 'back'])
      docs.push({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: sa, namespace: ns, labels: { role: sa } },
      })
  }
  for (const p of all)
    docs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.pod, namespace: p.ns, labels: { pod: p.pod } },
      spec: {
        nodeName: p.node,
        serviceAccountName: p.sa,
        containers: [
          {
            name: 'nginx',
            image: 'nginx',
            ports: [
              { name: 'web', containerPort: p.web, protocol: 'TCP' },
              { name: 'alt', containerPort: p.web === 80 ? 81 : 80, protocol: 'TCP' },
            ],
          },
        ],
      },
    })
  return docs
}
