/** @calilab/bgp-speaker: BGP-4 codec, FSM and RIBs (pure core) and a TCP speaker (shell). */

export * from './calico/index.ts'
export * from './core/codec/index.ts'
export {
  FSM_DEFAULTS,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmState,
  type FsmStateName,
  type FsmStep,
  fsmConfig,
  initialFsm,
  keepaliveFor,
  keepLocallyInitiated,
  step,
  type TimerName,
} from './core/fsm.ts'
export {
  compareRoutes,
  DEFAULT_LOCAL_PREF,
  type PeerInfo,
  type PeerOut,
  Rib,
  type RibConfig,
  type RibResult,
  type Route,
  type RouteChange,
} from './core/rib.ts'
export { Session, type SessionHooks, type SessionInit } from './io/session.ts'
export {
  createSpeaker,
  type PeerConfig,
  type PeerStatus,
  type RibChangeListener,
  type RoutesListener,
  Speaker,
  type SpeakerInit,
} from './io/speaker.ts'
export { type PeerSpec, parsePeerSpec, type RunningSpeaker, runSpeaker, type SpeakerDeps } from './main.ts'
export * from './router/index.ts'
export * from './views/index.ts'
