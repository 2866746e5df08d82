import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { callSocket, freePort, repoRoot, waitFor, type AgentProcess } from '../support/agent-process.js'
import { TestCluster } from '../support/cluster.js'
import { requireEngine } from '../support/docker-engine.js'
import { httpCall } from '../support/http.js'
import { parsePrometheus, sampleValue, type Sample } from '../support/prometheus.js'
import { NODE_LABEL, describeResult, engine, inspectService, removeContainers, serviceSpec, waitRunningTasks } from '../support/services.js'
import { TEST_IMAGE, ensureTestImage } from '../support/test-image.js'

/** Debian's chromium, driven by playwright-core, which never downloads a browser of its own. */
const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(repoRoot(), 'test-artifacts')
const UPDATED_IMAGE = 'flotilla-test/busybox:dash'

// The dashboard of a worker in a 3-node cluster (1 manager, 2 workers sharing this engine), in a real
// browser: the page reads the cluster through the worker's own handler and sees it change live.
describe('the dashboard in a browser', () => {
  let cluster: TestCluster
  let manager: AgentProcess
  let worker: AgentProcess
  let victim: AgentProcess
  let managerUi = 0
  let workerUi = 0
  let nodeIds = new Map<string, string>()
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []
  const docker = engine()

  beforeAll(async () => {
    await requireEngine()
    // Never a skip: without the browser this test fails, saying what to install.
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (\`apt-get install chromium\`, or run \`sudo bash .ci/run\`)`)
    await ensureTestImage()
    await docker.getImage(TEST_IMAGE).tag({ repo: 'flotilla-test/busybox', tag: 'dash' })
    ;[managerUi, workerUi] = [await freePort(), await freePort()]
    cluster = TestCluster.empty('dash')
    manager = await cluster.addAgent('dash-1')
    await manager.start(['--init', '--ui', `127.0.0.1:${managerUi}`])
    const token = (await manager.api('GET', '/swarm')).body.JoinTokens.Worker as string
    worker = await cluster.addAgent('dash-2')
    victim = await cluster.addAgent('dash-3')
    await Promise.all([
      worker.start(['--join', manager.addr, '--token', token, '--ui', `127.0.0.1:${workerUi}`, '--ui-actions']),
      victim.start(['--join', manager.addr, '--token', token])
    ])
    await cluster.waitForReady(3, 30_000)
    nodeIds = await cluster.nodeIds()
    mkdirSync(ARTIFACTS, { recursive: true })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 })
    page = await browser.newPage({ viewport: { width: 1440, height: 800 } })
    page.on('pageerror', err => { pageErrors.push(err.message) })
    page.setDefaultTimeout(20_000)
  }, 120_000)

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      console.log(cluster.logs())
      await page?.screenshot({ path: join(ARTIFACTS, 'dashboard-failure.png'), fullPage: true }).catch(() => {})
    })
  })

  afterAll(async () => {
    await browser?.close()
    await cluster?.stop()
    for (const id of nodeIds.values()) await removeContainers(docker, [`${NODE_LABEL}=${id}`])
    await docker.getImage(UPDATED_IMAGE).remove().catch(() => {})
  })

  /**
   * Poll the page until `expression` (evaluated in it) is true, or fail after `timeoutMs` naming `what`.
   * page.evaluate, not waitForFunction: the page's Content-Security-Policy refuses the eval that
   * waitForFunction's polling runs inside the page, while an evaluation from the driver passes.
   */
  const pageWait = async (what: string, expression: string, timeoutMs = 20_000): Promise<void> => {
    await waitFor(`the page to show ${what}`, async () => await page.evaluate(expression) === true, timeoutMs, 100)
  }
  const running = (hostname: string, service: string): string =>
    `document.querySelectorAll('[data-node-column="${hostname}"] .task[data-service="${service}"][data-task-state="running"]').length`

  it('on a worker, shows the 3 nodes and the leader, live over Server-Sent Events', async () => {
    await waitFor('the worker\'s dashboard', async () => (await httpCall(workerUi, 'GET', '/')).status === 200, 10_000)
    await page.goto(`http://127.0.0.1:${workerUi}/`)
    await pageWait('3 ready nodes', 'document.querySelectorAll(\'#nodes tr[data-node-state="ready"]\').length === 3')
    expect(await page.textContent('#self')).toBe('served by dash-2 (worker)')
    expect(await page.textContent('tr[data-hostname="dash-1"] .leader')).toBe('★ Leader')
    await pageWait('the feed connected', 'document.querySelector("#conn").textContent === "live"')
    expect(await page.textContent('#mode')).toBe('actions enabled')
  })

  it('shows a service created on a socket, its tasks spread over the nodes, and the event', async () => {
    const spec = serviceSpec('dash-web', {
      replicas: 6,
      args: ['sh', '-c', 'echo dashboard says hello from $HOSTNAME; exec sleep 3600'],
      updateConfig: { Parallelism: 1, Delay: 1_000_000_000, Monitor: 1_000_000_000, Order: 'stop-first' }
    })
    const t0 = Date.now()
    const created = await manager.api('POST', '/services/create', spec, 30_000)
    expect(created.status, describeResult(created)).toBe(201)
    const total = ['dash-1', 'dash-2', 'dash-3'].map(h => running(h, 'dash-web')).join(' + ')
    await pageWait('6 running tasks', `${total} === 6`, 30_000)
    console.log(`6 tasks running in the page ${Date.now() - t0} ms after the create`)
    for (const host of ['dash-1', 'dash-2', 'dash-3']) expect(await page.evaluate(running(host, 'dash-web'))).toBeGreaterThan(0)
    await pageWait('the service at 6/6', 'document.querySelector(\'tr[data-service="dash-web"]\')?.dataset.replicas === "6/6"')
    await pageWait('the create event', 'document.querySelector(\'#event-log li[data-event="service create"]\') !== null')
    // A service that reserves memory shows on its nodes; one that no node can take is pending, with the reason.
    for (const [name, replicas, bytes] of [['dash-cache', 2, 64 * 1024 ** 2], ['dash-big', 1, 2 ** 50]] as const) {
      const r = await manager.api('POST', '/services/create', serviceSpec(name, { replicas, reserveMemoryBytes: bytes }), 30_000)
      expect(r.status, describeResult(r)).toBe(201)
    }
    await pageWait('dash-big pending with its reason', '[...document.querySelectorAll("#pending li")].some(li => li.textContent.includes("dash-big.1") && li.textContent.includes("insufficient resources"))')
    await pageWait('dash-cache\'s reservations on its nodes', '[...document.querySelectorAll("#nodes tbody tr")].filter(tr => tr.textContent.includes("64 MiB /")).length === 2')
  })

  it('serves /metrics on the dashboard and the socket, and its counters move', async () => {
    const scrapeUi = async (port: number): Promise<Sample[]> => {
      const r = await httpCall(port, 'GET', '/metrics')
      expect(r.status).toBe(200)
      expect(r.headers['content-type']).toContain('text/plain')
      return parsePrometheus(r.text)
    }
    const scrapeSocket = async (a: AgentProcess): Promise<Sample[]> => {
      const r = await callSocket(a.socket, 'GET', '/metrics')
      expect(r.status).toBe(200)
      return parsePrometheus(r.body as string)
    }
    const m0 = await scrapeSocket(manager)
    expect(sampleValue(m0, 'flotilla_raft_is_leader')).toBe(1)
    expect(sampleValue(m0, 'flotilla_raft_term')).toBeGreaterThanOrEqual(1)
    expect(sampleValue(m0, 'flotilla_raft_applied_index')).toBeGreaterThan(0)
    expect(sampleValue(m0, 'flotilla_raft_wal_fsync_duration_seconds_count')).toBeGreaterThan(0)
    expect(sampleValue(m0, 'flotilla_tasks', { service: 'dash-web', state: 'running' })).toBe(6)
    expect(sampleValue(m0, 'flotilla_scheduling_latency_seconds_count')).toBeGreaterThanOrEqual(6)
    expect(sampleValue(m0, 'flotilla_members', { state: 'ready' })).toBe(3)
    expect(sampleValue(m0, 'flotilla_tasks_pending')).toBe(1)
    expect(sampleValue(m0, 'process_resident_memory_bytes')).toBeGreaterThan(1e6)
    const committed0 = sampleValue(m0, 'flotilla_raft_proposals_total', { outcome: 'committed' })!
    const lists0 = sampleValue(m0, 'flotilla_control_requests_total', { listener: 'socket', method: 'GET', route: '/services', status: '200' }) ?? 0
    expect((await manager.api('GET', '/services')).status).toBe(200)
    const label = await manager.api('POST', `/nodes/${nodeIds.get('dash-1')!}/update?version=${(await manager.api('GET', '/nodes/dash-1')).body.Version.Index as number}`,
      { Role: 'manager', Availability: 'active', Labels: { dashboard: 'yes' } })
    expect(label.status, describeResult(label)).toBe(200)
    const m1 = await scrapeSocket(manager)
    expect(sampleValue(m1, 'flotilla_control_requests_total', { listener: 'socket', method: 'GET', route: '/services', status: '200' })).toBe(lists0 + 1)
    expect(sampleValue(m1, 'flotilla_control_request_duration_seconds_count', { listener: 'socket', method: 'POST', route: '/nodes/{id}/update' })).toBeGreaterThanOrEqual(1)
    expect(sampleValue(m1, 'flotilla_raft_proposals_total', { outcome: 'committed' })).toBeGreaterThan(committed0)
    // The worker's dashboard: no Raft state of its own, the members by gossip, its own requests counted.
    const w0 = await scrapeUi(workerUi)
    expect(sampleValue(w0, 'flotilla_raft_is_leader')).toBe(0)
    expect(sampleValue(w0, 'flotilla_members', { state: 'ready' })).toBe(3)
    const states0 = sampleValue(w0, 'flotilla_control_requests_total', { listener: 'ui', method: 'GET', route: '/api/state', status: '200' }) ?? 0
    expect((await httpCall(workerUi, 'GET', '/api/state')).status).toBe(200)
    expect(sampleValue(await scrapeUi(workerUi), 'flotilla_control_requests_total', { listener: 'ui', method: 'GET', route: '/api/state', status: '200' })).toBe(states0 + 1)
  })

  it('refuses a foreign Host or Origin, unknown paths, actions without the CSRF token, and actions on a read-only dashboard', async () => {
    expect((await httpCall(workerUi, 'GET', '/', { Host: `rebound.example:${workerUi}` })).status).toBe(403)
    expect((await httpCall(workerUi, 'GET', '/api/state', { Origin: 'http://rebound.example' })).status).toBe(403)
    expect((await httpCall(workerUi, 'GET', '/swarm')).status).toBe(404)
    expect((await httpCall(workerUi, 'GET', '/api/secrets')).status).toBe(404)
    const before = await inspectService(manager, 'dash-web')
    const noToken = await httpCall(workerUi, 'POST', `/api/services/${before.ID}/scale`, { Origin: `http://127.0.0.1:${workerUi}` }, { replicas: 1 })
    expect(noToken.status).toBe(403)
    expect(noToken.json.message).toContain('CSRF')
    // The manager's dashboard was started without --ui-actions: even its own page's token changes nothing.
    const managerPage = await httpCall(managerUi, 'GET', '/')
    const token = /name="csrf-token" content="([^"]+)"/.exec(managerPage.text)![1]!
    const readOnly = await httpCall(managerUi, 'POST', `/api/services/${before.ID}/scale`, { 'X-CSRF-Token': token }, { replicas: 1 })
    expect(readOnly.status).toBe(403)
    expect(readOnly.json.message).toContain('--ui-actions')
    expect((await inspectService(manager, 'dash-web')).Version.Index).toBe(before.Version.Index)
  })

  it('turns a killed agent\'s node down within the detection time, and shows its tasks moving', async () => {
    const t0 = Date.now()
    await victim.kill('SIGKILL')
    await pageWait('dash-3 down', 'document.querySelector(\'#nodes tr[data-hostname="dash-3"]\')?.dataset.nodeState === "down"', 15_000)
    const downMs = Date.now() - t0
    console.log(`dash-3 shown down ${downMs} ms after its agent was killed`)
    expect(downMs).toBeLessThan(5_000) // 1.8 s of missed heartbeats, then at most a second to the page
    await pageWait('dash-3\'s tasks running on dash-1 and dash-2', `${running('dash-1', 'dash-web')} + ${running('dash-2', 'dash-web')} === 6 && ${running('dash-3', 'dash-web')} === 0`, 30_000)
    console.log(`6 tasks running again on the 2 other nodes in the page ${Date.now() - t0} ms after the kill`)
    expect(await page.getAttribute('[data-node-column="dash-3"]', 'class')).toContain('down')
    await pageWait('the node-down event', '[...document.querySelectorAll(\'#event-log li[data-event="node update"]\')].some(li => li.textContent.includes("→ down"))')
    const w = parsePrometheus((await httpCall(workerUi, 'GET', '/metrics')).text)
    expect(sampleValue(w, 'flotilla_members', { state: 'down' })).toBe(1)
    expect(sampleValue(w, 'flotilla_member_suspicions_total')).toBeGreaterThanOrEqual(1)
  })

  it('runs an image update from the page and shows its progress, then the tasks\' history and logs', async () => {
    await page.click('tr[data-service="dash-web"]')
    await pageWait('the detail', '!document.querySelector("#detail").hidden && document.querySelector("#detail-title").textContent === "dash-web"')
    await page.fill('#act-image', UPDATED_IMAGE)
    await page.click('#act-update')
    await page.click('#detail-close')
    const seen = new Set<string>()
    let shot = false
    await waitFor('the update to complete in the page', async () => {
      const cell = await page.$('tr[data-service="dash-web"] [data-update-state]')
      const stateNow = await cell?.getAttribute('data-update-state')
      const progress = await cell?.getAttribute('data-update-progress')
      if (stateNow === 'updating' && progress !== undefined && progress !== null) {
        seen.add(progress)
        // The artifact (and the README's picture): the update half done, the lost node's column empty.
        if (!shot && progress === '3/6') {
          shot = true
          await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true })
        }
      }
      return stateNow === 'completed'
    }, 60_000, 100)
    console.log(`update progress the page showed: ${[...seen].join(', ')}`)
    expect(seen.size).toBeGreaterThanOrEqual(2)
    const s = await inspectService(manager, 'dash-web')
    expect(s.Spec.TaskTemplate.ContainerSpec.Image).toBe(UPDATED_IMAGE)
    const tasks = await waitRunningTasks(manager, 'dash-web', 6)
    expect(tasks.every(t => t.Spec?.ContainerSpec.Image === UPDATED_IMAGE)).toBe(true)
    // The history: the replaced tasks are there, shut down, beside the new ones.
    await page.click('tr[data-service="dash-web"]')
    await pageWait('the history', 'document.querySelectorAll("#detail-tasks tbody tr.old").length >= 6', 15_000)
    await page.click('#detail-tasks tbody tr:not(.old)')
    await pageWait('the task\'s log lines', 'document.querySelector("#logs").textContent.includes("dashboard says hello from")', 15_000)
    await page.click('#detail-close')
    await pageWait('the drawer closed', 'document.querySelector("#detail").hidden')
    await pageWait('the update completed', 'document.querySelector(\'tr[data-service="dash-web"] [data-update-state]\')?.dataset.updateState === "completed"')
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-after-update.png'), fullPage: true })
    if (!shot) await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true })
    if (process.env.FLOTILLA_UPDATE_SCREENSHOT === '1') copyFileSync(join(ARTIFACTS, 'dashboard.png'), join(repoRoot(), 'docs', 'dashboard.png'))
    expect(pageErrors).toEqual([])
  })
})
