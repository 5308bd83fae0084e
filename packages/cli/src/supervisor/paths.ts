import { fileURLToPath } from 'node:url'

/** The CLI's bin shim (tsx or the fresh bundle): what `up --detach` and the tsx fallback start. */
export const CLI_BIN = fileURLToPath(new URL('../../bin/calilab.js', import.meta.url))
