import { runCli } from './program.ts'

// `calilab ... | head`: a closed pipe ends the command quietly, as it does for real tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
}

await runCli(process.argv.slice(2))
