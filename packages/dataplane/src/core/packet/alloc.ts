/**
 * Packet buffers carved from shared 8 KiB slabs.
 *
 * A typed array over 64 bytes gets its own off-heap backing store in V8: a calloc, an entry for the
 * ArrayBuffer sweeper, a free when the GC finds it dead: ~0.65 µs per packet here, the largest
 * single cost of building a packet. A view into a slab is a small on-heap object (~0.07 µs). Slabs
 * are bump-allocated and never reused while any view is alive (a view keeps its slab alive), so
 * every packet starts zeroed and owns its bytes exactly as `new Uint8Array(n)` would.
 *
 * Rules for callers: never transfer or detach `pkt.buffer` (other packets share it; copy first, as
 * PacketBatch.push does) and never read `pkt.buffer` as if it were the packet. Large packets
 * (> 1 KiB) get their own buffer, so a long-lived segment never pins a slab much larger than itself.
 */

const SLAB_BYTES = 8192
const POOLED_MAX = 1024

let slab = new ArrayBuffer(SLAB_BYTES)
let used = 0

/** A zeroed packet buffer of `n` bytes. */
export function allocPacket(n: number): Uint8Array {
  if (n > POOLED_MAX) return new Uint8Array(n)
  if (used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES)
    used = 0
  }
  const b = new Uint8Array(slab, used, n)
  // 8-byte alignment keeps later Int32/Float64 views over a packet possible.
  used += (n + 7) & ~7
  return b
}

/** A copy of `src[from, to)` in a pooled buffer (what `src.slice(from, to)` returns, without the allocation). */
export function copyPacket(src: Uint8Array, from = 0, to = src.length): Uint8Array {
  const b = allocPacket(to - from)
  b.set(src.subarray(from, to))
  return b
}
