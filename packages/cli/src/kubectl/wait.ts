import type { KubeObject } from '@calilab/model'
import type { KubeClient } from '../kube.ts'
import { isNotFound } from './client.ts'

/** An object a DELETE was accepted for: its path, uid and kubectl's `kind/name`. */
export interface Deleted {
  path: string
  uid: string | undefined
  ref: string
}

/**
 * kubectl's `delete --wait` (its default): after the deletes, wait until each object is gone (404,
 * or another object with a new uid under the name). A namespace is removed only once the namespace
 * controller has emptied it. Returns kubectl's error line on timeout.
 */
export async function waitDeleted(
  client: KubeClient,
  items: Deleted[],
  timeoutMs = 60_000,
): Promise<string | undefined> {
  const end = Date.now() + timeoutMs
  let left = items
  while (left.length) {
    const still: Deleted[] = []
    for (const d of left) {
      try {
        const o = await client.get<KubeObject>(d.path)
        if (d.uid === undefined || o.metadata.uid === d.uid) still.push(d)
      } catch (e) {
        if (!isNotFound(e)) throw e
      }
    }
    left = still
    if (!left.length) break
    if (Date.now() > end) return `error: timed out waiting for the condition on ${left[0]?.ref}`
    await new Promise((r) => setTimeout(r, 100))
  }
  return undefined
}
