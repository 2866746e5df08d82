/** Durable Raft state: a checksummed write-ahead log plus snapshots, recovered after any crash. */
export { RaftStorage, type RaftStorageOpened, type RaftStorageOptions } from './raft-storage.js'
export { MAX_RECORD_BYTES } from './record.js'
export { CORRUPTION_HINT } from './errors.js'
