/** UPDATE (RFC 4271 §4.3, §6.3; RFC 7606): withdrawn routes, path attributes, NLRI. */
import { type AttributesResult, decodeAttributes, encodeAttributes, updateError } from './attrs/attributes.ts'
import type { CodecContext, PathAttributes } from './attrs/types.ts'
import { u16 } from './bytes.ts'
import type { BgpDecodeError, Decoded } from './errors.ts'
import { UPDATE_SUB } from './errors.ts'
import { frame, HEADER_LEN, MAX_MESSAGE_LEN, MSG } from './header.ts'
import { encodedPrefixLength, type Prefix, readPrefixes, writePrefixes } from './prefix.ts'

export interface UpdateMessage {
  type: 'UPDATE'
  withdrawn: Prefix[]
  /** Present when the message carries attributes with every mandatory one. */
  attrs?: PathAttributes
  nlri: Prefix[]
  /** RFC 7606 treat-as-withdraw: the NLRI must be handled as withdrawn; the error says why. */
  treatAsWithdraw?: BgpDecodeError
  /** Attributes removed by RFC 7606 attribute discard. */
  discarded?: BgpDecodeError[]
}

export function isEndOfRib(m: UpdateMessage): boolean {
  return m.withdrawn.length === 0 && m.nlri.length === 0 && m.attrs === undefined && m.treatAsWithdraw === undefined
}

export function decodeUpdate(body: Uint8Array, ctx: CodecContext): Decoded<UpdateMessage> {
  const fail = (e: BgpDecodeError): Decoded<UpdateMessage> => ({ ok: false, error: e })
  if (body.length < 4) return fail(updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'UPDATE body too short'))
  const wlen = u16(body, 0)
  if (2 + wlen + 2 > body.length)
    return fail(updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'withdrawn routes length overruns the message'))
  const alen = u16(body, 2 + wlen)
  const attrStart = 4 + wlen
  if (attrStart + alen > body.length)
    return fail(updateError(UPDATE_SUB.MALFORMED_ATTRIBUTE_LIST, 'total path attribute length overruns the message'))
  const withdrawn = readPrefixes(body.subarray(2, 2 + wlen))
  if (!withdrawn) return fail(updateError(UPDATE_SUB.INVALID_NETWORK_FIELD, 'malformed withdrawn routes'))
  const nlri = readPrefixes(body.subarray(attrStart + alen))
  if (!nlri) return fail(updateError(UPDATE_SUB.INVALID_NETWORK_FIELD, 'malformed NLRI'))
  const msg: UpdateMessage = { type: 'UPDATE', withdrawn, nlri }
  if (alen === 0) {
    if (nlri.length > 0)
      msg.treatAsWithdraw = updateError(UPDATE_SUB.MISSING_WELL_KNOWN, 'NLRI without path attributes', Uint8Array.of(1))
    return { ok: true, msg }
  }
  const r = decodeAttributes(body.subarray(attrStart, attrStart + alen), ctx)
  if (r.reset) return fail(r.reset)
  return settleAttributes(msg, r, nlri.length > 0)
}

/**
 * The attribute section's outcome applied to a decoded UPDATE (both decoders: this one and the
 * keyed one of the receive path): discarded attributes kept for logging, RFC 7606
 * treat-as-withdraw, and the mandatory well-known attributes (ORIGIN, AS_PATH, and NEXT_HOP when
 * there is NLRI; missing ones make the NLRI withdrawn). `r.reset` is the caller's to handle first.
 */
export function settleAttributes<
  M extends { discarded?: BgpDecodeError[]; treatAsWithdraw?: BgpDecodeError; attrs?: PathAttributes },
>(msg: M, r: AttributesResult, hasNlri: boolean): Decoded<M> {
  if (r.discarded.length > 0) msg.discarded = r.discarded
  if (r.treatAsWithdraw) {
    msg.treatAsWithdraw = r.treatAsWithdraw
    return { ok: true, msg }
  }
  const a = r.attrs
  const missing = a.origin === undefined ? 1 : a.asPath === undefined ? 2 : a.nextHop === undefined && hasNlri ? 3 : 0
  if (missing !== 0) {
    if (hasNlri)
      msg.treatAsWithdraw = updateError(
        UPDATE_SUB.MISSING_WELL_KNOWN,
        `missing mandatory attribute ${missing}`,
        Uint8Array.of(missing),
      )
    return { ok: true, msg }
  }
  msg.attrs = a as PathAttributes
  return { ok: true, msg }
}

export function encodeUpdate(
  m: { withdrawn?: readonly Prefix[]; attrs?: PathAttributes; nlri?: readonly Prefix[] },
  ctx: CodecContext,
): Uint8Array {
  const w: number[] = []
  writePrefixes(w, m.withdrawn ?? [])
  const attrs = m.attrs ? encodeAttributes(m.attrs, ctx) : new Uint8Array(0)
  const n: number[] = []
  writePrefixes(n, m.nlri ?? [])
  const body = new Uint8Array(4 + w.length + attrs.length + n.length)
  body[0] = (w.length >>> 8) & 0xff
  body[1] = w.length & 0xff
  body.set(w, 2)
  body[2 + w.length] = (attrs.length >>> 8) & 0xff
  body[3 + w.length] = attrs.length & 0xff
  body.set(attrs, 4 + w.length)
  body.set(n, 4 + w.length + attrs.length)
  return frame(MSG.UPDATE, body)
}

/** Packs withdrawals into as few UPDATEs as fit in 4096 bytes. */
export function encodeWithdrawals(prefixes: readonly Prefix[], ctx: CodecContext): Uint8Array[] {
  const out: Uint8Array[] = []
  const room = MAX_MESSAGE_LEN - HEADER_LEN - 4
  let batch: Prefix[] = []
  let size = 0
  for (const p of prefixes) {
    const l = encodedPrefixLength(p)
    if (size + l > room) {
      out.push(encodeUpdate({ withdrawn: batch }, ctx))
      batch = []
      size = 0
    }
    batch.push(p)
    size += l
  }
  if (batch.length > 0) out.push(encodeUpdate({ withdrawn: batch }, ctx))
  return out
}

/** Packs announcements sharing one attribute set into as few UPDATEs as fit in 4096 bytes. */
export function encodeAnnouncements(
  attrs: PathAttributes,
  prefixes: readonly Prefix[],
  ctx: CodecContext,
): Uint8Array[] {
  const out: Uint8Array[] = []
  const alen = encodeAttributes(attrs, ctx).length
  const room = MAX_MESSAGE_LEN - HEADER_LEN - 4 - alen
  let batch: Prefix[] = []
  let size = 0
  for (const p of prefixes) {
    const l = encodedPrefixLength(p)
    if (size + l > room) {
      out.push(encodeUpdate({ attrs, nlri: batch }, ctx))
      batch = []
      size = 0
    }
    batch.push(p)
    size += l
  }
  if (batch.length > 0) out.push(encodeUpdate({ attrs, nlri: batch }, ctx))
  return out
}
