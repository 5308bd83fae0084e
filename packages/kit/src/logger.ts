import { type Logger, type LoggerOptions, pino } from 'pino'

export type { Logger }

export interface LoggerInit {
  name: string
  level?: string
  /** Pretty output; default: when stdout is a TTY. */
  pretty?: boolean
  /** Write to this file descriptor / path instead of stdout. */
  destination?: number | string
}

/**
 * The only way a process makes its root logger (called from main.ts). Components receive
 * `log.child({ component })` from their caller; nothing keeps a logger at module level.
 */
export function createLogger(init: LoggerInit): Logger {
  const opts: LoggerOptions = { name: init.name, level: init.level ?? 'info' }
  const pretty = init.pretty ?? (init.destination === undefined && process.stdout.isTTY === true)
  if (pretty) {
    return pino({
      ...opts,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    })
  }
  if (init.destination !== undefined) {
    return pino(opts, pino.destination({ dest: init.destination, sync: false, mkdir: true }))
  }
  return pino(opts)
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
