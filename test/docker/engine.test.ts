import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AgentProcess, freePort } from '../support/agent-process.js'
import { ENGINE_SOCKET, requireEngine } from '../support/docker-engine.js'

// The executor describes the node from a real Docker engine; a node whose engine does not answer
// still runs and says so.
describe('node description from the Docker engine', () => {
  let dir: string
  const agents: AgentProcess[] = []

  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'flotilla-engine-')) })
  afterAll(async () => {
    await Promise.all(agents.map(async a => { await a.kill() }))
    rmSync(dir, { recursive: true, force: true })
  })

  it('reports the engine\'s version, CPUs and memory', async () => {
    const engine = await requireEngine()
    const a = new AgentProcess({ baseDir: dir, hostname: 'engine-1', port: await freePort(), dockerHost: `unix://${ENGINE_SOCKET}` })
    agents.push(a)
    await a.start(['--init'])
    const self = (await a.api('GET', '/nodes/engine-1')).body
    expect(self.Description.Engine.EngineVersion).toBe(engine.version)
    expect(self.Description.Resources.NanoCPUs).toBe(engine.ncpu * 1e9)
    expect(self.Description.Resources.MemoryBytes).toBe(engine.memTotal)
    expect(self.Status.Message).toBeUndefined()
    expect(a.logs).toMatch(/engine available version=/)
  })

  it('keeps running with an engine that does not answer, and reports it unavailable', async () => {
    const a = new AgentProcess({ baseDir: dir, hostname: 'engine-2', port: await freePort(), dockerHost: `unix://${join(dir, 'no-engine.sock')}` })
    agents.push(a)
    await a.start(['--init'])
    const self = (await a.api('GET', '/nodes/engine-2')).body
    expect(self.Description.Engine.EngineVersion).toBe('')
    expect(self.Status.State).toBe('ready')
    expect(self.Status.Message).toMatch(/does not answer/)
    const ls = await a.cli(['node', 'ls'])
    expect(ls.stdout).toMatch(/engine-2\s+Ready\s+Active\s+Leader\s+unavailable/)
    expect(a.logs).toMatch(/engine unavailable/)
  })
})
