import { collectDefaultMetrics, Registry } from 'prom-client'

export { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client'

/**
 * A fresh registry per process or per emulated node: metrics are never registered globally, so
 * several nodes can share one process.
 */
export function createRegistry(opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}): Registry {
  const r = new Registry()
  if (opts.labels) r.setDefaultLabels(opts.labels)
  if (opts.defaultMetrics) collectDefaultMetrics({ register: r, prefix: 'calilab_process_' })
  return r
}
