#!/usr/bin/env node
// Builds the process bundle now (or says it is current): `npm run bundle`, the Dockerfile.
// `calilab up` builds it on its own when it is missing or stale; see src/bundle.ts.
import { register } from 'tsx/esm/api'

register()
const { ensureBundle } = await import('../src/bundle.ts')
const b = await ensureBundle({ onProgress: (m) => process.stdout.write(`${m}\n`) })
process.stdout.write(`process bundle ${b.how === 'built' ? 'built' : 'current'}: ${b.entry}\n`)
