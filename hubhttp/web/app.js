// The hub's web console: plain JavaScript, no build step, no network beyond this handler.
// Pages: overview, service, approvals, audit, designer; a command bar; live updates from
// the Server-Sent Events stream. Every action calls the same /api/v1 endpoints as hubctl.
'use strict';

const API = 'api/v1/';
const state = { token: sessionStorage.getItem('hub.token') || '', me: null, overview: null, lastEventId: '', streamAbort: null, page: '' };

// ---------- helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

class Problem extends Error {
  constructor(p) { super(p.detail || p.title); this.problem = p; }
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: 'Bearer ' + state.token } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, opts);
  if (res.status === 401) {
    askLogin('Your token was not accepted.');
    throw new Problem({ title: 'Unauthenticated', detail: 'sign in again' });
  }
  if (res.status === 204) return null;
  const ct = res.headers.get('Content-Type') || '';
  const data = ct.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw new Problem(typeof data === 'object' ? data : { title: res.statusText, detail: String(data) });
  return data;
}

function toast(msg, kind) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.className = 'toast show ' + (kind || '');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = 'toast'; }, 5000);
}

function fail(err) {
  const p = err.problem;
  let msg = err.message;
  if (p && p.code === 'forbidden') msg = 'Not allowed: ' + (p.detail || p.title);
  if (p && p.code === 'approval-required') msg = 'Sent for approval: ' + (p.detail || '');
  toast(msg, p && p.code === 'approval-required' ? 'info' : 'error');
}

const pct = (v) => (100 * (v || 0)).toFixed(1) + '%';
const num = (v, d = 1) => (v || 0).toFixed(d);
const when = (t) => (t ? new Date(t).toLocaleString() : '');
const ago = (t) => {
  if (!t) return '';
  const s = Math.round((Date.now() - new Date(t)) / 1000);
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
};

function badge(status) {
  return h('span', { class: 'badge ' + (status || 'unknown'), 'data-status': status || 'unknown' }, status || 'unknown');
}

// spark draws a small line chart of values with a text alternative.
function spark(values, label, fmt) {
  const w = 120, hgt = 28;
  const max = Math.max(...values, 0) || 1;
  const pts = values.map((v, i) => `${(i * w) / Math.max(values.length - 1, 1)},${hgt - 2 - ((v || 0) / max) * (hgt - 4)}`).join(' ');
  const s = svg('svg', { class: 'spark', viewBox: `0 0 ${w} ${hgt}`, width: w, height: hgt, role: 'img',
    'aria-label': `${label}: ${values.map((v) => fmt(v)).join(', ')}` });
  s.append(svg('polyline', { points: pts, fill: 'none', 'stroke-width': '1.5' }));
  return s;
}

function setMain(...nodes) {
  const main = document.getElementById('main');
  main.replaceChildren(...nodes);
}

function section(title, ...body) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...body);
}

// ---------- sign in ----------

function askLogin(msg) {
  const d = document.getElementById('login');
  document.getElementById('login-error').textContent = msg || '';
  if (!d.open) d.showModal();
  document.getElementById('token').focus();
}

document.getElementById('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.token = document.getElementById('token').value.trim();
  sessionStorage.setItem('hub.token', state.token);
  document.getElementById('login').close();
  start();
});

document.getElementById('logout').addEventListener('click', () => {
  sessionStorage.removeItem('hub.token');
  state.token = '';
  if (state.streamAbort) state.streamAbort.abort();
  askLogin('');
});

// ---------- live stream ----------

async function stream() {
  if (state.streamAbort) state.streamAbort.abort();
  const ctl = new AbortController();
  state.streamAbort = ctl;
  const live = document.getElementById('live');
  for (;;) {
    try {
      const headers = { Authorization: 'Bearer ' + state.token };
      if (state.lastEventId) headers['Last-Event-ID'] = state.lastEventId;
      const res = await fetch(API + 'stream', { headers, signal: ctl.signal });
      if (res.status === 401) { askLogin('Your token was not accepted.'); return; }
      if (!res.ok) throw new Error('stream ' + res.status);
      live.className = 'live on';
      live.title = 'live updates: connected';
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const msg = { id: '', event: '', data: '' };
          for (const line of chunk.split('\n')) {
            if (line.startsWith('id: ')) msg.id = line.slice(4);
            else if (line.startsWith('event: ')) msg.event = line.slice(7);
            else if (line.startsWith('data: ')) msg.data += line.slice(6);
          }
          if (msg.id) state.lastEventId = msg.id;
          if (msg.data) onStreamEvent(JSON.parse(msg.data));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    live.className = 'live off';
    live.title = 'live updates: reconnecting';
    await new Promise((r) => setTimeout(r, 1000));
    if (ctl.signal.aborted) return;
  }
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => route(true), 400);
}

function onStreamEvent(ev) {
  if (ev.type === 'health') {
    // update the badge at once, then refresh the figures
    document.querySelectorAll(`[data-service-id="${ev.service_id}"] .badge`).forEach((b) => b.replaceWith(badge(ev.to)));
    if (ev.to === 'unhealthy') toast(`${ev.service_name} is unhealthy: ${ev.reason}`, 'error');
    refreshSoon();
  } else if (ev.type === 'breaker') {
    document.querySelectorAll(`[data-service-id="${ev.service_id}"] .breaker`).forEach((b) => { b.textContent = ev.to; b.dataset.state = ev.to; });
    refreshSoon();
  } else if (ev.type === 'approval') {
    // the stream carries every step of a request: requested, approved, applied, rejected ...
    const step = (ev.action || '').replace(/^approval\./, '');
    const done = { approve: 'approved', reject: 'rejected', expire: 'expired' }[step] || step;
    const id = (ev.approval_id || '').slice(0, 8);
    toast(step === 'request' ? `Approval requested by ${ev.actor} (${id})` : `Approval ${id} ${done} (${ev.actor})`, 'info');
    updateApprovalCount();
    if (state.page === 'approvals') refreshSoon();
  } else if (ev.type === 'event') {
    if (state.page === 'service' && state.pageService === ev.service_id) refreshSoon();
  } else if (ev.type === 'reset') {
    refreshSoon();
  }
}

// ---------- overview ----------

async function overview() {
  const ov = await api('GET', 'overview');
  state.overview = ov;
  const rows = ov.services.map((s) => h('tr', { 'data-service-id': s.service_id, 'data-service': s.name },
    h('th', { scope: 'row', 'data-label': 'Service' }, h('a', { href: '#/services/' + encodeURIComponent(s.name) }, s.name),
      h('div', { class: 'muted' }, s.connector, s.active ? '' : ' · paused')),
    h('td', { 'data-label': 'Status' }, badge(s.status), h('div', { class: 'muted reason' }, s.reason || '')),
    h('td', { 'data-label': 'Breaker' }, h('span', { class: 'breaker', 'data-state': s.breaker }, s.breaker)),
    h('td', { 'data-label': 'Throughput' }, num(s.throughput), ' /min', spark(s.series_events, 'events per 5 minutes', (v) => v)),
    h('td', { 'data-label': 'Error rate' }, pct(s.error_rate), spark(s.series_error_rate, 'error rate per 5 minutes', pct)),
    h('td', { 'data-label': 'p95' }, num(s.p95_ms, 0), ' ms', spark(s.series_p95_ms, 'p95 latency per 5 minutes', (v) => num(v, 0) + ' ms')),
    h('td', { 'data-label': 'Cost (24 h)' }, num(s.cost, 2), spark(s.series_cost, 'cost per hour', (v) => num(v, 2))),
    h('td', { 'data-label': 'Dead letters' }, String(s.dead_letters), s.warnings ? h('span', { class: 'warn', title: 'early warnings' }, ' ⚠ ' + s.warnings) : ''),
  ));
  setMain(section('Services',
    h('p', { class: 'muted' }, `Overall `, badge(ov.status), ` · ${ov.services.length} services · updated ${new Date(ov.generated_at).toLocaleTimeString()}`),
    ov.services.length === 0 ? h('p', {}, 'No services are registered yet.') :
      h('table', { class: 'grid', id: 'services' },
        h('thead', {}, h('tr', {}, ...['Service', 'Status', 'Breaker', 'Throughput', 'Error rate', 'p95', 'Cost (24 h)', 'Dead letters'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows))));
}

// ---------- service page ----------

async function servicePage(name) {
  const [svc, health] = await Promise.all([api('GET', 'services/' + encodeURIComponent(name)), api('GET', 'services/' + encodeURIComponent(name) + '/health')]);
  state.pageService = svc.id;
  let recent = null, dead = null, eventsError = '';
  try {
    [recent, dead] = await Promise.all([
      api('GET', `events?service=${encodeURIComponent(svc.id)}&limit=20&order=newest`),
      api('GET', `events?service=${encodeURIComponent(svc.id)}&status=dead&limit=100&order=newest`)]);
  } catch (e) { eventsError = e.message; }
  const act = (label, fn, cls) => h('button', { type: 'button', class: cls || '', onclick: async (e) => {
    e.target.disabled = true;
    try { await fn(); } catch (err) { fail(err); } finally { e.target.disabled = false; route(true); }
  } }, label);
  const recover = (a, done) => async () => {
    const r = await api('POST', 'recovery', { service: svc.name, actions: [a] });
    toast(r.ok ? done : r.steps[0].error, r.ok ? 'ok' : 'error');
  };
  const rl = health.rate_limit;
  const deadRows = (dead ? dead.events : []).map((ev) => h('tr', { 'data-event-id': ev.id, class: 'dead-letter' },
    h('td', { 'data-label': 'Event' }, h('code', {}, ev.id.slice(0, 8))),
    h('td', { 'data-label': 'Created' }, when(ev.created_at)),
    h('td', { 'data-label': 'Retries' }, String(ev.retry_count)),
    h('td', { 'data-label': 'Error' }, errText(ev.error)),
    h('td', {}, act('Redrive', async () => {
      const r = await api('POST', 'events/redrive', { ids: [ev.id] });
      toast(r.requeued.length ? 'Event requeued' : 'Not requeued: ' + (r.skipped || [{}])[0].reason, r.requeued.length ? 'ok' : 'error');
    }, 'redrive'))));
  setMain(
    h('p', {}, h('a', { href: '#/' }, '← Overview')),
    section(svc.name,
      h('div', { class: 'facts', 'data-service-id': svc.id },
        fact('Status', badge(health.status), h('div', { class: 'muted' }, health.reason || '')),
        fact('Breaker', h('span', { class: 'breaker', 'data-state': health.breaker }, health.breaker)),
        fact('Error rate', pct(health.error_rate), h('div', { class: 'muted' }, `${health.attempts} attempts`)),
        fact('Latency', `p50 ${num(health.latency_p50_ms, 0)} · p95 ${num(health.latency_p95_ms, 0)} ms`),
        fact('Rate-limit headroom', rl ? h('span', {}, meter(rl.remaining, rl.limit), ` ${rl.remaining} of ${rl.limit}`) : 'not reported'),
        fact('Queue', Object.entries(health.queue_depth).map(([k, v]) => `${k} ${v}`).join(' · ') || 'empty'),
        fact('Connector', `${svc.connector} → ${svc.base_url || 'default URL'}`),
        fact('Active', svc.active ? 'yes' : 'paused')),
      health.last_error ? h('p', { class: 'error' }, 'Last error ', ago(health.last_error_at), ': ', health.last_error) : '',
      h('div', { class: 'actions' },
        svc.active ? act('Pause', recover('disable', 'Paused')) : act('Resume', recover('enable', 'Resumed')),
        act('Reset breaker', recover('reset_breaker', 'Breaker closed')),
        act('Open breaker', recover('open_breaker', 'Breaker forced open')),
        act('Test connection', async () => {
          const r = await api('POST', 'services/' + encodeURIComponent(svc.name) + '/test', {});
          toast(r.ok ? 'Connection test passed' : r.steps.filter((s) => !s.ok).map((s) => `${s.name}: ${s.error}`).join('; '), r.ok ? 'ok' : 'error');
        }),
        h('a', { class: 'button', href: '#/designer/' + encodeURIComponent(svc.name) }, 'Edit mapping'),
        act('Remove…', async () => {
          if (!window.confirm(`Remove ${svc.name}? Its queued events are cancelled and its credentials destroyed.`)) return;
          const r = await api('DELETE', 'services/' + encodeURIComponent(svc.name));
          toast(`${r.name} removed (${r.cancelled} queued events cancelled)`, 'ok');
          location.hash = '#/';
        }, 'reject'))),
    section('Early warnings',
      health.warnings && health.warnings.length ? h('ul', { class: 'warnings' }, health.warnings.map((w) => h('li', {},
        h('strong', {}, w.kind.replaceAll('_', ' ')), ': ', w.message, w.recommendation ? h('div', { class: 'muted' }, '→ ', w.recommendation) : '',
        w.evidence ? h('dl', { class: 'evidence' }, Object.entries(w.evidence).map(([k, v]) => [h('dt', {}, k.replaceAll('_', ' ')), h('dd', {}, num(v, 2))])) : ''))) :
        h('p', { class: 'muted' }, 'No early warnings.')),
    section(`Dead letters (${dead ? dead.events.length : '?'})`,
      eventsError ? h('p', { class: 'error' }, eventsError) : '',
      deadRows.length ? h('div', {}, h('div', { class: 'actions' }, act('Redrive all', async () => {
        const r = await api('POST', 'events/redrive', { ids: dead.events.map((e) => e.id) });
        toast(`Requeued ${r.requeued.length} events`, 'ok');
      }, 'redrive-all')), h('table', { class: 'grid', id: 'dead-letters' },
        h('thead', {}, h('tr', {}, ...['Event', 'Created', 'Retries', 'Error', ''].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, deadRows))) :
        h('p', { class: 'muted', id: 'no-dead' }, 'No dead letters.')),
    section('Recent events',
      recent && recent.events.length ? h('table', { class: 'grid', id: 'recent' },
        h('thead', {}, h('tr', {}, ...['Event', 'Status', 'Code', 'Time', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, recent.events.map((ev) => h('tr', { 'data-event-id': ev.id },
          h('td', { 'data-label': 'Event' }, h('code', {}, ev.id.slice(0, 8))),
          h('td', { 'data-label': 'Status' }, h('span', { class: 'evstatus ' + ev.status }, ev.status)),
          h('td', { 'data-label': 'Code' }, String(ev.response_code || '')),
          h('td', { 'data-label': 'Time' }, ev.response_time_ms ? ev.response_time_ms + ' ms' : ''),
          h('td', { 'data-label': 'Created' }, ago(ev.created_at)))))) : h('p', { class: 'muted' }, 'No events yet.')));
}

function errText(e) {
  if (!e) return '';
  if (typeof e === 'string') return e;
  return e.message || e.error || JSON.stringify(e);
}

function fact(label, ...value) {
  return h('div', { class: 'fact' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, ...value));
}

function meter(v, max) {
  const m = h('meter', { min: 0, max: max, value: v, low: max * 0.2, high: max * 0.5, optimum: max });
  return m;
}

// ---------- approvals ----------

async function approvalsPage() {
  let list;
  try {
    list = await api('GET', 'approvals?status=pending');
  } catch (e) {
    setMain(section('Approvals', h('p', { class: 'muted' }, e.message)));
    return;
  }
  const me = state.me ? state.me.principal.id : '';
  const rows = list.approvals.map((a) => h('li', { class: 'approval', 'data-approval-id': a.id },
    h('div', {}, h('strong', {}, a.action), ' on ', a.target || a.service_id || 'the hub'),
    h('div', { class: 'muted' }, `requested by ${a.requested_by} ${ago(a.created_at)} · expires ${when(a.expires_at)}`),
    a.reason ? h('p', {}, '“', a.reason, '”') : '',
    a.summary ? h('pre', { class: 'change' }, a.summary) : '',
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'approve', disabled: a.requested_by === me, title: a.requested_by === me ? 'a second person must approve' : '',
        onclick: () => decide(a.id, 'approve') }, 'Approve'),
      h('button', { type: 'button', class: 'reject', onclick: () => decide(a.id, 'reject') }, 'Reject'))));
  setMain(section('Approvals waiting for a decision',
    rows.length ? h('ul', { class: 'approvals', id: 'approvals' }, rows) : h('p', { class: 'muted', id: 'no-approvals' }, 'Nothing waits for approval.')));
}

async function decide(id, how) {
  try {
    const r = await api('POST', `approvals/${id}/${how}`, {});
    toast(how === 'approve' ? `Approved: ${r.status || 'applied'}` : 'Rejected', 'ok');
  } catch (e) { fail(e); }
  updateApprovalCount();
  route(true);
}

async function updateApprovalCount() {
  const el = document.getElementById('approval-count');
  try {
    const list = await api('GET', 'approvals?status=pending');
    el.textContent = String(list.approvals.length);
    el.hidden = list.approvals.length === 0;
  } catch (e) { el.hidden = true; }
}

// ---------- audit ----------

async function auditPage() {
  const entries = [];
  let cursor = '';
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', onclick: () => load() }, 'Load more');
  const verdict = h('div', { id: 'verdict', 'aria-live': 'polite' });
  async function load() {
    try {
      const page = await api('GET', 'audit?limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      cursor = page.next_cursor || '';
      more.hidden = !cursor;
      for (const e of page.entries) {
        entries.push(e);
        tbody.append(h('tr', {},
          h('td', { 'data-label': 'When' }, when(e.created_at)),
          h('td', { 'data-label': 'Who' }, e.actor),
          h('td', { 'data-label': 'What' }, e.action),
          h('td', { 'data-label': 'On' }, `${e.entity_type} ${e.entity_id ? e.entity_id.slice(0, 8) : ''}`)));
      }
    } catch (err) { fail(err); }
  }
  async function verify() {
    verdict.replaceChildren('Verifying…');
    try {
      const r = await api('POST', 'audit/verify', {});
      verdict.replaceChildren(h('p', { class: r.ok ? 'ok' : 'error' }, r.ok ? `✔ Chain intact: ${r.entries} entries verified.` : `✘ Chain broken: ${(r.problems || []).map((p) => p.message).join('; ')}`));
    } catch (err) { verdict.replaceChildren(h('p', { class: 'error' }, err.message)); }
  }
  setMain(section('Audit log',
    h('div', { class: 'actions' }, h('button', { type: 'button', id: 'verify', onclick: verify }, 'Verify chain'),
      h('a', { class: 'button', id: 'export', href: '#/audit', onclick: (e) => { e.preventDefault(); exportAudit(); } }, 'Export')),
    verdict,
    h('table', { class: 'grid', id: 'audit' }, h('thead', {}, h('tr', {}, ...['When', 'Who', 'What', 'On'].map((c) => h('th', { scope: 'col' }, c)))), tbody),
    more));
  await load();
}

async function exportAudit() {
  try {
    const res = await fetch(API + 'audit/export', { headers: { Authorization: 'Bearer ' + state.token } });
    if (!res.ok) throw new Problem(await res.json());
    const blob = await res.blob();
    const a = h('a', { href: URL.createObjectURL(blob), download: 'audit.jsonl' });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) { fail(e); }
}

// ---------- designer ----------

async function designerPage(name) {
  const list = await api('GET', 'services');
  const pick = h('select', { id: 'designer-service' }, h('option', { value: '' }, '— choose a service —'),
    list.services.map((s) => h('option', { value: s.name, selected: s.name === name }, s.name)));
  pick.addEventListener('change', () => { location.hash = '#/designer/' + encodeURIComponent(pick.value); });
  const svc = name ? await api('GET', 'services/' + encodeURIComponent(name)) : null;
  const sample = h('textarea', { id: 'sample', rows: 14, spellcheck: 'false', 'aria-describedby': 'sample-help' });
  const mapping = h('textarea', { id: 'mapping', rows: 14, spellcheck: 'false' });
  const schema = h('textarea', { id: 'schema', rows: 8, spellcheck: 'false' });
  const output = h('pre', { id: 'output', class: 'output', 'aria-live': 'polite' });
  const problems = h('ul', { id: 'problems', class: 'problems', 'aria-live': 'polite' });
  const verdict = h('p', { id: 'preview-verdict' });
  const suggestions = h('div', { id: 'suggestions' });
  const saved = sessionStorage.getItem('hub.sample.' + name);
  sample.value = saved || '{\n  "issue": {"title": "Example", "state": "open"}\n}';
  mapping.value = svc && svc.mapping ? JSON.stringify(svc.mapping, null, 2) : '{\n  "title": "issue.title"\n}';
  schema.value = svc && svc.contract ? JSON.stringify(svc.contract.schema, null, 2) : '';
  let timer = null, seq = 0;
  async function preview() {
    const my = ++seq;
    let body;
    try {
      body = { mapping: JSON.parse(mapping.value), sample: JSON.parse(sample.value) };
      if (schema.value.trim()) body.contract = { name: svc && svc.contract ? svc.contract.name : 'draft', version: svc && svc.contract ? svc.contract.version : '0.0.0', schema: JSON.parse(schema.value) };
    } catch (e) {
      problems.replaceChildren(h('li', { class: 'error' }, 'Not valid JSON: ', e.message));
      verdict.textContent = '';
      return;
    }
    sessionStorage.setItem('hub.sample.' + name, sample.value);
    try {
      const r = await api('POST', 'mappings/preview', body);
      if (my !== seq) return;
      output.textContent = r.output ? JSON.stringify(r.output, null, 2) : '';
      const items = [];
      for (const e of r.errors || []) items.push(h('li', { class: 'error', 'data-target': e.target || '' }, h('code', {}, e.target || 'mapping'), e.line ? ` (line ${e.line}, column ${e.column})` : '', ': ', e.message));
      for (const v of r.violations || []) items.push(h('li', { class: 'violation', 'data-path': v.path }, h('code', {}, v.path || '/'), ': ', v.message));
      problems.replaceChildren(...items);
      verdict.className = r.ok ? 'ok' : 'error';
      verdict.textContent = r.ok ? '✔ The output satisfies the contract.' : `✘ ${items.length} problem${items.length === 1 ? '' : 's'}`;
    } catch (e) { fail(e); }
  }
  const schedule = () => { clearTimeout(timer); timer = setTimeout(preview, 250); };
  for (const t of [sample, mapping, schema]) t.addEventListener('input', schedule);
  async function suggest() {
    try {
      const body = { sample: JSON.parse(sample.value) };
      if (schema.value.trim()) body.schema = JSON.parse(schema.value); else body.service = name;
      const r = await api('POST', 'mappings/suggest', body);
      suggestions.replaceChildren(
        h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, ...['Target', 'Expression', 'Confidence', 'Why'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, r.suggestions.map((s) => h('tr', {}, h('td', { 'data-label': 'Target' }, h('code', {}, s.target)), h('td', { 'data-label': 'Expression' }, h('code', {}, s.expr || '—')),
            h('td', { 'data-label': 'Confidence' }, pct(s.confidence)), h('td', { 'data-label': 'Why' }, s.reason || ''))))),
        h('button', { type: 'button', id: 'use-suggestion', onclick: () => { mapping.value = JSON.stringify(r.mapping, null, 2); schedule(); } }, 'Use the suggested mapping'));
    } catch (e) { fail(e); }
  }
  async function save() {
    try {
      const r = await api('PATCH', 'services/' + encodeURIComponent(name), { mapping: JSON.parse(mapping.value) });
      toast(r.changed && r.changed.length ? `Saved as mapping version ${r.mapping_version}` : 'No change to save', 'ok');
    } catch (e) { fail(e); }
  }
  setMain(section('Integration designer',
    h('div', { class: 'actions' }, h('label', { for: 'designer-service' }, 'Service '), pick,
      h('button', { type: 'button', id: 'suggest', onclick: suggest }, 'Suggest mapping'),
      name ? h('button', { type: 'button', id: 'save-mapping', onclick: save }, 'Save mapping') : ''),
    h('div', { class: 'designer' },
      h('div', {}, h('label', { for: 'sample' }, 'Sample payload'), h('div', { id: 'sample-help', class: 'muted' }, 'An event as the service sends it.'), sample),
      h('div', {}, h('label', { for: 'mapping' }, 'Mapping (target path → expression)'), mapping),
      h('div', {}, h('label', { for: 'schema' }, svc && svc.contract ? `Contract ${svc.contract.name}@${svc.contract.version}` : 'Contract schema (optional)'), schema),
      h('div', {}, h('h3', {}, 'Preview'), verdict, problems, output)),
    suggestions));
  preview();
}

// ---------- command bar ----------

document.getElementById('cmdbar').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = document.getElementById('cmd');
  const text = input.value.trim();
  if (!text) return;
  const box = document.getElementById('plan');
  box.hidden = false;
  box.replaceChildren(h('p', {}, 'Planning…'));
  try {
    const plan = await api('POST', 'commands/plan', { text });
    if (!plan.understood) {
      box.replaceChildren(h('p', { class: 'error', id: 'plan-summary' }, 'Not understood: ', plan.reason),
        h('p', {}, 'Try: '), h('ul', { class: 'suggestions' }, (plan.suggestions || []).map((s) => h('li', {},
          h('button', { type: 'button', class: 'link', onclick: () => { input.value = s; input.focus(); } }, s)))),
        closeButton());
      return;
    }
    const run = async () => {
      box.replaceChildren(h('p', {}, 'Running…'));
      try {
        const r = await api('POST', 'commands/run', { plan });
        box.replaceChildren(h('p', { class: r.ok ? 'ok' : 'error', id: 'command-result' }, r.message), resultDetail(r), closeButton());
        route(true);
      } catch (err) {
        box.replaceChildren(h('p', { class: 'error', id: 'command-result' }, err.message), closeButton());
      }
    };
    if (plan.read_only) { await run(); return; }
    const confirm = h('button', { type: 'button', id: 'confirm', class: 'primary', onclick: run }, 'Run it');
    box.replaceChildren(h('p', { id: 'plan-summary' }, h('strong', {}, 'Plan: '), plan.summary),
      plan.steps && plan.steps.length ? h('details', {}, h('summary', {}, `${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}`), h('ol', {}, plan.steps.slice(0, 50).map((s) => h('li', {}, h('code', {}, s))))) : '',
      h('div', { class: 'actions' }, confirm, h('button', { type: 'button', onclick: () => { box.hidden = true; } }, 'Cancel')));
    confirm.focus();
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, err.message), closeButton());
  }
});

function closeButton() {
  return h('button', { type: 'button', class: 'link', onclick: () => { document.getElementById('plan').hidden = true; document.getElementById('cmd').focus(); } }, 'Close');
}

function resultDetail(r) {
  if (r.events && r.events.length) {
    return h('ul', { class: 'compact' }, r.events.map((ev) => h('li', {}, h('code', {}, ev.id.slice(0, 8)), ` ${ev.service_name} · ${ev.status} · ${ago(ev.created_at)}`, ev.error ? ' · ' + errText(ev.error) : '')));
  }
  if (r.help) return h('ul', { class: 'compact' }, r.help.map((x) => h('li', {}, h('code', {}, x.pattern), ' — e.g. “', x.examples[0], '”')));
  return '';
}

document.addEventListener('keydown', (e) => {
  const tag = (e.target.tagName || '').toLowerCase();
  if (e.key === '/' && tag !== 'input' && tag !== 'textarea' && tag !== 'select') {
    e.preventDefault();
    document.getElementById('cmd').focus();
  }
  if (e.key === 'Escape') document.getElementById('plan').hidden = true;
});

// ---------- routing ----------

// route renders the page the location names. Renders never overlap: a call made while one
// runs (a refresh from the stream, the end of an action) is folded into one more render
// after it, so a slow response of an earlier render can never replace a newer page.
let routing = null, routeAgain = false, routeAgainQuiet = true;
async function route(quiet) {
  if (routing) {
    routeAgain = true;
    routeAgainQuiet = routeAgainQuiet && !!quiet;
    return routing;
  }
  routing = renderRoute(quiet);
  try { await routing; } finally { routing = null; }
  if (routeAgain) {
    const q = routeAgainQuiet;
    routeAgain = false;
    routeAgainQuiet = true;
    await route(q);
  }
}

async function renderRoute(quiet) {
  const hash = location.hash.replace(/^#\/?/, '');
  const [page, arg] = hash.split('/');
  const name = arg ? decodeURIComponent(arg) : '';
  state.page = page === 'services' ? 'service' : page || 'overview';
  document.querySelectorAll('nav a').forEach((a) => a.setAttribute('aria-current', a.dataset.nav === state.page ? 'page' : 'false'));
  const focus = !quiet;
  try {
    if (page === 'services' && name) await servicePage(name);
    else if (page === 'approvals') await approvalsPage();
    else if (page === 'audit') { if (!quiet) await auditPage(); }
    else if (page === 'designer') { if (!quiet) await designerPage(name); }
    else await overview();
  } catch (e) {
    if (!(e instanceof Problem && e.problem.code === undefined && e.problem.title === 'Unauthenticated')) setMain(section('Something went wrong', h('p', { class: 'error' }, e.message)));
  }
  if (focus) document.getElementById('main').focus({ preventScroll: true });
}

async function start() {
  if (!state.token) { askLogin(''); return; }
  try {
    state.me = await api('GET', 'me');
  } catch (e) { return; }
  document.getElementById('me').textContent = `${state.me.principal.id} (${state.me.principal.roles.join(', ')})`;
  stream();
  updateApprovalCount();
  await route();
  clearInterval(start.timer);
  start.timer = setInterval(() => { if (state.page === 'overview' || state.page === 'service') route(true); }, 10000);
}

window.addEventListener('hashchange', () => route());
{
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    state.token = decodeURIComponent(m[1]);
    sessionStorage.setItem('hub.token', state.token);
    history.replaceState(null, '', location.pathname + '#/');
  }
}
start();
