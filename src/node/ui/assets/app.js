// flotilla's dashboard page: hand-written DOM code, no framework and no build step. The agent pushes the
// cluster's state and events over Server-Sent Events (/api/stream); the page only draws them, and asks
// for a service's task history and a task's last log lines when they are opened.
'use strict';
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content
  /** The last state the agent pushed (see src/node/ui/model.ts for its shape). */
  let state = null
  /** The service whose detail is open, and the task whose logs are shown. */
  let openService = null
  let openTask = null
  let historyAt = 0
  const MAX_EVENTS = 200

  const $ = (sel) => document.querySelector(sel)

  /** h('td', { class: 'x' }, 'text', child…): an element with attributes and children. */
  function h (tag, attrs, ...children) {
    const el = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
      else el.setAttribute(k, v === true ? '' : String(v))
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue
      el.append(c instanceof Node ? c : document.createTextNode(String(c)))
    }
    return el
  }

  function stateBadge (s) {
    return h('span', { class: `state state-${s}` }, s || 'unknown')
  }

  /** Colours far enough apart to tell services apart, each dark enough for white text. */
  const PALETTE = ['#2b6cb0', '#dd6b20', '#2f855a', '#b83280', '#6b46c1', '#c53030', '#2c7a7b', '#8b6914', '#4a5568', '#0b7285', '#5f3dc4', '#a61e4d']
  /** Each service's colour, from the last state (see assignColours). */
  let colours = new Map()

  function hashOf (name) {
    let h = 2166136261
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619)
    // murmur3's finaliser: FNV's low bits alone repeat for similar names.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
    return (h ^ (h >>> 16)) >>> 0
  }

  /**
   * A colour per service, the same on every reload: its name's hash picks a slot of the palette, and a
   * service whose slot another took (in name order) takes the next free one, so that no two share a
   * colour while there are fewer services than colours.
   */
  function assignColours (services) {
    const next = new Map()
    const taken = new Set()
    for (const s of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
      let slot = hashOf(s.name) % PALETTE.length
      for (let i = 0; i < PALETTE.length && taken.has(slot); i++) slot = (slot + 1) % PALETTE.length
      taken.add(slot)
      next.set(s.name, PALETTE[slot])
    }
    colours = next
  }

  function serviceColour (name) {
    return colours.get(name) || PALETTE[hashOf(name) % PALETTE.length]
  }

  function cores (nano) {
    return (nano / 1e9).toFixed(nano % 1e9 === 0 ? 0 : 2)
  }

  function gib (bytes) {
    if (bytes === 0) return '0'
    return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`
  }

  function ago (iso) {
    const ms = Date.now() - Date.parse(iso)
    if (!Number.isFinite(ms)) return ''
    const s = Math.max(0, Math.round(ms / 1000))
    if (s < 60) return `${s} s ago`
    if (s < 3600) return `${Math.floor(s / 60)} min ago`
    return `${Math.floor(s / 3600)} h ago`
  }

  function hostnameOf (nodeId) {
    const n = state && state.nodes.find(x => x.id === nodeId)
    return n ? n.hostname : (nodeId || '').slice(0, 12)
  }

  let toastTimer = null
  function toast (text, error) {
    const t = $('#toast')
    t.textContent = text
    t.className = error ? 'toast error' : 'toast'
    t.hidden = false
    clearTimeout(toastTimer)
    toastTimer = setTimeout(() => { t.hidden = true }, 5000)
  }

  /** POST an action with the page's CSRF token; the agent answers with the control API's own status and message. */
  async function act (path, body, done) {
    try {
      const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(body || {}) })
      const json = await res.json().catch(() => ({}))
      if (!res.ok) { toast(`Refused (${res.status}): ${json.message || res.statusText}`, true); return }
      toast(done)
    } catch (err) {
      toast(`Failed: ${err.message}`, true)
    }
  }

  // ─── nodes ────────────────────────────────────────────────────────────────────────────────────

  function renderNodes () {
    const body = $('#nodes tbody')
    $('#nodes-count').textContent = `${state.nodes.filter(n => n.state === 'ready').length} of ${state.nodes.length} ready`
    body.replaceChildren(...state.nodes.map(n => {
      const action = !state.actions
        ? null
        : n.availability === 'active'
          ? h('button', { class: 'small', type: 'button', onclick: () => act(`/api/nodes/${n.id}/availability`, { availability: 'drain' }, `draining ${n.hostname}`) }, 'Drain')
          : h('button', { class: 'small', type: 'button', onclick: () => act(`/api/nodes/${n.id}/availability`, { availability: 'active' }, `${n.hostname} active`) }, 'Activate')
      return h('tr', { class: n.state === 'down' ? 'node-down' : null, 'data-node-id': n.id, 'data-node-state': n.state, 'data-hostname': n.hostname },
        h('td', {}, n.hostname, n.id === state.self.nodeId ? h('span', { class: 'muted' }, ' (this page)') : null),
        h('td', {}, n.role),
        h('td', { class: n.leader ? 'leader' : null }, n.leader ? '★ Leader' : n.role === 'manager' ? 'Reachable' : ''),
        h('td', { title: n.message }, stateBadge(n.state)),
        h('td', {}, stateBadge(n.availability)),
        h('td', {}, n.engine || h('span', { class: 'muted' }, 'unavailable')),
        h('td', { class: 'num' }, n.running),
        h('td', {}, `${cores(n.cpu.reserved)} / ${cores(n.cpu.total)} cores`),
        h('td', {}, `${gib(n.memory.reserved)} / ${gib(n.memory.total)}`),
        h('td', { class: 'act' }, action))
    }))
  }

  // ─── services ─────────────────────────────────────────────────────────────────────────────────

  function updateCell (s) {
    if (s.update === null) return h('span', { class: 'muted' }, '—')
    const u = s.update
    const pct = u.total === 0 ? 100 : Math.round(100 * u.updated / u.total)
    const busy = u.state === 'updating' || u.state === 'rollback_started'
    return h('span', { title: u.message, 'data-update-state': u.state, 'data-update-progress': `${u.updated}/${u.total}` },
      busy ? h('span', { class: 'bar' }, h('span', { 'data-pct': pct })) : null,
      stateBadge(u.state), busy ? ` ${u.updated}/${u.total}` : '')
  }

  function renderServices () {
    $('#services-count').textContent = `${state.services.length}`
    $('#services tbody').replaceChildren(...state.services.map(s => h('tr', {
      class: `service-row${openService === s.id ? ' selected' : ''}`,
      'data-service': s.name,
      'data-replicas': `${s.running}/${s.desired}`,
      onclick: () => openDetail(s.id)
    },
    h('td', {}, h('span', { class: 'swatch', 'data-colour': serviceColour(s.name) }), s.name),
    h('td', {}, s.mode),
    h('td', {}, h('span', { class: `short${s.running < s.desired ? ' lacking' : ''}` }, `${s.running}/${s.desired}`)),
    h('td', { class: 'wrap' }, s.image),
    h('td', {}, updateCell(s)),
    h('td', {}, s.ports.join(', ') || h('span', { class: 'muted' }, '—')))))
    paint()
  }

  /**
   * Colours and widths set through the CSSOM, not style attributes: the page's Content-Security-Policy
   * allows no inline style.
   */
  function paint () {
    for (const el of document.querySelectorAll('[data-colour]')) el.style.background = el.dataset.colour
    for (const el of document.querySelectorAll('[data-pct]')) el.style.width = `${el.dataset.pct}%`
  }

  // ─── tasks by node (the swarm visualizer's view) ──────────────────────────────────────────────

  function renderPlacement () {
    const byNode = new Map(state.nodes.map(n => [n.id, []]))
    const pending = []
    for (const t of state.tasks) {
      if (t.nodeId !== null && byNode.has(t.nodeId)) byNode.get(t.nodeId).push(t)
      else pending.push(t)
    }
    $('#columns').replaceChildren(...state.nodes.map(n => h('div', {
      class: `column${n.state === 'down' ? ' down' : ''}${n.availability !== 'active' ? ' drain' : ''}`,
      'data-node-column': n.hostname,
      'data-node-state': n.state
    },
    h('div', { class: 'column-head' },
      h('div', { class: 'host' }, n.leader ? '★ ' : '', n.hostname),
      h('div', { class: 'sub' }, `${n.role} · `, stateBadge(n.state), n.availability !== 'active' ? ` · ${n.availability}` : '')),
    h('div', { class: 'column-body' }, byNode.get(n.id).map(taskCard)))))
    const box = $('#pending')
    box.hidden = pending.length === 0
    box.querySelector('ul').replaceChildren(...pending.map(t => h('li', { 'data-task-id': t.id, 'data-task-state': t.state },
      h('span', { class: 'swatch', 'data-colour': serviceColour(t.serviceName) }), h('b', {}, t.name), ` ${t.state}: `,
      h('span', { class: 'muted' }, t.message || 'waiting for a node'))))
    paint()
  }

  function taskCard (t) {
    const starting = t.state !== 'running' && !['failed', 'rejected', 'complete', 'shutdown', 'orphaned'].includes(t.state)
    const failed = ['failed', 'rejected'].includes(t.state)
    return h('div', {
      class: `task${starting ? ' t-starting' : ''}${failed ? ' t-failed' : ''}`,
      'data-colour': serviceColour(t.serviceName),
      'data-task-id': t.id,
      'data-task-state': t.state,
      'data-service': t.serviceName,
      title: `${t.name} ${t.id}\n${t.image}\n${t.state}${t.message ? ': ' + t.message : ''}`,
      onclick: () => openDetail(t.serviceId, t.id)
    }, h('div', { class: 'tname' }, t.name), h('div', { class: 'tstate' }, t.state))
  }

  // ─── a service's tasks, their history, a task's logs ──────────────────────────────────────────

  function openDetail (serviceId, taskId) {
    const first = openService !== serviceId
    openService = serviceId
    $('#detail').hidden = false
    const s = state.services.find(x => x.id === serviceId)
    if (first) {
      openTask = null
      $('#logs').textContent = 'Select a task for its last log lines.'
      $('#logs-title').textContent = 'Logs'
      if (s) {
        $('#act-replicas').value = String(s.desired)
        $('#act-image').value = s.image
      }
    }
    $('#detail-actions').hidden = !state.actions
    renderDetailSummary()
    renderServices()
    void loadHistory()
    if (taskId) void loadLogs(taskId)
  }

  function renderDetailSummary () {
    const s = state && state.services.find(x => x.id === openService)
    if (!s) { $('#detail-title').textContent = 'service removed'; return }
    $('#detail-title').textContent = s.name
    $('#detail-summary').replaceChildren(`${s.mode} · ${s.running}/${s.desired} running · ${s.image}`,
      s.update ? h('span', {}, ' · update ', stateBadge(s.update.state), s.update.message ? ` (${s.update.message})` : '') : '')
    $('#act-rollback').disabled = !s.hasPreviousSpec
  }

  async function loadHistory () {
    const id = openService
    historyAt = Date.now()
    try {
      const res = await fetch(`/api/services/${encodeURIComponent(id)}/tasks`)
      const json = await res.json()
      if (id !== openService) return
      if (!res.ok) { $('#detail-tasks tbody').replaceChildren(h('tr', {}, h('td', { colspan: 6 }, json.message))); return }
      $('#detail-tasks tbody').replaceChildren(...json.map(t => h('tr', {
        class: `${t.desired === 'running' ? '' : 'old'}${openTask === t.id ? ' selected' : ''}`,
        'data-task-id': t.id,
        'data-task-state': t.state,
        onclick: () => { void loadLogs(t.id) }
      },
      h('td', {}, t.name), h('td', {}, hostnameOf(t.nodeId)), h('td', {}, t.desired), h('td', {}, stateBadge(t.state)),
      h('td', { title: t.since }, ago(t.since)), h('td', { class: 'wrap' }, t.message))))
    } catch (err) {
      toast(`Could not read the service's tasks: ${err.message}`, true)
    }
  }

  async function loadLogs (taskId) {
    openTask = taskId
    $('#logs-title').textContent = `Logs of ${taskId.slice(0, 12)} (last 50 lines)`
    for (const tr of document.querySelectorAll('#detail-tasks tr')) tr.classList.toggle('selected', tr.dataset.taskId === taskId)
    const pre = $('#logs')
    pre.textContent = 'loading…'
    try {
      const res = await fetch(`/api/tasks/${encodeURIComponent(taskId)}/logs?tail=50`)
      const json = await res.json()
      if (taskId !== openTask) return
      if (!res.ok) { pre.textContent = json.message; return }
      pre.replaceChildren(...(json.length === 0 ? ['(no output)'] : json.map(l => h('div', { class: l.stream }, l.text))))
      pre.dataset.lines = String(json.length)
    } catch (err) {
      pre.textContent = `Could not read the logs: ${err.message}`
    }
  }

  $('#detail-close').addEventListener('click', () => { openService = null; openTask = null; $('#detail').hidden = true; renderServices() })
  $('#act-scale').addEventListener('click', () => {
    const s = state.services.find(x => x.id === openService)
    if (s) void act(`/api/services/${s.id}/scale`, { replicas: Number($('#act-replicas').value) }, `scaling ${s.name}`)
  })
  $('#act-update').addEventListener('click', () => {
    const s = state.services.find(x => x.id === openService)
    if (s) void act(`/api/services/${s.id}/image`, { image: $('#act-image').value }, `updating ${s.name}`)
  })
  $('#act-rollback').addEventListener('click', () => {
    const s = state.services.find(x => x.id === openService)
    if (s) void act(`/api/services/${s.id}/rollback`, {}, `rolling ${s.name} back`)
  })

  // ─── events ───────────────────────────────────────────────────────────────────────────────────

  function eventText (e) {
    const a = (e.Actor && e.Actor.Attributes) || {}
    const parts = [a.name || (e.Actor && e.Actor.ID ? e.Actor.ID.slice(0, 12) : '')]
    for (const [k, v] of Object.entries(a)) {
      if (k.endsWith('.new')) {
        const field = k.slice(0, -4)
        parts.push(a[`${field}.old`] !== undefined ? `${field}: ${a[`${field}.old`]} → ${v}` : `${field}: ${v}`)
      }
    }
    return parts.filter(Boolean).join(' · ')
  }

  /** Events already shown: a reconnected feed sends the recent ones again. */
  const seen = new Set()

  function addEvent (e) {
    const key = `${e.timeNano}|${e.Type}|${e.Action}|${e.Actor && e.Actor.ID}`
    if (seen.has(key)) return
    seen.add(key)
    // Bounded: a page left open for days forgets the oldest keys (the log shows 200 events anyway).
    if (seen.size > 1000) seen.delete(seen.values().next().value)
    const log = $('#event-log')
    const time = new Date((e.time || 0) * 1000).toLocaleTimeString([], { hour12: false })
    log.prepend(h('li', { class: 'fresh', 'data-event': `${e.Type} ${e.Action}` },
      h('span', { class: 'etime' }, time),
      h('span', {}, h('span', { class: 'etype' }, `${e.Type} ${e.Action}`), ' ', eventText(e))))
    while (log.children.length > MAX_EVENTS) log.lastChild.remove()
  }

  // ─── the feed ─────────────────────────────────────────────────────────────────────────────────

  function render () {
    $('#self').textContent = state.self.hostname ? `served by ${state.self.hostname} (${state.self.role || 'not in a swarm'})` : ''
    const mode = $('#mode')
    mode.textContent = state.actions ? 'actions enabled' : 'read-only'
    const banner = $('#banner')
    banner.hidden = state.error === null
    banner.textContent = state.error === null ? '' : `The cluster could not be read: ${state.error}. Showing the last known state.`
    assignColours(state.services)
    renderNodes()
    renderServices()
    renderPlacement()
    if (openService !== null) {
      renderDetailSummary()
      if (Date.now() - historyAt >= 1000) void loadHistory()
    }
  }

  function connect () {
    const conn = $('#conn')
    const feed = new EventSource('/api/stream')
    feed.addEventListener('open', () => { conn.textContent = 'live'; conn.className = 'badge conn-live' })
    feed.addEventListener('error', () => { conn.textContent = 'reconnecting…'; conn.className = 'badge conn-down' })
    feed.addEventListener('state', (m) => { state = JSON.parse(m.data); render() })
    feed.addEventListener('cluster-event', (m) => { addEvent(JSON.parse(m.data)) })
  }

  // Relative times ("12 s ago") age without a push.
  setInterval(() => { if (openService !== null && state !== null && Date.now() - historyAt >= 5000) void loadHistory() }, 5000)
  connect()
})()
