/** Felix's mark bits with the default `iptablesMarkMask` 0xffff0000 (calico.md §3.4). */
export const MARK_ACCEPT = 0x10000
export const MARK_PASS = 0x20000
export const MARK_SCRATCH0 = 0x40000
export const MARK_SCRATCH1 = 0x80000

const hex = (n: number): string => `0x${n.toString(16)}`

/** `-j MARK --set-xmark V/M` (as iptables-save prints it). */
export const setMark = (value: number, mask: number): string => `-j MARK --set-xmark ${hex(value)}/${hex(mask)}`
/** `-m mark --mark V/M`. */
export const markIs = (value: number, mask: number): string => `-m mark --mark ${hex(value)}/${hex(mask)}`
export const comment = (c: string): string => `-m comment --comment "${c.replace(/"/g, "'")}"`
