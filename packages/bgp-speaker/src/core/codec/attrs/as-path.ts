/** AS_PATH and AS4_PATH (RFC 4271 §4.3, RFC 6793): segments of 2- or 4-byte AS numbers. */

import { u16, u32, type Writer } from '../bytes.ts'
import { AS_TRANS } from '../open.ts'
import { type AsPathSegment, SEG } from './types.ts'

/** Parses segments; undefined when malformed (bad segment type, zero length, overrun). */
export function readAsPath(v: Uint8Array, asnBytes: 2 | 4): AsPathSegment[] | undefined {
  const segs: AsPathSegment[] = []
  let at = 0
  while (at < v.length) {
    if (at + 2 > v.length) return undefined
    const type = v[at] ?? 0
    const n = v[at + 1] ?? 0
    if (type < SEG.AS_SET || type > SEG.AS_CONFED_SET || n === 0) return undefined
    at += 2
    if (at + n * asnBytes > v.length) return undefined
    const asns: number[] = new Array(n)
    for (let i = 0; i < n; i++) asns[i] = asnBytes === 4 ? u32(v, at + 4 * i) : u16(v, at + 2 * i)
    at += n * asnBytes
    segs.push({ type, asns })
  }
  return segs
}

/** Writes segments, splitting any longer than 255 ASes; 2-byte form maps big ASes to AS_TRANS. */
export function writeAsPath(w: Writer, segs: readonly AsPathSegment[], asnBytes: 2 | 4): void {
  for (const s of segs) {
    for (let i = 0; i < s.asns.length; i += 255) {
      const part = s.asns.slice(i, i + 255)
      w.u8(s.type).u8(part.length)
      for (const a of part) {
        if (asnBytes === 4) w.u32(a)
        else w.u16(a > 0xffff ? AS_TRANS : a)
      }
    }
  }
}

export function needsAs4Path(segs: readonly AsPathSegment[]): boolean {
  return segs.some((s) => s.asns.some((a) => a > 0xffff))
}

/** Path length for best-path selection: a set counts 1, confederation segments 0 (RFC 4271 §9.1.2.2). */
export function asPathLength(segs: readonly AsPathSegment[]): number {
  let n = 0
  for (const s of segs) {
    if (s.type === SEG.AS_SEQUENCE) n += s.asns.length
    else if (s.type === SEG.AS_SET) n += 1
  }
  return n
}

export function asPathContains(segs: readonly AsPathSegment[], asn: number): boolean {
  return segs.some((s) => s.asns.includes(asn))
}

/** The first AS of the path (the neighbour AS for MED comparison), if the path starts with a sequence. */
export function firstAs(segs: readonly AsPathSegment[]): number | undefined {
  const s = segs[0]
  return s && s.type === SEG.AS_SEQUENCE ? s.asns[0] : undefined
}

export function prependAs(segs: readonly AsPathSegment[], asn: number): AsPathSegment[] {
  const first = segs[0]
  if (first && first.type === SEG.AS_SEQUENCE && first.asns.length < 255) {
    return [{ type: SEG.AS_SEQUENCE, asns: [asn, ...first.asns] }, ...segs.slice(1)]
  }
  return [{ type: SEG.AS_SEQUENCE, asns: [asn] }, ...segs]
}

/** RFC 6793 §4.2.3: rebuild the true path from a 2-byte AS_PATH and an AS4_PATH. */
export function mergeAs4Path(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[]): AsPathSegment[] {
  const count = (p: readonly AsPathSegment[]) =>
    p.reduce((n, s) => n + (s.type === SEG.AS_SET || s.type === SEG.AS_CONFED_SET ? 1 : s.asns.length), 0)
  const n = count(asPath)
  const m = count(as4Path)
  if (n < m) return asPath.map((s) => ({ type: s.type, asns: [...s.asns] }))
  let keep = n - m
  const out: AsPathSegment[] = []
  for (const s of asPath) {
    if (keep <= 0) break
    if (s.type === SEG.AS_SET || s.type === SEG.AS_CONFED_SET) {
      out.push({ type: s.type, asns: [...s.asns] })
      keep -= 1
    } else {
      const take = s.asns.slice(0, keep)
      out.push({ type: s.type, asns: take })
      keep -= take.length
    }
  }
  for (const s of as4Path) out.push({ type: s.type, asns: [...s.asns] })
  return out
}

export function formatAsPath(segs: readonly AsPathSegment[]): string {
  return segs
    .map((s) =>
      s.type === SEG.AS_SEQUENCE
        ? s.asns.join(' ')
        : s.type === SEG.AS_SET
          ? `{${s.asns.join(' ')}}`
          : `(${s.asns.join(' ')})`,
    )
    .join(' ')
}
