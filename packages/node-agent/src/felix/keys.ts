/** The plural of a store key `/<group|core>/<plural>/<ns|_>/<name>` (for per-kind counts). */
export function parseStoreKeyLike(key: string): string {
  const parts = key.split('/')
  return parts[2] ?? key
}
