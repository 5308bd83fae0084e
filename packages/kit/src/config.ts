/**
 * One schema, one defaults object, explicit precedence: defaults < file < env (CALILAB_*) < flags.
 * Parsed once in main.ts, frozen, and passed down; nothing else reads process.env.
 */
export type ConfigValue = string | number | boolean | undefined

export interface ConfigLayers<T> {
  defaults: T
  file?: Partial<T>
  env?: Record<string, string | undefined>
  flags?: Partial<T>
}

function envName(key: string): string {
  return `CALILAB_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`
}

function coerce(raw: string, like: unknown, key: string): unknown {
  if (typeof like === 'number') {
    const n = Number(raw)
    if (!Number.isFinite(n)) throw new Error(`${envName(key)}: "${raw}" is not a number`)
    return n
  }
  if (typeof like === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true
    if (/^(0|false|no|off)$/i.test(raw)) return false
    throw new Error(`${envName(key)}: "${raw}" is not a boolean (use true or false)`)
  }
  return raw
}

export function loadConfig<T extends Record<string, unknown>>(layers: ConfigLayers<T>): Readonly<T> {
  const out: Record<string, unknown> = { ...layers.defaults }
  const known = new Set(Object.keys(layers.defaults))
  for (const [k, v] of Object.entries(layers.file ?? {})) {
    if (!known.has(k)) throw new Error(`config file: unknown key "${k}" (known: ${[...known].join(', ')})`)
    if (v !== undefined) out[k] = v
  }
  for (const k of known) {
    const raw = layers.env?.[envName(k)]
    if (raw !== undefined && raw !== '') out[k] = coerce(raw, layers.defaults[k], k)
  }
  for (const [k, v] of Object.entries(layers.flags ?? {})) {
    if (!known.has(k)) throw new Error(`unknown option "${k}"`)
    if (v !== undefined) out[k] = v
  }
  return Object.freeze(out) as Readonly<T>
}

export { envName as configEnvName }
