/** Names, uids and timestamps for new objects. Randomness and time come in as arguments. */
import type { Rng } from '@calilab/kit'

/** `metadata.generateName` + 5 characters of the Kubernetes alphabet (`bcdfghjklmnpqrstvwxz2456789`). */
export function generateName(prefix: string, rng: Rng): string {
  return prefix + rng.suffix(5)
}

/** A random (version 4) UUID in its text form, drawn from `rng`. */
export function newUid(rng: Rng): string {
  const b: number[] = []
  for (let i = 0; i < 16; i++) b.push(rng.int(256))
  b[6] = ((b[6] as number) & 0x0f) | 0x40
  b[8] = ((b[8] as number) & 0x3f) | 0x80
  const h = b.map((x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** RFC 3339 with seconds precision in UTC, as metav1.Time marshals: `2026-11-23T05:03:53Z`. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

/** Parses an RFC 3339 timestamp to epoch ms; undefined when absent or malformed. */
export function parseTimestamp(s: unknown): number | undefined {
  if (typeof s !== 'string' || s === '') return undefined
  const ms = Date.parse(s)
  return Number.isNaN(ms) ? undefined : ms
}
