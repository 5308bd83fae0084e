/** BIRD's time columns. Pure: `now` and the UTC offset are passed in. */

export interface ViewClock {
  /** clock.now() when the view is printed. */
  now: number
  /** Minutes east of UTC for wall-clock times (default 0: UTC). */
  utcOffsetMinutes?: number
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/**
 * BIRD's `iso short` (`%T`, or `%F` when older than 20 hours) and, with `ms`, BIRD 2's default
 * `iso short ms` (`%T.%3f`).
 */
export function birdTime(at: number, clock: ViewClock, ms: boolean): string {
  const d = new Date(at + (clock.utcOffsetMinutes ?? 0) * 60_000)
  if (clock.now - at >= 20 * 3600_000) {
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
  }
  const t = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  return ms ? `${t}.${pad(d.getUTCMilliseconds(), 3)}` : t
}
