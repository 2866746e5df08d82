import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { orderByView, writeInPlace } from '../../../../../src/tasks/executor/docker/overlay/task-containers.js'
import { ingressNetwork, network } from './fixtures.js'

describe('task container helpers', () => {
  it('writes a hosts file in place: same inode, longer or shorter text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-hosts-'))
    try {
      const path = join(dir, 'hosts', 't1')
      await writeInPlace(path, 'a long first text\n')
      const inode = statSync(path).ino
      await writeInPlace(path, 'short\n')
      expect(readFileSync(path, 'utf8')).toBe('short\n')
      await writeInPlace(path, 'a longer text than the one before\n')
      expect(readFileSync(path, 'utf8')).toBe('a longer text than the one before\n')
      expect(statSync(path).ino).toBe(inode)
      expect(statSync(path).mode & 0o777).toBe(0o644)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('orders a container\'s networks as the view does, whichever way they were learnt; unknown ones last', () => {
    const view = [network(), ingressNetwork()]
    const learnt = [
      { networkId: 'net-gone', address: '10.9.9.9' },
      { networkId: 'net-ingress', address: '10.0.0.3/24' },
      { networkId: 'net-web', address: '10.0.9.3/24' }
    ]
    expect(orderByView(learnt, view)).toEqual([
      { networkId: 'net-web', address: '10.0.9.3' },
      { networkId: 'net-ingress', address: '10.0.0.3' },
      { networkId: 'net-gone', address: '10.9.9.9' }
    ])
  })
})
