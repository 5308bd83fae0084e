export { type UdpEndpoint, UdpUnderlay, type UdpUnderlayOptions, type UdpUnderlayStats } from './udp-underlay.ts'
