/** A node's rendering as iptables-restore and ipset restore text. */
import { KERNEL_CHAINS, type NodeRendering, RENDERED_TABLES } from './render.ts'

/** Full `iptables-restore` text (each table replaced) for a rendering. */
export function toIptablesRestore(r: NodeRendering): string {
  let s = ''
  for (const t of RENDERED_TABLES) {
    const chains = r.tables[t]
    s += `*${t}\n`
    for (const k of KERNEL_CHAINS[t]) s += `:${k} ACCEPT [0:0]\n`
    for (const name of chains.keys()) if (!KERNEL_CHAINS[t].includes(name)) s += `:${name} - [0:0]\n`
    for (const [name, rules] of chains) for (const rule of rules) s += `-A ${name} ${rule}\n`
    s += 'COMMIT\n'
  }
  return s
}

/** `ipset restore` text creating every set of a rendering with its members. */
export function toIpsetRestore(r: NodeRendering): string {
  let s = ''
  for (const set of r.ipsets.values()) {
    s += `create ${set.name} ${set.type} family inet hashsize 1024 maxelem 1048576\n`
    for (const m of set.members) s += `add ${set.name} ${m}\n`
  }
  return s
}
