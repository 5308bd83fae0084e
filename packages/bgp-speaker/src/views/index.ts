export {
  BIRD_BANNER,
  type BirdcOptions,
  baseProtocols,
  formatShowProtocols,
  formatShowProtocolsAll,
  formatShowRoute,
  type ViewProtocol,
  type ViewRoute,
  type ViewRoutePath,
} from './birdc.ts'
export { calicoPeerOf, formatNodeStatus, type NodeStatusOptions, renderTable } from './node-status.ts'
export { bgpInfo, bgpStateText, type ViewPeer, type ViewPeerExtra, viewPeersFromStatus } from './peer.ts'
export { birdTime, type ViewClock } from './time.ts'
