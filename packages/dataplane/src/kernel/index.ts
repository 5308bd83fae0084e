export * from './api.ts'
export { attachBpf, bpfEnv, bpfKindOf, detachBpf, hepProgram, wepProgram } from './bpf-attach.ts'
export { createHost, HostImpl } from './host.ts'
export { NetnsImpl } from './netns.ts'
export { flowHash } from './pipeline.ts'
export { formatRoute, RouteTables } from './routes.ts'
export type { TcAction, TcProgram } from './tc.ts'
export {
  formatWgShow,
  generateWireguardKeyPair,
  openTransport,
  parseTransport,
  sealTransport,
  sessionKeys,
  WG_DEFAULT_PORT,
  type WireguardKeyPair,
  wireguardPublicKey,
} from './wireguard.ts'
