export * from './allocate.ts'
export {
  assignFromBlock,
  assignOrdinal,
  attributeOf,
  inUse,
  ipToOrdinal,
  isEmpty,
  newBlock,
  ordinalsForHandle,
  ordinalToIp,
  releaseOrdinals,
} from './block.ts'
export * from './names.ts'
export * from './pools.ts'
export * from './release.ts'
export * from './show.ts'
export {
  affinityObject,
  applyWriteResults,
  blockObject,
  emptyIpamState,
  handleObject,
  IPAM_API_VERSION,
  ipamResources,
  ipamStateFromResources,
} from './state.ts'
export { goF0, goG5, renderTable } from './table.ts'
export * from './types.ts'
