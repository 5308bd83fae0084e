import type { SyncerType } from '@calilab/proto'

/**
 * A snapshot encoded once at `revision` and shared by every client that connects while it is
 * fresh: those get `frames` (chunks + in-sync) and then `tail`, the delta frames flushed since.
 */
export interface SnapshotFrames {
  revision: number
  frames: Buffer[]
  bytes: number
  updates: number
  encodedAt: number
  tail: { frame: Buffer; revision: number }[]
  tailBytes: number
}

export interface SnapshotStoreLimits {
  /** Reuse encoded frames for this long after encoding while the cache moves on (ms). */
  maxAgeMs: number
  /** Drop the encoded frames once the delta frames flushed since exceed this many bytes. */
  maxTailBytes: number
}

/**
 * Encoded snapshots per syncer type (Calico's "binary snapshot", cached for 1 s). Pure: time is
 * passed in, encoding is done by the caller.
 */
export class SnapshotStore {
  private readonly byType = new Map<SyncerType, SnapshotFrames>()
  private readonly limits: SnapshotStoreLimits

  constructor(limits: SnapshotStoreLimits) {
    this.limits = limits
  }

  /** The shared snapshot a client connecting now may take, if any is fresh enough. */
  fresh(t: SyncerType, cacheRevision: number, now: number): SnapshotFrames | undefined {
    const s = this.byType.get(t)
    if (!s) return undefined
    if (s.revision === cacheRevision || now - s.encodedAt <= this.limits.maxAgeMs) return s
    return undefined
  }

  put(t: SyncerType, revision: number, frames: Buffer[], updates: number, now: number): SnapshotFrames {
    const s: SnapshotFrames = {
      revision,
      frames,
      bytes: frames.reduce((n, f) => n + f.length, 0),
      updates,
      encodedAt: now,
      tail: [],
      tailBytes: 0,
    }
    this.byType.set(t, s)
    return s
  }

  /** A delta frame was flushed: clients that take the stored snapshot later need it after it. */
  appendTail(t: SyncerType, frame: Buffer, revision: number): void {
    const s = this.byType.get(t)
    if (!s) return
    s.tail.push({ frame, revision })
    s.tailBytes += frame.length
    if (s.tailBytes > this.limits.maxTailBytes) this.byType.delete(t)
  }
}
