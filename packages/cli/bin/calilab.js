#!/usr/bin/env node
// Entry shim. Runs the esbuild bundle of the CLI (build/bundle, built by `calilab up`'s supervisor,
// see src/bundle.ts) when it is fresh: plain node, no tsx loader thread, a faster start. Otherwise,
// or with CALILAB_TSX=1, registers tsx so the TypeScript sources run directly.
import { pathToFileURL } from 'node:url'
import { freshBundleEntry } from './fresh-bundle.js'

// `calilab run ...` (docker compose): the bundle's run-only entry, which loads one component.
const entry = /^(1|true|yes)$/i.test(process.env.CALILAB_TSX ?? '')
  ? undefined
  : freshBundleEntry(undefined, process.argv[2] === 'run')
if (entry) {
  await import(pathToFileURL(entry).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/main.ts')
}
