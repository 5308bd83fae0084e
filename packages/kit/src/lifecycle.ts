import type { Logger } from 'pino'

/** Something that can be started and stopped; stop runs in reverse start order. */
export interface Service {
  readonly name: string
  start?(): Promise<void> | void
  stop?(): Promise<void> | void
}

export class Lifecycle {
  private started: Service[] = []
  private stopping = false

  private readonly log: Logger | undefined

  constructor(log?: Logger) {
    this.log = log
  }

  async start(...services: Service[]): Promise<void> {
    for (const s of services) {
      await s.start?.()
      this.started.push(s)
      this.log?.debug({ service: s.name }, 'started')
    }
  }

  /** Register something already running so it is stopped with the rest. */
  add(service: Service): void {
    this.started.push(service)
  }

  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    for (const s of this.started.reverse()) {
      try {
        await s.stop?.()
      } catch (err) {
        this.log?.warn({ err, service: s.name }, 'stop failed')
      }
    }
    this.started = []
  }

  /** Stop on SIGINT/SIGTERM, then exit. */
  stopOnSignals(onDone: (code: number) => void = (c) => process.exit(c)): void {
    const handler = (sig: NodeJS.Signals) => {
      this.log?.info({ signal: sig }, 'shutting down')
      void this.stop().then(() => onDone(0))
    }
    process.once('SIGINT', handler)
    process.once('SIGTERM', handler)
  }
}
