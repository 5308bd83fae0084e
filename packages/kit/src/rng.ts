/** Injectable randomness. Seeded generators make random tests and chaos runs replayable. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Integer in [0, n). */
  int(n: number): number
  /** `len` lowercase alphanumeric characters (Kubernetes generateName alphabet). */
  suffix(len: number): string
  readonly seed: number
}

const K8S_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

/** mulberry32: small, fast, good enough for tests and emulation. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    seed,
    next,
    int: (n) => Math.floor(next() * n),
    suffix(len) {
      let s = ''
      for (let i = 0; i < len; i++) s += K8S_ALPHABET[Math.floor(next() * K8S_ALPHABET.length)]
      return s
    },
  }
}

/** A randomly seeded generator (the shell's choice; the seed is kept so it can be logged). */
export function systemRng(): Rng {
  return seededRng(Math.floor(Math.random() * 2 ** 32))
}
