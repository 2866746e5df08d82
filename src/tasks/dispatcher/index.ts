/** The dispatcher: the leader's sessions with every node, and their carriers. */
export {
  DISPATCH_PROTOCOL, MAX_DISPATCH_FRAME, HEARTBEAT_PERIOD_MS, NODE_DOWN_AFTER_MS, LEADER_GRACE_MS, MAX_REPORTS_PER_FRAME,
  parseNodeMessage, parseLeaderMessage,
  type Assignment as TaskAssignment, type Report, type NodeMessage, type LeaderMessage, type DispatcherLink, type LinkHandlers,
  type ConnectDispatcher
} from './protocol.js'
export { Dispatcher, DEFAULT_DISPATCHER_TIMING, type DispatcherSession, type DispatcherTiming } from './dispatcher.js'
export { assignmentOf, assignmentsOf, isAssignedTo } from './assignments.js'
export { networkIndex, viewFor, viewsMayChange, type NetworkIndex } from './network-view.js'
export { serveDispatch, connectRemote, connectLocal, type DispatchTarget } from './links.js'
