/**
 * Path attribute list codec with RFC 7606 revised error handling. Each malformed attribute gets
 * one of three outcomes: attribute discard, treat-as-withdraw, or session reset (only where
 * RFC 7606 still requires it: an unrecognised well-known attribute).
 */
import { u16, u32, Writer } from '../bytes.ts'
import { type BgpDecodeError, type BgpErrorCode, bgpError, ERR, UPDATE_SUB } from '../errors.ts'
import { AS_TRANS } from '../open.ts'
import { mergeAs4Path, needsAs4Path, readAsPath, writeAsPath } from './as-path.ts'
import { type AsPathSegment, ATTR, type CodecContext, FLAG, type PathAttributes, type RawAttribute } from './types.ts'

export interface AttributesResult {
  attrs: Partial<PathAttributes>
  /** Set when a malformed attribute makes the UPDATE's NLRI count as withdrawn. */
  treatAsWithdraw?: BgpDecodeError
  /** Attributes dropped by attribute discard (logged, not fatal). */
  discarded: BgpDecodeError[]
  /** Set when the session must be reset with this NOTIFICATION. */
  reset?: BgpDecodeError
}

type Outcome = 'discard' | 'withdraw'

/** Expected Optional/Transitive bits of the attributes we interpret. */
const EXPECTED_FLAGS: Record<number, number> = {
  [ATTR.ORIGIN]: FLAG.TRANSITIVE,
  [ATTR.AS_PATH]: FLAG.TRANSITIVE,
  [ATTR.NEXT_HOP]: FLAG.TRANSITIVE,
  [ATTR.MULTI_EXIT_DISC]: FLAG.OPTIONAL,
  [ATTR.LOCAL_PREF]: FLAG.TRANSITIVE,
  [ATTR.ATOMIC_AGGREGATE]: FLAG.TRANSITIVE,
  [ATTR.AGGREGATOR]: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  [ATTR.COMMUNITIES]: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  [ATTR.ORIGINATOR_ID]: FLAG.OPTIONAL,
  [ATTR.CLUSTER_LIST]: FLAG.OPTIONAL,
  [ATTR.AS4_PATH]: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  [ATTR.AS4_AGGREGATOR]: FLAG.OPTIONAL | FLAG.TRANSITIVE,
}

/** RFC 7606 §7: what a malformed instance of each attribute costs. */
const ON_MALFORMED: Record<number, Outcome> = {
  [ATTR.ORIGIN]: 'withdraw',
  [ATTR.AS_PATH]: 'withdraw',
  [ATTR.NEXT_HOP]: 'withdraw',
  [ATTR.MULTI_EXIT_DISC]: 'withdraw',
  [ATTR.LOCAL_PREF]: 'withdraw',
  [ATTR.ATOMIC_AGGREGATE]: 'discard',
  [ATTR.AGGREGATOR]: 'discard',
  [ATTR.COMMUNITIES]: 'withdraw',
  [ATTR.ORIGINATOR_ID]: 'withdraw',
  [ATTR.CLUSTER_LIST]: 'withdraw',
  [ATTR.AS4_PATH]: 'discard',
  [ATTR.AS4_AGGREGATOR]: 'discard',
}

const KIND_OF_SUB: Record<number, BgpErrorCode> = {
  1: 'BGP_UPDATE_MALFORMED_ATTRIBUTE_LIST',
  2: 'BGP_UPDATE_UNRECOGNIZED_WELL_KNOWN',
  3: 'BGP_UPDATE_MISSING_WELL_KNOWN',
  4: 'BGP_UPDATE_ATTRIBUTE_FLAGS',
  5: 'BGP_UPDATE_ATTRIBUTE_LENGTH',
  6: 'BGP_UPDATE_INVALID_ORIGIN',
  8: 'BGP_UPDATE_INVALID_NEXT_HOP',
  9: 'BGP_UPDATE_OPTIONAL_ATTRIBUTE',
  10: 'BGP_UPDATE_INVALID_NETWORK_FIELD',
  11: 'BGP_UPDATE_MALFORMED_AS_PATH',
}

export function updateError(subcode: number, message: string, data?: Uint8Array): BgpDecodeError {
  return bgpError(KIND_OF_SUB[subcode] ?? 'BGP_UPDATE_MALFORMED_ATTRIBUTE_LIST', ERR.UPDATE, subcode, message, data)
}

function validNextHop(a: number): boolean {
  // Not 0.0.0.0, not class D/E or broadcast (RFC 4271 §6.3). Loopback is allowed: tests use it.
  return a !== 0 && a >>> 28 < 0xe
}

/** Parses one attribute value into `out`; returns the UPDATE subcode when malformed. */
function parseValue(
  type: number,
  v: Uint8Array,
  ctx: CodecContext,
  out: Partial<PathAttributes>,
  side: Side,
): number | undefined {
  switch (type) {
    case ATTR.ORIGIN:
      if (v.length !== 1) return UPDATE_SUB.ATTRIBUTE_LENGTH
      if ((v[0] ?? 0) > 2) return UPDATE_SUB.INVALID_ORIGIN
      out.origin = v[0] ?? 0
      return undefined
    case ATTR.AS_PATH: {
      const p = readAsPath(v, ctx.as4 ? 4 : 2)
      if (!p) return UPDATE_SUB.MALFORMED_AS_PATH
      out.asPath = p
      return undefined
    }
    case ATTR.NEXT_HOP:
      if (v.length !== 4) return UPDATE_SUB.ATTRIBUTE_LENGTH
      if (!validNextHop(u32(v, 0))) return UPDATE_SUB.INVALID_NEXT_HOP
      out.nextHop = u32(v, 0)
      return undefined
    case ATTR.MULTI_EXIT_DISC:
      if (v.length !== 4) return UPDATE_SUB.ATTRIBUTE_LENGTH
      out.med = u32(v, 0)
      return undefined
    case ATTR.LOCAL_PREF:
      if (v.length !== 4) return UPDATE_SUB.ATTRIBUTE_LENGTH
      out.localPref = u32(v, 0)
      return undefined
    case ATTR.ATOMIC_AGGREGATE:
      if (v.length !== 0) return UPDATE_SUB.ATTRIBUTE_LENGTH
      out.atomicAggregate = true
      return undefined
    case ATTR.AGGREGATOR:
      if (v.length !== (ctx.as4 ? 8 : 6)) return UPDATE_SUB.ATTRIBUTE_LENGTH
      out.aggregator = ctx.as4 ? { asn: u32(v, 0), addr: u32(v, 4) } : { asn: u16(v, 0), addr: u32(v, 2) }
      return undefined
    case ATTR.COMMUNITIES:
      if (v.length === 0 || v.length % 4 !== 0) return UPDATE_SUB.ATTRIBUTE_LENGTH
      out.communities = Array.from({ length: v.length / 4 }, (_, i) => u32(v, 4 * i))
      return undefined
    case ATTR.ORIGINATOR_ID:
      if (v.length !== 4) return UPDATE_SUB.ATTRIBUTE_LENGTH
      out.originatorId = u32(v, 0)
      return undefined
    case ATTR.CLUSTER_LIST:
      if (v.length === 0 || v.length % 4 !== 0) return UPDATE_SUB.ATTRIBUTE_LENGTH
      out.clusterList = Array.from({ length: v.length / 4 }, (_, i) => u32(v, 4 * i))
      return undefined
    case ATTR.AS4_PATH: {
      const p = readAsPath(v, 4)
      if (!p) return UPDATE_SUB.MALFORMED_AS_PATH
      side.as4Path = p
      return undefined
    }
    case ATTR.AS4_AGGREGATOR:
      if (v.length !== 8) return UPDATE_SUB.ATTRIBUTE_LENGTH
      side.as4Aggregator = { asn: u32(v, 0), addr: u32(v, 4) }
      return undefined
  }
  return undefined
}

interface Side {
  as4Path?: AsPathSegment[]
  as4Aggregator?: { asn: number; addr: number }
}

/** Decodes the path attribute section `b` of an UPDATE. Never throws. */
export function decodeAttributes(b: Uint8Array, ctx: CodecContext): AttributesResult {
  const res: AttributesResult = { attrs: {}, discarded: [] }
  const seen = new Set<number>()
  const side: Side = {}
  const unknown: RawAttribute[] = []
  let at = 0
  while (at < b.length) {
    if (at + 3 > b.length) {
      res.treatAsWithdraw ??= updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'truncated attribute header')
      break
    }
    const flags = b[at] ?? 0
    const type = b[at + 1] ?? 0
    const ext = (flags & FLAG.EXTENDED_LENGTH) !== 0
    const hlen = ext ? 4 : 3
    if (at + hlen > b.length) {
      res.treatAsWithdraw ??= updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'truncated attribute header')
      break
    }
    const len = ext ? u16(b, at + 2) : (b[at + 2] ?? 0)
    if (at + hlen + len > b.length) {
      // RFC 7606 §4: the NLRI can still be located from the total length: treat-as-withdraw.
      res.treatAsWithdraw ??= updateError(
        UPDATE_SUB.ATTRIBUTE_LENGTH,
        `attribute ${type} runs past the attribute section`,
      )
      break
    }
    const whole = b.subarray(at, at + hlen + len)
    const v = b.subarray(at + hlen, at + hlen + len)
    at += hlen + len
    if (type === ATTR.MP_REACH_NLRI || type === ATTR.MP_UNREACH_NLRI) {
      // Only IPv4 unicast is negotiated; other families are ignored (RFC 4760 §7).
      if (seen.has(type)) {
        res.reset = updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'duplicate MP_REACH/MP_UNREACH attribute')
        return res
      }
      seen.add(type)
      continue
    }
    if (seen.has(type)) {
      // RFC 7606 §3(g): keep the first, discard the rest.
      res.discarded.push(updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, `duplicate attribute ${type}`, whole.slice()))
      continue
    }
    seen.add(type)
    const expected = EXPECTED_FLAGS[type]
    if (expected === undefined) {
      if ((flags & FLAG.OPTIONAL) === 0) {
        res.reset = updateError(
          UPDATE_SUB.UNRECOGNIZED_WELL_KNOWN,
          `unrecognized well-known attribute ${type}`,
          whole.slice(),
        )
        return res
      }
      if ((flags & FLAG.TRANSITIVE) !== 0) unknown.push({ flags: flags | FLAG.PARTIAL, type, value: v.slice() })
      continue
    }
    const badFlags =
      (flags & (FLAG.OPTIONAL | FLAG.TRANSITIVE)) !== expected ||
      ((flags & FLAG.OPTIONAL) === 0 && (flags & FLAG.PARTIAL) !== 0)
    const sub = badFlags ? UPDATE_SUB.ATTRIBUTE_FLAGS : parseValue(type, v, ctx, res.attrs, side)
    if (sub === undefined) continue
    const err = updateError(sub, `malformed attribute ${type}`, whole.slice())
    if (badFlags || ON_MALFORMED[type] === 'withdraw') res.treatAsWithdraw ??= err
    else res.discarded.push(err)
  }
  if (!ctx.as4) {
    const agg = res.attrs.aggregator
    if (agg && agg.asn !== AS_TRANS) {
      // RFC 6793 §4.2.3: a real 2-byte aggregator means the AS4 attributes are stale.
    } else {
      if (side.as4Aggregator) res.attrs.aggregator = side.as4Aggregator
      if (side.as4Path && res.attrs.asPath) res.attrs.asPath = mergeAs4Path(res.attrs.asPath, side.as4Path)
    }
  }
  if (unknown.length > 0) res.attrs.unknown = unknown
  return res
}

function attr(w: Writer, flags: number, type: number, value: Uint8Array): void {
  if (value.length > 255)
    w.u8(flags | FLAG.EXTENDED_LENGTH)
      .u8(type)
      .u16(value.length)
  else
    w.u8(flags & ~FLAG.EXTENDED_LENGTH)
      .u8(type)
      .u8(value.length)
  w.bytes(value)
}

function u32s(xs: readonly number[]): Uint8Array {
  const w = new Writer(xs.length * 4)
  for (const x of xs) w.u32(x)
  return w.finish()
}

/** Encodes attributes in type order; with 2-byte sessions adds AS4_PATH / AS4_AGGREGATOR as needed. */
export function encodeAttributes(a: PathAttributes, ctx: CodecContext): Uint8Array {
  const w = new Writer(64)
  attr(w, FLAG.TRANSITIVE, ATTR.ORIGIN, Uint8Array.of(a.origin))
  const p = new Writer(32)
  writeAsPath(p, a.asPath, ctx.as4 ? 4 : 2)
  attr(w, FLAG.TRANSITIVE, ATTR.AS_PATH, p.finish())
  if (a.nextHop !== undefined) attr(w, FLAG.TRANSITIVE, ATTR.NEXT_HOP, u32s([a.nextHop]))
  if (a.med !== undefined) attr(w, FLAG.OPTIONAL, ATTR.MULTI_EXIT_DISC, u32s([a.med]))
  if (a.localPref !== undefined) attr(w, FLAG.TRANSITIVE, ATTR.LOCAL_PREF, u32s([a.localPref]))
  if (a.atomicAggregate === true) attr(w, FLAG.TRANSITIVE, ATTR.ATOMIC_AGGREGATE, new Uint8Array(0))
  if (a.aggregator) {
    const g = a.aggregator
    const v = ctx.as4
      ? u32s([g.asn, g.addr])
      : new Writer(6)
          .u16(g.asn > 0xffff ? AS_TRANS : g.asn)
          .u32(g.addr)
          .finish()
    attr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.AGGREGATOR, v)
  }
  if (a.communities && a.communities.length > 0)
    attr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.COMMUNITIES, u32s(a.communities))
  if (a.originatorId !== undefined) attr(w, FLAG.OPTIONAL, ATTR.ORIGINATOR_ID, u32s([a.originatorId]))
  if (a.clusterList && a.clusterList.length > 0) attr(w, FLAG.OPTIONAL, ATTR.CLUSTER_LIST, u32s(a.clusterList))
  if (!ctx.as4 && needsAs4Path(a.asPath)) {
    const q = new Writer(32)
    writeAsPath(q, a.asPath, 4)
    attr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.AS4_PATH, q.finish())
  }
  if (!ctx.as4 && a.aggregator && a.aggregator.asn > 0xffff) {
    attr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.AS4_AGGREGATOR, u32s([a.aggregator.asn, a.aggregator.addr]))
  }
  for (const u of a.unknown ?? []) attr(w, u.flags, u.type, u.value)
  return w.finish()
}
