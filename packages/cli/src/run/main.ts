/**
 * The entry of the processes `calilab up` starts: `calilab run <component> ...` and nothing else,
 * so a bundled child loads commander and its own component, not kubectl, calicoctl or the other
 * components. Same argv and behaviour as `calilab run ...`.
 */
import { Command } from 'commander'
import { CliError, err } from '../io.ts'
import { addRunCommand, runComponent } from './index.ts'

const program = new Command('calilab').showHelpAfterError('(add --help for usage)')
addRunCommand(program, runComponent)
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' })
} catch (e) {
  if (!(e instanceof CliError)) throw e
  err(e.message)
  process.exitCode = e.exitCode
}
