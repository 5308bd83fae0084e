/** OPEN capabilities (RFC 5492): multiprotocol (RFC 4760), route refresh (RFC 2918), graceful restart (RFC 4724), 4-byte AS (RFC 6793). */
import { u16, u32, type Writer } from './bytes.ts'

export const CAP = { MULTIPROTOCOL: 1, ROUTE_REFRESH: 2, GRACEFUL_RESTART: 64, AS4: 65 } as const
export const AFI_IPV4 = 1
export const SAFI_UNICAST = 1

export type Capability =
  | { code: 1; afi: number; safi: number }
  | { code: 2 }
  | {
      code: 64
      restarting: boolean
      restartTime: number
      families: { afi: number; safi: number; forwarding: boolean }[]
    }
  | { code: 65; asn: number }
  | { code: number; unknown: Uint8Array }

export function writeCapability(w: Writer, c: Capability): void {
  w.u8(c.code)
  if ('unknown' in c) {
    w.u8(c.unknown.length).bytes(c.unknown)
    return
  }
  switch (c.code) {
    case 1:
      w.u8(4).u16(c.afi).u8(0).u8(c.safi)
      return
    case 2:
      w.u8(0)
      return
    case 64:
      w.u8(2 + 4 * c.families.length).u16((c.restarting ? 0x8000 : 0) | (c.restartTime & 0x0fff))
      for (const f of c.families)
        w.u16(f.afi)
          .u8(f.safi)
          .u8(f.forwarding ? 0x80 : 0)
      return
    case 65:
      w.u8(4).u32(c.asn)
      return
  }
}

/** Decodes one capability value; malformed known capabilities are kept as unknown (RFC 5492 leaves it to the receiver). */
export function readCapability(code: number, v: Uint8Array): Capability {
  switch (code) {
    case 1:
      if (v.length === 4) return { code: 1, afi: u16(v, 0), safi: v[3] ?? 0 }
      break
    case 2:
      if (v.length === 0) return { code: 2 }
      break
    case 64:
      if (v.length >= 2 && (v.length - 2) % 4 === 0) {
        const fr = u16(v, 0)
        const families: { afi: number; safi: number; forwarding: boolean }[] = []
        for (let at = 2; at < v.length; at += 4) {
          families.push({ afi: u16(v, at), safi: v[at + 2] ?? 0, forwarding: ((v[at + 3] ?? 0) & 0x80) !== 0 })
        }
        return { code: 64, restarting: (fr & 0x8000) !== 0, restartTime: fr & 0x0fff, families }
      }
      break
    case 65:
      if (v.length === 4) return { code: 65, asn: u32(v, 0) }
      break
  }
  return { code, unknown: v.slice() }
}

export function findCap<C extends Capability['code']>(
  caps: readonly Capability[],
  code: C,
): Extract<Capability, { code: C }> | undefined {
  return caps.find((c) => c.code === code && !('unknown' in c)) as Extract<Capability, { code: C }> | undefined
}

/** The capabilities this speaker advertises (what BIRD advertises, minus enhanced refresh / LLGR). */
export function defaultCapabilities(asn: number, restartTime = 120): Capability[] {
  return [
    { code: 1, afi: AFI_IPV4, safi: SAFI_UNICAST },
    { code: 2 },
    { code: 64, restarting: false, restartTime, families: [{ afi: AFI_IPV4, safi: SAFI_UNICAST, forwarding: false }] },
    { code: 65, asn },
  ]
}
