import { Counter, Gauge, Histogram, type Registry } from '@calilab/kit'

/** The API server's metrics on a per-instance registry (never the global one). */
export interface ApiServerMetrics {
  readonly registry: Registry
  /** verb: get|list|watch|create|update|patch|delete|deletecollection|proxy|other; resource: plural[/sub]. */
  requests: Counter<'verb' | 'resource' | 'code'>
  latency: Histogram<'verb' | 'resource'>
  watches: Gauge<'resource'>
  /** Set from the store on every scrape. */
  storeRevision: Gauge
}

export function createApiServerMetrics(registry: Registry, store?: { readonly revision: number }): ApiServerMetrics {
  const requests = new Counter({
    name: 'calilab_apiserver_requests_total',
    help: 'API requests by verb, resource and HTTP code',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [registry],
  })
  const latency = new Histogram({
    name: 'calilab_apiserver_request_duration_seconds',
    help: 'API request latency (watches excluded) by verb and resource',
    labelNames: ['verb', 'resource'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  })
  const watches = new Gauge({
    name: 'calilab_apiserver_watches',
    help: 'Open watch streams by resource',
    labelNames: ['resource'] as const,
    registers: [registry],
  })
  const storeRevision = new Gauge({
    name: 'calilab_apiserver_store_revision',
    help: 'Last committed store revision',
    registers: [registry],
    collect() {
      if (store) this.set(store.revision)
    },
  })
  return { registry, requests, latency, watches, storeRevision }
}
