/** Big-endian field access on Uint8Array (no DataView, no allocation). */

export function rd16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!
}

export function rd32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0
}

export function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff
  b[o + 1] = v & 0xff
}

export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff
  b[o + 1] = (v >>> 16) & 0xff
  b[o + 2] = (v >>> 8) & 0xff
  b[o + 3] = v & 0xff
}

export function wr32le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff
  b[o + 1] = (v >>> 8) & 0xff
  b[o + 2] = (v >>> 16) & 0xff
  b[o + 3] = (v >>> 24) & 0xff
}

export function rd32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
}

export function wr16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff
  b[o + 1] = (v >>> 8) & 0xff
}

export function rd16le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8)
}

/** "aa:bb:cc:dd:ee:ff" to 6 bytes; undefined when malformed. */
export function parseMac(s: string): Uint8Array | undefined {
  const parts = s.split(':')
  if (parts.length !== 6) return undefined
  const out = new Uint8Array(6)
  for (let i = 0; i < 6; i++) {
    const p = parts[i]!
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) return undefined
    out[i] = Number.parseInt(p, 16)
  }
  return out
}

export function formatMac(b: Uint8Array, off = 0): string {
  let s = ''
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + b[off + i]!.toString(16).padStart(2, '0')
  return s
}
