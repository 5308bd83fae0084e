/**
 * IPAM state and results: Calico's model (libcalico-go/lib/ipam) as plain values. The state is
 * what the node agent (or the controller) last read from the datastore; every operation returns a
 * new state plus the resource writes that carry it to the store (projectcalico.org/v3 IPAMBlock,
 * BlockAffinity, IPAMHandle), each update naming the resourceVersion it was computed from so the
 * shell can write with optimistic concurrency and retry the whole operation on a conflict.
 */

import type { AllocationAttribute, EncapMode, IPAMBlockSpec, KubeObject } from '@calilab/model'

export type PoolUse = 'Workload' | 'Tunnel' | 'LoadBalancer'

/** An IP pool reduced to what IPAM reads (see `poolFromResource`). */
export interface PoolInfo {
  readonly name: string
  /** Network form, e.g. `198.19.16.0/21`. */
  readonly cidr: string
  readonly blockSize: number
  /** Selector source; `all()` by default, `!all()` for annotation-only pools. */
  readonly nodeSelector: string
  readonly disabled: boolean
  readonly natOutgoing: boolean
  readonly ipipMode: EncapMode
  readonly vxlanMode: EncapMode
  readonly allowedUses: readonly PoolUse[]
}

export interface IpamConfig {
  readonly strictAffinity: boolean
  readonly autoAllocateBlocks: boolean
  /** 0 = the built-in cap (`DEFAULT_MAX_BLOCKS_PER_HOST`). */
  readonly maxBlocksPerHost: number
}

export const DEFAULT_MAX_BLOCKS_PER_HOST = 20

export const DEFAULT_IPAM_CONFIG: IpamConfig = Object.freeze({
  strictAffinity: false,
  autoAllocateBlocks: true,
  maxBlocksPerHost: 0,
})

export interface Stored<S> {
  readonly spec: S
  /** The version last read from the store; undefined for objects this state created. */
  readonly resourceVersion?: string | undefined
}

export type AffinityState = 'confirmed' | 'pending' | 'pendingDeletion'
export interface AffinitySpec {
  state: AffinityState
  node: string
  cidr: string
  deleted: string
}
export interface HandleSpec {
  handleID: string
  block: Record<string, number>
  deleted: boolean
}

export interface IpamState {
  /** Keyed by block CIDR (`198.19.21.0/26`). */
  readonly blocks: ReadonlyMap<string, Stored<IPAMBlockSpec>>
  /** Keyed by BlockAffinity name (`node1-198-19-21-0-26`). */
  readonly affinities: ReadonlyMap<string, Stored<AffinitySpec>>
  /** Keyed by handle id as written (`k8s-pod-network.<containerID>`). */
  readonly handles: ReadonlyMap<string, Stored<HandleSpec>>
  readonly config: IpamConfig
}

export type IpamKind = 'IPAMBlock' | 'BlockAffinity' | 'IPAMHandle'

export type IpamWrite =
  | { readonly op: 'create'; readonly kind: IpamKind; readonly name: string; readonly object: KubeObject }
  | {
      readonly op: 'update'
      readonly kind: IpamKind
      readonly name: string
      readonly object: KubeObject
      readonly resourceVersion: string | undefined
    }
  | {
      readonly op: 'delete'
      readonly kind: IpamKind
      readonly name: string
      readonly resourceVersion: string | undefined
    }

export type IpamErrorCode =
  | 'IPAM_NO_POOLS'
  | 'IPAM_POOL_NOT_FOUND'
  | 'IPAM_POOL_DISABLED'
  | 'IPAM_BAD_ANNOTATION'
  | 'IPAM_NO_IPS'
  | 'IPAM_NOT_IN_POOL'
  | 'IPAM_IP_IN_USE'
  | 'IPAM_AFFINITY_MISMATCH'
  | 'IPAM_BAD_IP'

export interface IpamError {
  readonly code: IpamErrorCode
  readonly message: string
}

export type IpamResult<T> =
  | ({ readonly ok: true; readonly state: IpamState; readonly writes: readonly IpamWrite[] } & T)
  | { readonly ok: false; readonly error: IpamError }

/** Secondary attributes Calico records per allocation (`namespace`, `node`, `pod`, `timestamp`, `type`). */
export type AllocationAttrs = Readonly<Record<string, string>>

export type { AllocationAttribute }
