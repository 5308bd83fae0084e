import type { KubeObject } from '@calilab/model'
import {
  CALICO_NS,
  type CalicoNode,
  collectGarbage,
  type DaemonSet,
  type Deployment,
  type Installation,
  NAMESPACE_DELETION_GRACE_MS,
  type NodeObj,
  namespaceDueInMs,
  type Pod,
  type ReplicaSet,
  reconcileDaemonSet,
  reconcileDeployment,
  reconcileEndpoints,
  reconcileKubeControllers,
  reconcileNamespace,
  reconcileNodeLifecycle,
  reconcileOperator,
  reconcileReplicaSet,
  rfc3339,
  type Service,
  schedule,
} from '../core/controllers/index.ts'
import type { ControllerContext, ControllerDef } from './manager.ts'

const NAMESPACE = ['v1', 'Namespace'] as const
const POD = ['v1', 'Pod'] as const
const NODE = ['v1', 'Node'] as const
const RS = ['apps/v1', 'ReplicaSet'] as const
const DEPLOY = ['apps/v1', 'Deployment'] as const
const DS = ['apps/v1', 'DaemonSet'] as const
const SVC = ['v1', 'Service'] as const
const EP = ['v1', 'Endpoints'] as const
const INSTALLATION = ['operator.tigera.io/v1', 'Installation'] as const
const TIGERASTATUS = ['operator.tigera.io/v1', 'TigeraStatus'] as const
const KCC = ['projectcalico.org/v3', 'KubeControllersConfiguration'] as const
const CALICO_NODE = ['projectcalico.org/v3', 'Node'] as const
const HEP = ['projectcalico.org/v3', 'HostEndpoint'] as const

function byNamespace<T extends KubeObject>(items: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>()
  for (const o of items) {
    const ns = o.metadata.namespace ?? ''
    const l = m.get(ns)
    if (l) l.push(o)
    else m.set(ns, [o])
  }
  return m
}

function namer(ctx: ControllerContext): (prefix: string) => string {
  return (prefix) => `${prefix}${ctx.rng.suffix(5)}`
}

/**
 * Empties, finalizes and removes Terminating namespaces (also the ones left from before a
 * restart), each once `graceMs` have passed since its deletionTimestamp.
 */
export function namespaceController(graceMs = NAMESPACE_DELETION_GRACE_MS): ControllerDef {
  return {
    name: 'namespace',
    watches: [NAMESPACE],
    reconcile(ctx) {
      const terminating = ctx.list(...NAMESPACE).filter((ns) => ns.metadata.deletionTimestamp)
      if (!terminating.length) return []
      const kinds = ctx.namespacedKinds()
      const now = ctx.now()
      const nowIso = rfc3339(now)
      const due = terminating.filter((ns) => {
        const wait = namespaceDueInMs(ns, now, graceMs)
        if (wait > 0) ctx.after(wait)
        return wait === 0
      })
      return due.flatMap((ns) =>
        reconcileNamespace({
          namespace: ns,
          content: kinds.map(([apiVersion, kind]) => ({
            apiVersion,
            kind,
            count: ctx.list(apiVersion, kind, ns.metadata.name).length,
          })),
          nowIso,
        }),
      )
    },
  }
}

export const namespaces = namespaceController()

export const scheduler: ControllerDef = {
  name: 'scheduler',
  watches: [POD, NODE],
  reconcile: (ctx) =>
    schedule({ pods: ctx.list<Pod>(...POD), nodes: ctx.list<NodeObj>(...NODE), nowIso: rfc3339(ctx.now()) }),
}

export const replicaSets: ControllerDef = {
  name: 'replicaset',
  watches: [RS, POD],
  reconcile(ctx) {
    const pods = byNamespace(ctx.list<Pod>(...POD))
    return ctx.list<ReplicaSet>(...RS).flatMap((rs) =>
      reconcileReplicaSet({
        rs,
        pods: pods.get(rs.metadata.namespace ?? '') ?? [],
        now: ctx.now(),
        newName: namer(ctx),
      }),
    )
  },
}

export const deployments: ControllerDef = {
  name: 'deployment',
  watches: [DEPLOY, RS],
  reconcile(ctx) {
    const rss = byNamespace(ctx.list<ReplicaSet>(...RS))
    const nowIso = rfc3339(ctx.now())
    return ctx
      .list<Deployment>(...DEPLOY)
      .flatMap((deploy) =>
        reconcileDeployment({ deploy, replicaSets: rss.get(deploy.metadata.namespace ?? '') ?? [], nowIso }),
      )
  },
}

export const daemonSets: ControllerDef = {
  name: 'daemonset',
  watches: [DS, POD, NODE],
  reconcile(ctx) {
    const pods = byNamespace(ctx.list<Pod>(...POD))
    const nodes = ctx.list<NodeObj>(...NODE)
    return ctx.list<DaemonSet>(...DS).flatMap((ds) =>
      reconcileDaemonSet({
        ds,
        nodes,
        pods: pods.get(ds.metadata.namespace ?? '') ?? [],
        now: ctx.now(),
        newName: namer(ctx),
      }),
    )
  },
}

export const endpoints: ControllerDef = {
  name: 'endpoints',
  watches: [SVC, POD, EP],
  reconcile: (ctx) =>
    reconcileEndpoints({
      services: ctx.list<Service>(...SVC),
      endpoints: ctx.list(...EP),
      pods: ctx.list<Pod>(...POD),
      nowIso: rfc3339(ctx.now()),
    }),
}

export const nodeLifecycle: ControllerDef = {
  name: 'node-lifecycle',
  watches: [NODE],
  reconcile: (ctx) => reconcileNodeLifecycle(ctx.list<NodeObj>(...NODE), ctx.now()),
}

/** Kinds whose objects may carry ownerReferences that the collector follows. */
const GC_KINDS = [POD, RS, DEPLOY, DS, SVC, ['v1', 'ServiceAccount'], ['v1', 'Namespace'], ['v1', 'ConfigMap']] as const

export const garbageCollector: ControllerDef = {
  name: 'garbage-collector',
  watches: [POD, RS, DEPLOY, DS, INSTALLATION],
  reconcile(ctx) {
    const objects = GC_KINDS.flatMap(([v, k]) => ctx.list(v, k))
    return collectGarbage(objects, (ref, ns) => {
      if (!ctx.served(ref.apiVersion, ref.kind)) return true // unknown kind: never collect
      const o = ctx.get(ref.apiVersion, ref.kind, ns, ref.name)
      return o !== undefined && o.metadata.uid === ref.uid
    })
  },
}

function guid(ctx: ControllerContext): string {
  const hex = () => ctx.rng.int(16).toString(16)
  const part = (n: number) => Array.from({ length: n }, hex).join('')
  return `${part(8)}${part(4)}${part(4)}${part(4)}${part(12)}`
}

export const operator: ControllerDef = {
  name: 'tigera-operator',
  watches: [INSTALLATION, TIGERASTATUS, DEPLOY, DS, NODE, POD],
  reconcile(ctx) {
    if (!ctx.served(...INSTALLATION)) return []
    const apiVersions: Record<string, string> = {
      Namespace: 'v1',
      ServiceAccount: 'v1',
      Service: 'v1',
      DaemonSet: 'apps/v1',
      Deployment: 'apps/v1',
      IPPool: 'projectcalico.org/v3',
      FelixConfiguration: 'projectcalico.org/v3',
      KubeControllersConfiguration: 'projectcalico.org/v3',
      ClusterInformation: 'projectcalico.org/v3',
      TigeraStatus: 'operator.tigera.io/v1',
    }
    return reconcileOperator({
      installation: ctx.get<Installation>(...INSTALLATION, undefined, 'default'),
      operator: ctx.get<Deployment>(...DEPLOY, 'tigera-operator', 'tigera-operator'),
      nodeCount: ctx.list(...NODE).length,
      existing: (kind, ns, name) => {
        const v = apiVersions[kind]
        return v ? ctx.get(v, kind, ns, name) : undefined
      },
      calicoPods: ctx.list<Pod>(...POD, CALICO_NS),
      nowIso: rfc3339(ctx.now()),
      guid: () => guid(ctx),
      served: (v, k) => ctx.served(v, k),
    })
  },
}

export const kubeControllers: ControllerDef = {
  name: 'kube-controllers',
  watches: [KCC, NODE, CALICO_NODE, HEP],
  reconcile(ctx) {
    if (!ctx.served(...HEP) || !ctx.served(...CALICO_NODE)) return []
    return reconcileKubeControllers({
      kcc: ctx.get(...KCC, undefined, 'default'),
      k8sNodes: ctx.list<NodeObj>(...NODE),
      calicoNodes: ctx.list<CalicoNode>(...CALICO_NODE),
      hostEndpoints: ctx.list(...HEP),
    })
  },
}

export const allControllers: ControllerDef[] = [
  namespaces,
  nodeLifecycle,
  scheduler,
  deployments,
  replicaSets,
  daemonSets,
  endpoints,
  garbageCollector,
  operator,
  kubeControllers,
]
