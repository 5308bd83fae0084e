/**
 * The I/O shell of IPAM (calico-ipam's role in the CNI plugin): reads the IPAM records, IP pools,
 * the node's labels and the pod's namespace through the REST client, runs the pure core
 * (`core/ipam`) and writes what it returns with optimistic concurrency. A conflict (409) or a
 * vanished object (404) on any write means someone else changed the records first: re-read and
 * run the whole operation again.
 */

import type { Clock, Logger } from '@calilab/kit'
import { cidrContains, type IPPool, type KubeObject, tryParseIPv4 } from '@calilab/model'
import type { KubeClient } from '@calilab/proto'
import {
  ANNOTATION_IP_ADDRS,
  assignIP,
  assignTunnelAddress,
  autoAssign,
  choosePools,
  type IpamConfig,
  type IpamError,
  type IpamKind,
  type IpamState,
  type IpamWrite,
  ipamStateFromResources,
  ipsForHandle,
  type PoolInfo,
  podHandle,
  poolFromResource,
  releaseByHandle,
  type TunnelKind,
  tunnelHandle,
  tunnelPools,
} from '../core/ipam/index.ts'
import { containerId } from '../kubelet/core.ts'

const V3 = '/apis/projectcalico.org/v3'
const PLURAL: Record<IpamKind, string> = {
  IPAMBlock: 'ipamblocks',
  BlockAffinity: 'blockaffinities',
  IPAMHandle: 'ipamhandles',
}

export interface IpamPod {
  metadata: {
    name?: string
    namespace?: string
    uid?: string
    annotations?: Record<string, string>
  }
}

export interface IpamShellInit {
  client: KubeClient
  node: string
  log: Logger
  clock: Clock
  /** Attempts per operation before giving up on conflicts (default 10). */
  maxAttempts?: number
}

export type AllocateResult =
  | { ok: true; ip: string; handle: string; pool: string | undefined; claimed: string[]; reused: boolean }
  | { ok: false; error: IpamError | { code: 'IPAM_CONFLICT'; message: string } }

/** The handle calico-ipam uses for a pod: `k8s-pod-network.<sandbox container id>`. */
export function podHandleFor(pod: IpamPod): string {
  return podHandle(containerId(pod.metadata.uid ?? '', 'POD'))
}

function codeOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown }).code
  return typeof c === 'number' ? c : undefined
}

class Conflict extends Error {}

export class IpamShell {
  private readonly client: KubeClient
  private readonly node: string
  private readonly log: Logger
  private readonly clock: Clock
  private readonly maxAttempts: number

  constructor(init: IpamShellInit) {
    this.client = init.client
    this.node = init.node
    this.log = init.log.child({ component: 'ipam' })
    this.clock = init.clock
    this.maxAttempts = init.maxAttempts ?? 10
  }

  /** Every enabled-or-not pool, as IPAM reads it. */
  async pools(): Promise<PoolInfo[]> {
    const l = await this.client.list<IPPool>(`${V3}/ippools`)
    return l.items.map(poolFromResource).sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Reads blocks and affinities (all) and, when given, one handle. */
  async readState(handle?: string): Promise<IpamState> {
    const [blocks, affinities, config] = await Promise.all([
      this.client.list(`${V3}/ipamblocks`),
      this.client.list(`${V3}/blockaffinities`),
      this.readConfig(),
    ])
    const handles: KubeObject[] = []
    if (handle !== undefined) {
      try {
        handles.push(await this.client.get(`${V3}/ipamhandles/${encodeURIComponent(handle.toLowerCase())}`))
      } catch (err) {
        if (codeOf(err) !== 404) throw err
      }
    }
    return ipamStateFromResources({ blocks: blocks.items, affinities: affinities.items, handles, config })
  }

  private async readConfig(): Promise<Partial<IpamConfig>> {
    try {
      const c = await this.client.get(`${V3}/ipamconfigurations/default`)
      const s = (c.spec ?? {}) as Partial<IpamConfig>
      const out: { -readonly [K in keyof IpamConfig]?: IpamConfig[K] } = {}
      if (typeof s.strictAffinity === 'boolean') out.strictAffinity = s.strictAffinity
      if (typeof s.autoAllocateBlocks === 'boolean') out.autoAllocateBlocks = s.autoAllocateBlocks
      if (typeof s.maxBlocksPerHost === 'number') out.maxBlocksPerHost = s.maxBlocksPerHost
      return out
    } catch (err) {
      if (codeOf(err) !== 404) throw err
      return {}
    }
  }

  private async nodeLabels(): Promise<Record<string, string>> {
    try {
      const n = await this.client.get(`/api/v1/nodes/${encodeURIComponent(this.node)}`)
      return { ...(n.metadata.labels ?? {}) }
    } catch (err) {
      if (codeOf(err) !== 404) throw err
      return { 'kubernetes.io/hostname': this.node }
    }
  }

  private async namespaceAnnotations(ns: string): Promise<Record<string, string>> {
    try {
      const n = await this.client.get(`/api/v1/namespaces/${encodeURIComponent(ns)}`)
      return { ...(n.metadata.annotations ?? {}) }
    } catch (err) {
      if (codeOf(err) !== 404) throw err
      return {}
    }
  }

  /** Carries out the core's writes in order; throws Conflict on 409/404. */
  private async apply(writes: readonly IpamWrite[]): Promise<void> {
    for (const w of writes) {
      const coll = `${V3}/${PLURAL[w.kind]}`
      const path = `${coll}/${encodeURIComponent(w.name)}`
      try {
        if (w.op === 'create') await this.client.create(coll, w.object)
        else if (w.op === 'update') await this.client.update(path, w.object)
        else
          await this.client.delete(
            path,
            w.resourceVersion !== undefined ? { preconditions: { resourceVersion: w.resourceVersion } } : undefined,
          )
      } catch (err) {
        const code = codeOf(err)
        if (code === 409 || (code === 404 && w.op !== 'delete')) throw new Conflict(`${w.op} ${w.kind}/${w.name}`)
        if (code === 404) continue
        throw err
      }
    }
  }

  /**
   * Runs `op` against freshly read state, writes its result, and retries from a re-read on a
   * conflict. `op` returns undefined when there is nothing to write.
   */
  private async transact<T>(
    handle: string,
    op: (
      state: IpamState,
    ) => Promise<{ ok: true; writes: readonly IpamWrite[]; value: T } | { ok: false; error: IpamError }>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: IpamError | { code: 'IPAM_CONFLICT'; message: string } }> {
    let last = ''
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const state = await this.readState(handle)
      const r = await op(state)
      if (!r.ok) return r
      try {
        await this.apply(r.writes)
        return { ok: true, value: r.value }
      } catch (err) {
        if (!(err instanceof Conflict)) throw err
        last = err.message
        this.log.debug({ attempt, conflict: last }, 'ipam write conflict; retrying')
      }
    }
    return {
      ok: false,
      error: { code: 'IPAM_CONFLICT', message: `gave up after ${this.maxAttempts} conflicting attempts (${last})` },
    }
  }

  /**
   * CNI ADD for a pod: an address under the pod's handle (the same one again if it already holds
   * one). `cni.projectcalico.org/ipAddrs` asks for a fixed address; `ipv4pools` on the pod or its
   * namespace chooses the pools.
   */
  async allocateForPod(pod: IpamPod): Promise<AllocateResult> {
    const handle = podHandleFor(pod)
    const ns = pod.metadata.namespace ?? 'default'
    const podName = pod.metadata.name ?? ''
    const [pools, nodeLabels, nsAnn] = await Promise.all([
      this.pools(),
      this.nodeLabels(),
      this.namespaceAnnotations(ns),
    ])
    const attrs = {
      namespace: ns,
      node: this.node,
      pod: podName,
      timestamp: goTime(this.clock.now()),
    }
    const podAnn = pod.metadata.annotations ?? {}
    let reused = false
    const r = await this.transact(handle, async (state) => {
      const existing = ipsForHandle(state, handle)[0]
      if (existing !== undefined) {
        reused = true
        return { ok: true, writes: [], value: { ip: existing, claimed: [] as string[] } }
      }
      const fixed = podAnn[ANNOTATION_IP_ADDRS]
      if (fixed !== undefined) {
        let ips: unknown
        try {
          ips = JSON.parse(fixed)
        } catch {
          ips = undefined
        }
        const ip = Array.isArray(ips) && typeof ips[0] === 'string' ? ips[0] : undefined
        if (ip === undefined)
          return {
            ok: false,
            error: { code: 'IPAM_BAD_ANNOTATION', message: `failed to parse '${fixed}' as a JSON list of IPs` },
          }
        const a = assignIP(state, { ip, node: this.node, handle, attrs, pools })
        return a.ok ? { ok: true, writes: a.writes, value: { ip: a.ip, claimed: a.claimed } } : a
      }
      const chosen = choosePools({ pools, nodeLabels, podAnnotations: podAnn, namespaceAnnotations: nsAnn })
      if (!chosen.ok) return chosen
      const a = autoAssign(state, { node: this.node, handle, attrs, pools: chosen.pools })
      if (!a.ok) return a
      return { ok: true, writes: a.writes, value: { ip: a.ips[0] as string, claimed: a.claimed } }
    })
    if (!r.ok) return r
    const pool = pools.find((p) => cidrHolds(p.cidr, r.value.ip))?.name
    if (!reused)
      this.log.info({ pod: podName, namespace: ns, ip: r.value.ip, pool, claimed: r.value.claimed }, 'ip assigned')
    return { ok: true, ip: r.value.ip, handle, pool, claimed: r.value.claimed, reused }
  }

  /** calico-node's allocateip: the node's tunnel address of `kind` (the one it holds, else a new one). */
  async allocateTunnel(kind: TunnelKind): Promise<AllocateResult> {
    const handle = tunnelHandle(kind, this.node)
    const [pools, nodeLabels] = await Promise.all([this.pools(), this.nodeLabels()])
    const usable = tunnelPools(pools, kind, nodeLabels)
    const r = await this.transact(handle, async (state) => {
      const a = assignTunnelAddress(state, { node: this.node, kind, pools: usable })
      return a.ok ? { ok: true, writes: a.writes, value: a.ip } : a
    })
    if (!r.ok) return r
    return {
      ok: true,
      ip: r.value,
      handle,
      pool: pools.find((p) => cidrHolds(p.cidr, r.value))?.name,
      claimed: [],
      reused: false,
    }
  }

  /** Releases the node's tunnel address of `kind` (nothing held is fine). */
  async releaseTunnel(kind: TunnelKind): Promise<string[]> {
    const handle = tunnelHandle(kind, this.node)
    const r = await this.transact(handle, async (state) => {
      const rel = releaseByHandle(state, handle)
      return rel.ok ? { ok: true, writes: rel.writes, value: rel.released } : rel
    })
    if (!r.ok) throw new Error(r.error.message)
    return r.value
  }

  /** CNI DEL: releases whatever the pod's handle holds (nothing is fine). */
  async releaseForPod(pod: IpamPod): Promise<string[]> {
    const handle = podHandleFor(pod)
    const r = await this.transact(handle, async (state) => {
      const rel = releaseByHandle(state, handle)
      if (!rel.ok) return rel
      return { ok: true, writes: rel.writes, value: rel.released }
    })
    if (!r.ok) throw new Error(r.error.message)
    if (r.value.length > 0)
      this.log.info({ pod: pod.metadata.name, namespace: pod.metadata.namespace, ips: r.value }, 'ip released')
    return r.value
  }
}

function cidrHolds(cidr: string, ip: string): boolean {
  const n = tryParseIPv4(ip)
  return n !== undefined && cidrContains(cidr, n)
}

/** Go's time.Time String(), as calico-ipam writes the `timestamp` attribute. */
function goTime(ms: number): string {
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000000 +0000 UTC`
}
