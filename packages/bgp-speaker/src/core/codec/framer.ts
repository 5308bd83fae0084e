/**
 * Framer: cuts a TCP byte stream into whole BGP messages. It only checks the header; the codecs
 * decode bodies. After a header error the stream cannot be resynchronised: the framer stops.
 */
import type { BgpDecodeError } from './errors.ts'
import { decodeHeader, HEADER_LEN, type MsgType } from './header.ts'

export type Frame = { ok: true; type: MsgType; bytes: Uint8Array } | { ok: false; error: BgpDecodeError }

export class Framer {
  private pending: Uint8Array = new Uint8Array(0)
  private failed = false

  /** Feeds bytes; returns every complete message (and at most one trailing error). */
  push(chunk: Uint8Array): Frame[] {
    if (this.failed) return []
    let buf: Uint8Array
    if (this.pending.length === 0) buf = chunk
    else {
      buf = new Uint8Array(this.pending.length + chunk.length)
      buf.set(this.pending)
      buf.set(chunk, this.pending.length)
    }
    const out: Frame[] = []
    let at = 0
    while (buf.length - at >= HEADER_LEN) {
      const h = decodeHeader(buf.subarray(at, at + HEADER_LEN))
      if (!h.ok) {
        this.failed = true
        out.push(h)
        this.pending = new Uint8Array(0)
        return out
      }
      if (buf.length - at < h.msg.length) break
      out.push({ ok: true, type: h.msg.type, bytes: buf.subarray(at, at + h.msg.length) })
      at += h.msg.length
    }
    // Copy the remainder so the caller's chunk is not retained.
    this.pending = at === buf.length ? new Uint8Array(0) : buf.slice(at)
    return out
  }

  /** Bytes waiting for the rest of their message. */
  get buffered(): number {
    return this.pending.length
  }
}
