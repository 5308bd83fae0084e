/**
 * Rule text in the canonical form `iptables-save` prints: addresses and protocol first
 * (`[!] -s`, `[!] -d`, `-p`), then the matches in the order given, then the target. Comments are
 * quoted exactly when xtables quotes them (any character outside `[A-Za-z0-9_-]`).
 */

export interface RuleSpec {
  readonly chain: string
  readonly src?: string
  readonly notSrc?: boolean
  readonly dst?: string
  readonly proto?: string
  /** Already-rendered match fragments, e.g. `-m comment --comment "x"`, `-m tcp --dport 80`. */
  readonly matches?: readonly string[]
  /** `-j <target> [options]` without the `-j`. */
  readonly target: string
}

/** xtables_save_string: bare when only `[A-Za-z0-9_-]`, else double-quoted with `"\'` escaped. */
export function saveString(s: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(s)) return s
  return `"${s.replace(/["\\']/g, (c) => `\\${c}`)}"`
}

export function comment(text: string): string {
  return `-m comment --comment ${saveString(text)}`
}

/** `a.b.c.d` → `a.b.c.d/32`; CIDRs unchanged. */
export function toCidr(ip: string): string {
  return ip.includes('/') ? ip : `${ip}/32`
}

export function renderRule(r: RuleSpec): string {
  const parts = ['-A', r.chain]
  if (r.src !== undefined) parts.push(...(r.notSrc ? ['!', '-s', r.src] : ['-s', r.src]))
  if (r.dst !== undefined) parts.push('-d', r.dst)
  if (r.proto !== undefined) parts.push('-p', r.proto)
  for (const m of r.matches ?? []) parts.push(m)
  parts.push('-j', r.target)
  return parts.join(' ')
}

/** Rounds num/den to `digits` decimals, ties to even (printf on an exact binary value). */
function fixedHalfEven(num: bigint, den: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits)
  let q = (num * scale) / den
  const r = (num * scale) % den
  if (2n * r > den || (2n * r === den && q % 2n === 1n)) q += 1n
  const s = q.toString().padStart(digits + 1, '0')
  return `${s.slice(0, -digits)}.${s.slice(-digits)}`
}

/** Go's `%0.10f` of 1/n (ties only occur when 1/n is exact in binary, i.e. n a power of two). */
export function kubeProxyProbability(n: number): string {
  const isPow2 = (n & (n - 1)) === 0
  return isPow2 ? fixedHalfEven(1n, BigInt(n), 10) : (1 / n).toFixed(10)
}

/**
 * What `iptables-save` prints for the statistic match kube-proxy wrote for 1/n: the kernel keeps
 * lround(p·2^31) and iptables prints that over 2^31 with `%.11f` (1/2 → `0.50000000000`).
 */
export function probabilityText(n: number): string {
  const written = Number(kubeProxyProbability(n))
  const fixed = Math.round(written * 0x80000000)
  return fixedHalfEven(BigInt(fixed), 0x80000000n, 11)
}
