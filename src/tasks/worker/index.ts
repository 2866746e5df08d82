/** The worker: this node's end of the dispatcher session, running the tasks the leader assigns it. */
export { Worker, type WorkerDeps } from './worker.js'
