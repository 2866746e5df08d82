import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskFiles, containerTarget } from '../../../../src/tasks/executor/docker/task-files.js'
import type { TaskDescription } from '../../../../src/tasks/executor/index.js'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

function task (over: Partial<TaskDescription> = {}): TaskDescription {
  return {
    taskId: 't1', serviceId: 's1', serviceName: 'db', slot: 1, nodeId: 'n1',
    spec: {
      Image: 'busybox',
      Secrets: [{ File: { Name: 'password', UID: '0', GID: '0', Mode: 0o400 }, SecretID: 'sec1', SecretName: 'pw' }],
      Configs: [{ File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 0o444 }, ConfigID: 'cfg1', ConfigName: 'app' }]
    },
    secrets: [{ id: 'sec1', name: 'pw', data: Buffer.from('hunter2') }],
    configs: [{ id: 'cfg1', name: 'app', data: Buffer.from('listen 80\n') }],
    ...over
  }
}

describe('task files', () => {
  it('names targets as Docker does: secrets under /run/secrets unless absolute, configs absolute', () => {
    expect(containerTarget('secret', { Name: 'pw', UID: '0', GID: '0', Mode: 0o444 }, 'pw')).toBe('/run/secrets/pw')
    expect(containerTarget('secret', { Name: '/etc/pw', UID: '0', GID: '0', Mode: 0o444 }, 'pw')).toBe('/etc/pw')
    expect(containerTarget('config', { Name: 'app.conf', UID: '0', GID: '0', Mode: 0o444 }, 'app')).toBe('/app.conf')
  })

  it('writes secrets to the tmpfs and configs to disk with their modes, binds them read-only, and removes them with the task', async () => {
    const secretsDir = mkdtempSync(join('/dev/shm', 'flotilla-files-'))
    const configsDir = mkdtempSync(join(tmpdir(), 'flotilla-configs-'))
    dirs.push(secretsDir, configsDir)
    const files = new TaskFiles({ secretsDir, configsDir })
    const binds = await files.prepare(task())
    expect(binds).toEqual([`${join(secretsDir, 't1', 'sec1')}:/run/secrets/password:ro`, `${join(configsDir, 't1', 'cfg1')}:/etc/app.conf:ro`])
    expect(readFileSync(join(secretsDir, 't1', 'sec1'), 'utf8')).toBe('hunter2')
    expect(statSync(join(secretsDir, 't1', 'sec1')).mode & 0o7777).toBe(0o400)
    expect(statSync(join(configsDir, 't1', 'cfg1')).mode & 0o7777).toBe(0o444)
    await files.remove('t1')
    expect(existsSync(join(secretsDir, 't1'))).toBe(false)
    expect(existsSync(join(configsDir, 't1'))).toBe(false)
  })

  it('refuses to write a secret anywhere but a tmpfs, and a reference whose data did not come', async () => {
    const disk = mkdtempSync(join(tmpdir(), 'flotilla-disk-'))
    dirs.push(disk)
    await expect(new TaskFiles({ secretsDir: join(disk, 's'), configsDir: join(disk, 'c') }).prepare(task())).rejects.toThrow(/is not on a tmpfs/)
    expect(existsSync(join(disk, 's', 't1'))).toBe(false)
    const shm = mkdtempSync(join('/dev/shm', 'flotilla-files-'))
    dirs.push(shm)
    await expect(new TaskFiles({ secretsDir: shm, configsDir: join(disk, 'c') }).prepare(task({ secrets: [] }))).rejects.toThrow(/secret pw \(sec1\) of task t1 was not sent/)
  })
})
