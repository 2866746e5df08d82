import { describe, expect, it } from 'vitest'
import { loadCompose } from '../../../src/node/cli/stack/load.js'
import { convertStack, type StackObjects } from '../../../src/node/cli/stack/convert.js'
import {
  planDeploy, planRemove, resolveReferences, stackSummaries, StackConflictError, updateSpec, type BlobSummary, type ClusterView, type ServiceSummary
} from '../../../src/node/cli/stack/plan.js'
import type { ReadFile } from '../../../src/node/cli/stack/compose-types.js'

const readFile: ReadFile = p => Buffer.from(`data of ${p}`)
const FILE = `
services:
  web:
    image: nginx:1.27
    secrets: [db, cert]
    configs: [site]
  api:
    image: api:2
    networks: [back]
    configs: [shared]
networks:
  back: {}
  edge: { external: true }
secrets:
  db: { file: db.txt }
  cert: { external: true }
configs:
  site: { file: site.conf }
  shared: { external: true, name: shared_conf }
`
const stackOf = (text = FILE, ns = 'shop'): StackObjects =>
  convertStack(ns, loadCompose([{ filename: 'c.yml', text }], { workingDir: '/w', env: {}, readFile }), readFile)

const NS = 'com.docker.stack.namespace'
const blob = (id: string, name: string, labels: Record<string, string> = {}, data?: string): BlobSummary => ({ ID: id, Version: { Index: 7 }, Spec: { Name: name, Labels: labels, ...(data === undefined ? {} : { Data: data }) } })
const service = (id: string, name: string, labels: Record<string, string>, extra: Partial<ServiceSummary['Spec']> = {}): ServiceSummary =>
  ({ ID: id, Version: { Index: 42 }, Spec: { Name: name, Labels: labels, ...extra } })
const view = (v: Partial<ClusterView> = {}): ClusterView => ({
  services: [],
  networks: [{ Id: 'ingressid', Name: 'ingress' }],
  secrets: [blob('certid', 'cert')],
  configs: [blob('sharedid', 'shared_conf')],
  ...v
})

function conflict (f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(StackConflictError)
    return (e as Error).message
  }
  throw new Error('expected a conflict')
}

describe('stack deploy planning', () => {
  it('creates everything on an empty cluster, in docker\'s order, and knows the IDs of external objects', () => {
    const plan = planDeploy(stackOf(), view(), { prune: false, resolveImage: 'always' })
    expect(plan.createNetworks.map(n => n.name)).toEqual(['shop_back', 'shop_default'])
    expect(plan.createSecrets.map(s => s.name)).toEqual(['shop_db'])
    expect(plan.createConfigs.map(c => c.name)).toEqual(['shop_site'])
    expect(plan.updateSecrets).toEqual([])
    expect(plan.services.map(a => [a.action, a.name])).toEqual([['create', 'shop_api'], ['create', 'shop_web']])
    expect(plan.prune).toEqual([])
    expect(plan.secretIds.get('cert')).toBe('certid')
    expect(plan.configIds.get('shared_conf')).toBe('sharedid')
  })

  it('refuses a missing external network, secret or config before anything is written', () => {
    const withEdge = 'services:\n  web: { image: x, networks: [edge] }\nnetworks:\n  edge: { external: true }\n'
    expect(conflict(() => planDeploy(stackOf(withEdge), view(), { prune: false, resolveImage: 'always' })))
      .toBe('network "edge" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed')
    expect(planDeploy(stackOf(withEdge), view({ networks: [{ Id: 'e1', Name: 'edge' }] }), { prune: false, resolveImage: 'always' }).createNetworks).toEqual([])
    expect(conflict(() => planDeploy(stackOf(), view({ secrets: [] }), { prune: false, resolveImage: 'always' }))).toBe('secret not found: cert')
    expect(conflict(() => planDeploy(stackOf(), view({ configs: [] }), { prune: false, resolveImage: 'always' }))).toBe('config not found: shared_conf')
  })

  it('leaves the stack\'s existing networks, and refuses a name held outside the stack', () => {
    const existing = view({ networks: [{ Id: 'n1', Name: 'shop_back', Labels: { [NS]: 'shop' } }] })
    expect(planDeploy(stackOf(), existing, { prune: false, resolveImage: 'always' }).createNetworks.map(n => n.name)).toEqual(['shop_default'])
    const foreign = view({ networks: [{ Id: 'n1', Name: 'shop_back', Labels: {} }] })
    expect(conflict(() => planDeploy(stackOf(), foreign, { prune: false, resolveImage: 'always' }))).toBe('network shop_back already exists and is not part of stack shop')
    const foreignService = view({ services: [service('s9', 'shop_web', { [NS]: 'other' })] })
    expect(conflict(() => planDeploy(stackOf(), foreignService, { prune: false, resolveImage: 'always' }))).toBe('service shop_web already exists and is not part of stack shop')
  })

  it('leaves existing secrets and configs (their data cannot change), updating labels only when they differ', () => {
    const plan = planDeploy(stackOf(), view({
      secrets: [blob('certid', 'cert'), blob('dbid', 'shop_db', { [NS]: 'shop' })],
      configs: [blob('sharedid', 'shared_conf'), blob('siteid', 'shop_site', { [NS]: 'shop', old: 'x' }, Buffer.from('other data').toString('base64'))]
    }), { prune: false, resolveImage: 'always' })
    expect(plan.createSecrets).toEqual([])
    expect(plan.updateSecrets).toEqual([])
    expect(plan.createConfigs).toEqual([])
    expect(plan.updateConfigs).toEqual([{ id: 'siteid', version: 7, name: 'shop_site', labels: { [NS]: 'shop' } }])
    expect(plan.warnings).toEqual(['config shop_site exists with other data: it is left as it is (a config\'s data cannot be updated; give it a new name: to change it)'])
    expect(plan.secretIds.get('shop_db')).toBe('dbid')
  })

  it('updates the stack\'s services at their version, keeping ForceUpdate, and prunes the ones the file dropped', () => {
    const current = [
      service('w1', 'shop_web', { [NS]: 'shop', 'com.docker.stack.image': 'nginx:1.27' }, { TaskTemplate: { ForceUpdate: 4, ContainerSpec: { Image: 'nginx:1.27@sha256:' + 'a'.repeat(64) } } }),
      service('o1', 'shop_old', { [NS]: 'shop' }),
      service('x1', 'other_web', { [NS]: 'other' }),
      service('y1', 'loose', {})
    ]
    const plan = planDeploy(stackOf(), view({ services: current }), { prune: true, resolveImage: 'always' })
    const web = plan.services.find(a => a.name === 'shop_web')!
    expect(web).toMatchObject({ action: 'update', id: 'w1', version: 42 })
    expect((web.spec as any).TaskTemplate.ForceUpdate).toBe(4)
    expect((web.spec as any).TaskTemplate.ContainerSpec.Image).toBe('nginx:1.27')
    expect(plan.prune).toEqual([{ id: 'o1', name: 'shop_old' }])
    expect(planDeploy(stackOf(), view({ services: current }), { prune: false, resolveImage: 'always' }).prune).toEqual([])
    // --resolve-image changed|never: the image the service runs stays while the file names the same one.
    const kept = planDeploy(stackOf(), view({ services: current }), { prune: false, resolveImage: 'never' }).services.find(a => a.name === 'shop_web')!
    expect((kept.spec as any).TaskTemplate.ContainerSpec.Image).toBe('nginx:1.27@sha256:' + 'a'.repeat(64))
    const spec = { Labels: { 'com.docker.stack.image': 'nginx:1.28' }, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.28' } } }
    expect((updateSpec(spec, current[0]!, 'changed') as any).TaskTemplate.ContainerSpec.Image).toBe('nginx:1.28')
  })

  it('fills in secret and config IDs by name', () => {
    const spec = stackOf().services.find(s => s.key === 'web')!.spec
    const resolved = resolveReferences(spec, new Map([['shop_db', 'd1'], ['cert', 'c1']]), new Map([['shop_site', 's1']])) as any
    expect(resolved.TaskTemplate.ContainerSpec.Secrets.map((s: any) => [s.SecretName, s.SecretID])).toEqual([['cert', 'c1'], ['shop_db', 'd1']])
    expect(resolved.TaskTemplate.ContainerSpec.Configs).toEqual([{ File: { Name: 'site', UID: '0', GID: '0', Mode: 0o444 }, ConfigName: 'shop_site', ConfigID: 's1' }])
    expect((spec as any).TaskTemplate.ContainerSpec.Secrets[0].SecretID).toBeUndefined()
    expect(() => resolveReferences(spec, new Map(), new Map())).toThrow('secret not found: cert')
  })
})

describe('stack rm and ls planning', () => {
  it('removes the stack\'s services by name, then its secrets, configs and networks', () => {
    const plan = planRemove('shop', {
      services: [service('b', 'shop_web', { [NS]: 'shop' }), service('a', 'shop_api', { [NS]: 'shop' }), service('c', 'other_web', { [NS]: 'other' })],
      networks: [{ Id: 'n1', Name: 'shop_default', Labels: { [NS]: 'shop' } }, { Id: 'n2', Name: 'edge', Labels: {} }],
      secrets: [blob('s1', 'shop_db', { [NS]: 'shop' }), blob('s2', 'cert')],
      configs: [blob('c1', 'shop_site', { [NS]: 'shop' })]
    })
    expect(plan).toEqual({
      services: [{ id: 'a', name: 'shop_api' }, { id: 'b', name: 'shop_web' }],
      secrets: [{ id: 's1', name: 'shop_db' }],
      configs: [{ id: 'c1', name: 'shop_site' }],
      networks: [{ id: 'n1', name: 'shop_default' }]
    })
  })

  it('counts the services of each stack, in natural order', () => {
    expect(stackSummaries([
      service('1', 's10_a', { [NS]: 's10' }), service('2', 's2_a', { [NS]: 's2' }), service('3', 's2_b', { [NS]: 's2' }), service('4', 'loose', {})
    ])).toEqual([{ name: 's2', services: 2 }, { name: 's10', services: 1 }])
  })
})
