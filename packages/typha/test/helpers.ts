import net from 'node:net'
import type { KubeObject } from '@calilab/model'
import {
  encodeFrame,
  Framer,
  type InternalStreamHandler,
  parseTyphaServerMessage,
  type SyncerType,
  TYPHA_PROTOCOL_VERSION,
  type TyphaServerMessage,
} from '@calilab/proto'
import type { UpstreamFactory } from '../src/index.ts'

export function obj(
  kind: string,
  name: string,
  rv: number,
  extra: Record<string, unknown> = {},
  ns?: string,
): KubeObject {
  return {
    apiVersion: kind === 'Pod' || kind === 'Namespace' || kind === 'Node' ? 'v1' : 'projectcalico.org/v3',
    kind,
    metadata: { name, ...(ns ? { namespace: ns } : {}), resourceVersion: String(rv), uid: `uid-${name}` },
    ...extra,
  }
}

/** An upstream the test drives by hand. */
export class FakeUpstream {
  handlers: InternalStreamHandler[] = []
  closed = 0
  readonly factory: UpstreamFactory = (h) => {
    this.handlers.push(h)
    return { close: () => this.closed++ }
  }
  snapshot(items: { key: string; object: KubeObject }[], revision: number): void {
    for (const h of this.handlers) {
      h.onSnapshot(items, revision)
      h.onSynced?.(revision)
    }
  }
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', key: string, object: KubeObject, revision: number): void {
    for (const h of this.handlers) h.onEvents([{ type, key, object, revision }])
  }
}

/** A raw Typha client for protocol tests: sends what it is told, records what it gets. */
export class RawClient {
  readonly sock: net.Socket
  readonly messages: TyphaServerMessage[] = []
  readonly framer = new Framer()
  closed = false
  private waiters: (() => void)[] = []

  constructor(port: number, opts: { read?: boolean } = {}) {
    this.sock = net.connect({ host: '127.0.0.1', port })
    this.sock.on('error', () => {})
    this.sock.on('close', () => {
      this.closed = true
      this.wake()
    })
    if (opts.read !== false) this.startReading()
  }

  startReading(): void {
    this.sock.on('data', (d: Buffer) => {
      const { messages } = this.framer.push(d)
      for (const m of messages) {
        const p = parseTyphaServerMessage(m)
        if (!(p instanceof Error)) this.messages.push(p)
      }
      this.wake()
    })
  }

  hello(syncerType: SyncerType = 'felix', nodeName = 'node1', version = TYPHA_PROTOCOL_VERSION): this {
    this.sock.write(encodeFrame({ type: 'hello', version, nodeName, syncerType }))
    return this
  }

  send(x: unknown): void {
    this.sock.write(encodeFrame(x))
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Resolve once `pred` holds (checked on every arrival), or reject after `ms`. */
  async until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms
    while (!pred()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** key -> value as seen by applying snapshot and deltas. */
  state(): Map<string, KubeObject> {
    const m = new Map<string, KubeObject>()
    for (const msg of this.messages) {
      const ups = msg.type === 'snapshot' ? msg.kvs : msg.type === 'deltas' ? msg.updates : []
      for (const u of ups) {
        if (u.value === null) m.delete(u.key)
        else m.set(u.key, u.value)
      }
    }
    return m
  }

  close(): void {
    this.sock.destroy()
  }
}

export async function waitFor(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
