import { describe, expect, it } from 'vitest'
import { FlotillaError } from '../../../../src/membership/errors.js'
import { nodeMatches, parseConstraint, parseConstraints, type Constraint } from '../../../../src/tasks/scheduler/index.js'
import { catchError } from '../../../support/errors.js'
import { node } from './helpers.js'

describe('parseConstraint', () => {
  it.each<[string, Omit<Constraint, 'text'>]>([
    ['node.id==abc123', { key: 'node.id', label: '', operator: '==', value: 'abc123' }],
    ['node.hostname!=node-2', { key: 'node.hostname', label: '', operator: '!=', value: 'node-2' }],
    ['node.role==manager', { key: 'node.role', label: '', operator: '==', value: 'manager' }],
    ['node.platform.os==linux', { key: 'node.platform.os', label: '', operator: '==', value: 'linux' }],
    ['node.platform.arch!=x86_64', { key: 'node.platform.arch', label: '', operator: '!=', value: 'x86_64' }],
    ['node.labels.zone==eu-1', { key: 'node.labels', label: 'zone', operator: '==', value: 'eu-1' }],
    ['engine.labels.operatingsystem==ubuntu-14.04', { key: 'engine.labels', label: 'operatingsystem', operator: '==', value: 'ubuntu-14.04' }],
    ['  node.role  ==  worker  ', { key: 'node.role', label: '', operator: '==', value: 'worker' }],
    ['node.role\t!=\tworker', { key: 'node.role', label: '', operator: '!=', value: 'worker' }],
    // Prefixes are case-insensitive; the label name keeps its case; values are folded for comparison.
    ['NODE.Role==Manager', { key: 'node.role', label: '', operator: '==', value: 'manager' }],
    ['Node.Labels.Disk==SSD', { key: 'node.labels', label: 'Disk', operator: '==', value: 'ssd' }],
    ['node.labels.a.b_c-d==x y', { key: 'node.labels', label: 'a.b_c-d', operator: '==', value: 'x y' }],
    ['node.labels.path==/srv/data:ro', { key: 'node.labels', label: 'path', operator: '==', value: '/srv/data:ro' }]
  ])('parses %j', (text, expected) => {
    expect(parseConstraint(text)).toEqual({ text, ...expected })
  })

  it.each<[string, string]>([
    ['node.role', 'expected one operator from ==, !='],
    ['node.role=manager', 'expected one operator from ==, !='],
    ['node.role>=manager', 'expected one operator from ==, !='],
    ['', 'expected one operator from ==, !='],
    ['==manager', 'key "" is invalid'],
    ['n==manager', 'key "n" is invalid'],
    ['1node.role==manager', 'key "1node.role" is invalid'],
    ['node.role!==manager', 'key "node.role!" is invalid'],
    ['node role==manager', 'key "node role" is invalid'],
    ['node.role==', 'value "" is invalid'],
    ['node.role==   ', 'value "" is invalid'],
    ['node.role==a==b', 'value "a==b" is invalid'],
    ['node.role==a!=b', 'value "a!=b" is invalid'],
    ['node.labels.x==a,b', 'value "a,b" is invalid'],
    ['node.labels.x==a<b', 'value "a<b" is invalid'],
    ['node.labels.x==é', 'value "é" is invalid'],
    ['node.labels.==x', 'unsupported key "node.labels."'],
    ['engine.labels.==x', 'unsupported key "engine.labels."'],
    ['node.ip==10.0.0.1', 'unsupported key "node.ip"'],
    ['node.name==x', 'unsupported key "node.name"'],
    ['labels.zone==x', 'unsupported key "labels.zone"']
  ])('refuses %j: %s', (text, why) => {
    const err = catchError(() => parseConstraint(text))
    expect(err).toBeInstanceOf(FlotillaError)
    expect(err).toMatchObject({ code: 'invalid-argument', message: `invalid constraint "${text}": ${why}` })
    expect((err as FlotillaError).hint).toContain('node.labels.<name>')
  })

  it('parses a list in order and names the first malformed one', () => {
    expect(parseConstraints(['node.role==worker', 'node.labels.a!=b']).map(c => c.key)).toEqual(['node.role', 'node.labels'])
    expect(catchError(() => parseConstraints(['node.role==worker', 'bogus', 'node.x==1']))).toMatchObject({ message: 'invalid constraint "bogus": expected one operator from ==, !=' })
  })
})

describe('nodeMatches', () => {
  const n = node('ID1abc', {
    hostname: 'Node-1',
    role: 'manager',
    labels: { zone: 'EU-1', Disk: 'ssd' },
    engineLabels: { storage: 'fast' },
    platform: { os: 'linux', arch: 'aarch64' }
  })

  it.each<[string, boolean]>([
    ['node.id==ID1abc', true],
    ['node.id==id1ABC', true],
    ['node.id!=ID1abc', false],
    ['node.id==other', false],
    ['node.id!=other', true],
    ['node.hostname==node-1', true],
    ['node.hostname!=Node-1', false],
    ['node.hostname==node-2', false],
    ['node.hostname!=node-2', true],
    ['node.role==manager', true],
    ['node.role==MANAGER', true],
    ['node.role!=manager', false],
    ['node.role==worker', false],
    ['node.role!=worker', true],
    ['node.platform.os==linux', true],
    ['node.platform.os==Linux', true],
    ['node.platform.os!=linux', false],
    ['node.platform.os==windows', false],
    ['node.platform.os!=windows', true],
    ['node.platform.arch==aarch64', true],
    ['node.platform.arch!=aarch64', false],
    // Constraints compare the reported arch as it is: no amd64/x86_64 or arm64/aarch64 folding (SwarmKit).
    ['node.platform.arch==arm64', false],
    ['node.platform.arch!=arm64', true],
    ['node.labels.zone==eu-1', true],
    ['node.labels.zone!=eu-1', false],
    ['node.labels.zone==eu-2', false],
    ['node.labels.zone!=eu-2', true],
    ['node.labels.Disk==SSD', true],
    // Label names are case-sensitive: `disk` is a label the node lacks, which reads as "".
    ['node.labels.disk==ssd', false],
    ['node.labels.disk!=ssd', true],
    ['node.labels.missing==x', false],
    ['node.labels.missing!=x', true],
    ['engine.labels.storage==fast', true],
    ['engine.labels.storage!=fast', false],
    ['engine.labels.storage==slow', false],
    ['engine.labels.storage!=slow', true],
    ['engine.labels.zone==eu-1', false],
    ['engine.labels.zone!=eu-1', true]
  ])('%s → %s', (text, expected) => {
    expect(nodeMatches([parseConstraint(text)], n)).toBe(expected)
  })

  it('needs every constraint; an empty list matches any node', () => {
    expect(nodeMatches([], n)).toBe(true)
    expect(nodeMatches(parseConstraints(['node.role==manager', 'node.labels.zone==eu-1']), n)).toBe(true)
    expect(nodeMatches(parseConstraints(['node.role==manager', 'node.labels.zone==eu-2']), n)).toBe(false)
  })
})
