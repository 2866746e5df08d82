import { describe, expect, it } from 'vitest'
import { loadCompose } from '../../../src/node/cli/stack/load.js'
import { ComposeError, type ReadFile } from '../../../src/node/cli/stack/compose-types.js'

/** A loader context over in-memory files. */
function context (files: Record<string, string> = {}, env: Record<string, string> = {}): { workingDir: string, env: Record<string, string>, readFile: ReadFile } {
  return {
    workingDir: '/srv/app',
    env,
    readFile: p => {
      const t = files[p]
      if (t === undefined) throw new Error(`ENOENT: no such file or directory, open '${p}'`)
      return Buffer.from(t)
    }
  }
}

const load = (text: string, ctx = context()): ReturnType<typeof loadCompose> => loadCompose([{ filename: 'docker-compose.yml', text }], ctx)

/** The message of what `f` throws. */
function refusal (f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ComposeError)
    return (e as Error).message
  }
  throw new Error('expected a refusal')
}

describe('Compose file loading: every supported key, normalized', () => {
  it('reads a service with every key flotilla supports', () => {
    const ctx = context({ '/srv/app/web.env': '# comment\nFROM_FILE=1\n  SPACED=keeps trailing \nBARE_FOUND\nBARE_MISSING\nOVERRIDDEN=file\n' }, { BARE_FOUND: 'env', FROM_ENV: 'e', TAG: '1.27' })
    const c = load(`
version: "3.8"
services:
  web:
    image: nginx:\${TAG}
    command: sh -c 'echo "hi there"' # comment
    entrypoint: ["/docker-entrypoint.sh"]
    env_file: web.env
    environment:
      OVERRIDDEN: compose
      FROM_ENV:
      NUMBER: 5
      YES_STRING: yes
    labels: ["a=1", "b"]
    hostname: web-host
    user: "1000:1000"
    working_dir: /app
    stop_signal: SIGQUIT
    stop_grace_period: 1m30s
    restart: on-failure:3
    ports:
      - "8080:80"
      - "53:53/udp"
      - 9000
      - "7000-7001:70-71"
      - { target: 443, published: 8443, protocol: tcp, mode: host }
    networks:
      front:
        aliases: [www]
      back:
    secrets:
      - db_password
      - { source: api_key, target: key.txt, uid: "101", gid: "102", mode: 0440 }
    configs:
      - source: nginx_conf
        target: /etc/nginx/nginx.conf
    healthcheck:
      test: curl -f http://localhost/
      interval: 10s
      timeout: 2s
      retries: 3
      start_period: 30s
    deploy:
      mode: replicated
      replicas: 3
      endpoint_mode: DNSRR
      labels: { team: web }
      placement:
        constraints: [node.role == worker]
        preferences: [{ spread: node.labels.zone }]
        max_replicas_per_node: 2
      resources:
        limits: { cpus: '0.5', memory: 256M }
        reservations: { cpus: 0.25, memory: 64m }
      restart_policy: { condition: on-failure, delay: 5s, max_attempts: 3, window: 2m }
      update_config: { parallelism: 2, delay: 10s, failure_action: rollback, monitor: 30s, max_failure_ratio: 0.3, order: start-first }
      rollback_config: { parallelism: 0, order: stop-first }
    x-note: extension fields are ignored
networks:
  front: {}
  back:
secrets:
  db_password: { file: ./secrets/db.txt }
  api_key: { external: true }
configs:
  nginx_conf: { file: /etc/shared/nginx.conf, name: nginx_v2, labels: { v: "2" } }
x-anchors: { ignored: true }
`, ctx)
    expect(c.version).toBe('3.8')
    expect(c.services.web).toEqual({
      image: 'nginx:1.27',
      command: ['sh', '-c', 'echo "hi there"'],
      entrypoint: ['/docker-entrypoint.sh'],
      environment: { FROM_FILE: '1', SPACED: 'keeps trailing ', BARE_FOUND: 'env', OVERRIDDEN: 'compose', FROM_ENV: 'e', NUMBER: '5', YES_STRING: 'yes' },
      labels: { a: '1', b: '' },
      hostname: 'web-host',
      user: '1000:1000',
      workingDir: '/app',
      stopSignal: 'SIGQUIT',
      stopGracePeriodNs: 90e9,
      restart: 'on-failure:3',
      ports: [
        { target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' },
        { target: 53, published: 53, protocol: 'udp', mode: 'ingress' },
        { target: 9000, published: 0, protocol: 'tcp', mode: 'ingress' },
        { target: 70, published: 7000, protocol: 'tcp', mode: 'ingress' },
        { target: 71, published: 7001, protocol: 'tcp', mode: 'ingress' },
        { target: 443, published: 8443, protocol: 'tcp', mode: 'host' }
      ],
      networks: { front: { aliases: ['www'] }, back: {} },
      secrets: [{ source: 'db_password' }, { source: 'api_key', target: 'key.txt', uid: '101', gid: '102', mode: 0o440 }],
      configs: [{ source: 'nginx_conf', target: '/etc/nginx/nginx.conf' }],
      healthcheck: { test: ['CMD-SHELL', 'curl -f http://localhost/'], intervalNs: 10e9, timeoutNs: 2e9, retries: 3, startPeriodNs: 30e9 },
      deploy: {
        mode: 'replicated',
        replicas: 3,
        endpointMode: 'dnsrr',
        labels: { team: 'web' },
        placement: { constraints: ['node.role == worker'], preferences: ['node.labels.zone'], maxReplicasPerNode: 2 },
        resources: { limits: { nanoCpus: 5e8, memoryBytes: 256 * 1024 * 1024 }, reservations: { nanoCpus: 2.5e8, memoryBytes: 64 * 1024 * 1024 } },
        restartPolicy: { condition: 'on-failure', delayNs: 5e9, maxAttempts: 3, windowNs: 120e9 },
        updateConfig: { parallelism: 2, delayNs: 10e9, failureAction: 'rollback', monitorNs: 30e9, maxFailureRatio: 0.3, order: 'start-first' },
        rollbackConfig: { parallelism: 0, order: 'stop-first' }
      }
    })
    expect(c.networks).toEqual({ front: {}, back: {} })
    expect(c.secrets).toEqual({ db_password: { file: '/srv/app/secrets/db.txt' }, api_key: { external: true, name: 'api_key' } })
    expect(c.configs).toEqual({ nginx_conf: { file: '/etc/shared/nginx.conf', name: 'nginx_v2', labels: { v: '2' } } })
  })

  it('reads the other forms: list environment, string entrypoint, list healthcheck test, disable, global mode', () => {
    const c = load(`
services:
  agent:
    image: busybox
    entrypoint: /bin/agent --verbose
    command: ["run", "--port", 80]
    environment: ["A=1", "B=", "C"]
    networks: [front]
    healthcheck: { test: ["CMD", "true"] }
    deploy: { mode: global }
  quiet:
    image: busybox
    healthcheck: { disable: true }
networks:
  front:
    driver: overlay
    attachable: true
    internal: false
    driver_opts: { com.docker.network.driver.mtu: 1400 }
    ipam: { driver: default, config: [{ subnet: 10.9.0.0/24 }] }
    labels: { tier: front }
    name: shared_front
  outside:
    external:
      name: legacy_name
`, context({}, { C: 'from-env' }))
    expect(c.version).toBe('3.13')
    expect(c.services.agent).toEqual({
      image: 'busybox',
      entrypoint: ['/bin/agent', '--verbose'],
      command: ['run', '--port', '80'],
      environment: { A: '1', B: '', C: 'from-env' },
      networks: { front: {} },
      healthcheck: { test: ['CMD', 'true'] },
      deploy: { mode: 'global' }
    })
    expect(c.services.quiet!.healthcheck).toEqual({ disable: true })
    expect(c.networks).toEqual({
      front: { name: 'shared_front', attachable: true, internal: false, driverOpts: { 'com.docker.network.driver.mtu': '1400' }, subnet: '10.9.0.0/24', labels: { tier: 'front' } },
      outside: { external: true, name: 'legacy_name' }
    })
  })

  it('reads YAML merge keys and YAML 1.1 octals, as go-yaml v3 does', () => {
    const c = load(`
x-base: &base
  image: busybox
  labels: { from: base }
services:
  a:
    <<: *base
    secrets: [{ source: s, mode: 0400 }]
  b:
    <<: *base
    image: alpine
secrets:
  s: { external: true }
`)
    expect(c.services.a).toEqual({ image: 'busybox', labels: { from: 'base' }, secrets: [{ source: 's', mode: 0o400 }] })
    expect(c.services.b).toEqual({ image: 'alpine', labels: { from: 'base' } })
  })
})

describe('Compose file refusals name the key path', () => {
  it.each([
    ['services:\n  web:\n    build: .\n', 'services.web.build: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    privileged: true\n', 'services.web.privileged: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    devices: ["/dev/fuse"]\n', 'services.web.devices: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    container_name: web\n', 'services.web.container_name: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    network_mode: host\n', 'services.web.network_mode: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    volumes: ["/data:/data"]\n', 'services.web.volumes: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    cap_add: [NET_ADMIN]\n', 'services.web.cap_add: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    links: [db]\n', 'services.web.links: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    depends_on: [db]\n', 'services.web.depends_on: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    logging: { driver: syslog }\n', 'services.web.logging: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    tty: true\n', 'services.web.tty: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    colour: blue\n', 'services.web.colour: unknown key'],
    ['services:\n  web:\n    image: x\n    deploy: { mode: replicated-job }\n', 'services.web.deploy.mode: replicated-job: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    deploy: { mode: sometimes }\n', 'services.web.deploy.mode: unknown mode: sometimes'],
    ['services:\n  web:\n    image: x\n    deploy: { resources: { limits: { pids: 10 } } }\n', 'services.web.deploy.resources.limits.pids: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    deploy: { resources: { reservations: { generic_resources: [] } } }\n', 'services.web.deploy.resources.reservations.generic_resources: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    deploy: { placement: { zone: a } }\n', 'services.web.deploy.placement.zone: unknown key'],
    ['services:\n  web:\n    image: x\n    deploy: { update_config: { failure_action: explode } }\n', 'services.web.deploy.update_config.failure_action: invalid failure action "explode": use pause, continue, rollback'],
    ['services:\n  web:\n    image: x\n    deploy: { rollback_config: { failure_action: rollback } }\n', 'services.web.deploy.rollback_config.failure_action: invalid failure action "rollback": use pause, continue'],
    ['services:\n  web:\n    image: x\n    deploy: { update_config: { max_failure_ratio: 2 } }\n', 'services.web.deploy.update_config.max_failure_ratio: must be between 0 and 1'],
    ['services:\n  web:\n    image: x\n    deploy: { restart_policy: { condition: always } }\n', 'services.web.deploy.restart_policy.condition: invalid restart condition "always"'],
    ['services:\n  web:\n    image: x\n    deploy: { replicas: many }\n', 'services.web.deploy.replicas: must be a non-negative integer'],
    ['services:\n  web:\n    image: x\n    deploy: { resources: { limits: { memory: lots } } }\n', 'services.web.deploy.resources.limits.memory: invalid size: \'lots\''],
    ['services:\n  web:\n    image: x\n    stop_grace_period: soon\n', 'services.web.stop_grace_period: time: invalid duration "soon"'],
    ['services:\n  web:\n    image: x\n    healthcheck: { start_interval: 1s }\n', 'services.web.healthcheck.start_interval: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    networks: { front: { ipv4_address: 10.0.0.9 } }\n', 'services.web.networks.front.ipv4_address: not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    ports: ["127.0.0.1:8080:80"]\n', 'services.web.ports[0]: a host IP in "127.0.0.1:8080:80" is not supported by flotilla'],
    ['services:\n  web:\n    image: x\n    ports: ["8080:80/icmp"]\n', 'services.web.ports[0]: invalid protocol "icmp"'],
    ['services:\n  web:\n    image: x\n    ports: ["8080-8082:80-81"]\n', 'services.web.ports[0]: invalid ranges specified for container and host ports'],
    ['services:\n  web:\n    image: x\n    ports: [{ published: 80 }]\n', 'services.web.ports[0].target: is required'],
    ['services:\n  web:\n    image: x\n    ports: [{ target: 80, mode: bridge }]\n', 'services.web.ports[0].mode: invalid publish mode "bridge"'],
    ['services:\n  web:\n    image: x\n    secrets: [{ target: x }]\n', 'services.web.secrets[0].source: is required'],
    ['services:\n  web:\n    image: x\n    command: "echo \'unclosed"\n', 'services.web.command: EOF found when expecting closing quote'],
    ['services:\n  web:\n    image: x\n    restart: sometimes\n', 'services.web.restart: invalid restart policy "sometimes"'],
    ['services:\n  web:\n    image: 5\n', 'services.web.image: must be a string'],
    ['services:\n  "web/1":\n    image: x\n', 'services.web/1: a service name may hold only letters'],
    ['volumes:\n  data: {}\n', 'volumes: not supported by flotilla'],
    ['name: x\n', 'name: unknown key'],
    ['version: "2.4"\n', 'version: unsupported Compose file version: 2.4'],
    ['version: "3.14"\n', 'version: unsupported Compose file version: 3.14'],
    ['networks:\n  n: { driver: bridge }\n', 'networks.n.driver: flotilla makes overlay networks only, not "bridge"'],
    ['networks:\n  n: { driver_opts: { encrypted: "" } }\n', 'networks.n.driver_opts.encrypted: not supported by flotilla'],
    ['networks:\n  n: { enable_ipv6: true }\n', 'networks.n.enable_ipv6: not supported by flotilla'],
    ['networks:\n  n: { ipam: { driver: custom } }\n', 'networks.n.ipam.driver: only the default IPAM driver is supported, not "custom"'],
    ['networks:\n  n: { ipam: { config: [{ subnet: 10.1.0.0/24 }, { subnet: 10.2.0.0/24 }] } }\n', 'networks.n.ipam.config: one subnet per network is supported by flotilla'],
    ['networks:\n  n: { ipam: { config: [{ subnet: 10.1.0.0/24, gateway: 10.1.0.1 }] } }\n', 'networks.n.ipam.config[0].gateway: not supported by flotilla'],
    ['networks:\n  n: { external: true, driver: overlay }\n', 'networks.n.driver: not allowed on an external object'],
    ['networks:\n  n: { external: true, name: host }\n', 'networks.n: the engine\'s "host" network is not supported by flotilla'],
    ['networks:\n  default: { external: true }\n', 'networks.default: the engine\'s "default" network is not supported by flotilla'],
    ['networks:\n  n: { external: { name: a }, name: b }\n', 'networks.n: network.external.name and network.name conflict; only use network.name'],
    ['networks:\n  n: { attachable: "yes" }\n', 'networks.n.attachable: must be a boolean'],
    ['secrets:\n  s: { driver: vault }\n', 'secrets.s.driver: not supported by flotilla'],
    ['secrets:\n  s: { file: a, template_driver: golang }\n', 'secrets.s.template_driver: not supported by flotilla'],
    ['secrets:\n  s: { labels: { a: b } }\n', 'secrets.s: a secret needs file: (its data) or external: true'],
    ['configs:\n  c: { external: true, file: ./c.txt }\n', 'configs.c.file: not allowed on an external object'],
    ['services: [web]\n', 'services: must be a mapping']
  ])('%s', (text, message) => {
    expect(refusal(() => load(text))).toContain(message)
  })

  it('refuses what is not YAML, or not a mapping at the top, naming the file', () => {
    expect(refusal(() => load('services: [\n'))).toMatch(/^docker-compose\.yml: /)
    expect(refusal(() => load('- a\n- b\n'))).toBe('docker-compose.yml: top-level object must be a mapping')
    expect(refusal(() => load('a: 1\na: 2\n'))).toContain('docker-compose.yml: Map keys must be unique')
  })

  it('refuses an env file that cannot be read or is malformed', () => {
    expect(refusal(() => load('services:\n  web:\n    image: x\n    env_file: missing.env\n'))).toBe("services.web.env_file: cannot read /srv/app/missing.env: ENOENT: no such file or directory, open '/srv/app/missing.env'")
    expect(refusal(() => load('services:\n  web:\n    image: x\n    env_file: [bad.env]\n', context({ '/srv/app/bad.env': 'MY VAR=1\n' }))))
      .toBe('services.web.env_file[0]: invalid env file: variable \'MY VAR\' contains whitespaces (line 1)')
  })
})

describe('several Compose files', () => {
  const base = `
version: "3.8"
services:
  web:
    image: nginx:1.27
    command: ["nginx", "-g", "daemon off;"]
    environment: { A: "1", B: "1" }
    labels: { keep: "yes" }
    ports: ["8080:80", "9090:90"]
    networks: { front: { aliases: [www] } }
    secrets: [s1]
    deploy:
      replicas: 2
      labels: { a: "1" }
      placement: { constraints: [node.role == worker] }
      resources: { limits: { cpus: '1', memory: 128M } }
      update_config: { parallelism: 2, delay: 5s }
  db:
    image: postgres:16
networks:
  front: { labels: { from: base } }
secrets:
  s1: { file: s1.txt }
`
  const override = `
version: "3.8"
services:
  web:
    image: nginx:1.28
    environment: { B: "2", C: "3" }
    ports: ["8080:8080", "7070:70"]
    networks: { front: { aliases: [site] }, back: {} }
    secrets: [{ source: s1, target: other }]
    deploy:
      labels: { b: "2" }
      placement: { constraints: [node.labels.zone == a] }
      resources: { limits: { memory: 256M } }
      update_config: { order: start-first }
  cache:
    image: redis:7
networks:
  front: { labels: { from: override } }
  back: {}
`
  it('merges the later over the earlier, as docker does', () => {
    const c = loadCompose([{ filename: 'base.yml', text: base }, { filename: 'override.yml', text: override }], context())
    expect(Object.keys(c.services).sort()).toEqual(['cache', 'db', 'web'])
    expect(c.services.web).toEqual({
      image: 'nginx:1.28',
      command: ['nginx', '-g', 'daemon off;'],
      environment: { A: '1', B: '2', C: '3' },
      labels: { keep: 'yes' },
      ports: [
        { target: 70, published: 7070, protocol: 'tcp', mode: 'ingress' },
        { target: 8080, published: 8080, protocol: 'tcp', mode: 'ingress' },
        { target: 90, published: 9090, protocol: 'tcp', mode: 'ingress' }
      ],
      networks: { front: { aliases: ['site'] }, back: {} },
      secrets: [{ source: 's1', target: 'other' }],
      deploy: {
        replicas: 2,
        labels: { a: '1', b: '2' },
        placement: { constraints: ['node.role == worker', 'node.labels.zone == a'] },
        resources: { limits: { nanoCpus: 1e9, memoryBytes: 256 * 1024 * 1024 } },
        updateConfig: { parallelism: 2, delayNs: 5e9, order: 'start-first' }
      }
    })
    expect(c.networks).toEqual({ front: { labels: { from: 'override' } }, back: {} })
  })

  it('refuses files of different versions, and names the file of a refusal', () => {
    expect(refusal(() => loadCompose([{ filename: 'a.yml', text: 'version: "3.8"\n' }, { filename: 'b.yml', text: 'version: "3.7"\n' }], context())))
      .toBe('version mismatched between two composefiles : 3.8 and 3.7')
    expect(refusal(() => loadCompose([{ filename: 'a.yml', text: base }, { filename: 'b.yml', text: 'services:\n  web:\n    build: .\n' }], context())))
      .toBe('b.yml: services.web.build: not supported by flotilla')
    expect(refusal(() => loadCompose([], context()))).toBe('specify a Compose file (with --compose-file)')
  })
})
