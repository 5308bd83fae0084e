import type { Clock, Logger } from '@calilab/kit'
import type { KubeObject } from '@calilab/model'
import { appForContainer, type RunningApp } from '../apps/apps.ts'
import type { Sockets } from '../apps/stream.ts'
import type { ContainerLogs } from './logs.ts'

interface PodLike extends KubeObject {
  spec: { containers?: { name: string; image?: string }[] }
}

export interface AppsRunnerInit {
  /** The pod's network namespace once its network is set up (its sockets are the app's). */
  podNetns: (namespace: string, pod: string) => Sockets | undefined
  logs: ContainerLogs
  clock: Clock
  log: Logger
  /** For kube-dns: the cluster's Services. */
  services: () => readonly { name: string; namespace: string; clusterIP: string }[]
}

/**
 * The container runtime's part for emulated apps: when a pod's network is up, start the app its
 * image names (see docs/apps.md) on the pod's own sockets, logging to the container's log; stop
 * it when the pod goes.
 */
export class AppsRunner {
  private readonly running = new Map<string, RunningApp[]>()
  private readonly init: AppsRunnerInit

  constructor(init: AppsRunnerInit) {
    this.init = init
  }

  start(pod: PodLike): void {
    const ns = pod.metadata.namespace ?? 'default'
    const name = pod.metadata.name ?? ''
    const key = `${ns}/${name}`
    if (this.running.has(key)) return
    const net = this.init.podNetns(ns, name)
    if (!net) return
    const apps: RunningApp[] = []
    for (const c of pod.spec.containers ?? []) {
      const starter = appForContainer(c.image, pod.metadata.labels ?? {})
      if (!starter) continue
      try {
        apps.push(
          starter({
            net,
            clock: this.init.clock,
            log: (line) => this.init.logs.append(ns, name, c.name, line),
            namespace: ns,
            podName: name,
            services: this.init.services,
          }),
        )
        this.init.log.debug({ pod: key, container: c.name, image: c.image }, 'app started')
      } catch (err) {
        this.init.log.warn({ err, pod: key, container: c.name }, 'app failed to start')
      }
    }
    this.running.set(key, apps)
  }

  stop(pod: KubeObject): void {
    const key = `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`
    for (const a of this.running.get(key) ?? []) a.stop()
    this.running.delete(key)
  }

  stopAll(): void {
    for (const apps of this.running.values()) for (const a of apps) a.stop()
    this.running.clear()
  }
}
