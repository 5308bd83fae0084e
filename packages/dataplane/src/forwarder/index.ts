export { FastPath } from './fastpath.ts'
export { type Forwarder, InlineForwarder, WorkerForwarder, type WorkerForwarderOptions } from './forwarder.ts'
export type * from './messages.ts'
export { decodeSnapshot, encodeSnapshot, snapshotOf } from './snapshot.ts'
