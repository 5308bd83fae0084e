/**
 * Per-client accounting of what was written versus what the socket has flushed, so the server
 * can tell how far behind a client is without acks: each write records (end offset, revision);
 * `flushed(bytes)` pops every write that is fully out of the process. Pure.
 */
export class SendLedger {
  private readonly ends: number[] = []
  private readonly revs: number[] = []
  private head = 0
  private written = 0
  private deliveredRev: number

  constructor(startRevision = 0) {
    this.deliveredRev = startRevision
  }

  /** Total bytes handed to the socket. */
  get bytesWritten(): number {
    return this.written
  }

  /** Newest revision whose bytes have left the process. */
  get deliveredRevision(): number {
    return this.deliveredRev
  }

  /** Writes not yet flushed. */
  get pendingWrites(): number {
    return this.ends.length - this.head
  }

  onWrite(bytes: number, revision: number): void {
    this.written += bytes
    this.ends.push(this.written)
    this.revs.push(revision)
  }

  /** `pendingBytes`: bytes still queued in the process (socket.writableLength). */
  flushed(pendingBytes: number): void {
    const out = this.written - pendingBytes
    while (this.head < this.ends.length && (this.ends[this.head] as number) <= out) {
      this.deliveredRev = Math.max(this.deliveredRev, this.revs[this.head] as number)
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.ends.length) {
      this.ends.splice(0, this.head)
      this.revs.splice(0, this.head)
      this.head = 0
    }
  }

  /** How many revisions the client is behind `current` (0 when everything written is flushed). */
  lag(current: number): number {
    if (this.pendingWrites === 0) return 0
    return Math.max(0, current - this.deliveredRev)
  }
}
