/**
 * The UPDATE decoder of the receive path: the same checks and RFC 7606 handling as
 * {@link decodeUpdate}, but NLRI and withdrawn routes come out as prefix keys (`prefixKey`, plain
 * numbers) with no object per prefix, and the path attribute section is decoded once per distinct
 * byte string: an {@link AttrCache} (one per session: the decoding depends on the session's
 * 4-byte-AS context) hands every UPDATE with the same attribute bytes the same, shared
 * `PathAttributes` object. A full-table feed packs ~1,000 prefixes with one attribute set into each
 * 4096-byte UPDATE and repeats that set in every UPDATE, so the RIB sees a handful of objects.
 * Shared attribute objects are never mutated (the RIB copies when it changes anything).
 */
import { type AttributesResult, decodeAttributes, updateError } from './attrs/attributes.ts'
import type { CodecContext, PathAttributes } from './attrs/types.ts'
import { u16 } from './bytes.ts'
import type { BgpDecodeError, Decoded } from './errors.ts'
import { UPDATE_SUB } from './errors.ts'
import { HEADER_LEN } from './header.ts'
import { settleAttributes } from './update.ts'

/** An UPDATE whose prefixes are `prefixKey` numbers (see `prefixFromKey`). */
export interface KeyedUpdate {
  type: 'UPDATE'
  keyed: true
  withdrawnKeys: number[]
  /** Present when the message carries attributes with every mandatory one (shared, read-only). */
  attrs?: PathAttributes
  nlriKeys: number[]
  treatAsWithdraw?: BgpDecodeError
  discarded?: BgpDecodeError[]
}

/** Decoded attribute sections by their bytes. Bounded: cleared when it reaches `max` entries. */
export class AttrCache {
  private readonly map = new Map<string, AttributesResult>()
  hits = 0
  misses = 0
  readonly max: number
  constructor(max = 4096) {
    this.max = max
  }

  decode(b: Uint8Array, ctx: CodecContext): AttributesResult {
    // ~30-100 bytes: a string key hashes and compares faster than anything built per byte.
    const key = (ctx.as4 ? '4' : '2') + String.fromCharCode.apply(null, b as unknown as number[])
    const hit = this.map.get(key)
    if (hit) {
      this.hits++
      return hit
    }
    this.misses++
    const r = decodeAttributes(b, ctx)
    if (this.map.size >= this.max) this.map.clear()
    this.map.set(key, r)
    return r
  }

  get size(): number {
    return this.map.size
  }
}

/**
 * Reads the prefixes filling b[from, to) as keys; undefined when a length exceeds 32 or a prefix
 * runs past the end. Host bits are cleared, as in `readPrefixes`. The key is `prefixKey`'s, inline.
 */
export function readPrefixKeys(b: Uint8Array, from: number, to: number): number[] | undefined {
  const out: number[] = []
  let at = from
  while (at < to) {
    const len = b[at++] as number
    if (len === 24 && at + 3 <= to) {
      // A /24 (nearly every route): its key straight from the three address bytes.
      out.push((((b[at] as number) << 16) | ((b[at + 1] as number) << 8) | (b[at + 2] as number)) * 32 + 24)
      at += 3
      continue
    }
    if (len > 32) return undefined
    const n = (len + 7) >> 3
    if (at + n > to) return undefined
    let addr: number
    switch (n) {
      case 0:
        addr = 0
        break
      case 1:
        addr = (b[at] as number) << 24
        break
      case 2:
        addr = ((b[at] as number) << 24) | ((b[at + 1] as number) << 16)
        break
      case 3:
        addr = ((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8)
        break
      default:
        addr =
          ((b[at] as number) << 24) |
          ((b[at + 1] as number) << 16) |
          ((b[at + 2] as number) << 8) |
          (b[at + 3] as number)
    }
    at += n
    addr = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0
    // prefixKey: small form for up to /24 with the last octet clear, long form otherwise.
    out.push(len <= 24 && (addr & 0xff) === 0 ? (addr >>> 8) * 32 + len : 2 ** 29 + addr * 64 + len)
  }
  return out
}

/** Decodes an UPDATE body (after the 19-byte header) into a {@link KeyedUpdate}. Never throws. */
export function decodeUpdateKeys(body: Uint8Array, ctx: CodecContext, cache?: AttrCache): Decoded<KeyedUpdate> {
  const fail = (e: BgpDecodeError): Decoded<KeyedUpdate> => ({ ok: false, error: e })
  if (body.length < 4) return fail(updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'UPDATE body too short'))
  const wlen = u16(body, 0)
  if (2 + wlen + 2 > body.length)
    return fail(updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'withdrawn routes length overruns the message'))
  const alen = u16(body, 2 + wlen)
  const attrStart = 4 + wlen
  if (attrStart + alen > body.length)
    return fail(updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'total path attribute length overruns the message'))
  const withdrawnKeys = readPrefixKeys(body, 2, 2 + wlen)
  if (!withdrawnKeys) return fail(updateError(UPDATE_SUB.INVALID_NETWORK_FIELD, 'malformed withdrawn routes'))
  const nlriKeys = readPrefixKeys(body, attrStart + alen, body.length)
  if (!nlriKeys) return fail(updateError(UPDATE_SUB.INVALID_NETWORK_FIELD, 'malformed NLRI'))
  const msg: KeyedUpdate = { type: 'UPDATE', keyed: true, withdrawnKeys, nlriKeys }
  if (alen === 0) {
    if (nlriKeys.length > 0)
      msg.treatAsWithdraw = updateError(UPDATE_SUB.MISSING_WELL_KNOWN, 'NLRI without path attributes', Uint8Array.of(1))
    return { ok: true, msg }
  }
  const section = body.subarray(attrStart, attrStart + alen)
  const r = cache ? cache.decode(section, ctx) : decodeAttributes(section, ctx)
  if (r.reset) return fail(r.reset)
  return settleAttributes(msg, r, nlriKeys.length > 0)
}

/** A whole framed UPDATE (header included; the framer checked the header). */
export function decodeUpdateFrame(frame: Uint8Array, ctx: CodecContext, cache?: AttrCache): Decoded<KeyedUpdate> {
  return decodeUpdateKeys(frame.subarray(HEADER_LEN), ctx, cache)
}

export function isKeyedEndOfRib(m: KeyedUpdate): boolean {
  return (
    m.withdrawnKeys.length === 0 && m.nlriKeys.length === 0 && m.attrs === undefined && m.treatAsWithdraw === undefined
  )
}
