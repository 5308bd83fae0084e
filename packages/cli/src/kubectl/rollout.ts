import type { KubeObject } from '@calilab/model'
import { CliError, out, sleep } from '../io.ts'
import type { KubeClient } from '../kube.ts'
import { Discovery } from './discovery.ts'

interface DeploymentLike extends KubeObject {
  spec?: { replicas?: number }
  status?: {
    observedGeneration?: number
    replicas?: number
    updatedReplicas?: number
    availableReplicas?: number
    numberAvailable?: number
    desiredNumberScheduled?: number
    updatedNumberScheduled?: number
    conditions?: { type: string; reason?: string }[]
  }
}

/** kubectl's DeploymentStatusViewer / DaemonSetStatusViewer: [message, done]. */
export function rolloutStatus(kind: string, o: DeploymentLike): { msg: string; done: boolean; error?: string } {
  const name = o.metadata.name ?? ''
  const st = o.status ?? {}
  if (kind === 'DaemonSet') {
    if ((o.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) {
      return { msg: 'Waiting for daemon set spec update to be observed...', done: false }
    }
    const desired = st.desiredNumberScheduled ?? 0
    const updated = st.updatedNumberScheduled ?? 0
    const avail = st.numberAvailable ?? 0
    if (updated < desired) {
      return {
        msg: `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...`,
        done: false,
      }
    }
    if (avail < desired) {
      return {
        msg: `Waiting for daemon set "${name}" rollout to finish: ${avail} of ${desired} updated pods are available...`,
        done: false,
      }
    }
    return { msg: `daemon set "${name}" successfully rolled out`, done: true }
  }
  if ((o.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) {
    return { msg: 'Waiting for deployment spec update to be observed...', done: false }
  }
  if (st.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')) {
    return { msg: '', done: true, error: `deployment "${name}" exceeded its progress deadline` }
  }
  const want = o.spec?.replicas ?? 1
  const updated = st.updatedReplicas ?? 0
  const replicas = st.replicas ?? 0
  const available = st.availableReplicas ?? 0
  if (updated < want) {
    return {
      msg: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${want} new replicas have been updated...`,
      done: false,
    }
  }
  if (replicas > updated) {
    return {
      msg: `Waiting for deployment "${name}" rollout to finish: ${replicas - updated} old replicas are pending termination...`,
      done: false,
    }
  }
  if (available < updated) {
    return {
      msg: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...`,
      done: false,
    }
  }
  return { msg: `deployment "${name}" successfully rolled out`, done: true }
}

export async function rollout(
  client: KubeClient,
  d: Discovery,
  args: readonly string[],
  o: { namespace: string; timeoutSec?: number; watch?: boolean },
): Promise<number> {
  let type: string | undefined
  let name: string | undefined
  if (args.length === 1 && args[0]?.includes('/')) [type, name] = args[0].split('/') as [string, string]
  else [type, name] = args
  if (!type || !name) throw new CliError('error: required resource not specified (e.g. deployment/customer)')
  const r = d.resolve(type)
  if (!r || !['Deployment', 'DaemonSet'].includes(r.kind)) {
    throw new CliError(`error: no status viewer has been implemented for ${r ? r.kind : type}`)
  }
  const path = Discovery.path(r, o.namespace, name)
  const deadline = o.timeoutSec ? Date.now() + o.timeoutSec * 1000 : Number.POSITIVE_INFINITY
  let last = ''
  for (;;) {
    let obj: DeploymentLike
    try {
      obj = await client.get<DeploymentLike>(path)
    } catch (e) {
      const ke = e as { code?: number; status?: { reason?: string; message?: string } }
      if (ke.code === 404)
        throw new CliError(
          `Error from server (NotFound): ${r.group ? `${r.name}.${r.group}` : r.name} "${name}" not found`,
        )
      throw e
    }
    const s = rolloutStatus(r.kind, obj)
    if (s.error) throw new CliError(`error: ${s.error}`)
    if (s.msg !== last) out(s.msg)
    last = s.msg
    if (s.done || o.watch === false) return 0
    if (Date.now() > deadline) throw new CliError('error: timed out waiting for the condition')
    await sleep(250)
  }
}
