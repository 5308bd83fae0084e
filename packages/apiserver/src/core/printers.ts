/**
 * Per-kind row printers, following kube-apiserver's pkg/printers/internalversion/printers.go.
 * The server always prints the wide form; kubectl hides priority-1 columns without `-o wide`.
 */
import type { KubeObject } from '@calilab/model'
import { parseTimestamp, rfc3339 } from './ids.ts'
import { isObject } from './json.ts'
import { formatLabels } from './label-selector.ts'
import {
  AGE_COL,
  age,
  arr,
  col,
  get,
  map,
  NAME_COL,
  num,
  orNone,
  type PrintedRow,
  type Printer,
  since,
  str,
  wide,
} from './printer-kit.ts'
import {
  daemonSetPrinter,
  deploymentPrinter,
  formatSpecSelector,
  replicaSetPrinter,
  statefulSetPrinter,
} from './printers-apps.ts'
import { hpaPrinter } from './printers-autoscaling.ts'
import type { TableColumnDefinition, TableRowCondition } from './table-types.ts'

export type { PrintedRow, Printer } from './printer-kit.ts'
export { AGE_COL, col, get, NAME_COL, since } from './printer-kit.ts'

// ---- pods ----

const podSucceeded: TableRowCondition[] = [
  { type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' },
]
const podFailed: TableRowCondition[] = [
  { type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' },
]

function terminatedReason(term: unknown, prefix: string): string {
  const reason = str(get(term, 'reason'))
  if (reason) return prefix + reason
  const signal = num(get(term, 'signal'))
  return signal !== 0 ? `${prefix}Signal:${signal}` : `${prefix}ExitCode:${num(get(term, 'exitCode'))}`
}

function podRow(pod: KubeObject, now: number): PrintedRow {
  const spec = pod.spec
  const status = pod.status
  const containers = arr(get(spec, 'containers'))
  const initContainers = arr(get(spec, 'initContainers'))
  let restarts = 0
  let ready = 0
  const phase = str(get(status, 'phase'))
  let reason = str(get(status, 'reason')) || phase
  const conditions = arr(get(status, 'conditions'))
  for (const c of conditions) {
    if (get(c, 'type') === 'PodScheduled' && get(c, 'reason') === 'SchedulingGated') reason = 'SchedulingGated'
  }

  let initializing = false
  const initStatuses = arr(get(status, 'initContainerStatuses'))
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i]
    restarts += num(get(c, 'restartCount'))
    const term = get(c, 'state', 'terminated')
    const waitingReason = str(get(c, 'state', 'waiting', 'reason'))
    if (term !== undefined && num(get(term, 'exitCode')) === 0) continue
    if (term !== undefined) reason = terminatedReason(term, 'Init:')
    else if (waitingReason !== '' && waitingReason !== 'PodInitializing') reason = `Init:${waitingReason}`
    else reason = `Init:${i}/${initContainers.length}`
    initializing = true
    break
  }

  const initializedTrue = conditions.some((c) => get(c, 'type') === 'Initialized' && get(c, 'status') === 'True')
  if (!initializing || initializedTrue) {
    restarts = 0
    let hasRunning = false
    const statuses = arr(get(status, 'containerStatuses'))
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]
      restarts += num(get(c, 'restartCount'))
      const waitingReason = str(get(c, 'state', 'waiting', 'reason'))
      const term = get(c, 'state', 'terminated')
      if (waitingReason !== '') reason = waitingReason
      else if (term !== undefined) reason = terminatedReason(term, '')
      else if (get(c, 'ready') === true && get(c, 'state', 'running') !== undefined) {
        hasRunning = true
        ready++
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const podReady = conditions.some((c) => get(c, 'type') === 'Ready' && get(c, 'status') === 'True')
      reason = podReady ? 'Running' : 'NotReady'
    }
  }

  if (pod.metadata.deletionTimestamp && get(status, 'reason') === 'NodeLost') reason = 'Unknown'
  else if (pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating'

  const podIPs = arr(get(status, 'podIPs'))
  const podIP = orNone(str(get(podIPs[0], 'ip')) || str(get(status, 'podIP')))
  const gates = arr(get(spec, 'readinessGates'))
  let readinessGates = '<none>'
  if (gates.length > 0) {
    let trueConditions = 0
    for (const g of gates) {
      const cond = conditions.find((c) => get(c, 'type') === get(g, 'conditionType'))
      if (get(cond, 'status') === 'True') trueConditions++
    }
    readinessGates = `${trueConditions}/${gates.length}`
  }
  const row: PrintedRow = {
    cells: [
      pod.metadata.name ?? '',
      `${ready}/${containers.length}`,
      reason,
      restarts,
      age(pod, now),
      podIP,
      orNone(str(get(spec, 'nodeName'))),
      orNone(str(get(status, 'nominatedNodeName'))),
      readinessGates,
    ],
  }
  if (phase === 'Succeeded') row.conditions = podSucceeded
  else if (phase === 'Failed') row.conditions = podFailed
  return row
}

const podPrinter: Printer = {
  columns: [
    NAME_COL,
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'integer', 'The number of times the containers in this pod have been restarted.'),
    AGE_COL,
    wide('IP', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.'),
    wide('Node', 'NodeName is a request to schedule this pod onto a specific node.'),
    wide('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.'),
    wide('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.'),
  ],
  row: podRow,
}

// ---- nodes ----

function nodeRoles(labels: Record<string, string>): string[] {
  const roles = new Set<string>()
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length)
      if (role) roles.add(role)
    } else if (k === 'kubernetes.io/role' && v !== '') roles.add(v)
  }
  return [...roles].sort()
}

function nodeAddress(node: KubeObject, type: string): string {
  const a = arr(get(node.status, 'addresses')).find((x) => get(x, 'type') === type)
  return orNone(str(get(a, 'address')))
}

const nodePrinter: Printer = {
  columns: [
    NAME_COL,
    col('Status', 'string', 'The status of the node'),
    col('Roles', 'string', 'The roles of the node'),
    AGE_COL,
    col('Version', 'string', 'Kubelet Version reported by the node.'),
    wide('Internal-IP', 'List of addresses reachable to the node.'),
    wide('External-IP', 'List of addresses reachable to the node.'),
    wide('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).'),
    wide('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    wide(
      'Container-Runtime',
      'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
    ),
  ],
  row(node, now) {
    const status: string[] = []
    const readyCond = arr(get(node.status, 'conditions')).find((c) => get(c, 'type') === 'Ready')
    if (readyCond !== undefined) status.push(get(readyCond, 'status') === 'True' ? 'Ready' : 'NotReady')
    if (status.length === 0) status.push('Unknown')
    if (get(node.spec, 'unschedulable') === true) status.push('SchedulingDisabled')
    const info = get(node.status, 'nodeInfo')
    const unknown = (s: string) => (s === '' ? '<unknown>' : s)
    return {
      cells: [
        node.metadata.name ?? '',
        status.join(','),
        orNone(nodeRoles(node.metadata.labels ?? {}).join(',')),
        age(node, now),
        str(get(info, 'kubeletVersion')),
        nodeAddress(node, 'InternalIP'),
        nodeAddress(node, 'ExternalIP'),
        unknown(str(get(info, 'osImage'))),
        unknown(str(get(info, 'kernelVersion'))),
        unknown(str(get(info, 'containerRuntimeVersion'))),
      ],
    }
  },
}

// ---- services and endpoints ----

function serviceExternalIP(svc: KubeObject): string {
  const type = str(get(svc.spec, 'type'))
  const externalIPs = arr(get(svc.spec, 'externalIPs')).map(str)
  switch (type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length ? externalIPs.join(',') : '<none>'
    case 'LoadBalancer': {
      const lb = arr(get(svc.status, 'loadBalancer', 'ingress'))
        .map((i) => str(get(i, 'ip')) || str(get(i, 'hostname')))
        .filter((s) => s !== '')
      const all = [...lb, ...externalIPs]
      return all.length ? all.join(',') : '<pending>'
    }
    case 'ExternalName':
      return str(get(svc.spec, 'externalName'))
    default:
      return '<unknown>'
  }
}

function servicePorts(ports: unknown[]): string {
  return ports
    .map((p) => {
      const proto = str(get(p, 'protocol')) || 'TCP'
      const nodePort = num(get(p, 'nodePort'))
      return nodePort > 0 ? `${num(get(p, 'port'))}:${nodePort}/${proto}` : `${num(get(p, 'port'))}/${proto}`
    })
    .join(',')
}

const servicePrinter: Printer = {
  columns: [
    NAME_COL,
    col('Type', 'string', 'type determines how the Service is exposed.'),
    col('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    col(
      'External-IP',
      'string',
      'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.',
    ),
    col('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    AGE_COL,
    wide('Selector', 'Route service traffic to pods with label keys and values matching this selector.'),
  ],
  row(svc, now) {
    const clusterIPs = arr(get(svc.spec, 'clusterIPs')).map(str)
    return {
      cells: [
        svc.metadata.name ?? '',
        str(get(svc.spec, 'type')),
        orNone(clusterIPs[0] ?? str(get(svc.spec, 'clusterIP'))),
        serviceExternalIP(svc),
        orNone(servicePorts(arr(get(svc.spec, 'ports')))),
        age(svc, now),
        formatLabels(map(get(svc.spec, 'selector'))),
      ],
    }
  },
}

/** formatEndpoints: `ip:port` pairs, at most 3, then ` + N more...`; `<none>` without subsets. */
export function formatEndpoints(ep: KubeObject): string {
  const subsets = arr(ep['subsets'])
  if (subsets.length === 0) return '<none>'
  const list: string[] = []
  const max = 3
  let more = false
  let count = 0
  for (const ss of subsets) {
    const addrs = arr(get(ss, 'addresses'))
    const ports = arr(get(ss, 'ports'))
    if (ports.length === 0) {
      count += addrs.length
      for (const a of addrs) {
        if (list.length === max) {
          more = true
          break
        }
        list.push(str(get(a, 'ip')))
      }
      continue
    }
    for (const p of ports) {
      count += addrs.length
      for (const a of addrs) {
        if (list.length === max) {
          more = true
          break
        }
        const ip = str(get(a, 'ip'))
        list.push(`${ip.includes(':') ? `[${ip}]` : ip}:${num(get(p, 'port'))}`)
      }
    }
  }
  const ret = list.join(',')
  return more ? `${ret} + ${count - max} more...` : ret
}

const endpointsPrinter: Printer = {
  columns: [NAME_COL, col('Endpoints', 'string', 'Endpoints is the list of endpoints in this service.'), AGE_COL],
  row: (ep, now) => ({ cells: [ep.metadata.name ?? '', formatEndpoints(ep), age(ep, now)] }),
}

// ---- simple kinds ----

const simple = (extra: TableColumnDefinition[], cells: (o: KubeObject) => unknown[]): Printer => ({
  columns: [NAME_COL, ...extra, AGE_COL],
  row: (o, now) => ({ cells: [o.metadata.name ?? '', ...cells(o), age(o, now)] }),
})

const namespacePrinter = simple([col('Status', 'string', 'The status of the namespace')], (o) => [
  str(get(o.status, 'phase')),
])
const serviceAccountPrinter = simple(
  [
    col(
      'Secrets',
      'integer',
      'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.',
    ),
  ],
  (o) => [arr(o['secrets']).length],
)
const networkPolicyPrinter = simple(
  [col('Pod-Selector', 'string', 'Selects the pods to which this NetworkPolicy object applies.')],
  (o) => [formatSpecSelector(get(o.spec, 'podSelector') ?? {})],
)
const configMapPrinter = simple([col('Data', 'integer', 'Data contains the configuration data.')], (o) => [
  Object.keys(map(o['data'])).length + Object.keys(map(o['binaryData'])).length,
])
const secretPrinter = simple(
  [col('Type', 'string', 'The type of the secret'), col('Data', 'integer', 'The number of data items in the secret')],
  (o) => [str(o['type']), Object.keys(map(o['data'])).length],
)
const leasePrinter = simple([col('Holder', 'string', 'The holder of the lease')], (o) => [
  str(get(o.spec, 'holderIdentity')),
])

const createdAt = (description: string): Printer => ({
  columns: [NAME_COL, col('Created At', 'date', description)],
  row: (o) => {
    const ms = parseTimestamp(o.metadata.creationTimestamp)
    return { cells: [o.metadata.name ?? '', ms === undefined ? '' : rfc3339(ms)] }
  },
})

function subjects(o: KubeObject): [string, string, string] {
  const users: string[] = []
  const groups: string[] = []
  const sas: string[] = []
  for (const s of arr(o['subjects'])) {
    const name = str(get(s, 'name'))
    switch (get(s, 'kind')) {
      case 'User':
        users.push(name)
        break
      case 'Group':
        groups.push(name)
        break
      case 'ServiceAccount':
        sas.push(`${str(get(s, 'namespace'))}:${name}`)
        break
    }
  }
  return [users.join(', '), groups.join(', '), sas.join(', ')]
}

const bindingPrinter: Printer = {
  columns: [
    NAME_COL,
    col(
      'Role',
      'string',
      'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.',
    ),
    AGE_COL,
    wide('Users', 'Users in the roleBinding'),
    wide('Groups', 'Groups in the roleBinding'),
    wide('ServiceAccounts', 'ServiceAccounts in the roleBinding'),
  ],
  row: (o, now) => ({
    cells: [
      o.metadata.name ?? '',
      `${str(get(o['roleRef'], 'kind'))}/${str(get(o['roleRef'], 'name'))}`,
      age(o, now),
      ...subjects(o),
    ],
  }),
}

// ---- events ----

function eventSource(o: KubeObject): string {
  const component = str(get(o['source'], 'component')) || str(o['reportingComponent']) || str(o['reportingController'])
  const instance = str(get(o['source'], 'host')) || str(o['reportingInstance'])
  return instance === '' ? component : `${component}, ${instance}`
}

const eventPrinter: Printer = {
  columns: [
    col('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
    col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future'),
    col(
      'Reason',
      'string',
      "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    col('Object', 'string', 'The object that this event is about.'),
    wide(
      'Subobject',
      'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.',
    ),
    wide('Source', 'The component reporting this event. Should be a short machine understandable string.'),
    col('Message', 'string', 'A human-readable description of the status of this operation.'),
    wide('First Seen', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)'),
    wide('Count', 'The number of times this event has occurred.'),
    { ...NAME_COL, priority: 1 },
  ],
  row(o, now) {
    let first = since(o['firstTimestamp'], now)
    if (parseTimestamp(o['firstTimestamp']) === undefined) first = since(o['eventTime'], now)
    let last = parseTimestamp(o['lastTimestamp']) === undefined ? first : since(o['lastTimestamp'], now)
    let count = num(o['count'])
    if (isObject(o['series'])) {
      last = since(get(o['series'], 'lastObservedTime'), now)
      count = num(get(o['series'], 'count'))
    } else if (count === 0) count = 1
    const inv = o['involvedObject']
    const kind = str(get(inv, 'kind')).toLowerCase()
    const name = str(get(inv, 'name'))
    return {
      cells: [
        last,
        str(o['type']),
        str(o['reason']),
        name ? `${kind}/${name}` : kind,
        str(get(inv, 'fieldPath')),
        eventSource(o),
        str(o['message']).trim(),
        first,
        count,
        o.metadata.name ?? '',
      ],
    }
  },
}

/** Printers by `group/Kind` (`/Pod` for the core group). */
export const PRINTERS: Readonly<Record<string, Printer>> = {
  '/Pod': podPrinter,
  '/Node': nodePrinter,
  '/Service': servicePrinter,
  '/Endpoints': endpointsPrinter,
  '/Namespace': namespacePrinter,
  '/ServiceAccount': serviceAccountPrinter,
  '/ConfigMap': configMapPrinter,
  '/Secret': secretPrinter,
  '/Event': eventPrinter,
  'apps/Deployment': deploymentPrinter,
  'apps/ReplicaSet': replicaSetPrinter,
  'apps/DaemonSet': daemonSetPrinter,
  'apps/StatefulSet': statefulSetPrinter,
  'autoscaling/HorizontalPodAutoscaler': hpaPrinter,
  'networking.k8s.io/NetworkPolicy': networkPolicyPrinter,
  'coordination.k8s.io/Lease': leasePrinter,
  'apiextensions.k8s.io/CustomResourceDefinition': createdAt(
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
  ),
  'rbac.authorization.k8s.io/ClusterRole': createdAt(
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
  ),
  'rbac.authorization.k8s.io/Role': createdAt(
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
  ),
  'rbac.authorization.k8s.io/RoleBinding': bindingPrinter,
  'rbac.authorization.k8s.io/ClusterRoleBinding': bindingPrinter,
}
