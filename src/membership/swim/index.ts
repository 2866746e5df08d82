/**
 * SWIM membership with Lifeguard, as a pure core (see README.md). ../swim-driver.ts drives it in the
 * agent: its timers, streams and the broadcast topic.
 */
export { SwimCore, type SwimInit } from './swim.js'
export {
  DEFAULT_SWIM_CONFIG, resolveSwimConfig, suspicionBoundsMs, suspicionTimeoutMs, expectedConfirmations, retransmitLimit,
  pushPullIntervalMs, PUSH_PULL_SCALE_THRESHOLD, type SwimConfig
} from './config.js'
export { MemberDirectory } from './member-list.js'
export { encodeSwimMessage, decodeSwimMessage, checkSwimMessage, MAX_SWIM_FRAME_BYTES, MAX_META_BYTES, MAX_PROOF_BYTES } from './wire.js'
export {
  STATE_CODE, type MemberState, type Gossip, type StateEntry, type StateCode, type SwimMessage, type SwimMessageType, type Outgoing,
  type SwimEvent, type SwimOutput, type SwimMember, type KnownSwimMember, type SwimStats
} from './types.js'
