import type { Tool } from '../tools/types.ts'

/** `birdc [-s SOCKET] [-r] CMD...` (birdcl too) over a text function. */
export function birdcTool(run: (cmd: string) => string): Tool {
  return async (argv, _env, io) => {
    const args = [...argv.slice(1)]
    while (args[0]?.startsWith('-')) {
      const f = args.shift()
      if (f === '-s') args.shift()
    }
    if (args.length === 0) {
      io.stderr('birdc: interactive mode is not supported here; give the command, e.g. birdc show protocols\n')
      return 1
    }
    try {
      io.stdout(run(args.join(' ')))
      return 0
    } catch (e) {
      io.stdout(`${(e as Error).message}\n`)
      return 1
    }
  }
}
