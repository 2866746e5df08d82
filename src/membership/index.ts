/** The membership layer: identity, tokens, certificates, the libp2p host and SWIM membership. */
export { FlotillaError, asFlotillaError, type ErrorCode } from './errors.js'
export { createLogger, silentLogger, LOG_LEVELS, type Logger, type LogLevel } from './logger.js'
export { newObjectId, isObjectId } from './ids.js'
export { parseHostPort, formatHostPort, fromMultiaddr, defaultAdvertiseIp, isUnspecified, DEFAULT_PORT, type HostPort } from './addr.js'
export { issueCertificate, verifyCertificate, certificateClaims, generateRootKeyPair, type NodeRole, type RootKeyPair, type CertificateClaims } from './certificate.js'
export type { NodeDescription, EngineStatus, NodeView } from './node-view.js'
export type { Member, MemberEvent, Liveness } from './member-table.js'
export { formatToken, newTokenSecret, roleForSecret, parseToken } from './token.js'
export type { JoinRequest, AdmitResult, JoinGrant } from './join-protocol.js'
export type { KnownMember } from './member-table.js'
export type { FrameStream } from './frame-stream.js'
export { loadOrCreateNodeKey, loadMembershipState, clearMembership, removeNodeKey, type MembershipState, type NodeKey } from './membership-state.js'
export {
  Membership, DEFAULT_TIMING, type MembershipDeps, type MembershipTiming, type NodeAddresses, type MembershipIdentity,
  type ClusterAuthority, type MembershipStats
} from './membership.js'
export type { PeerIdentity } from './member-streams.js'
export { isRecord, isBytes, encode, decode } from './codec.js'
export { writeFileDurable } from './durable-file.js'
