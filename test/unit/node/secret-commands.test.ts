import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { listenControlSocket } from '../../../src/node/control/http-server.js'
import { createLogger } from '../../../src/membership/index.js'
import { addConfigCommands, addSecretCommands, goTimeString, type BlobCliIo } from '../../../src/node/cli/secret-commands.js'
import { harness, type Harness } from './service-harness.js'
import { recording, type Recorder } from './socket-recorder.js'

const CREATED_MS = Date.parse('2025-01-02T03:04:05.6Z')

// `flotilla secret|config …` end to end: commander, the socket client, the secret and config routes and the store.
describe('flotilla secret and config', () => {
  let dir: string
  let socket: string
  let server: Server
  let h: Harness
  let rec: Recorder

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flotilla-secret-cli-'))
    socket = join(dir, 'flotilla.sock')
    h = harness()
    rec = recording(h.handler)
    server = await listenControlSocket(socket, rec.handler, createLogger('error', () => {}))
  })

  afterEach(async () => {
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    await rm(dir, { recursive: true, force: true })
  })

  async function run (args: string[], stdin = ''): Promise<{ out: string, err: string }> {
    let out = ''
    let err = ''
    const io: BlobCliIo = {
      err: s => { err += s },
      readStdin: async () => Buffer.from(stdin),
      readFile: async p => await readFile(p),
      nowMs: () => CREATED_MS + 3 * 60_000
    }
    const program = new Command('flotilla').exitOverride().configureOutput({ writeErr: s => { err += s }, writeOut: s => { out += s } })
    addSecretCommands(program, () => socket, s => { out += s }, io)
    addConfigCommands(program, () => socket, s => { out += s }, io)
    await program.parseAsync(['node', 'flotilla', ...args])
    return { out, err }
  }

  it('creates a secret from a file or stdin, with labels, and prints its ID', async () => {
    const file = join(dir, 'pw.txt')
    await writeFile(file, 'hunter2')
    expect((await run(['secret', 'create', '-l', 'env=prod', '--label', 'team', 'db_pw', file])).out).toBe('obj1zzzzzzzzzzzzzzzzzzzzz\n')
    expect((await run(['secret', 'create', 'api_key', '-'], 'from stdin')).out).toBe('obj2zzzzzzzzzzzzzzzzzzzzz\n')
    expect(rec.writes().map(c => c.body)).toEqual([
      { Name: 'db_pw', Labels: { env: 'prod', team: '' }, Data: Buffer.from('hunter2').toString('base64') },
      { Name: 'api_key', Labels: {}, Data: Buffer.from('from stdin').toString('base64') }
    ])
  })

  it('refuses what docker refuses, in docker\'s words', async () => {
    await expect(run(['secret', 'create', 'x'])).rejects.toThrow('secret file is required')
    await expect(run(['secret', 'create', 'x', '-'], '')).rejects.toThrow('error reading from STDIN: data is empty')
    await expect(run(['secret', 'create', 'x', join(dir, 'none')])).rejects.toThrow(`error reading from ${join(dir, 'none')}: ENOENT`)
    await expect(run(['config', 'create', 'x', '-'], '')).rejects.toThrow('error reading content from "-": error reading from STDIN: data is empty')
    await expect(run(['config', 'create', 'x'])).rejects.toThrow('missing required argument \'file\'')
    await run(['secret', 'create', 'dup', '-'], 'a')
    await expect(run(['secret', 'create', 'dup', '-'], 'b')).rejects.toThrow('secret dup already exists')
    expect(h.state().secrets.size).toBe(1)
  })

  it('lists secrets with docker\'s columns (full IDs, DRIVER), quietly, as JSON or through a template', async () => {
    await run(['secret', 'create', '-l', 'a=1', 'web10', '-'], 'x')
    await run(['secret', 'create', 'web2', '-'], 'y')
    expect((await run(['secret', 'ls'])).out).toBe([
      'ID                          NAME      DRIVER    CREATED         UPDATED',
      'obj2zzzzzzzzzzzzzzzzzzzzz   web2                3 minutes ago   3 minutes ago',
      'obj1zzzzzzzzzzzzzzzzzzzzz   web10               3 minutes ago   3 minutes ago',
      ''
    ].join('\n'))
    expect((await run(['secret', 'ls', '-q'])).out).toBe('obj2zzzzzzzzzzzzzzzzzzzzz\nobj1zzzzzzzzzzzzzzzzzzzzz\n')
    expect((await run(['secret', 'ls', '-f', 'label=a=1', '--format', '{{.Name}} {{.Labels}}'])).out).toBe('web10 a=1\n')
    expect(JSON.parse((await run(['secret', 'ls', '-f', 'name=web2', '--format', 'json'])).out)).toEqual({
      CreatedAt: '3 minutes ago', Driver: '', ID: 'obj2zzzzzzzzzzzzzzzzzzzzz', Labels: '', Name: 'web2', UpdatedAt: '3 minutes ago'
    })
    expect((await run(['secret', 'ls', '--format', 'table {{.Name}}\\t{{.ID}}'])).out).toBe([
      'NAME      ID',
      'web2      obj2zzzzzzzzzzzzzzzzzzzzz',
      'web10     obj1zzzzzzzzzzzzzzzzzzzzz',
      ''
    ].join('\n'))
    await expect(run(['secret', 'ls', '--format', '{{range .}}x{{end}}'])).rejects.toThrow('unsupported --format action {{range .}}')
  })

  it('lists configs without a DRIVER column', async () => {
    await run(['config', 'create', 'site', '-'], 'events {}')
    expect((await run(['config', 'ls'])).out).toBe([
      'ID                          NAME      CREATED         UPDATED',
      'obj1zzzzzzzzzzzzzzzzzzzzz   site      3 minutes ago   3 minutes ago',
      ''
    ].join('\n'))
  })

  it('inspects as a JSON array (a config\'s Data in base64), pretty, or through a template; prints what it found before the error', async () => {
    await run(['config', 'create', '-l', 'v=2', 'site', '-'], 'events {}\n')
    await run(['secret', 'create', 'pw', '-'], 'hunter2')
    const configs = JSON.parse((await run(['config', 'inspect', 'site'])).out)
    expect(configs).toEqual([{
      ID: 'obj1zzzzzzzzzzzzzzzzzzzzz', Version: { Index: 11 }, CreatedAt: '2025-01-02T03:04:05.6Z', UpdatedAt: '2025-01-02T03:04:05.6Z',
      Spec: { Name: 'site', Labels: { v: '2' }, Data: Buffer.from('events {}\n').toString('base64') }
    }])
    expect(JSON.parse((await run(['secret', 'inspect', 'pw'])).out)[0].Spec).toEqual({ Name: 'pw', Labels: {} })
    expect((await run(['secret', 'inspect', '-f', '{{.Spec.Name}} {{json .Version}}', 'pw'])).out).toBe('pw {"Index":12}\n')
    expect((await run(['config', 'inspect', '--pretty', 'site'])).out).toBe(
      'ID:\t\t\tobj1zzzzzzzzzzzzzzzzzzzzz\nName:\t\t\tsite\nLabels:\n - v=2\nCreated at:            \t2025-01-02 03:04:05.6 +0000 UTC\n' +
      'Updated at:            \t2025-01-02 03:04:05.6 +0000 UTC\nData:\nevents {}\n\n')
    expect((await run(['secret', 'inspect', '--pretty', 'pw'])).out).toBe(
      'ID:              obj2zzzzzzzzzzzzzzzzzzzzz\nName:              pw\nDriver:            \nCreated at:        2025-01-02 03:04:05.6 +0000 UTC\n' +
      'Updated at:        2025-01-02 03:04:05.6 +0000 UTC\n')
    let out = ''
    try {
      await run(['secret', 'inspect', 'nope', 'pw'])
    } catch (e) {
      out = (e as Error).message
    }
    expect(out).toBe('secret nope not found (list them with `docker secret ls`)')
    await expect(run(['secret', 'inspect', '--format', 'pretty-please', 'pw'])).rejects.toThrow('cannot supply extra formatting options to the pretty template')
  })

  it('prints an empty array when nothing is found, then the error', async () => {
    const outs: string[] = []
    const program = new Command('flotilla').exitOverride()
    addSecretCommands(program, () => socket, s => { outs.push(s) }, { err: () => {}, readStdin: async () => Buffer.from(''), readFile: async () => Buffer.from(''), nowMs: () => 0 })
    await expect(program.parseAsync(['node', 'flotilla', 'secret', 'inspect', 'nope'])).rejects.toThrow('secret nope not found')
    expect(outs.join('')).toBe('[]\n')
  })

  it('removes by name, printing each, and reports the ones it could not remove', async () => {
    await run(['secret', 'create', 'a', '-'], '1')
    await run(['secret', 'create', 'b', '-'], '2')
    const outs: string[] = []
    const program = new Command('flotilla').exitOverride()
    addSecretCommands(program, () => socket, s => { outs.push(s) }, { err: () => {}, readStdin: async () => Buffer.from(''), readFile: async () => Buffer.from(''), nowMs: () => 0 })
    await expect(program.parseAsync(['node', 'flotilla', 'secret', 'rm', 'a', 'nope', 'b'])).rejects.toThrow('secret nope not found')
    expect(outs.join('')).toBe('a\nb\n')
    expect(h.state().secrets.size).toBe(0)
  })

  it('formats times as Go prints a UTC time.Time', () => {
    expect(goTimeString('2025-01-02T03:04:05.600000000Z')).toBe('2025-01-02 03:04:05.6 +0000 UTC')
    expect(goTimeString('2025-01-02T03:04:05Z')).toBe('2025-01-02 03:04:05 +0000 UTC')
  })
})
