/**
 * A multi-host test bed: N network namespaces on one machine, each with its own dockerd and flotilla
 * agent, joined by a bridge in a namespace of its own, with reversible network and process faults.
 * See README.md. Needs root, iproute2, iptables, docker.io and busybox-static.
 */
export { TestBed, TEST_IMAGE, type BedCluster, type BedHost, type BedInit, type BedTimings, type HostRef } from './bed.js'
export { BedEngine, type EngineInit } from './engine.js'
export { BedError, type BedErrorCode } from './errors.js'
export { NETWORK_FAULTS, type Fault, type FaultKind } from './faults.js'
export { checkPrerequisites, type BedTools } from './prerequisites.js'
export { findRunRemains, purgeRunSync, removeLeftovers, type RunRemains } from './purge.js'
