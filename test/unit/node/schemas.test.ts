import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../src/membership/errors.js'
import {
  SwarmInitSchema, SwarmJoinSchema, SwarmSpecSchema, normalizeSwarmSpec, parseBody, parseFilters
} from '../../../src/node/control/schemas.js'
import { catchError } from '../../support/errors.js'

function expectInvalid (fn: () => unknown): FlotillaError {
  const err = catchError(fn)
  expect(err).toBeInstanceOf(FlotillaError)
  expect((err as FlotillaError).code).toBe('invalid-argument')
  return err as FlotillaError
}

const FILTER_KEYS = ['id', 'name', 'role', 'membership', 'label', 'node.label']

describe('parseBody', () => {
  it.each<[string, unknown, string]>([
    ['Spec.Raft.ElectionTick as a string', { Spec: { Raft: { ElectionTick: '10' } } }, 'Spec.Raft.ElectionTick'],
    ['Spec.Raft.HeartbeatTick negative', { Spec: { Raft: { HeartbeatTick: -1 } } }, 'Spec.Raft.HeartbeatTick'],
    ['Spec.Dispatcher.HeartbeatPeriod fractional', { Spec: { Dispatcher: { HeartbeatPeriod: 1.5 } } }, 'Spec.Dispatcher.HeartbeatPeriod'],
    ['Spec.Labels with a numeric value', { Spec: { Labels: { a: 1 } } }, 'Spec.Labels.a'],
    ['ListenAddr as a number', { ListenAddr: 4242 }, 'ListenAddr'],
    ['ForceNewCluster as a string', { ForceNewCluster: 'true' }, 'ForceNewCluster']
  ])('names the field when %s', (_name, body, field) => {
    const e = expectInvalid(() => parseBody(SwarmInitSchema, body, 'swarm init request'))
    expect(e.message).toContain(`invalid ${field}:`)
  })

  it('names what was expected when the body is not an object', () => {
    const e = expectInvalid(() => parseBody(SwarmInitSchema, [1, 2], 'swarm init request'))
    expect(e.message).toContain('swarm init request')
  })

  it('refuses an empty body', () => {
    const e = expectInvalid(() => parseBody(SwarmInitSchema, undefined, 'swarm init request'))
    expect(e.message).toContain('request body is empty')
  })

  it('returns the parsed body and ignores unknown fields, as dockerd does', () => {
    const body = parseBody(SwarmInitSchema, { ListenAddr: '0.0.0.0:4242', Spec: { Raft: { ElectionTick: 20 } }, Unknown: 1 }, 'swarm init request')
    expect(body.ListenAddr).toBe('0.0.0.0:4242')
    expect(body.Spec?.Raft?.ElectionTick).toBe(20)
    expect(body).not.toHaveProperty('Unknown')
  })

  it('requires RemoteAddrs and JoinToken on join', () => {
    expect(expectInvalid(() => parseBody(SwarmJoinSchema, { RemoteAddrs: [], JoinToken: 't' }, 'swarm join request')).message)
      .toContain('RemoteAddrs')
    expect(expectInvalid(() => parseBody(SwarmJoinSchema, { RemoteAddrs: ['1.2.3.4'], JoinToken: '' }, 'swarm join request')).message)
      .toContain('JoinToken')
    expect(expectInvalid(() => parseBody(SwarmJoinSchema, { RemoteAddrs: ['1.2.3.4'] }, 'swarm join request')).message)
      .toContain('JoinToken')
  })
})

describe('normalizeSwarmSpec', () => {
  const DEFAULTS = {
    Name: 'default',
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: 5 },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: 5_000_000_000 },
    CAConfig: { NodeCertExpiry: 7_776_000_000_000_000 },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false }
  }

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['an empty spec', {}],
    ['null sections', { Labels: null, Orchestration: null, Raft: null, Dispatcher: null, CAConfig: null, TaskDefaults: null, EncryptionConfig: null }],
    ['zeros and an empty name (the docker CLI sends them)', { Name: '', Raft: { SnapshotInterval: 0, ElectionTick: 0, HeartbeatTick: 0, LogEntriesForSlowFollowers: 0 }, Dispatcher: { HeartbeatPeriod: 0 }, CAConfig: { NodeCertExpiry: 0 } }]
  ])('fills Docker\'s defaults for %s', (_name, spec) => {
    expect(normalizeSwarmSpec(parseBody(SwarmSpecSchema.nullable(), spec ?? null, 'spec'))).toEqual(DEFAULTS)
    if (spec === undefined) expect(normalizeSwarmSpec(undefined)).toEqual(DEFAULTS)
  })

  it('keeps given values', () => {
    const spec = parseBody(SwarmSpecSchema, {
      Name: 'prod',
      Labels: { team: 'infra' },
      Orchestration: { TaskHistoryRetentionLimit: 0 },
      Raft: { SnapshotInterval: 5000, KeepOldSnapshots: 2, LogEntriesForSlowFollowers: 100, ElectionTick: 20, HeartbeatTick: 2 },
      Dispatcher: { HeartbeatPeriod: 10_000_000_000 },
      CAConfig: { NodeCertExpiry: 3_600_000_000_000 },
      TaskDefaults: { LogDriver: { Name: 'json-file', Options: { 'max-size': '10m' } } }
    }, 'spec')
    expect(normalizeSwarmSpec(spec)).toEqual({
      Name: 'prod',
      Labels: { team: 'infra' },
      Orchestration: { TaskHistoryRetentionLimit: 0 },
      Raft: { SnapshotInterval: 5000, KeepOldSnapshots: 2, LogEntriesForSlowFollowers: 100, ElectionTick: 20, HeartbeatTick: 2 },
      Dispatcher: { HeartbeatPeriod: 10_000_000_000 },
      CAConfig: { NodeCertExpiry: 3_600_000_000_000 },
      TaskDefaults: { LogDriver: { Name: 'json-file', Options: { 'max-size': '10m' } } },
      EncryptionConfig: { AutoLockManagers: false }
    })
  })

  it('refuses AutoLockManagers true and accepts false', () => {
    expect(expectInvalid(() => normalizeSwarmSpec({ EncryptionConfig: { AutoLockManagers: true } })).message).toContain('autolock')
    expect(normalizeSwarmSpec({ EncryptionConfig: { AutoLockManagers: false } }).EncryptionConfig).toEqual({ AutoLockManagers: false })
  })

  it('refuses external CAs and a custom signing CA, and accepts an empty ExternalCAs', () => {
    expectInvalid(() => normalizeSwarmSpec({ CAConfig: { ExternalCAs: [{ Protocol: 'cfssl', URL: 'https://ca' }] } }))
    expectInvalid(() => normalizeSwarmSpec({ CAConfig: { SigningCACert: '-----BEGIN CERTIFICATE-----' } }))
    expect(normalizeSwarmSpec({ CAConfig: { ExternalCAs: [] } }).Name).toBe('default')
  })
})

describe('parseFilters', () => {
  it.each<[string | null, Record<string, string[]>]>([
    [null, {}],
    ['', {}],
    ['{}', {}],
    ['{"role":{"manager":true}}', { role: ['manager'] }],
    ['{"role":["manager"]}', { role: ['manager'] }],
    ['{"role":{"manager":true,"worker":true},"name":["a","b"]}', { role: ['manager', 'worker'], name: ['a', 'b'] }],
    ['{"node.label":{"zone=a":true}}', { 'node.label': ['zone=a'] }]
  ])('parses %j', (raw, expected) => {
    expect(Object.fromEntries(parseFilters(raw, FILTER_KEYS))).toEqual(expected)
  })

  it.each<[string, string, RegExp]>([
    ['non-JSON', '{role:manager}', /is not JSON/],
    ['a JSON array', '["role"]', /expected a JSON object/],
    ['JSON null', 'null', /expected a JSON object/],
    ['a JSON string', '"role"', /expected a JSON object/],
    ['an unknown key', '{"colour":{"red":true}}', /invalid filter 'colour'/],
    ['a string value', '{"role":"manager"}', /invalid filter 'role'/],
    ['a null value', '{"role":null}', /invalid filter 'role'/],
    ['a false flag', '{"role":{"manager":false}}', /invalid filter 'role'/],
    ['a string flag', '{"role":{"manager":"yes"}}', /invalid filter 'role'/],
    ['an array of numbers', '{"role":[1]}', /invalid filter 'role'/],
    ['an array of true', '{"role":[true]}', /invalid filter 'role'/]
  ])('rejects %s', (_name, raw, message) => {
    expect(expectInvalid(() => parseFilters(raw, FILTER_KEYS)).message).toMatch(message)
  })
})
