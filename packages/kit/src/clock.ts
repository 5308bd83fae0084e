/** Injectable time. `src/core/` code receives a Clock and never reads time itself. */
export interface Timer {
  cancel(): void
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Monotonic milliseconds (for durations). */
  monotonic(): number
  setTimeout(fn: () => void, ms: number): Timer
  setInterval(fn: () => void, ms: number): Timer
}

export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimeout(fn, ms) {
      const h = setTimeout(fn, ms)
      h.unref?.()
      return { cancel: () => clearTimeout(h) }
    },
    setInterval(fn, ms) {
      const h = setInterval(fn, ms)
      h.unref?.()
      return { cancel: () => clearInterval(h) }
    },
  }
}

interface Pending {
  at: number
  seq: number
  fn: () => void
  every?: number
  cancelled: boolean
}

/** A clock that only moves when told to: `advance(ms)` fires due timers in order. */
export class FakeClock implements Clock {
  private t: number
  private mono = 0
  private seq = 0
  private pending: Pending[] = []

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start
  }

  now(): number {
    return this.t
  }

  monotonic(): number {
    return this.mono
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms)
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, Math.max(1, ms))
  }

  /** Number of timers still waiting to fire. */
  get timerCount(): number {
    return this.pending.filter((p) => !p.cancelled).length
  }

  advance(ms: number): void {
    const target = this.mono + ms
    for (;;) {
      const next = this.pending
        .filter((p) => !p.cancelled && p.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (!next) break
      this.t += next.at - this.mono
      this.mono = next.at
      if (next.every !== undefined) next.at += next.every
      else next.cancelled = true
      next.fn()
    }
    this.t += target - this.mono
    this.mono = target
    this.pending = this.pending.filter((p) => !p.cancelled)
  }

  private schedule(fn: () => void, ms: number, every?: number): Timer {
    const p: Pending = { at: this.mono + Math.max(0, ms), seq: this.seq++, fn, cancelled: false }
    if (every !== undefined) p.every = every
    this.pending.push(p)
    return { cancel: () => (p.cancelled = true) }
  }
}
