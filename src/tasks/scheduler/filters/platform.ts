import type { Platform } from '../types.js'
import type { Filter } from './types.js'

// Engines report `uname -m`; images name Go's GOARCH. SwarmKit treats these pairs as one.
function normalArch (arch: string): string {
  switch (arch) {
    case 'x86_64': return 'amd64'
    case 'aarch64': return 'arm64'
    default: return arch
  }
}

function supports (image: Platform, node: Platform): boolean {
  return (image.arch === '' || normalArch(image.arch) === normalArch(node.arch)) &&
    (image.os === '' || image.os === node.os)
}

/** The node's platform must be one the image supports; an empty list supports every platform. */
export const platformFilter: Filter = (node, task) => {
  if (task.platforms.length === 0) return null
  for (const p of task.platforms) {
    if (supports(p, node.platform)) return null
  }
  return 'unsupported platform'
}
