import type { Clock, Logger, Rng } from '@calilab/kit'
import type { Api } from '../api.ts'

export interface ControllersInit {
  api: Api
  log: Logger
  clock: Clock
  rng: Rng
}

/** Starts the controllers a real cluster runs beside its API server. (Placeholder; being filled in.) */
export function startControllers(_init: ControllersInit): { stop(): Promise<void> } {
  return { stop: async () => {} }
}
