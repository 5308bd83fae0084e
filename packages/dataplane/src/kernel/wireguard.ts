/**
 * WireGuard as the emulated kernel does it: the `wireguard` link's device state (private key,
 * listen port, peers), the transport-data framing and its ChaCha20-Poly1305 sealing.
 *
 * On the wire each encrypted packet is what real WireGuard sends after a handshake: an outer
 * IPv4/UDP packet (node IP:port -> peer endpoint:port) carrying a transport-data message
 *
 *   type 4 (1 byte), reserved (3), receiver index (4, LE), counter (8, LE),
 *   ChaCha20-Poly1305(key, nonce = 4 zero bytes + counter LE, plaintext padded to 16) + 16-byte tag
 *
 * What differs from real WireGuard (docs/wireguard.md): there is no Noise IK handshake. Both
 * sides derive the session from the static keys alone: the X25519 shared secret goes through
 * HKDF-SHA256 (salt = both public keys in sorted order) into one key per direction, and the
 * receiver index is a hash of the two public keys. No rekeying, cookies or keepalives.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto'
import { formatIPv4, prefixMask } from '@calilab/model'
import { buildUdp, IPPROTO_UDP, type PacketView } from '../core/packet/index.ts'
import type { PacketOutcome, PacketTraceStep, WireguardConfig, WireguardStatus } from './api.ts'

export const WG_DEFAULT_PORT = 51820
export const WG_MSG_TRANSPORT = 4
/** type + reserved + receiver index + counter. */
export const WG_TRANSPORT_HEADER = 16
export const WG_TAG_LEN = 16
/** Packets a receiver accepts out of order behind the highest counter seen (real WireGuard: 8192). */
const REPLAY_WINDOW = 64

const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex')
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const KDF_INFO = 'calilab wireguard v1'

export interface WireguardKeyPair {
  /** Base64 of the raw 32-byte keys, as `wg genkey` / `wg pubkey` print them. */
  privateKey: string
  publicKey: string
}

/** A fresh X25519 key pair (base64, 44 characters each). */
export function generateWireguardKeyPair(): WireguardKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length)
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length)
  return { privateKey: Buffer.from(priv).toString('base64'), publicKey: Buffer.from(pub).toString('base64') }
}

function rawKey(b64: string, what: string): Buffer {
  const b = Buffer.from(b64, 'base64')
  if (b.length !== 32) throw new Error(`wireguard: ${what} must be 32 bytes of base64, got ${b.length}`)
  return b
}

function privateKeyObject(b64: string): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_X25519, rawKey(b64, 'private key')]),
    format: 'der',
    type: 'pkcs8',
  })
}

function publicKeyObject(b64: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, rawKey(b64, 'public key')]), format: 'der', type: 'spki' })
}

/** The public key of a base64 private key (`wg pubkey`). */
export function wireguardPublicKey(privateKey: string): string {
  const pub = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' })
  return Buffer.from(pub.subarray(SPKI_X25519.length)).toString('base64')
}

/** The receiver index `receiver` expects on messages from `sender` (both base64 public keys). */
export function receiverIndex(receiver: string, sender: string): number {
  const h = createHash('sha256').update('calilab wireguard index').update(rawKey(receiver, 'public key'))
  return h.update(rawKey(sender, 'public key')).digest().readUInt32LE(0)
}

/** The two session keys between `mine` (private) and `theirs` (public): one per direction. */
export function sessionKeys(myPrivate: string, theirPublic: string): { send: Buffer; recv: Buffer } {
  const mine = wireguardPublicKey(myPrivate)
  const shared = diffieHellman({ privateKey: privateKeyObject(myPrivate), publicKey: publicKeyObject(theirPublic) })
  const a = rawKey(mine, 'public key')
  const b = rawKey(theirPublic, 'public key')
  const salt = Buffer.compare(a, b) < 0 ? Buffer.concat([a, b]) : Buffer.concat([b, a])
  const key = (from: Buffer, to: Buffer) =>
    Buffer.from(hkdfSync('sha256', shared, salt, Buffer.concat([Buffer.from(KDF_INFO), from, to]), 32))
  return { send: key(a, b), recv: key(b, a) }
}

function nonce(counter: number): Buffer {
  const n = Buffer.alloc(12)
  n.writeBigUInt64LE(BigInt(counter), 4)
  return n
}

/** A transport-data message: `inner` padded to 16 bytes, sealed with `key` under `counter`. */
export function sealTransport(key: Uint8Array, receiver: number, counter: number, inner: Uint8Array): Uint8Array {
  const padded = Buffer.alloc(Math.ceil(inner.length / 16) * 16)
  padded.set(inner)
  const c = createCipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: WG_TAG_LEN })
  const ct = c.update(padded)
  c.final()
  const out = Buffer.alloc(WG_TRANSPORT_HEADER + ct.length + WG_TAG_LEN)
  out[0] = WG_MSG_TRANSPORT
  out.writeUInt32LE(receiver >>> 0, 4)
  out.writeBigUInt64LE(BigInt(counter), 8)
  out.set(ct, WG_TRANSPORT_HEADER)
  out.set(c.getAuthTag(), WG_TRANSPORT_HEADER + ct.length)
  return out
}

export interface TransportHeader {
  receiver: number
  counter: number
}

/** The header of a transport-data message, or undefined when `msg` is not one. */
export function parseTransport(msg: Uint8Array): TransportHeader | undefined {
  if (msg.length < WG_TRANSPORT_HEADER + WG_TAG_LEN || msg[0] !== WG_MSG_TRANSPORT) return undefined
  if (msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return undefined
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.length)
  return { receiver: b.readUInt32LE(4), counter: Number(b.readBigUInt64LE(8)) }
}

/** The padded plaintext of a transport-data message, or undefined when its tag does not verify. */
export function openTransport(key: Uint8Array, msg: Uint8Array): Uint8Array | undefined {
  const h = parseTransport(msg)
  if (!h) return undefined
  const tagAt = msg.length - WG_TAG_LEN
  const d = createDecipheriv('chacha20-poly1305', key, nonce(h.counter), { authTagLength: WG_TAG_LEN })
  d.setAuthTag(msg.subarray(tagAt))
  const pt = d.update(msg.subarray(WG_TRANSPORT_HEADER, tagAt))
  try {
    d.final()
  } catch {
    return undefined
  }
  return pt
}

interface Peer {
  publicKey: string
  endpoint: number
  port: number
  allowed: { ip: number; prefix: number }[]
  send: Buffer
  recv: Buffer
  /** The index this peer puts on messages to us, and the one we put on messages to it. */
  rxIndex: number
  txIndex: number
  txCounter: number
  /** Highest counter accepted and the window behind it (bit i: counter hi - i seen). */
  rxHigh: number
  rxWindow: bigint
  rxPackets: number
  txPackets: number
  rxBytes: number
  txBytes: number
}

/** What a namespace gives the device: where decrypted packets go and how outer packets leave. */
export interface WireguardHooks {
  nodeIp(): number
  deliver(inner: Uint8Array, dev: string, trace: PacketTraceStep[] | undefined): PacketOutcome
  underlayOut(outer: Uint8Array, nextHop: number, trace: PacketTraceStep[] | undefined): PacketOutcome
}

/** The state behind one `wireguard` link (`wg show`). */
export class WireguardDevice {
  readonly dev: string
  port = WG_DEFAULT_PORT
  fwmark = 0
  private privateKey = ''
  publicKey = ''
  private peers: Peer[] = []
  private readonly byIndex = new Map<number, Peer>()
  private readonly hooks: WireguardHooks
  /** Messages dropped: tag did not verify, unknown receiver index, replayed counter, source not allowed. */
  readonly drops = { auth: 0, unknownPeer: 0, replay: 0, notAllowed: 0, noPeer: 0 }

  constructor(dev: string, hooks: WireguardHooks) {
    this.dev = dev
    this.hooks = hooks
  }

  /** Replaces the configuration; peers whose key stays keep their counters. */
  configure(cfg: WireguardConfig): void {
    this.port = cfg.listenPort ?? WG_DEFAULT_PORT
    this.fwmark = cfg.fwmark ?? 0
    const keyChanged = cfg.privateKey !== this.privateKey
    this.privateKey = cfg.privateKey
    this.publicKey = wireguardPublicKey(cfg.privateKey)
    const old = new Map(this.peers.map((p) => [p.publicKey, p]))
    this.peers = []
    this.byIndex.clear()
    for (const pc of cfg.peers) {
      if (pc.publicKey === this.publicKey) continue
      const prev = keyChanged ? undefined : old.get(pc.publicKey)
      const keys = prev ?? sessionKeys(cfg.privateKey, pc.publicKey)
      const p: Peer = prev ?? {
        publicKey: pc.publicKey,
        endpoint: 0,
        port: 0,
        allowed: [],
        send: keys.send,
        recv: keys.recv,
        rxIndex: receiverIndex(this.publicKey, pc.publicKey),
        txIndex: receiverIndex(pc.publicKey, this.publicKey),
        txCounter: 0,
        rxHigh: -1,
        rxWindow: 0n,
        rxPackets: 0,
        txPackets: 0,
        rxBytes: 0,
        txBytes: 0,
      }
      p.endpoint = pc.endpoint >>> 0
      p.port = pc.endpointPort ?? this.port
      p.allowed = pc.allowedIps.map((a) => ({ ip: (a.ip & prefixMask(a.prefix)) >>> 0, prefix: a.prefix }))
      this.peers.push(p)
      this.byIndex.set(p.rxIndex, p)
    }
  }

  /** The peer whose allowed IPs hold `ip` (longest prefix). */
  private peerFor(ip: number): Peer | undefined {
    let best: Peer | undefined
    let len = -1
    for (const p of this.peers)
      for (const a of p.allowed)
        if (a.prefix > len && (ip & prefixMask(a.prefix)) >>> 0 === a.ip) {
          best = p
          len = a.prefix
        }
    return best
  }

  /** Egress on the link: seals `pkt` for the peer owning its destination and sends it on the underlay. */
  transmit(
    pkt: Uint8Array,
    v: PacketView,
    trace: PacketTraceStep[] | undefined,
    ns: string,
  ): PacketOutcome | undefined {
    const p = this.peerFor(v.dst)
    if (!p || p.endpoint === 0) {
      this.drops.noPeer++
      return undefined
    }
    const msg = sealTransport(p.send, p.txIndex, p.txCounter++, pkt.subarray(0, v.totalLen || pkt.length))
    const src = this.hooks.nodeIp()
    const outer = buildUdp({ src, dst: p.endpoint, sport: this.port, dport: p.port, payload: msg, df: false })
    p.txPackets++
    p.txBytes += outer.length
    const mode = 'wireguard'
    trace?.push({ kind: 'encap', ns, dev: this.dev, outerSrc: src, outerDst: p.endpoint, mode, port: p.port })
    return this.hooks.underlayOut(outer, p.endpoint, trace)
  }

  /** A UDP packet to the listen port: opens it and delivers the inner packet on the link. */
  receive(pkt: Uint8Array, v: PacketView, trace: PacketTraceStep[] | undefined, ns: string): PacketOutcome | undefined {
    if (v.proto !== IPPROTO_UDP) return undefined
    const msg = pkt.subarray(v.payloadOff, v.payloadOff + v.payloadLen)
    const h = parseTransport(msg)
    const p = h && this.byIndex.get(h.receiver)
    if (!h || !p) {
      this.drops.unknownPeer++
      return undefined
    }
    if (h.counter + REPLAY_WINDOW <= p.rxHigh || (h.counter <= p.rxHigh && this.seen(p, h.counter))) {
      this.drops.replay++
      return undefined
    }
    const pt = openTransport(p.recv, msg)
    if (!pt) {
      this.drops.auth++
      return undefined
    }
    const innerLen = pt.length >= 4 && pt[0]! >> 4 === 4 ? (pt[2]! << 8) | pt[3]! : 0
    if (innerLen < 20 || innerLen > pt.length) {
      this.drops.auth++
      return undefined
    }
    const inner = new Uint8Array(pt.subarray(0, innerLen))
    const src = ((inner[12]! << 24) | (inner[13]! << 16) | (inner[14]! << 8) | inner[15]!) >>> 0
    if (this.peerFor(src) !== p) {
      this.drops.notAllowed++
      return undefined
    }
    this.accept(p, h.counter)
    p.rxPackets++
    p.rxBytes += pkt.length
    // Roaming: the peer's endpoint follows where its authenticated packets come from.
    if (v.src !== p.endpoint) p.endpoint = v.src
    trace?.push({ kind: 'decap', ns, dev: this.dev, mode: 'wireguard', outerSrc: v.src, port: v.sport })
    return this.hooks.deliver(inner, this.dev, trace)
  }

  private seen(p: Peer, counter: number): boolean {
    return ((p.rxWindow >> BigInt(p.rxHigh - counter)) & 1n) === 1n
  }

  private accept(p: Peer, counter: number): void {
    if (counter > p.rxHigh) {
      const shift = counter - p.rxHigh
      p.rxWindow = shift >= REPLAY_WINDOW ? 1n : ((p.rxWindow << BigInt(shift)) | 1n) & ((1n << 64n) - 1n)
      p.rxHigh = counter
    } else p.rxWindow |= 1n << BigInt(p.rxHigh - counter)
  }

  status(): WireguardStatus {
    return {
      dev: this.dev,
      publicKey: this.publicKey,
      listenPort: this.port,
      fwmark: this.fwmark,
      drops: { ...this.drops },
      peers: this.peers.map((p) => ({
        publicKey: p.publicKey,
        endpoint: `${formatIPv4(p.endpoint)}:${p.port}`,
        allowedIps: p.allowed.map((a) => `${formatIPv4(a.ip)}/${a.prefix}`),
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
        rxPackets: p.rxPackets,
        txPackets: p.txPackets,
      })),
    }
  }
}

/** `wg show` as wireguard-tools prints it (private key hidden). */
export function formatWgShow(s: WireguardStatus): string {
  let out = `interface: ${s.dev}\n  public key: ${s.publicKey}\n  private key: (hidden)\n  listening port: ${s.listenPort}\n`
  if (s.fwmark) out += `  fwmark: 0x${s.fwmark.toString(16)}\n`
  for (const p of s.peers) {
    out += `\npeer: ${p.publicKey}\n  endpoint: ${p.endpoint}\n  allowed ips: ${p.allowedIps.join(', ') || '(none)'}\n`
    if (p.rxBytes || p.txBytes) out += `  transfer: ${p.rxBytes} B received, ${p.txBytes} B sent\n`
  }
  return out
}
