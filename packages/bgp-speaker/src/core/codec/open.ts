/** OPEN (RFC 4271 §4.2, §6.2; RFC 5492 capabilities; RFC 6793 AS_TRANS). */
import { u16, u16Bytes, u32, Writer } from './bytes.ts'
import {
  AFI_IPV4,
  CAP,
  type Capability,
  findCap,
  readCapability,
  SAFI_UNICAST,
  writeCapability,
} from './capabilities.ts'
import { type BgpDecodeError, bgpError, type Decoded, ERR, fail, OPEN_SUB } from './errors.ts'
import { frame, MSG } from './header.ts'

export const BGP_VERSION = 4
export const AS_TRANS = 23456

export interface OpenMessage {
  type: 'OPEN'
  version: number
  /** The speaker's AS: the 4-byte AS capability's value when present, else the 2-byte field. */
  asn: number
  /** The 2-byte "My Autonomous System" field as sent (AS_TRANS for 4-byte ASes). */
  myAsField: number
  holdTime: number
  bgpId: number
  capabilities: Capability[]
}

export function openMessage(init: {
  asn: number
  holdTime: number
  bgpId: number
  capabilities: Capability[]
}): OpenMessage {
  return {
    type: 'OPEN',
    version: BGP_VERSION,
    asn: init.asn,
    myAsField: init.asn > 0xffff ? AS_TRANS : init.asn,
    holdTime: init.holdTime,
    bgpId: init.bgpId,
    capabilities: init.capabilities,
  }
}

export function encodeOpen(m: OpenMessage): Uint8Array {
  const w = new Writer(64)
  w.u8(m.version).u16(m.myAsField).u16(m.holdTime).u32(m.bgpId)
  const caps = new Writer(64)
  for (const c of m.capabilities) writeCapability(caps, c)
  const cb = caps.finish()
  if (cb.length === 0) w.u8(0)
  else
    w.u8(cb.length + 2)
      .u8(2)
      .u8(cb.length)
      .bytes(cb)
  return frame(MSG.OPEN, w.finish())
}

function openErr(sub: number, kind: BgpDecodeError['kind'], message: string, data?: Uint8Array): Decoded<OpenMessage> {
  return fail(kind, ERR.OPEN, sub, message, data)
}

/** Syntax checks only (§6.2); checks against configuration are in `checkOpen`. */
export function decodeOpen(body: Uint8Array): Decoded<OpenMessage> {
  if (body.length < 10) return openErr(0, 'BGP_OPEN_MALFORMED', 'OPEN body shorter than 10 bytes')
  const version = body[0] ?? 0
  if (version !== BGP_VERSION) {
    return openErr(
      OPEN_SUB.UNSUPPORTED_VERSION,
      'BGP_OPEN_UNSUPPORTED_VERSION',
      `version ${version} not supported (4 is)`,
      u16Bytes(BGP_VERSION),
    )
  }
  const myAsField = u16(body, 1)
  const holdTime = u16(body, 3)
  const bgpId = u32(body, 5)
  const optLen = body[9] ?? 0
  if (10 + optLen !== body.length)
    return openErr(0, 'BGP_OPEN_MALFORMED', 'optional parameters length does not match message length')
  if (holdTime === 1 || holdTime === 2) {
    return openErr(
      OPEN_SUB.UNACCEPTABLE_HOLD_TIME,
      'BGP_OPEN_BAD_HOLD_TIME',
      `hold time ${holdTime} (must be 0 or at least 3)`,
    )
  }
  if (bgpId === 0 || bgpId === 0xffffffff || bgpId >>> 28 === 0xe) {
    return openErr(
      OPEN_SUB.BAD_BGP_IDENTIFIER,
      'BGP_OPEN_BAD_IDENTIFIER',
      'BGP identifier is not a valid unicast IPv4 address',
    )
  }
  const capabilities: Capability[] = []
  let at = 10
  while (at < body.length) {
    if (at + 2 > body.length) return openErr(0, 'BGP_OPEN_MALFORMED', 'truncated optional parameter')
    const ptype = body[at] ?? 0
    const plen = body[at + 1] ?? 0
    const pv = body.subarray(at + 2, at + 2 + plen)
    if (pv.length !== plen) return openErr(0, 'BGP_OPEN_MALFORMED', 'optional parameter runs past the message')
    if (ptype !== 2) {
      return openErr(
        OPEN_SUB.UNSUPPORTED_OPTIONAL_PARAMETER,
        'BGP_OPEN_UNSUPPORTED_PARAMETER',
        `optional parameter type ${ptype} not supported`,
        body.slice(at, at + 2 + plen),
      )
    }
    let c = 0
    while (c < pv.length) {
      if (c + 2 > pv.length) return openErr(0, 'BGP_OPEN_MALFORMED', 'truncated capability')
      const code = pv[c] ?? 0
      const clen = pv[c + 1] ?? 0
      const cv = pv.subarray(c + 2, c + 2 + clen)
      if (cv.length !== clen) return openErr(0, 'BGP_OPEN_MALFORMED', 'capability runs past its parameter')
      capabilities.push(readCapability(code, cv))
      c += 2 + clen
    }
    at += 2 + plen
  }
  const as4 = findCap(capabilities, CAP.AS4)
  const asn = as4 ? as4.asn : myAsField
  return { ok: true, msg: { type: 'OPEN', version, asn, myAsField, holdTime, bgpId, capabilities } }
}

export interface OpenExpectation {
  /** Expected peer AS; undefined accepts any. */
  peerAs?: number
  localBgpId: number
  /** iBGP sessions refuse a peer with our own identifier (RFC 6286 §2.1). */
  localAs: number
  /** Smallest hold time we accept besides 0 (BIRD: `min hold time`, default 3). */
  minHoldTime?: number
}

/** Semantic checks of a decoded OPEN against configuration (RFC 4271 §6.2, RFC 6793, RFC 5492). */
export function checkOpen(m: OpenMessage, exp: OpenExpectation): BgpDecodeError | undefined {
  const as4 = findCap(m.capabilities, CAP.AS4)
  if (as4 && m.myAsField !== AS_TRANS && m.myAsField !== as4.asn) {
    return bgpError(
      'BGP_OPEN_BAD_PEER_AS',
      ERR.OPEN,
      OPEN_SUB.BAD_PEER_AS,
      `My AS ${m.myAsField} disagrees with 4-byte AS ${as4.asn}`,
      u16Bytes(m.myAsField),
    )
  }
  if (exp.peerAs !== undefined && m.asn !== exp.peerAs) {
    return bgpError(
      'BGP_OPEN_BAD_PEER_AS',
      ERR.OPEN,
      OPEN_SUB.BAD_PEER_AS,
      `peer AS ${m.asn}, expected ${exp.peerAs}`,
      u16Bytes(m.myAsField),
    )
  }
  if (m.bgpId === exp.localBgpId && m.asn === exp.localAs) {
    return bgpError(
      'BGP_OPEN_BAD_IDENTIFIER',
      ERR.OPEN,
      OPEN_SUB.BAD_BGP_IDENTIFIER,
      'peer uses our own BGP identifier',
    )
  }
  const min = exp.minHoldTime ?? 3
  if (m.holdTime !== 0 && m.holdTime < min) {
    return bgpError(
      'BGP_OPEN_BAD_HOLD_TIME',
      ERR.OPEN,
      OPEN_SUB.UNACCEPTABLE_HOLD_TIME,
      `hold time ${m.holdTime} below ${min}`,
    )
  }
  const mps = m.capabilities.filter((c): c is Extract<Capability, { code: 1 }> => c.code === 1 && !('unknown' in c))
  if (mps.length > 0 && !mps.some((c) => c.afi === AFI_IPV4 && c.safi === SAFI_UNICAST)) {
    // The peer speaks multiprotocol but not IPv4 unicast: nothing in common (RFC 5492 §5).
    const w = new Writer(8)
    writeCapability(w, { code: 1, afi: AFI_IPV4, safi: SAFI_UNICAST })
    return bgpError(
      'BGP_OPEN_UNSUPPORTED_CAPABILITY',
      ERR.OPEN,
      OPEN_SUB.UNSUPPORTED_CAPABILITY,
      'no common address family (IPv4 unicast)',
      w.finish(),
    )
  }
  return undefined
}

/** Whether both OPENs carry the 4-byte AS capability (then AS_PATH carries 4-byte ASes). */
export function negotiatedAs4(local: OpenMessage, remote: OpenMessage): boolean {
  return findCap(local.capabilities, CAP.AS4) !== undefined && findCap(remote.capabilities, CAP.AS4) !== undefined
}
