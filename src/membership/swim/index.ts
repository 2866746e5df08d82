/**
 * SWIM membership with Lifeguard, as a pure core (see README.md). Not wired into the agent yet: the
 * driver that will own its timers and streams decides how messages travel.
 */
export { SwimCore, type SwimInit } from './swim.js'
export {
  DEFAULT_SWIM_CONFIG, resolveSwimConfig, suspicionBoundsMs, suspicionTimeoutMs, expectedConfirmations, retransmitLimit,
  pushPullIntervalMs, PUSH_PULL_SCALE_THRESHOLD, type SwimConfig
} from './config.js'
export { MemberDirectory } from './member-list.js'
export { encodeSwimMessage, decodeSwimMessage, MAX_SWIM_FRAME_BYTES, MAX_META_BYTES } from './wire.js'
export {
  STATE_CODE, type MemberState, type Gossip, type StateEntry, type StateCode, type SwimMessage, type SwimMessageType, type Outgoing,
  type SwimEvent, type SwimOutput, type SwimMember, type KnownSwimMember, type SwimStats
} from './types.js'
