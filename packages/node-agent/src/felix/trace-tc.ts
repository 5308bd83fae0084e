/**
 * `calilab trace` lines for what the eBPF dataplane's tc programs did (`tc` steps) and for the
 * tunnels' encap/decap steps, in the style of the hook blocks: a header line naming the program,
 * the link and the packet it saw, one indented line per thing it did, then `=> VERDICT`.
 */
import {
  type BpfNote,
  CT_FLAG_DSR_FWD,
  CT_FLAG_EXT_LOCAL,
  CT_FLAG_NP_FWD,
  type PacketTraceStep,
} from '@calilab/dataplane'
import { formatIPv4 } from '@calilab/model'

type TcStep = Extract<PacketTraceStep, { kind: 'tc' }>
type EncapStep = Extract<PacketTraceStep, { kind: 'encap' }>
type DecapStep = Extract<PacketTraceStep, { kind: 'decap' }>

const PROTO: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp' }
const ipPort = (ip: number, port: number) => `${formatIPv4(ip)}:${port}`

function ctFlags(f: number): string[] {
  const n: string[] = []
  if (f & CT_FLAG_NP_FWD) n.push('NP_FWD')
  if (f & CT_FLAG_DSR_FWD) n.push('DSR_FWD')
  if (f & CT_FLAG_EXT_LOCAL) n.push('EXT_LOCAL')
  return n
}

/** One line for one thing a program did. */
export function describeBpfNote(n: BpfNote): string {
  switch (n.kind) {
    case 'tunnel-in':
      return `VXLAN decap: NodePort tunnel from node ${formatIPv4(n.from)} (vni 0x${n.vni.toString(16)})`
    case 'ct': {
      const extra = [...ctFlags(n.flags), ...(n.tunIp ? [`tunnel ${formatIPv4(n.tunIp)}`] : [])]
      return `conntrack hit: ${n.type}, established${extra.length ? ` (${extra.join(', ')})` : ''}`
    }
    case 'frontend': {
      const where = n.node ? `on node ${formatIPv4(n.node)}` : 'on this node'
      const etp = n.extLocal ? ', externalTrafficPolicy Local' : ''
      return `conntrack miss; NAT frontend ${ipPort(n.addr, n.port)}/${PROTO[n.proto] ?? n.proto} -> backend ${ipPort(n.backend, n.backendPort)} ${where} (${n.count} backend${n.count === 1 ? '' : 's'}${etp})`
    }
    case 'no-frontend':
      return `conntrack miss; no NAT frontend for ${ipPort(n.addr, n.port)}/${PROTO[n.proto] ?? n.proto}`
    case 'kernel':
      return 'mid-connection TCP without a BPF conntrack entry: left to the kernel (opened before BPF mode)'
    case 'nat':
      return n.field === 'dst'
        ? `DNAT ${ipPort(n.from, n.fromPort)} -> ${ipPort(n.to, n.toPort)}`
        : `reverse NAT: source ${ipPort(n.from, n.fromPort)} -> ${ipPort(n.to, n.toPort)}`
    case 'tunnel-out':
      return n.reply
        ? `VXLAN tunnel back to ingress node ${formatIPv4(n.to)} (Tunnel mode: the reply returns the way it came)`
        : `VXLAN tunnel to node ${formatIPv4(n.to)}, the backend's node (the original packet: client IP kept)`
    case 'dsr':
      return `DSR: the reply goes straight to the client ${formatIPv4(n.to)}, not back through the ingress node`
  }
}

/**
 * A program that passed a packet unchanged, having found nothing to do, on egress (every packet
 * leaving eth0 or a veth crosses one): noise unless verbose, like an empty hook.
 */
export function isQuietTc(s: TcStep): boolean {
  return s.dir === 'egress' && s.action === 'unchanged' && s.notes.every((n) => n.kind === 'no-frontend')
}

export function formatTcStep(s: TcStep, where: string): string[] {
  const out = [`${where} tc ${s.dir} on ${s.dev} (calico ${s.program} program): ${s.summary}`]
  for (const n of s.notes) out.push(`    ${describeBpfNote(n)}`)
  switch (s.action) {
    case 'unchanged':
      out.push('  => PASS (unchanged)')
      break
    case 'pass':
      out.push(`  => PASS ${s.dir === 'ingress' ? 'up the stack' : 'out'}: ${s.after ?? ''}`)
      break
    case 'redirect':
      out.push(
        `  => REDIRECT out of ${s.to}${s.via !== undefined ? ` via ${formatIPv4(s.via)}` : ''} (skips the stack): ${s.after ?? ''}`,
      )
      break
    case 'drop':
      out.push(`  => DROP: ${s.reason ?? ''}`)
      break
  }
  return out
}

export function formatEncap(s: EncapStep, where: string): string {
  if (s.mode === 'wireguard')
    return `${where} wireguard: encrypted to peer ${formatIPv4(s.outerDst)}:${s.port ?? 51820} (${s.dev}), outer ${formatIPv4(s.outerSrc)} -> ${formatIPv4(s.outerDst)} UDP`
  return `${where} ${s.mode} encap on ${s.dev}: ${formatIPv4(s.outerSrc)} -> ${formatIPv4(s.outerDst)}`
}

export function formatDecap(s: DecapStep, where: string): string {
  if (s.mode === 'wireguard' && s.outerSrc !== undefined)
    return `${where} wireguard: decrypted from peer ${formatIPv4(s.outerSrc)}:${s.port ?? 51820} (${s.dev})`
  return `${where} ${s.mode} decap on ${s.dev}`
}
