import type { NodeDescription } from '../../membership/index.js'

/**
 * The container runtime behind one node, as the rest of flotilla sees it. Only the Docker executor
 * (executor/docker) touches dockerode. Task controllers (prepare, start, wait, shutdown, remove) join
 * this interface with the services work.
 */
export interface Executor {
  /** Describe the node from its engine: platform, resources, engine version and labels. Never throws:
   *  an engine that does not answer is described as unavailable, with the host's own platform and size. */
  describe(): Promise<NodeDescription>
}
