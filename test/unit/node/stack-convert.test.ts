import { describe, expect, it } from 'vitest'
import { loadCompose } from '../../../src/node/cli/stack/load.js'
import { convertStack } from '../../../src/node/cli/stack/convert.js'
import { ComposeError, type ReadFile } from '../../../src/node/cli/stack/compose-types.js'

const FILES: Record<string, string> = {
  '/srv/app/secrets/db.txt': 's3cret',
  '/srv/app/nginx.conf': 'events {}\n',
  '/srv/app/unused.txt': 'unused'
}
const readFile: ReadFile = p => {
  const t = FILES[p]
  if (t === undefined) throw new Error(`ENOENT: no such file or directory, open '${p}'`)
  return Buffer.from(t)
}

function convert (text: string, namespace = 'shop'): ReturnType<typeof convertStack> {
  return convertStack(namespace, loadCompose([{ filename: 'docker-compose.yml', text }], { workingDir: '/srv/app', env: {}, readFile }), readFile)
}

function refusal (f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ComposeError)
    return (e as Error).message
  }
  throw new Error('expected a refusal')
}

const NS = { 'com.docker.stack.namespace': 'shop' }

describe('Compose to Docker API objects (docker/cli cli/compose/convert)', () => {
  it('converts every key of a service into its ServiceSpec, namespaced and labelled', () => {
    const stack = convert(`
version: "3.8"
services:
  web:
    image: nginx:1.27
    command: ["nginx", "-g", "daemon off;"]
    entrypoint: /docker-entrypoint.sh
    environment: { B: "2", A: "1", NOVALUE: null }
    labels: { role: frontend }
    hostname: web-host
    user: nginx
    working_dir: /usr/share/nginx
    stop_signal: SIGQUIT
    stop_grace_period: 20s
    ports: ["8080:80", { target: 443, published: 8443, mode: host }, "53:53/udp"]
    networks: { front: { aliases: [www] }, back: }
    secrets: [db_password, { source: db_password, target: copy.txt, uid: "101", gid: "102", mode: 0400 }]
    configs: [{ source: nginx_conf, target: /etc/nginx/nginx.conf }]
    healthcheck: { test: ["CMD", "curl", "-f", "http://localhost/"], interval: 10s, timeout: 2s, retries: 3, start_period: 5s }
    deploy:
      replicas: 3
      endpoint_mode: vip
      labels: { team: web }
      placement:
        constraints: [node.role == worker]
        preferences: [{ spread: node.labels.zone }]
        max_replicas_per_node: 2
      resources: { limits: { cpus: '0.5', memory: 256M }, reservations: { memory: 64M } }
      restart_policy: { condition: on-failure, delay: 5s, max_attempts: 3, window: 1m }
      update_config: { parallelism: 2, delay: 10s, failure_action: rollback, monitor: 30s, max_failure_ratio: 0.25, order: start-first }
      rollback_config: { failure_action: pause }
networks:
  front: {}
  back: { name: shared-back }
secrets:
  db_password: { file: ./secrets/db.txt }
configs:
  nginx_conf: { file: nginx.conf }
`)
    expect(stack.services).toHaveLength(1)
    const web = stack.services[0]!
    expect(web.name).toBe('shop_web')
    expect(web.spec).toEqual({
      Name: 'shop_web',
      Labels: { team: 'web', ...NS, 'com.docker.stack.image': 'nginx:1.27' },
      TaskTemplate: {
        ContainerSpec: {
          Image: 'nginx:1.27',
          Labels: { role: 'frontend', ...NS },
          Command: ['/docker-entrypoint.sh'],
          Args: ['nginx', '-g', 'daemon off;'],
          Hostname: 'web-host',
          Env: ['A=1', 'B=2', 'NOVALUE'],
          Dir: '/usr/share/nginx',
          User: 'nginx',
          StopGracePeriod: 20e9,
          StopSignal: 'SIGQUIT',
          Healthcheck: { Test: ['CMD', 'curl', '-f', 'http://localhost/'], Interval: 10e9, Timeout: 2e9, Retries: 3, StartPeriod: 5e9 },
          Secrets: [
            { File: { Name: 'db_password', UID: '0', GID: '0', Mode: 0o444 }, SecretName: 'shop_db_password' },
            { File: { Name: 'copy.txt', UID: '101', GID: '102', Mode: 0o400 }, SecretName: 'shop_db_password' }
          ],
          Configs: [{ File: { Name: '/etc/nginx/nginx.conf', UID: '0', GID: '0', Mode: 0o444 }, ConfigName: 'shop_nginx_conf' }]
        },
        Placement: { Constraints: ['node.role == worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 2 },
        Networks: [{ Target: 'shared-back', Aliases: ['web'] }, { Target: 'shop_front', Aliases: ['www', 'web'] }],
        ForceUpdate: 0,
        Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 256 * 1024 * 1024 }, Reservations: { MemoryBytes: 64 * 1024 * 1024 } },
        RestartPolicy: { Condition: 'on-failure', Delay: 5e9, MaxAttempts: 3, Window: 60e9 }
      },
      Mode: { Replicated: { Replicas: 3 } },
      EndpointSpec: {
        Mode: 'vip',
        Ports: [
          { Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'ingress' },
          { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
          { Protocol: 'tcp', TargetPort: 443, PublishedPort: 8443, PublishMode: 'host' }
        ]
      },
      UpdateConfig: { Parallelism: 2, Delay: 10e9, FailureAction: 'rollback', Monitor: 30e9, MaxFailureRatio: 0.25, Order: 'start-first' },
      // docker's convertUpdateConfig: Parallelism 1 and zeros for what the file leaves out.
      RollbackConfig: { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 0, MaxFailureRatio: 0 }
    })
    expect(stack.networks).toEqual([
      { name: 'shared-back', body: { Name: 'shared-back', Driver: 'overlay', Labels: NS, Options: {}, Internal: false, Attachable: false } },
      { name: 'shop_front', body: { Name: 'shop_front', Driver: 'overlay', Labels: NS, Options: {}, Internal: false, Attachable: false } }
    ])
    expect(stack.secrets).toEqual([{ key: 'db_password', name: 'shop_db_password', labels: NS, data: Buffer.from('s3cret') }])
    expect(stack.configs).toEqual([{ key: 'nginx_conf', name: 'shop_nginx_conf', labels: NS, data: Buffer.from('events {}\n') }])
  })

  it('attaches services that name no network to NAME_default, and makes it only when one does', () => {
    const stack = convert(`
services:
  web: { image: nginx }
  api: { image: api:1, networks: [back] }
  worker: { image: busybox, deploy: { mode: global } }
networks:
  back: { attachable: true, driver_opts: { com.docker.network.driver.mtu: 1400 }, ipam: { config: [{ subnet: 10.20.0.0/24 }] }, labels: { tier: back } }
  unused: {}
`)
    expect(stack.networks.map(n => n.name)).toEqual(['shop_back', 'shop_default'])
    expect(stack.networks[0]!.body).toEqual({
      Name: 'shop_back', Driver: 'overlay', Labels: { tier: 'back', ...NS }, Options: { 'com.docker.network.driver.mtu': '1400' },
      Internal: false, Attachable: true, IPAM: { Driver: 'default', Config: [{ Subnet: '10.20.0.0/24' }] }
    })
    const byName = Object.fromEntries(stack.services.map(s => [s.name, s.spec as any]))
    expect(byName.shop_web.TaskTemplate.Networks).toEqual([{ Target: 'shop_default', Aliases: ['web'] }])
    expect(byName.shop_api.TaskTemplate.Networks).toEqual([{ Target: 'shop_back', Aliases: ['api'] }])
    expect(byName.shop_worker.Mode).toEqual({ Global: {} })
    expect(byName.shop_web.Mode).toEqual({ Replicated: {} })
    expect(byName.shop_web.EndpointSpec).toEqual({ Mode: 'vip' })
    expect(byName.shop_web.UpdateConfig).toBeUndefined()

    const onlyNamed = convert('services:\n  api: { image: api:1, networks: [back] }\nnetworks:\n  back: {}\n')
    expect(onlyNamed.networks.map(n => n.name)).toEqual(['shop_back'])
  })

  it('looks up external networks, secrets and configs rather than making them', () => {
    const stack = convert(`
services:
  web:
    image: nginx
    networks: [public, default]
    secrets: [cert, db_password]
    configs: [site]
networks:
  public: { external: true, name: edge }
  default: { external: true, name: outside }
secrets:
  cert: { external: true, name: tls_cert }
  db_password: { file: ./secrets/db.txt, name: db_pw_v1, labels: { v: "1" } }
configs:
  site: { external: true }
  spare: { file: unused.txt }
`)
    expect(stack.networks).toEqual([])
    expect(stack.externalNetworks).toEqual(['edge', 'outside'])
    expect(stack.externalSecrets).toEqual(['tls_cert'])
    expect(stack.externalConfigs).toEqual(['site'])
    // docker makes every file secret and config the file declares, used or not.
    expect(stack.secrets.map(s => [s.name, s.labels])).toEqual([['db_pw_v1', { v: '1', ...NS }]])
    expect(stack.configs.map(s => s.name)).toEqual(['shop_spare'])
    const cs = (stack.services[0]!.spec as any).TaskTemplate.ContainerSpec
    expect(cs.Secrets.map((s: any) => s.SecretName)).toEqual(['db_pw_v1', 'tls_cert'])
    expect(cs.Configs.map((c: any) => c.ConfigName)).toEqual(['site'])
    expect((stack.services[0]!.spec as any).TaskTemplate.Networks).toEqual([{ Target: 'edge', Aliases: ['web'] }, { Target: 'outside', Aliases: ['web'] }])
  })

  it('maps the legacy restart key when deploy.restart_policy is unset, and disables a health check', () => {
    const stack = convert(`
services:
  a: { image: x, restart: always }
  b: { image: x, restart: "on-failure:5" }
  c: { image: x, restart: "no" }
  d: { image: x, restart: always, deploy: { restart_policy: { condition: none } } }
  e: { image: x, healthcheck: { disable: true } }
`)
    const rp = Object.fromEntries(stack.services.map(s => [s.key, (s.spec as any).TaskTemplate.RestartPolicy]))
    expect(rp).toEqual({ a: { Condition: 'any' }, b: { Condition: 'on-failure', MaxAttempts: 5 }, c: undefined, d: { Condition: 'none' }, e: undefined })
    expect((stack.services.find(s => s.key === 'e')!.spec as any).TaskTemplate.ContainerSpec.Healthcheck).toEqual({ Test: ['NONE'] })
  })

  it.each([
    ['services:\n  web: { environment: { A: "1" } }\n', 'services.web.image: invalid image reference for service web: no image specified'],
    ['services:\n  web: { image: "Nginx:latest" }\n', 'services.web.image: invalid image reference for service web: "Nginx:latest" is not a valid repository/tag'],
    ['services:\n  web: { image: x, deploy: { mode: global, replicas: 2 } }\n', 'services.web.deploy.replicas: replicas can only be used with replicated mode'],
    ['services:\n  web: { image: x, deploy: { mode: global, placement: { max_replicas_per_node: 1 } } }\n', 'services.web.deploy.placement.max_replicas_per_node: max_replicas_per_node can only be used with replicated mode'],
    ['services:\n  web: { image: x, networks: [nowhere] }\n', 'services.web.networks.nowhere: undefined network "nowhere"'],
    ['services:\n  web: { image: x, secrets: [nothing] }\n', 'services.web.secrets[0]: undefined secret "nothing"'],
    ['services:\n  web: { image: x, configs: [nothing] }\n', 'services.web.configs[0]: undefined config "nothing"'],
    ['services:\n  web: { image: x, secrets: [a, { source: b, target: a }] }\nsecrets:\n  a: { external: true }\n  b: { external: true }\n', 'services.web.secrets[1]: duplicate secret target for b not allowed'],
    ['services:\n  web: { image: x, healthcheck: { test: ["CMD", "true"], disable: true } }\n', 'services.web.healthcheck: test and disable can\'t be set at the same time'],
    ['services:\n  web.v2: { image: x }\n', 'services.web.v2: service name "shop_web.v2" must be valid as a DNS name component'],
    ['services:\n  web: { image: x }\nsecrets:\n  s: { file: missing.txt }\n', "secrets.s.file: cannot read /srv/app/missing.txt: ENOENT: no such file or directory, open '/srv/app/missing.txt'"],
    ['services:\n  web: { image: x }\nsecrets:\n  s: { file: unused.txt, name: "bad name" }\n', 'secrets.s: invalid secret name "bad name"']
  ])('refuses %s', (text, message) => {
    expect(refusal(() => convert(text))).toContain(message)
  })

  it('refuses an empty stack name', () => {
    expect(refusal(() => convert('services:\n  web: { image: x }\n', ' "" '))).toBe('invalid stack name: " \\"\\" "')
  })
})
