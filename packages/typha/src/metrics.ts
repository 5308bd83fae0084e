import { Counter, Gauge, Histogram, type Registry } from '@calilab/kit'

/** Typha's Prometheus metrics, registered on the caller's registry (never globally). */
export interface TyphaMetrics {
  connections: Gauge<'syncer'>
  cacheSize: Gauge
  cacheRevision: Gauge
  upstreamInSync: Gauge
  snapshotUpdates: Gauge<'syncer'>
  snapshotBytes: Gauge<'syncer'>
  snapshotSeconds: Histogram<'syncer'>
  snapshotsTotal: Counter<'syncer'>
  deltaUpdatesTotal: Counter<'syncer'>
  deltaFramesTotal: Counter<'syncer'>
  encodesTotal: Counter<'kind'>
  bytesOutTotal: Counter<'syncer'>
  clientLagRevisions: Histogram<'syncer'>
  maxClientLagRevisions: Gauge<'syncer'>
  disconnectsTotal: Counter<'reason'>
  socketWritesTotal: Counter<'syncer'>
  snapshotEncodeSeconds: Gauge<'syncer'>
  snapshotReusesTotal: Counter<'syncer'>
}

export function createTyphaMetrics(registry: Registry): TyphaMetrics {
  const r = [registry]
  return {
    connections: new Gauge({
      name: 'calilab_typha_connections',
      help: 'Clients connected, by syncer type (handshake not yet done: syncer="pending")',
      labelNames: ['syncer'],
      registers: r,
    }),
    cacheSize: new Gauge({ name: 'calilab_typha_cache_entries', help: 'Keys held in the cache', registers: r }),
    cacheRevision: new Gauge({
      name: 'calilab_typha_cache_revision',
      help: 'Newest upstream revision seen',
      registers: r,
    }),
    upstreamInSync: new Gauge({
      name: 'calilab_typha_upstream_in_sync',
      help: '1 when the upstream watch is in sync',
      registers: r,
    }),
    snapshotUpdates: new Gauge({
      name: 'calilab_typha_snapshot_updates',
      help: 'Updates in the newest snapshot sent, by syncer type',
      labelNames: ['syncer'],
      registers: r,
    }),
    snapshotBytes: new Gauge({
      name: 'calilab_typha_snapshot_bytes',
      help: 'Encoded size of the newest snapshot sent, by syncer type',
      labelNames: ['syncer'],
      registers: r,
    }),
    snapshotSeconds: new Histogram({
      name: 'calilab_typha_snapshot_send_seconds',
      help: 'From a client hello until its snapshot and in-sync left the process',
      labelNames: ['syncer'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    snapshotsTotal: new Counter({
      name: 'calilab_typha_snapshots_total',
      help: 'Snapshots sent',
      labelNames: ['syncer'],
      registers: r,
    }),
    deltaUpdatesTotal: new Counter({
      name: 'calilab_typha_delta_updates_total',
      help: 'Updates fanned out as deltas (counted once per encoded batch, not per client)',
      labelNames: ['syncer'],
      registers: r,
    }),
    deltaFramesTotal: new Counter({
      name: 'calilab_typha_delta_frames_total',
      help: 'Delta frames encoded (each written to every live client of the syncer type)',
      labelNames: ['syncer'],
      registers: r,
    }),
    encodesTotal: new Counter({
      name: 'calilab_typha_encodes_total',
      help: 'Frames encoded, by kind (deltas, snapshot, ping, control)',
      labelNames: ['kind'],
      registers: r,
    }),
    bytesOutTotal: new Counter({
      name: 'calilab_typha_bytes_out_total',
      help: 'Bytes written to clients',
      labelNames: ['syncer'],
      registers: r,
    }),
    clientLagRevisions: new Histogram({
      name: 'calilab_typha_client_lag_revisions',
      help: 'Per-client lag behind the cache, in revisions (sampled every housekeeping tick)',
      labelNames: ['syncer'],
      buckets: [0, 1, 10, 100, 1000, 10000, 100000],
      registers: r,
    }),
    maxClientLagRevisions: new Gauge({
      name: 'calilab_typha_client_lag_revisions_max',
      help: 'Largest per-client lag at the last housekeeping tick',
      labelNames: ['syncer'],
      registers: r,
    }),
    disconnectsTotal: new Counter({
      name: 'calilab_typha_disconnects_total',
      help: 'Clients disconnected, by reason (lag-bytes and lag-revisions are the slow-client cuts)',
      labelNames: ['reason'],
      registers: r,
    }),
    socketWritesTotal: new Counter({
      name: 'calilab_typha_socket_writes_total',
      help: 'Coalesced socket writes: every frame queued for a client within one tick goes out in one writev',
      labelNames: ['syncer'],
      registers: r,
    }),
    snapshotEncodeSeconds: new Gauge({
      name: 'calilab_typha_snapshot_encode_seconds',
      help: 'Time the newest snapshot took to encode (once, whatever the number of clients it serves)',
      labelNames: ['syncer'],
      registers: r,
    }),
    snapshotReusesTotal: new Counter({
      name: 'calilab_typha_snapshot_reuses_total',
      help: 'Snapshots served from already-encoded frames (plus the delta frames since) instead of a new encode',
      labelNames: ['syncer'],
      registers: r,
    }),
  }
}
