/** An unbounded async string queue: one writer, one reader (pipes, stdin). */
export class Channel implements AsyncIterable<string> {
  private readonly buf: string[] = []
  private waiting: ((r: IteratorResult<string>) => void) | undefined
  private ended = false

  push(s: string): void {
    if (this.ended || s === '') return
    const w = this.waiting
    if (w) {
      this.waiting = undefined
      w({ value: s, done: false })
    } else this.buf.push(s)
  }

  end(): void {
    this.ended = true
    const w = this.waiting
    if (w && this.buf.length === 0) {
      this.waiting = undefined
      w({ value: undefined, done: true })
    }
  }

  get isEnded(): boolean {
    return this.ended
  }

  next(): Promise<IteratorResult<string>> {
    const v = this.buf.shift()
    if (v !== undefined) return Promise.resolve({ value: v, done: false })
    if (this.ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise((r) => {
      this.waiting = r
    })
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    return { next: () => this.next() }
  }
}

/** Reads an async string source as lines (the last line may lack its newline). */
export async function* lines(src: AsyncIterable<string> | Iterable<string>): AsyncGenerator<string> {
  let pending = ''
  for await (const chunk of src) {
    pending += chunk
    let nl = pending.indexOf('\n')
    while (nl >= 0) {
      yield pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      nl = pending.indexOf('\n')
    }
  }
  if (pending !== '') yield pending
}

export async function readAll(src: AsyncIterable<string> | undefined): Promise<string> {
  if (!src) return ''
  let s = ''
  for await (const c of src) s += c
  return s
}
