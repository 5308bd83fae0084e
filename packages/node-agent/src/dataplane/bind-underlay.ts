/**
 * Wires a node's emulated kernel to the dataplane's `UdpUnderlay` (the one underlay
 * implementation: connected socket per peer, no per-datagram lookups): binds the node's real
 * endpoint, hands every datagram to `host.fromUnderlay` (which the live fast path fronts), and
 * makes the socket the host's underlay. Used by the node driver and host1's router.
 */
import { type Host, type PacketOptions, UdpUnderlay } from '@calilab/dataplane'
import type { Logger } from '@calilab/kit'

/** Passed with every datagram: `fromUnderlay`'s default would allocate an object per packet. */
const NO_OPTIONS: PacketOptions = Object.freeze({})

export interface BindUnderlayInit {
  /** Real address to bind (the node's loopback endpoint). */
  bind: string
  /** 0 = ephemeral (tests); default 4789. */
  port?: number
  log?: Logger
}

export async function bindUnderlay(host: Host, init: BindUnderlayInit): Promise<UdpUnderlay> {
  let failures = 0
  const u = await UdpUnderlay.bind({
    address: init.bind,
    port: init.port ?? 4789,
    onPacket: (bytes) => {
      try {
        host.fromUnderlay(bytes, NO_OPTIONS)
      } catch (err) {
        // One warning per 1,000 failures: a bad packet must not flood the log.
        if (failures++ % 1000 === 0) init.log?.warn({ err, failures }, 'underlay packet failed')
      }
    },
  })
  host.setUnderlay(u)
  return u
}

/** `HOST:PORT` -> endpoint (the `calilab.dev/underlay` annotation's form). */
export function parseEndpoint(s: string): { address: string; port: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s)
  return m ? { address: m[1] as string, port: Number(m[2]) } : undefined
}
