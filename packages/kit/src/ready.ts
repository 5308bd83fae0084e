/**
 * Every process prints one ready line on stdout when it is serving, so a supervisor or test can
 * wait for it and learn the bound addresses: `CALILAB_READY {"component":"apiserver",...}`.
 */
export const READY_PREFIX = 'CALILAB_READY '

export function readyLine(info: Record<string, unknown>): string {
  return `${READY_PREFIX}${JSON.stringify(info)}`
}

export function parseReadyLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith(READY_PREFIX)) return undefined
  try {
    return JSON.parse(line.slice(READY_PREFIX.length)) as Record<string, unknown>
  } catch {
    return undefined
  }
}
