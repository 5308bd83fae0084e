/**
 * The pod-template-hash as Kubernetes computes it (pkg/controller/controller_utils.go
 * ComputeHash): an FNV-32a hash over the template (plus the collision count), rendered with
 * rand.SafeEncodeString. Kubernetes feeds the hasher with a `%#v` dump of the Go struct
 * (hashutil.DeepHashObject); we feed a canonical JSON rendering (sorted keys) instead, so the
 * value is stable and changes exactly when the template does, but is not bit-for-bit the one a
 * real cluster prints for the same manifest.
 */

import { canonicalJson } from '@calilab/kit'

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

export function fnv32a(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (const b of bytes) {
    h ^= b
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** rand.SafeEncodeString: each character mapped into the vowel-free alphabet. */
export function safeEncodeString(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length]
  return out
}

export function computeHash(template: unknown, collisionCount?: number): string {
  const enc = new TextEncoder()
  let h = fnv32a(enc.encode(canonicalJson(template)))
  if (collisionCount !== undefined) {
    // Kubernetes writes the collision count as 4 little-endian bytes into the same hasher.
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true)
    h = fnv32a(b, h)
  }
  return safeEncodeString(String(h))
}
