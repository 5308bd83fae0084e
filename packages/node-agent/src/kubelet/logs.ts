/** Per-container log buffers (bounded) with followers, for the kubelet's containerLogs endpoint. */
export class ContainerLogs {
  private readonly buffers = new Map<string, string[]>()
  private readonly followers = new Map<string, Set<(line: string) => void>>()
  private readonly max: number

  constructor(maxLines = 5000) {
    this.max = maxLines
  }

  static key(ns: string, pod: string, container: string): string {
    return `${ns}/${pod}/${container}`
  }

  append(ns: string, pod: string, container: string, line: string): void {
    const k = ContainerLogs.key(ns, pod, container)
    const b = this.buffers.get(k) ?? []
    b.push(line)
    if (b.length > this.max) b.splice(0, b.length - this.max)
    this.buffers.set(k, b)
    for (const f of this.followers.get(k) ?? []) f(line)
  }

  has(ns: string, pod: string, container: string): boolean {
    return this.buffers.has(ContainerLogs.key(ns, pod, container))
  }

  tail(ns: string, pod: string, container: string, n?: number): string[] {
    const b = this.buffers.get(ContainerLogs.key(ns, pod, container)) ?? []
    return n === undefined || n < 0 ? [...b] : b.slice(Math.max(0, b.length - n))
  }

  follow(ns: string, pod: string, container: string, f: (line: string) => void): () => void {
    const k = ContainerLogs.key(ns, pod, container)
    const s = this.followers.get(k) ?? new Set()
    s.add(f)
    this.followers.set(k, s)
    return () => s.delete(f)
  }

  dropPod(ns: string, pod: string): void {
    for (const k of [...this.buffers.keys()]) if (k.startsWith(`${ns}/${pod}/`)) this.buffers.delete(k)
  }
}
