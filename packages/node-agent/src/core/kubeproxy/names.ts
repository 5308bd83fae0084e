/**
 * kube-proxy's chain names (pkg/proxy/iptables/proxier.go `portProtoHash`): the prefix plus the
 * first 16 characters of base32 (RFC 4648 standard alphabet) of SHA-256 over
 * `servicePortName + protocol` (+ `ip:port` for an endpoint chain); protocol lower-case.
 */

import { createHash } from 'node:crypto'

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32, standard alphabet, with padding. */
export function base32(buf: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const b of buf) {
    value = ((value << 8) | b) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31]
  while (out.length % 8 !== 0) out += '='
  return out
}

function hash16(s: string): string {
  return base32(createHash('sha256').update(s).digest()).slice(0, 16)
}

/** `ns/svc:port` (`ns/svc` when the port has no name). */
export function servicePortName(namespace: string, service: string, portName: string | undefined): string {
  return portName ? `${namespace}/${service}:${portName}` : `${namespace}/${service}`
}

export function portProtoHash(spn: string, protocol: string): string {
  return hash16(spn + protocol.toLowerCase())
}

export function serviceChainName(spn: string, protocol: string): string {
  return `KUBE-SVC-${portProtoHash(spn, protocol)}`
}
export function firewallChainName(spn: string, protocol: string): string {
  return `KUBE-FW-${portProtoHash(spn, protocol)}`
}
/** The externalTrafficPolicy=Local chain of kube-proxy ≤1.23 (`KUBE-XLB-`). */
export function localChainName(spn: string, protocol: string): string {
  return `KUBE-XLB-${portProtoHash(spn, protocol)}`
}
/** `endpoint` is `ip:port`. */
export function endpointChainName(spn: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(spn + protocol.toLowerCase() + endpoint)}`
}
