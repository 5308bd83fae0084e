/**
 * How the supervisor starts `calilab run ...`: from the esbuild process bundle (plain node, no tsx
 * loader thread: ~40 MiB less RSS per process and a faster start), or through bin/calilab.js under
 * tsx when bundling is impossible or `CALILAB_TSX=1` asks for it (development: every restart runs
 * the sources as they are).
 */
import path from 'node:path'
import { type Bundle, type BundleOptions, ensureBundle, freshBundle, REPO_ROOT } from '../bundle.ts'
import { CLI_BIN } from './paths.ts'

export type LaunchMode = 'auto' | 'tsx'

/** `CALILAB_TSX=1` (or `true`/`yes`) forces tsx; anything else means the bundle when it can be built. */
export function launchModeFromEnv(env: NodeJS.ProcessEnv): LaunchMode {
  return /^(1|true|yes)$/i.test(env['CALILAB_TSX'] ?? '') ? 'tsx' : 'auto'
}

export interface Launch {
  mode: 'bundle' | 'tsx'
  /** The script node runs, followed by `run <component> ...`. */
  script: string
  /** The bundle, when mode is bundle. */
  bundle?: Bundle
  /** Why tsx, when it is tsx. */
  reason?: string
}

export class Launcher {
  private current: Launch | undefined
  private building: Promise<Launch> | undefined

  private readonly mode: LaunchMode
  private readonly onProgress: (msg: string, warn: boolean) => void
  private readonly bundle: BundleOptions

  /** `bundle`: where the sources and the bundle are (tests); default this checkout. */
  constructor(mode: LaunchMode, onProgress: (msg: string, warn: boolean) => void, bundle: BundleOptions = {}) {
    this.mode = mode
    this.onProgress = onProgress
    this.bundle = bundle
  }

  /** The launch in use (resolve() first). */
  get launch(): Launch {
    return this.current ?? { mode: 'tsx', script: CLI_BIN, reason: 'not resolved' }
  }

  /**
   * Picks the bundle (building it when stale) or tsx. `refresh`: check again (a restart runs the
   * sources as they are now, as it would under tsx); a build in flight is shared.
   */
  async resolve(refresh = false): Promise<Launch> {
    if (this.current && !refresh) return this.current
    if (this.mode === 'tsx') {
      this.current = { mode: 'tsx', script: CLI_BIN, reason: 'CALILAB_TSX is set' }
      return this.current
    }
    const fresh = freshBundle(this.bundle)
    if (fresh) {
      this.current = { mode: 'bundle', script: fresh.run, bundle: fresh }
      return this.current
    }
    this.building ??= ensureBundle({ ...this.bundle, onProgress: (m) => this.onProgress(m, false) }).then(
      (b): Launch => ({ mode: 'bundle', script: b.run, bundle: b }),
      (e: Error): Launch => {
        const first = (e.message ?? String(e)).split('\n').slice(0, 3).join('; ')
        this.onProgress(`cannot bundle the processes (${first}); they run under tsx`, true)
        return { mode: 'tsx', script: CLI_BIN, reason: `bundling failed: ${first}` }
      },
    )
    try {
      this.current = await this.building
    } finally {
      this.building = undefined
    }
    return this.current
  }

  /** One line for the supervisor's progress. */
  describe(): string {
    const l = this.launch
    if (l.mode === 'tsx') return `processes run under tsx (${l.reason ?? 'fallback'})`
    const dir = path.relative(this.bundle.root ?? REPO_ROOT, path.dirname(l.script))
    return `processes run from the bundle ${dir}${l.bundle?.how === 'built' ? '' : ' (cached)'}`
  }
}
