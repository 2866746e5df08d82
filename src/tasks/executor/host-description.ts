import { arch, cpus, platform, totalmem } from 'node:os'
import type { NodeDescription, EngineStatus } from '../../membership/index.js'

/** Docker's spelling of Node's `process.arch` (Docker reports `uname -m`). */
export function dockerArch (nodeArch: string): string {
  switch (nodeArch) {
    case 'x64': return 'x86_64'
    case 'arm64': return 'aarch64'
    case 'ia32': return 'i386'
    default: return nodeArch
  }
}

/** The host's own platform and size, used when the engine cannot tell. */
export function hostDescription (engine: EngineStatus): NodeDescription {
  return {
    os: platform(),
    arch: dockerArch(arch()),
    nanoCpus: cpus().length * 1_000_000_000,
    memoryBytes: totalmem(),
    engine
  }
}
