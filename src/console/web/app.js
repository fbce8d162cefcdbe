/* Night Core console: single-page UI. Vanilla JS, no build step, no external assets.
 *
 * Every string that comes from the worker is attacker-controlled (module names, agent names,
 * descriptions, outputs, reasons): it is only ever inserted as text (el() / textContent), never as
 * HTML: this file uses no HTML-parsing DOM API and no eval.
 * Every list request is paginated (PAGE rows at most), and live updates are debounced.
 *
 * The session: the one-time link's token (?token=) leaves the address bar at once and is exchanged
 * (POST /api/session) for a session secret this tab keeps in sessionStorage and sends as
 * "Authorization: Bearer ..." on every API call. There is no cookie: nothing the browser would send
 * on its own (to another port of 127.0.0.1, say) is a credential. Reloading the tab keeps the
 * session; another tab needs its own link (nightcore-console link). */
'use strict';

(function () {
  const PAGE = 50;
  const REFRESH_MIN_MS = 1000;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const OUTCOMES = ['ok', 'exit', 'trap', 'timeout', 'fuel', 'memory', 'output_limit', 'crash', 'interrupted', 'cancelled', 'running'];
  const EXPIRIES = [['1 hour', 3600], ['24 hours', 86400], ['7 days', 604800]];

  const SESSION_KEY = 'nc_session';

  const state = {
    secret: null,   // the session secret (sessionStorage); never in a URL, a cookie or the DOM
    session: null,
    policies: null,
    renderSeq: 0,
    refreshTimer: null,
    lastRefresh: 0,
    notify: false,
    route: { page: 'dashboard', id: null },
    live: true, // whether the current view refreshes on events
  };

  /* ---------- DOM helpers ---------- */

  // el(tag, attrs, ...children): attrs keys: class, text, on<Event> (function), dataset (object),
  // boolean properties (checked, disabled, selected, hidden), anything else -> setAttribute.
  // Children: Node, string/number (text node), arrays (flattened), null/undefined/false (skipped).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    applyAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    applyAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function applyAttrs(node, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2).toLowerCase(), v);
      else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden' || k === 'value')
        node[k] = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function append(node, children) {
    if (!Array.isArray(children)) children = [children];
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(node, c);
      else if (c instanceof Node) node.appendChild(c);
      else node.appendChild(document.createTextNode(String(c)));
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  const $ = (sel, root) => (root || document).querySelector(sel);

  /* ---------- formatting ---------- */

  function fmtTime(t) {
    if (t === null || t === undefined) return '—';
    const d = new Date(t * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtAge(t) {
    if (!t) return '—';
    const s = Math.max(0, Math.floor(Date.now() / 1000 - t));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }

  function fmtIn(t) {
    const s = Math.floor(t - Date.now() / 1000);
    if (s <= 0) return 'expired';
    if (s < 3600) return 'in ' + Math.ceil(s / 60) + 'm';
    if (s < 86400) return 'in ' + Math.round(s / 3600) + 'h';
    return 'in ' + Math.round(s / 86400) + 'd';
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return '—';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KiB';
    if (n < 1073741824) return (n / 1048576).toFixed(n < 10485760 ? 1 : 0) + ' MiB';
    return (n / 1073741824).toFixed(1) + ' GiB';
  }

  function fmtDelta(n) {
    if (typeof n !== 'number') return '—';
    return (n > 0 ? '+' : '') + n + ' B';
  }

  function shortHash(h, n) {
    return typeof h === 'string' ? h.slice(0, n || 12) : '—';
  }

  function outcomeClass(o) {
    if (o === 'ok') return 'good';
    if (o === 'crash' || o === 'interrupted') return 'bad';
    if (o === 'running') return 'info';
    return 'warn';
  }

  function badge(text, kind) {
    return el('span', { class: ['badge', kind ? 'b-' + kind : null] }, text);
  }

  function outcomeBadge(o) {
    return el('span', { class: ['badge', 'outcome', 'b-' + outcomeClass(o)], dataset: { outcome: String(o) } }, String(o || '?'));
  }

  function scoreBadge(s) {
    if (typeof s !== 'number') return badge('—');
    return el('span', { class: ['badge', 'score', s >= 50 ? 'b-bad' : s >= 20 ? 'b-warn' : 'b-good'] }, String(s));
  }

  function driftBadge(d) {
    const st = d && d.state;
    if (st === 'drift') return badge('drift', 'bad');
    if (st === 'new') return badge('new', 'info');
    if (st === 'known') return badge('known', 'muted');
    return badge(st ? String(st) : '—');
  }

  function statusBadge(s) {
    const k = { pending: 'info', approved: 'good', rejected: 'bad', expired: 'muted' }[s];
    return badge(String(s || '?'), k);
  }

  function sourceText(sub) {
    if (sub.agent) return 'agent ' + sub.agent;
    return String(sub.source || '—');
  }

  function kv(rows) {
    return el('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  function table(headers, rows, cls) {
    return el('table', { class: ['tbl', cls] },
      el('thead', null, el('tr', null, headers.map((h) => el('th', null, h)))),
      el('tbody', null, rows.length ? rows : el('tr', null, el('td', { class: 'empty', colspan: headers.length }, 'Nothing here.'))));
  }

  function section(title, ...children) {
    return el('section', { class: 'panel' }, el('h2', null, title), children);
  }

  function pre(text, cls) {
    return el('pre', { class: ['out', cls] }, text === null || text === undefined ? '' : String(text));
  }

  function link(href, text, cls) {
    return el('a', { href, class: cls }, text);
  }

  function errorBox(err) {
    const code = err && err.code ? err.code : 'error';
    const msg = err && err.message ? err.message : String(err);
    return el('div', { class: 'error', role: 'alert' }, el('strong', null, code + ': '), msg);
  }

  /* ---------- API ---------- */

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function authHeaders() {
    return state.secret ? { Authorization: 'Bearer ' + state.secret } : {};
  }

  // A 401 means this tab's session is gone (the console restarted, or the session expired):
  // forget it and say how to get a new link.
  function sessionLost(message) {
    state.secret = null;
    state.renderSeq++; // renders under way are dropped
    try { sessionStorage.removeItem(SESSION_KEY); } catch (e) { /* ignored */ }
    if (es) es.close();
    setConn('expired');
    showNoSession('expired', message);
  }

  async function api(path, opts) {
    opts = opts || {};
    const init = { method: opts.method || 'GET', credentials: 'omit', headers: Object.assign({ Accept: 'application/json' }, authHeaders()), cache: 'no-store' };
    if (init.method !== 'GET') {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body || {});
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'network', 'cannot reach the console: ' + e.message);
    }
    let data = null;
    const text = await res.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const e = data && data.error ? data.error : {};
      const err = new ApiError(res.status, e.code || 'http_' + res.status,
        e.message || (res.status === 401 ? 'the session is not valid: run nightcore-console link for a new link' :
          res.status === 502 ? 'the worker is not running' : 'request failed (' + res.status + ')'));
      if (res.status === 401 && !opts.noSessionPage) sessionLost(err.message);
      throw err;
    }
    return data;
  }

  // GET a file (the audit export) with the session header and hand it to the browser as a download.
  async function download(path, filename) {
    const res = await fetch(path, { credentials: 'omit', headers: authHeaders(), cache: 'no-store' });
    if (res.status === 401) return sessionLost();
    if (!res.ok) {
      let e = {};
      try { e = (await res.json()).error || {}; } catch (x) { /* not JSON */ }
      throw new ApiError(res.status, e.code || 'http_' + res.status, e.message || 'download failed (' + res.status + ')');
    }
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: filename, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
    const s = u.toString();
    return s ? '?' + s : '';
  }

  async function loadSession() {
    const s = await api('/api/session');
    state.session = s;
    const info = $('#worker-info');
    clear(info);
    append(info, ['worker ', el('code', null, String(s.worker_id || '?')), ' · ', String(s.version || '')]);
    return s;
  }

  async function getPolicies() {
    if (!state.policies) {
      const p = await api('/api/policies');
      state.policies = (p && p.items) || [];
    }
    return state.policies;
  }

  /* ---------- pagination ---------- */

  function pageOf(params) {
    const n = parseInt(params.get('page') || '1', 10);
    return Number.isFinite(n) && n >= 1 ? n : 1;
  }

  function pager(total, page, hrefFor) {
    const pages = Math.max(1, Math.ceil((total || 0) / PAGE));
    const first = total ? (page - 1) * PAGE + 1 : 0;
    const last = Math.min(total || 0, page * PAGE);
    return el('div', { class: 'pager' },
      page > 1 ? link(hrefFor(page - 1), '← Previous', 'btn small prev') : el('span', { class: 'btn small disabled' }, '← Previous'),
      el('span', { class: 'pager-info' }, `${first}–${last} of ${total || 0}`, ' · page ', String(page), ' of ', String(pages)),
      page < pages ? link(hrefFor(page + 1), 'Next →', 'btn small next') : el('span', { class: 'btn small disabled' }, 'Next →'));
  }

  function listHref(base, params) {
    return '#/' + base + qs(params);
  }

  /* ---------- routing ---------- */

  function parseRoute() {
    const h = location.hash.replace(/^#\/?/, '');
    const [pathPart, query] = h.split('?');
    const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
    return { page: parts[0] || 'dashboard', id: parts[1] || null, params: new URLSearchParams(query || '') };
  }

  const PAGES = {
    dashboard: { render: renderDashboard, live: true },
    inbox: { render: renderInbox, detail: renderSubmission, live: true },
    runs: { render: renderRuns, detail: renderRun, live: true },
    modules: { render: renderModules, live: true },
    audit: { render: renderAudit, live: false },
    trust: { render: renderTrust, live: false },
    agents: { render: renderAgents, live: true },
    policies: { render: renderPolicies, live: false },
  };

  async function render(opts) {
    opts = opts || {};
    const route = parseRoute();
    state.route = route;
    const def = PAGES[route.page];
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === route.page);
    const main = $('#main');
    const seq = ++state.renderSeq;
    if (!def) {
      clear(main);
      append(main, [el('h1', null, 'Not found'), el('p', null, 'No such page. ', link('#/dashboard', 'Dashboard'))]);
      return;
    }
    const fn = route.id && def.detail ? def.detail : def.render;
    // detail pages hold forms: they are not re-rendered by live updates (they update parts themselves)
    state.live = def.live && !(route.id && def.detail);
    let node;
    try {
      node = await fn(route);
    } catch (e) {
      node = el('div', null, el('h1', null, titleOf(route)), errorBox(e));
    }
    if (!state.secret) return; // the session ended meanwhile: the no-session page stays
    if (seq !== state.renderSeq) return; // a newer render started meanwhile
    const scroll = opts.keepScroll ? window.scrollY : 0;
    clear(main);
    main.appendChild(node);
    main.dataset.page = route.page + (route.id ? '-detail' : '');
    main.dataset.rendered = String(seq);
    if (opts.keepScroll) window.scrollTo(0, scroll);
    else window.scrollTo(0, 0);
  }

  function titleOf(route) {
    const t = { dashboard: 'Dashboard', inbox: 'Inbox', runs: 'Runs', modules: 'Modules', audit: 'Audit log', trust: 'Trust store', agents: 'Agents', policies: 'Policies' };
    return t[route.page] || route.page;
  }

  // Live refresh of the visible page: at most once per REFRESH_MIN_MS.
  function scheduleRefresh() {
    if (!state.live || state.refreshTimer) return;
    const wait = Math.max(0, state.lastRefresh + REFRESH_MIN_MS - Date.now());
    state.refreshTimer = setTimeout(() => {
      state.refreshTimer = null;
      state.lastRefresh = Date.now();
      if (state.live) render({ keepScroll: true });
    }, wait);
  }

  /* ---------- dashboard ---------- */

  async function renderDashboard() {
    const [d, st] = await Promise.all([api('/api/dashboard'), api('/api/status').catch((e) => ({ __error: e }))]);
    updatePendingCount(d.pending);
    const runsToday = d.runs_today || {};
    const totalToday = Object.values(runsToday).reduce((a, b) => a + (Number(b) || 0), 0);
    const audit = d.audit || {};
    const alerts = Array.isArray(d.alerts) ? d.alerts : [];
    const cards = el('div', { class: 'cards' },
      el('a', { class: 'card', href: '#/inbox', id: 'card-pending' }, el('div', { class: 'card-label' }, 'Pending review'),
        el('div', { class: ['card-value', d.pending ? 'warn' : null] }, String(d.pending || 0))),
      el('a', { class: 'card', href: '#/runs', id: 'card-runs' }, el('div', { class: 'card-label' }, 'Runs today'),
        el('div', { class: 'card-value' }, String(totalToday)),
        el('div', { class: 'card-sub' }, Object.keys(runsToday).length
          ? Object.entries(runsToday).map(([o, n]) => el('span', { class: 'chip' }, outcomeBadge(o), ' ', String(n)))
          : el('span', { class: 'muted' }, 'no runs yet'))),
      el('div', { class: 'card', id: 'card-refused' }, el('div', { class: 'card-label' }, 'Refused requests today'),
        el('div', { class: ['card-value', d.refused_today ? 'warn' : null] }, String(d.refused_today || 0))),
      el('a', { class: 'card', href: '#/audit', id: 'card-audit' }, el('div', { class: 'card-label' }, 'Audit chain'),
        el('div', { class: ['card-value', audit.ok ? 'good' : 'bad'] }, audit.ok ? 'intact' : 'BROKEN'),
        el('div', { class: 'card-sub' }, String(audit.entries || 0) + ' entries', audit.error ? el('div', { class: 'bad' }, String(audit.error)) : null)),
      el('div', { class: 'card', id: 'card-alerts' }, el('div', { class: 'card-label' }, 'Alerts'),
        el('div', { class: ['card-value', alerts.length ? 'bad' : 'good'] }, String(alerts.length))));

    const alertRows = alerts.slice(0, PAGE).map((a) => el('tr', null,
      el('td', null, badge(String(a.kind || a.type || 'alert'), 'bad')),
      el('td', null, String(a.message || '')),
      el('td', null, a.at ? fmtTime(a.at) : '—'),
      el('td', null, relatedLinks(a))));

    let statusPanel;
    if (st && st.__error) statusPanel = section('Worker', errorBox(st.__error));
    else {
      const iso = st.isolation || {};
      const q = st.queue || {};
      statusPanel = section('Worker', kv([
        ['uptime', st.uptime_s !== undefined ? Math.floor(st.uptime_s / 60) + ' min' : '—'],
        ['queue', `${q.running || 0} running, ${q.queued || 0} queued (limit ${q.limit ?? '?'}, queue ${q.queue_limit ?? '?'})`],
        ['isolation', Object.entries(iso).map(([k, v]) => el('span', { class: 'chip' }, k + ': ' + String(v)))],
        ['tiers', (Array.isArray(st.tiers) ? st.tiers : []).map((t) => el('div', { class: 'tier' },
          badge(String(t.tier), t.available ? 'good' : 'bad'), ' ',
          t.available ? 'available' : 'not available',
          t.accel && t.accel !== 'none' ? ` · accelerator ${t.accel}` : '',
          t.pool_size ? ` · pool ${t.pool_ready}/${t.pool_size} ready` : '',
          t.note ? el('div', { class: 'muted' }, String(t.note)) : ''))],
        ['trust store version', String(st.trust_version ?? '—')],
        ['totals', st.counts ? `${st.counts.pending} pending · ${st.counts.approvals} approvals · ${st.counts.runs} runs` : '—'],
      ]));
    }

    return el('div', null,
      el('h1', null, 'Dashboard'),
      cards,
      el('div', { class: 'grid2' },
        section('Runs by hour', runsChart(d.runs_by_hour || [])),
        section('Threat scores of submissions', histogram(d.score_histogram || []))),
      section('Alerts', el('p', { class: 'muted' }, 'Drift, tamper and hash-mismatch alerts.'),
        table(['kind', 'message', 'when', 'related'], alertRows, 'alerts')),
      statusPanel);
  }

  function relatedLinks(a) {
    const out = [];
    if (a.submission) out.push(link('#/inbox/' + encodeURIComponent(a.submission), 'submission'));
    if (a.run || a.run_id) out.push(link('#/runs/' + encodeURIComponent(a.run || a.run_id), 'run'));
    if (a.approval || a.approval_id) out.push(link('#/modules', 'approval'));
    return out.length ? out.map((x, i) => [i ? ' · ' : null, x]) : '—';
  }

  // Stacked bars per hour, one colour per outcome (hand-drawn SVG).
  function runsChart(rows) {
    const W = 640, H = 220, padL = 36, padB = 28, padT = 10, padR = 8;
    if (!rows.length) return el('p', { class: 'muted chart-empty' }, 'No runs in this period.');
    const present = new Set();
    for (const r of rows) for (const k of Object.keys(r)) if (k !== 'hour' && Number(r[k]) > 0) present.add(k);
    const order = OUTCOMES.filter((o) => present.has(o)).concat([...present].filter((o) => !OUTCOMES.includes(o)));
    const totals = rows.map((r) => order.reduce((a, o) => a + (Number(r[o]) || 0), 0));
    const max = Math.max(1, ...totals);
    const plotW = W - padL - padR, plotH = H - padT - padB;
    const bw = plotW / rows.length;
    const g = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'runs per hour by outcome', id: 'runs-chart' });
    // axis + gridlines
    const ticks = niceTicks(max);
    for (const t of ticks) {
      const y = padT + plotH - (t / max) * plotH;
      g.appendChild(svg('line', { x1: padL, x2: W - padR, y1: y, y2: y, class: 'grid' }));
      g.appendChild(svg('text', { x: padL - 4, y: y + 4, class: 'axis', 'text-anchor': 'end' }, String(t)));
    }
    rows.forEach((r, i) => {
      let y = padT + plotH;
      const x = padL + i * bw + bw * 0.12;
      const w = Math.max(1, bw * 0.76);
      for (const o of order) {
        const n = Number(r[o]) || 0;
        if (!n) continue;
        const h = (n / max) * plotH;
        y -= h;
        g.appendChild(svg('rect', { x, y, width: w, height: h, class: 'bar o-' + outcomeClass(o) + ' oc-' + o },
          svg('title', null, `${hourLabel(r.hour)}: ${n} ${o}`)));
      }
      const every = Math.ceil(rows.length / 12);
      if (i % every === 0)
        g.appendChild(svg('text', { x: padL + i * bw + bw / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, hourShort(r.hour)));
    });
    g.appendChild(svg('line', { x1: padL, x2: W - padR, y1: padT + plotH, y2: padT + plotH, class: 'axisline' }));
    const legend = el('div', { class: 'legend' }, order.map((o) => el('span', { class: 'chip' }, el('span', { class: 'swatch o-' + outcomeClass(o) }), o)));
    return el('div', null, g, legend);
  }

  function hourDate(h) {
    if (typeof h === 'number') return new Date(h * 1000);
    const d = new Date(String(h));
    return isNaN(d.getTime()) ? null : d;
  }

  function hourLabel(h) {
    const d = hourDate(h);
    return d ? fmtTime(d.getTime() / 1000).slice(0, 16) : String(h);
  }

  function hourShort(h) {
    const d = hourDate(h);
    return d ? String(d.getHours()).padStart(2, '0') + 'h' : String(h).slice(-5);
  }

  function niceTicks(max) {
    const step = max <= 5 ? 1 : Math.ceil(max / 4 / Math.pow(10, Math.floor(Math.log10(max / 4)))) * Math.pow(10, Math.floor(Math.log10(max / 4)));
    const out = [];
    for (let t = 0; t <= max; t += step) out.push(t);
    return out;
  }

  function histogram(buckets) {
    const W = 640, H = 220, padL = 36, padB = 28, padT = 10, padR = 8;
    const b = Array.from({ length: 10 }, (_, i) => Number(buckets[i]) || 0);
    const total = b.reduce((a, x) => a + x, 0);
    if (!total) return el('p', { class: 'muted chart-empty' }, 'No submissions scored yet.');
    const max = Math.max(1, ...b);
    const plotW = W - padL - padR, plotH = H - padT - padB, bw = plotW / 10;
    const g = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'threat score histogram', id: 'score-chart' });
    for (const t of niceTicks(max)) {
      const y = padT + plotH - (t / max) * plotH;
      g.appendChild(svg('line', { x1: padL, x2: W - padR, y1: y, y2: y, class: 'grid' }));
      g.appendChild(svg('text', { x: padL - 4, y: y + 4, class: 'axis', 'text-anchor': 'end' }, String(t)));
    }
    b.forEach((n, i) => {
      const h = (n / max) * plotH;
      const cls = i >= 5 ? 'o-bad' : i >= 2 ? 'o-warn' : 'o-good';
      const lo = i * 10, hi = i === 9 ? 100 : i * 10 + 9;
      g.appendChild(svg('rect', { x: padL + i * bw + bw * 0.1, y: padT + plotH - h, width: bw * 0.8, height: h, class: 'bar ' + cls },
        svg('title', null, `score ${lo}–${hi}: ${n}`)));
      g.appendChild(svg('text', { x: padL + i * bw + bw / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, `${lo}–${hi}`));
    });
    g.appendChild(svg('line', { x1: padL, x2: W - padR, y1: padT + plotH, y2: padT + plotH, class: 'axisline' }));
    return g;
  }

  function updatePendingCount(n) {
    const c = $('#nav-pending');
    if (c) c.textContent = n ? String(n) : '';
  }

  /* ---------- inbox ---------- */

  async function renderInbox(route) {
    const status = route.params.get('status') || 'pending';
    const page = pageOf(route.params);
    const data = await api('/api/inbox' + qs({ status, limit: PAGE, offset: (page - 1) * PAGE }));
    const items = (data.items || []).slice(0, PAGE);
    if (status === 'pending') updatePendingCount(data.total);
    const rows = items.map((s) => el('tr', { class: 'rowlink', dataset: { id: String(s.id) }, onclick: () => { location.hash = '#/inbox/' + encodeURIComponent(s.id); } },
      el('td', null, sourceText(s)),
      el('td', null, link('#/inbox/' + encodeURIComponent(s.id), String(s.name), 'sub-name')),
      el('td', { class: 'num' }, fmtBytes(s.size)),
      el('td', null, driftBadge(s.drift)),
      el('td', null, scoreBadge(s.threat && s.threat.score)),
      el('td', null, statusBadge(s.status)),
      el('td', { title: fmtTime(s.created_at) }, fmtAge(s.created_at))));
    const filter = el('div', { class: 'toolbar' }, 'Show: ',
      ['pending', 'approved', 'rejected', 'all'].map((s) => link(listHref('inbox', { status: s }), s, s === status ? 'tab active' : 'tab')));
    return el('div', null,
      el('h1', null, 'Inbox'),
      el('p', { class: 'muted' }, 'Modules submitted by agents and by the operator. Nothing runs until you approve it by signing.'),
      filter,
      table(['source', 'name', 'size', 'drift', 'score', 'status', 'age'], rows, 'inbox'),
      pager(data.total, page, (p) => listHref('inbox', { status, page: p })));
  }

  function capsWords(c) {
    if (!c) return ['—'];
    const out = [];
    out.push(c.args ? 'arguments' : 'no arguments');
    out.push(c.stdin ? 'standard input' : 'no standard input');
    const env = c.env && typeof c.env === 'object' ? Object.keys(c.env) : [];
    out.push(env.length ? 'environment ' + env.map((k) => `${k}=${c.env[k]}`).join(', ') : 'no environment');
    const dirs = Array.isArray(c.dirs) ? c.dirs : [];
    out.push(dirs.length ? 'directories ' + dirs.map((d) => `${d.host} as ${d.guest} (${d.mode === 'rw' ? 'READ-WRITE' : 'read-only'})`).join(', ') : 'no directories');
    return out;
  }

  function limitsWords(l) {
    if (!l) return '—';
    return [
      `timeout ${l.timeout_ms} ms`,
      `memory ${fmtBytes(l.memory_bytes)}`,
      l.fuel === null || l.fuel === undefined ? 'fuel unmetered' : `fuel ${l.fuel}`,
      `stdout ${fmtBytes(l.stdout_bytes)}`,
      `stderr ${fmtBytes(l.stderr_bytes)}`,
    ].join(', ');
  }

  // Which of the module's import capability groups the policy covers (docs/threat-score.md).
  function covered(cap, pc) {
    if (!pc) return false;
    switch (cap) {
      case 'filesystem': return Array.isArray(pc.dirs) && pc.dirs.length > 0;
      case 'env': return pc.env && Object.keys(pc.env).length > 0;
      case 'args': return !!pc.args;
      case 'network': case 'signals': case 'outside_wasi': return false;
      default: return true; // stdio, clocks, random, proc_exit, poll
    }
  }

  function capsCompare(sub, policy) {
    const req = sub.requested || {};
    const pc = (policy && policy.capabilities) || {};
    const yes = (b) => (b ? badge('yes', 'info') : badge('no', 'muted'));
    const envS = (e) => { const k = e && typeof e === 'object' ? Object.keys(e) : []; return k.length ? k.map((x) => `${x}=${e[x] === null ? '(chosen at approval)' : e[x]}`).join(', ') : 'none'; };
    const dirS = (d) => (Array.isArray(d) && d.length ? d.map((x) => `${x.host} → ${x.guest} (${x.mode})`).join(', ') : 'none');
    const rows = [
      el('tr', null, el('td', null, 'arguments'), el('td', null, yes(req.args)), el('td', null, yes(pc.args))),
      el('tr', null, el('td', null, 'standard input'), el('td', null, yes(req.stdin)), el('td', null, yes(pc.stdin))),
      el('tr', null, el('td', null, 'environment'), el('td', null, envS(req.env)), el('td', null, envS(pc.env))),
      el('tr', null, el('td', null, 'directories'), el('td', null, dirS(req.dirs)), el('td', null, dirS(pc.dirs))),
    ];
    const caps = (sub.analysis && sub.analysis.capabilities) || [];
    const impRows = caps.map((c) => el('tr', null, el('td', null, c),
      el('td', null, covered(c, pc) ? badge('covered', 'good') : badge('not granted', c === 'network' || c === 'outside_wasi' || c === 'signals' ? 'bad' : 'warn'))));
    const gr = (sub.grantable || []).map((g) => el('li', null, el('strong', null, String(g.policy)), ` v${g.version}: `,
      g.allows_request ? badge('allows all of the request', 'good') : [badge('not all', 'warn'), ' ', String(g.why_not || '')]));
    return el('div', { class: 'caps-compare' },
      table(['capability', 'requested by the submitter', 'allowed by policy ' + (policy ? `${policy.name} v${policy.version ?? 1}` : '?')], rows, 'caps'),
      gr.length ? [el('h3', null, 'Which policies allow the request'), el('ul', { id: 'grantable' }, gr)] : null,
      el('h3', null, 'Capabilities the module imports'),
      table(['import group', 'with this policy'], impRows, 'impcaps'));
  }

  function analysisView(a) {
    if (!a) return el('p', { class: 'muted' }, 'No analysis.');
    const groups = new Map();
    for (const imp of a.imports || []) {
      const c = imp.capability || 'other';
      if (!groups.has(c)) groups.set(c, []);
      groups.get(c).push(imp);
    }
    const impBlocks = [...groups.entries()].map(([cap, imps]) => el('div', { class: 'impgroup' },
      el('h4', null, cap, ' ', el('span', { class: 'muted' }, `(${imps.length})`)),
      el('ul', { class: 'mono' }, imps.map((i) => el('li', null, `${i.module}.${i.name}`, ' ',
        el('span', { class: 'muted' }, i.kind === 'func' ? String(i.signature || '') : String(i.kind || '')), i.legacy_wasi ? badge('wasi_unstable', 'warn') : null)))));
    const mems = (a.memories || []).map((m) => el('tr', null,
      el('td', { class: 'num' }, String(m.min_pages)), el('td', { class: 'num' }, m.max_pages === null ? 'none' : String(m.max_pages)),
      el('td', null, fmtBytes((m.min_pages || 0) * 65536)), el('td', null, [m.memory64 ? '64-bit ' : '', m.shared ? 'shared ' : '', m.imported ? 'imported' : ''].join('') || '—')));
    const customs = (a.custom_sections || []).map((c) => el('tr', null, el('td', { class: 'mono' }, String(c.name)), el('td', { class: 'num' }, fmtBytes(c.size)),
      el('td', null, c.known ? badge('known', 'muted') : badge('unusual', 'warn'))));
    return el('div', { class: 'analysis' },
      kv([
        ['size', fmtBytes(a.size)],
        ['start function', a.has_start ? badge('yes: runs during instantiation', 'warn') : 'no'],
        ['suspicious names', a.suspicious_names ? badge(String(a.suspicious_names), 'bad') : '0'],
        a.wasi_unstable ? ['legacy WASI', badge('wasi_unstable: will not instantiate', 'warn')] : null,
        a.counts ? ['counts', Object.entries(a.counts).map(([k, v]) => `${k} ${v}`).join(' · ')] : null,
      ]),
      el('h3', null, 'Imports by capability'),
      impBlocks.length ? impBlocks : el('p', { class: 'muted' }, 'No imports.'),
      el('h3', null, 'Exports'),
      (a.exports || []).length ? el('ul', { class: 'mono inline' }, a.exports.map((e) => el('li', null, String(e.name), ' ', el('span', { class: 'muted' }, String(e.kind))))) : el('p', { class: 'muted' }, 'No exports.'),
      el('h3', null, 'Memory'),
      table(['min pages', 'max pages', 'initial', 'flags'], mems, 'mems'),
      customs.length ? [el('h3', null, 'Custom sections'), table(['name', 'size', ''], customs)] : null);
  }

  function driftView(d) {
    if (!d) return el('p', { class: 'muted' }, '—');
    const ch = d.changes || {};
    const list = (xs, cls) => (Array.isArray(xs) && xs.length ? el('ul', { class: ['mono', cls] }, xs.map((x) => el('li', null, String(x)))) : el('span', { class: 'muted' }, 'none'));
    return kv([
      ['state', driftBadge(d)],
      ['previous sha256', d.previous_sha256 ? el('code', null, String(d.previous_sha256)) : '—'],
      ['imports added', list(ch.imports_added, 'added')],
      ['imports removed', list(ch.imports_removed, 'removed')],
      ['size change', fmtDelta(ch.size_delta)],
    ]);
  }

  function factorsTable(threat) {
    const f = (threat && threat.factors) || [];
    return el('div', null,
      el('p', null, 'Score ', scoreBadge(threat && threat.score), el('span', { class: 'muted' }, ' — the score helps review; it never approves anything.')),
      table(['factor', 'points', 'detail'], f.map((x) => el('tr', null, el('td', { class: 'mono' }, String(x.factor)), el('td', { class: 'num' }, String(x.points)), el('td', null, String(x.detail || '')))), 'factors'));
  }

  async function renderSubmission(route) {
    const id = route.id;
    const [sub, policies, agents] = await Promise.all([
      api('/api/submissions/' + encodeURIComponent(id)),
      getPolicies().catch(() => []),
      api('/api/agents').then((a) => (a.items || []).filter((x) => !x.removed)).catch(() => []),
    ]);
    const compareBox = el('div', { id: 'caps-compare' });
    const policySel = el('select', { id: 'f-policy', name: 'policy' },
      policies.map((p) => el('option', { value: p.name, selected: p.name === 'default' }, p.name)));
    const showCompare = () => {
      clear(compareBox);
      compareBox.appendChild(capsCompare(sub, policies.find((p) => p.name === policySel.value)));
    };
    showCompare();

    const header = el('div', { class: 'subhead' },
      el('h1', null, el('span', { class: 'muted' }, 'Submission '), el('span', { id: 'sub-name' }, String(sub.name)), ' ', statusBadge(sub.status)),
      kv([
        ['id', el('code', null, String(sub.id))],
        ['submitted by', sourceText(sub)],
        ['sha256', el('code', { class: 'hash' }, String(sub.sha256))],
        ['size', fmtBytes(sub.size)],
        ['submitted', fmtTime(sub.created_at) + ' (' + fmtAge(sub.created_at) + ')'],
        ['description', sub.description ? el('div', { class: 'desc', id: 'sub-description' }, String(sub.description)) : el('span', { class: 'muted' }, 'none')],
        sub.reason ? ['rejection reason', el('div', { class: 'desc', id: 'sub-reason' }, String(sub.reason))] : null,
        (sub.approvals || []).length ? ['approvals', sub.approvals.map((a) => el('div', null, el('code', null, shortHash(a, 16))))] : null,
      ]));

    const canApprove = sub.status === 'pending' || sub.status === 'approved';
    return el('div', null,
      el('p', null, link('#/inbox', '← Inbox')),
      header,
      el('div', { class: 'grid2' },
        section('Threat factors', factorsTable(sub.threat)),
        section('Drift', driftView(sub.drift))),
      section('Requested capabilities vs policy', compareBox),
      section('Analysis', analysisView(sub.analysis)),
      canApprove ? approveForm(sub, policySel, showCompare, agents) : null,
      sub.status === 'pending' ? rejectForm(sub) : null);
  }

  function approveForm(sub, policySel, onPolicy, agents) {
    const maxRuns = el('input', { id: 'f-maxruns', type: 'number', min: '1', max: '1000000000', value: '10', required: true });
    const expiry = el('select', { id: 'f-expiry' }, EXPIRIES.map(([t, s]) => el('option', { value: String(s), selected: s === 86400 }, t)));
    const invokerBoxes = [el('label', { class: 'check' }, el('input', { type: 'checkbox', value: 'operator', checked: true, class: 'f-invoker' }), ' operator (you, CLI and console)')];
    const names = new Set(agents.map((a) => a.name));
    if (sub.agent) names.add(sub.agent);
    for (const n of [...names].sort())
      invokerBoxes.push(el('label', { class: 'check' }, el('input', { type: 'checkbox', value: 'agent:' + n, class: 'f-invoker' }), ' agent ', el('strong', null, n), n === sub.agent ? el('span', { class: 'muted' }, ' (the submitter)') : null));
    const pass = el('input', { id: 'f-passphrase', type: 'password', autocomplete: 'off', placeholder: 'your approver key\'s passphrase', spellcheck: 'false' });
    const signerBox = el('div', { class: 'signer', id: 'signer' });
    // what to grant: the submission's requested directories and environment, each a checkbox
    const req = sub.requested || {};
    const reqDirs = Array.isArray(req.dirs) ? req.dirs : [];
    const reqEnv = req.env && typeof req.env === 'object' ? Object.keys(req.env) : [];
    const dirBoxes = reqDirs.map((d, i) => el('label', { class: 'check' },
      el('input', { type: 'checkbox', class: 'f-grant-dir', value: String(i), checked: true }),
      ' directory ', el('code', null, String(d.host)), ' as ', el('code', null, String(d.guest)), ' ',
      d.mode === 'rw' ? badge('read-write', 'bad') : badge('read-only', 'info')));
    const envBoxes = reqEnv.map((k) => el('label', { class: 'check' },
      el('input', { type: 'checkbox', class: 'f-grant-env', value: k, checked: true }),
      ' environment ', el('code', null, `${k}=${req.env[k]}`)));
    const argsBox = el('input', { type: 'checkbox', id: 'f-grant-args', checked: true });
    const stdinBox = el('input', { type: 'checkbox', id: 'f-grant-stdin', checked: true });
    const grantsSet = el('fieldset', { id: 'grants' }, el('legend', null, 'What to grant (within the policy)'),
      dirBoxes.length || envBoxes.length ? [el('p', { class: 'muted' }, 'Asked for by the submission. Unchecked items are not granted; the policy must allow each checked one.'), dirBoxes, envBoxes]
        : el('p', { class: 'muted' }, 'The submission asks for no directories or environment: the policy\'s own are granted.'),
      el('label', { class: 'check' }, argsBox, ' arguments (if the policy allows them)'),
      el('label', { class: 'check' }, stdinBox, ' standard input (if the policy allows it)'));
    api('/api/signer').then((sg) => { clear(signerBox); append(signerBox, signerView(sg)); }).catch(() => {});
    const out = el('div', { id: 'prepared' });
    const msg = el('div', { id: 'approve-msg' });
    let prepared = null;

    const invalidate = () => {
      if (prepared) {
        prepared = null;
        clear(out);
        append(out, el('p', { class: 'muted' }, 'The form changed: prepare the statement again.'));
      }
    };
    for (const i of [policySel, maxRuns, expiry, argsBox, stdinBox, ...invokerBoxes.map((l) => l.querySelector('input')),
      ...[...dirBoxes, ...envBoxes].map((l) => l.querySelector('input'))]) {
      i.addEventListener('change', invalidate);
      i.addEventListener('input', invalidate);
    }
    policySel.addEventListener('change', onPolicy);

    const prepareBtn = el('button', { type: 'button', class: 'btn', id: 'btn-prepare' }, 'Prepare');
    prepareBtn.addEventListener('click', async () => {
      clear(msg);
      clear(out);
      prepared = null;
      const invokers = [...document.querySelectorAll('.f-invoker')].filter((b) => b.checked).map((b) => b.value);
      const mr = parseInt(maxRuns.value, 10);
      if (!invokers.length) return append(msg, errorBox({ code: 'form', message: 'choose at least one who may run it' }));
      if (!Number.isInteger(mr) || mr < 1) return append(msg, errorBox({ code: 'form', message: 'max runs must be a whole number of at least 1' }));
      prepareBtn.disabled = true;
      try {
        const grants = {};
        if (dirBoxes.length || envBoxes.length) {
          grants.dirs = [...document.querySelectorAll('.f-grant-dir')].filter((b) => b.checked)
            .map((b) => { const d = reqDirs[parseInt(b.value, 10)]; return { host: d.host, guest: d.guest, mode: d.mode }; });
          grants.env = {};
          for (const b of document.querySelectorAll('.f-grant-env')) if (b.checked) grants.env[b.value] = req.env[b.value];
        }
        if (!argsBox.checked) grants.args = false;
        if (!stdinBox.checked) grants.stdin = false;
        const r = await api('/api/submissions/' + encodeURIComponent(sub.id) + '/prepare', {
          method: 'POST', body: { policy: policySel.value, max_runs: mr, expires_in_s: parseInt(expiry.value, 10), invokers, grants },
        });
        prepared = r;
        append(out, await statementView(r));
        const sg = r.signer || {};
        const signBtn = el('button', { type: 'button', class: 'btn primary', id: 'btn-sign', disabled: sg.can_sign === false }, 'Sign and approve');
        signBtn.addEventListener('click', () => signAndApprove(sub, r.approval_id, pass, signBtn, msg));
        append(out, el('div', { class: 'actions' }, signBtn, el('span', { class: 'muted' },
          sg.needs_passphrase ? ' Signs exactly the bytes above with your approver key: type its passphrase above first.'
            : ' Signs exactly the bytes above with your approver key.')));
        if (sg.can_sign === false) append(out, errorBox({ code: 'human_required', message: sg.problem || 'this console cannot sign with your key' }));
      } catch (e) {
        append(msg, errorBox(e));
      } finally {
        prepareBtn.disabled = false;
      }
    });

    return section('Approve',
      el('form', { class: 'form', id: 'approve-form', onsubmit: (e) => e.preventDefault() },
        el('label', null, 'Policy', policySel),
        el('label', null, 'Max runs', maxRuns),
        el('label', null, 'Expires after', expiry),
        el('fieldset', null, el('legend', null, 'Who may run it'), invokerBoxes),
        grantsSet,
        signerBox,
        el('label', null, 'Key passphrase (for a key that has one)', pass),
        el('div', { class: 'actions' }, prepareBtn)),
      out, msg);
  }

  async function sha256hex(text) {
    if (!(window.crypto && crypto.subtle)) return null;
    const buf = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function statementView(r) {
    const text = r.statement;
    let parsed = null;
    try { parsed = JSON.parse(text); } catch (e) { parsed = null; }
    const p = (parsed && parsed.predicate) || {};
    const subj = (parsed && parsed.subject && parsed.subject[0]) || {};
    const s = r.summary || {};
    const name = subj.name ?? s.name, sha = (subj.digest && subj.digest.sha256) ?? s.sha256;
    const caps = p.capabilities ?? s.capabilities, lim = p.limits ?? s.limits;
    const invokers = p.invokers ?? s.invokers ?? [];
    const approvalId = await sha256hex(text);
    const bytes = new TextEncoder().encode(text).length;
    const words = el('div', { class: 'statement-words', id: 'statement-words' },
      el('p', null, 'You are about to sign this statement:'),
      el('ul', null,
        el('li', null, 'Module ', el('strong', null, String(name)), ' with sha256 ', el('code', { class: 'hash' }, String(sha))),
        el('li', null, 'may use: ', capsWords(caps).join('; ')),
        el('li', null, 'limits: ', limitsWords(lim)),
        el('li', null, 'at most ', el('strong', null, String(p.max_runs ?? s.max_runs)), ' runs'),
        el('li', null, 'valid from ', fmtTime(p.not_before ?? s.not_before), ' until ', el('strong', null, fmtTime(p.expires_at ?? s.expires_at)),
          ' (', fmtIn(p.expires_at ?? s.expires_at), ')'),
        el('li', null, 'may be run by: ', invokers.map((x, i) => [i ? ', ' : null, el('strong', null, String(x))])),
        el('li', null, 'approved by ', el('strong', null, String(p.approver ?? s.approver)), ' for worker ', el('code', null, String(p.worker ?? s.worker)),
          ' (policy ', String(s.policy || '?'), ', submission ', el('code', null, String(p.submission ?? s.submission)), ')')));
    return el('div', { class: 'statement' },
      words,
      el('details', { open: true }, el('summary', null, 'As JSON'), pre(parsed ? JSON.stringify(parsed, null, 2) : text, 'json')),
      el('details', null, el('summary', null, `Exact bytes signed (${bytes} bytes${approvalId ? ', sha256 ' + approvalId + ' = the approval id' : ''})`),
        pre(text, 'bytes'), el('div', { id: 'statement-bytes', hidden: true }, text)));
  }

  // how the configured key proves a human is there, and whether it can sign here
  function signerView(sg) {
    const words = { fido: 'security key: touch it when asked', passphrase: 'key file with a passphrase: type it below',
      none: 'key file WITHOUT a passphrase', unknown: 'key not in a file here' };
    return el('div', null,
      el('p', null, 'Signing as ', el('strong', null, String(sg.principal || '?')), ' with ',
        el('code', null, String(sg.fingerprint || 'no key')), ' (', words[sg.protection] || String(sg.protection), ')'),
      sg.dev_mode ? el('p', { class: 'error' }, 'Development mode: keys without a passphrase may sign here.') : null,
      sg.can_sign === false ? el('p', { class: 'error', id: 'signer-problem' }, String(sg.problem || 'this console cannot sign with this key')) : null);
  }

  async function signAndApprove(sub, approvalId, passField, btn, msg) {
    const passphrase = passField.value;
    passField.value = ''; // cleared before anything else happens
    clear(msg);
    btn.disabled = true;
    const body = { approval_id: approvalId };
    if (passphrase) body.passphrase = passphrase;
    try {
      const a = await api('/api/submissions/' + encodeURIComponent(sub.id) + '/approve', { method: 'POST', body });
      body.passphrase = undefined;
      append(msg, el('div', { class: 'success', id: 'approved' }, 'Approved: ', el('strong', null, String(a.name || sub.name)),
        ' — approval ', el('code', null, String(a.id || '')), '. ', link('#/modules', 'See modules')));
      btn.remove();
    } catch (e) {
      body.passphrase = undefined;
      append(msg, errorBox(e));
      btn.disabled = false;
    }
  }

  function rejectForm(sub) {
    const reason = el('textarea', { id: 'f-reason', rows: '2', maxlength: '1000', placeholder: 'why (recorded in the audit log and shown to the agent)' });
    const msg = el('div', { id: 'reject-msg' });
    const btn = el('button', { type: 'button', class: 'btn danger', id: 'btn-reject' }, 'Reject');
    btn.addEventListener('click', async () => {
      clear(msg);
      const r = reason.value.trim();
      if (!r) return append(msg, errorBox({ code: 'form', message: 'give a reason' }));
      if (!window.confirm('Reject ' + sub.name + '?')) return;
      btn.disabled = true;
      try {
        await api('/api/submissions/' + encodeURIComponent(sub.id) + '/reject', { method: 'POST', body: { reason: r } });
        append(msg, el('div', { class: 'success', id: 'rejected' }, 'Rejected.'));
        setTimeout(() => render(), 300);
      } catch (e) {
        append(msg, errorBox(e));
        btn.disabled = false;
      }
    });
    return section('Reject', el('form', { class: 'form', onsubmit: (e) => e.preventDefault() }, el('label', null, 'Reason', reason), el('div', { class: 'actions' }, btn)), msg);
  }

  /* ---------- runs ---------- */

  async function renderRuns(route) {
    const page = pageOf(route.params);
    const name = route.params.get('name') || '';
    const data = await api('/api/runs' + qs({ name, limit: PAGE, offset: (page - 1) * PAGE }));
    const items = (data.items || []).slice(0, PAGE);
    const rows = items.map((r) => el('tr', { class: ['rowlink', 'run-row'], dataset: { id: String(r.id) }, onclick: () => { location.hash = '#/runs/' + encodeURIComponent(r.id); } },
      el('td', { title: fmtTime(r.started_at) }, fmtTime(r.started_at)),
      el('td', null, link('#/runs/' + encodeURIComponent(r.id), String(r.name))),
      el('td', null, String(r.invoker || '—')),
      el('td', null, outcomeBadge(r.outcome)),
      el('td', { class: 'num' }, r.exit_code === undefined || r.exit_code === null ? '—' : String(r.exit_code)),
      el('td', { class: 'num' }, r.duration_ms === undefined ? '—' : r.duration_ms + ' ms'),
      el('td', { class: 'num' }, r.denied_calls ? badge(String(r.denied_calls), 'warn') : '0'),
      el('td', null, scoreBadge(r.threat && r.threat.score))));
    const nameInput = el('input', { type: 'search', placeholder: 'module name', value: name, id: 'runs-filter' });
    const filter = el('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); location.hash = listHref('runs', { name: nameInput.value.trim() }); } },
      'Module: ', nameInput, el('button', { class: 'btn small', type: 'submit' }, 'Filter'), name ? link('#/runs', 'clear') : null);
    return el('div', null,
      el('h1', null, 'Runs'),
      el('p', { class: 'muted' }, 'Every run, newest first; updates live.'),
      filter,
      table(['started', 'module', 'invoker', 'outcome', 'exit', 'duration', 'denied', 'score'], rows, 'runs'),
      pager(data.total, page, (p) => listHref('runs', { name, page: p })));
  }

  async function renderRun(route) {
    const id = route.id;
    const r = await api('/api/runs/' + encodeURIComponent(id));
    const receiptBox = el('div', { id: 'receipt' }, el('p', { class: 'muted' }, 'Loading receipt…'));
    if (r.outcome === 'running') {
      clear(receiptBox);
      append(receiptBox, el('p', { class: 'muted' }, 'The run is in progress; the receipt exists once it finishes.'));
    } else {
      api('/api/runs/' + encodeURIComponent(id) + '/receipt').then((rc) => {
        clear(receiptBox);
        append(receiptBox, [kv([
          ['audit seq', String(rc.seq)],
          ['leaf', el('code', { class: 'hash' }, String(rc.leaf || '—'))],
          ['log size', String(rc.size ?? '—')],
          ['inclusion proof', `${(rc.proof || []).length} hashes`],
        ]), el('h3', null, 'Checkpoint'), pre(typeof rc.checkpoint === 'string' ? rc.checkpoint : JSON.stringify(rc.checkpoint, null, 2), 'checkpoint'),
        rc.entry ? el('details', null, el('summary', null, 'run.end entry'), pre(typeof rc.entry === 'string' ? rc.entry : JSON.stringify(rc.entry, null, 2))) : null]);
      }).catch((e) => { clear(receiptBox); append(receiptBox, errorBox(e)); });
    }
    const denied = (r.denied || []).map((d) => el('tr', null, el('td', { class: 'mono' }, String(d.call)), el('td', null, String(d.reason || '')), el('td', null, String(d.detail || ''))));
    const wasi = Object.entries(r.wasi_calls || {}).sort((a, b) => b[1] - a[1]).map(([k, v]) => el('tr', null, el('td', { class: 'mono' }, k), el('td', { class: 'num' }, String(v))));
    const iso = r.isolation && typeof r.isolation === 'object' ? Object.entries(r.isolation).map(([k, v]) => [k.replace(/_/g, ' '), anyValue(k, v)]) : [];
    const outBlock = (label, text, trunc, id) => el('div', { class: 'stream' },
      el('h3', null, label, trunc ? badge('truncated', 'warn') : null, text ? el('span', { class: 'muted' }, ` ${new TextEncoder().encode(text).length} bytes`) : null),
      el('pre', { class: 'out', id }, text ? String(text) : ''));
    return el('div', null,
      el('p', null, link('#/runs', '← Runs')),
      el('h1', null, el('span', { class: 'muted' }, 'Run '), String(r.name), ' ', outcomeBadge(r.outcome)),
      kv([
        ['id', el('code', null, String(r.id))],
        ['module sha256', el('code', { class: 'hash' }, String(r.sha256 || '—'))],
        ['approval', el('code', null, shortHash(r.approval_id, 16))],
        ['invoker', String(r.invoker || '—')],
        ['exit code', r.exit_code === null || r.exit_code === undefined ? '—' : String(r.exit_code)],
        r.trap_kind ? ['trap', String(r.trap_kind)] : null,
        r.message ? ['message', String(r.message)] : null,
        ['started', fmtTime(r.started_at)],
        ['finished', fmtTime(r.finished_at)],
        ['duration', r.duration_ms === undefined ? '—' : r.duration_ms + ' ms'],
        ['fuel used', r.fuel_used === undefined || r.fuel_used === null ? '—' : String(r.fuel_used)],
        ['peak memory', fmtBytes(r.peak_memory_bytes)],
        ['limits hit', (r.limits_hit || []).length ? r.limits_hit.map((l) => badge(String(l), 'warn')) : 'none'],
        ['denied calls', String(r.denied_calls || 0)],
      ]),
      el('div', { class: 'grid2' }, outBlock('stdout', r.stdout, r.stdout_truncated, 'run-stdout'), outBlock('stderr', r.stderr, r.stderr_truncated, 'run-stderr')),
      el('div', { class: 'grid2' },
        section('Denied calls', table(['call', 'reason', 'detail'], denied)),
        section('WASI calls', table(['call', 'count'], wasi))),
      el('div', { class: 'grid2' },
        section('Isolation', iso.length ? kv(iso) : el('p', { class: 'muted' }, '—')),
        section('Threat factors', factorsTable(r.threat))),
      section('Receipt', receiptBox));
  }

  /* ---------- modules (approvals) ---------- */

  function approvalState(a) {
    const now = Date.now() / 1000;
    if (a.revoked) return ['revoked', 'bad'];
    if (a.expires_at && a.expires_at <= now) return ['expired', 'muted'];
    if (a.not_before && a.not_before > now) return ['not yet valid', 'info'];
    if (a.max_runs && a.runs >= a.max_runs) return ['used up', 'muted'];
    return ['active', 'good'];
  }

  async function renderModules(route) {
    const page = pageOf(route.params);
    const name = route.params.get('name') || '';
    const data = await api('/api/approvals' + qs({ name, limit: PAGE, offset: (page - 1) * PAGE }));
    const items = (data.items || []).slice(0, PAGE);
    const byName = new Map();
    for (const a of items) {
      if (!byName.has(a.name)) byName.set(a.name, new Map());
      const v = byName.get(a.name);
      if (!v.has(a.sha256)) v.set(a.sha256, []);
      v.get(a.sha256).push(a);
    }
    const blocks = [...byName.entries()].map(([mod, versions]) => el('section', { class: 'panel module', dataset: { name: String(mod) } },
      el('h2', null, String(mod), ' ', el('span', { class: 'muted' }, `${versions.size} version${versions.size === 1 ? '' : 's'}`), ' ', link(listHref('runs', { name: mod }), 'runs', 'small')),
      [...versions.entries()].map(([sha, aps]) => el('div', { class: 'version' },
        el('h3', null, 'sha256 ', el('code', { class: 'hash' }, String(sha))),
        table(['approval', 'approver', 'policy', 'may run', 'runs', 'expires', 'state', ''], aps.map((a) => {
          const [st, k] = approvalState(a);
          const btn = !a.revoked ? el('button', { type: 'button', class: 'btn small danger revoke', dataset: { id: String(a.id) } }, 'Revoke') : null;
          if (btn) btn.addEventListener('click', () => revoke(a, btn));
          return el('tr', { dataset: { id: String(a.id) } },
            el('td', { title: String(a.id) }, el('code', null, shortHash(a.id, 12))),
            el('td', null, String(a.approver || '—')),
            el('td', null, String(a.policy || '—')),
            el('td', null, (a.invokers || []).join(', ')),
            el('td', { class: 'num' }, `${a.runs ?? 0} / ${a.max_runs ?? '?'}`),
            el('td', { title: fmtTime(a.expires_at) }, fmtTime(a.expires_at)),
            el('td', null, badge(st, k)),
            el('td', null, btn));
        }), 'approvals')))));
    const nameInput = el('input', { type: 'search', placeholder: 'module name', value: name });
    return el('div', null,
      el('h1', null, 'Modules'),
      el('p', { class: 'muted' }, 'Approvals grouped by module name and version (sha256), newest first.'),
      el('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); location.hash = listHref('modules', { name: nameInput.value.trim() }); } },
        'Module: ', nameInput, el('button', { class: 'btn small', type: 'submit' }, 'Filter'), name ? link('#/modules', 'clear') : null),
      blocks.length ? blocks : el('p', { class: 'muted' }, 'No approvals yet.'),
      pager(data.total, page, (p) => listHref('modules', { name, page: p })));
  }

  async function revoke(a, btn) {
    if (!window.confirm(`Revoke approval ${shortHash(a.id, 12)} of ${a.name}? Runs with it will be refused from now on.`)) return;
    btn.disabled = true;
    try {
      await api('/api/approvals/' + encodeURIComponent(a.id) + '/revoke', { method: 'POST', body: {} });
      toast('Revoked ' + a.name + ' (' + shortHash(a.id, 12) + ')', 'info');
      render({ keepScroll: true });
    } catch (e) {
      btn.disabled = false;
      toast(e.code + ': ' + e.message, 'bad');
    }
  }

  /* ---------- audit ---------- */

  function auditReport(r) {
    if (!r) return el('p', { class: 'muted' }, '—');
    const skip = new Set(['checkpoint', 'ok', 'entries', 'error']);
    const extra = Object.entries(r).filter(([k]) => !skip.has(k)).map(([k, v]) => [k.replace(/_/g, ' '), anyValue(k, v)]);
    const cp = r.checkpoint;
    const note = cp && typeof cp === 'object' ? cp.note : cp;
    return el('div', null,
      el('p', { id: 'audit-status', class: ['big', r.ok ? 'good' : 'bad'] }, r.ok ? '✔ Chain intact' : '✘ Chain BROKEN'),
      kv([['entries', String(r.entries ?? '—')], r.error ? ['error', el('span', { class: 'bad' }, String(r.error))] : null, ...extra]),
      el('h3', null, 'Latest checkpoint'),
      note ? pre(note, 'checkpoint') : el('p', { class: 'muted' }, 'No checkpoint yet.'),
      cp && typeof cp === 'object' ? kv(Object.entries(cp).filter(([k]) => k !== 'note').map(([k, v]) => [k.replace(/_/g, ' '), anyValue(k, v)])) : null);
  }

  // A value of an object whose fields are not all known here: times as times, the rest as text.
  function anyValue(k, v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'number' && /_at$/.test(k)) return fmtTime(v);
    if (typeof v === 'object') return el('code', null, JSON.stringify(v));
    return String(v);
  }

  async function renderAudit() {
    const report = await api('/api/audit');
    let verifications = 0;
    const box = el('div', { id: 'audit-report', dataset: { verified: '0' } }, auditReport(report));
    const when = el('span', { class: 'muted', id: 'verified-at' }, ' verified ' + fmtTime(Date.now() / 1000));
    const btn = el('button', { type: 'button', class: 'btn primary', id: 'btn-verify' }, 'Verify now');
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        const r = await api('/api/audit?fresh=1');
        clear(box);
        box.appendChild(auditReport(r));
        box.dataset.verified = String(++verifications);
        when.textContent = ' verified ' + fmtTime(Date.now() / 1000);
      } catch (e) {
        clear(box);
        box.appendChild(errorBox(e));
      } finally {
        btn.disabled = false;
      }
    });
    return el('div', null,
      el('h1', null, 'Audit log'),
      el('p', { class: 'muted' }, 'A hash chain and Merkle log of every decision; verified read-only by the console.'),
      el('div', { class: 'toolbar' }, btn, when, el('span', { class: 'spacer' }),
        exportButton('jsonl', 'nightcore-audit.jsonl', 'Export JSONL'),
        exportButton('html', 'nightcore-audit.html', 'Export HTML')),
      section('Verification', box));
  }

  // The export is a download that needs the session header: fetched, then saved from a blob.
  function exportButton(format, filename, label) {
    const path = '/api/audit/export?format=' + format;
    const btn = el('button', { type: 'button', class: 'btn small', id: 'export-' + format, dataset: { path } }, label);
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        await download(path, filename);
      } catch (e) {
        toast(e.code + ': ' + e.message, 'bad');
      } finally {
        btn.disabled = false;
      }
    });
    return btn;
  }

  /* ---------- read views ---------- */

  async function renderTrust() {
    const t = await api('/api/trust');
    const prot = { fido: ['security key (touch)', 'good'], passphrase: ['passphrase', 'good'], none: ['NO PASSPHRASE', 'bad'], unknown: ['cannot tell', 'warn'] };
    const keys = (t.keys || []).map((k) => {
      const [ptext, pkind] = prot[k.protection] || [String(k.protection || '?'), 'muted'];
      return el('tr', null,
        el('td', null, (k.principals || []).join(', ')),
        el('td', null, String(k.type || '')),
        el('td', null, el('code', null, String(k.fingerprint || ''))),
        el('td', null, k.admin ? 'admin' : 'approver'),
        el('td', null, k.valid_after || k.valid_before ? `${k.valid_after ? fmtTime(k.valid_after) : '…'} → ${k.valid_before ? fmtTime(k.valid_before) : '…'}` : 'always'),
        el('td', null, badge(ptext, pkind)),
        el('td', null, k.added === 'root' ? 'root of trust' : k.added === 'signed' ? ['signed by ', el('code', null, String(k.added_by || '?'))] : '—'),
        el('td', null, k.revoked ? badge('revoked', 'bad') : badge('trusted', 'good')));
    });
    return el('div', null, el('h1', null, 'Trust store'),
      t.problem ? errorBox({ code: 'tampered', message: String(t.problem) }) : null,
      el('p', { class: 'muted' }, `Version ${t.version ?? '?'}. Keys whose signatures approve modules; admin keys also sign trust changes. Adding a key is signed by an admin key (nightcore trust add); revoking is not (nightcore trust revoke).`),
      table(['principals', 'type', 'fingerprint', 'role', 'valid', 'proves a human by', 'added', 'status'], keys, 'trust'));
  }

  async function renderAgents() {
    const a = await api('/api/agents');
    const rows = (a.items || []).slice(0, 1000).map((x) => el('tr', null,
      el('td', null, el('strong', null, String(x.name))),
      el('td', null, x.removed ? badge('removed', 'muted') : badge('active', 'good')),
      el('td', null, fmtTime(x.created_at)),
      el('td', { class: 'num' }, String(x.pending ?? 0)),
      el('td', null, x.last_submission_at ? fmtAge(x.last_submission_at) : '—'),
      el('td', { class: 'num' }, String(x.runs ?? 0))));
    return el('div', null, el('h1', null, 'Agents'),
      el('p', { class: 'muted' }, 'Agent identities (nightcore agent add|remove). Agents can submit and run what you approved for them; nothing else.'),
      table(['name', 'state', 'added', 'pending', 'last submission', 'runs'], rows, 'agents'));
  }

  async function renderPolicies() {
    state.policies = null;
    const ps = await getPolicies();
    return el('div', null, el('h1', null, 'Policies'),
      el('p', { class: 'muted' }, 'Ceilings an approval grants: capabilities and limits.'),
      ps.map((p) => section(String(p.name), kv([
        ['capabilities', capsWords(p.capabilities).join('; ')],
        ['limits', limitsWords(p.limits)],
      ]))));
  }

  /* ---------- toasts, notifications ---------- */

  function toast(text, kind, href) {
    const box = $('#toasts');
    const t = el('div', { class: ['toast', kind ? 't-' + kind : null], role: 'status' },
      href ? el('a', { href }, text) : el('span', null, text),
      el('button', { type: 'button', class: 'close', 'aria-label': 'dismiss' }, '×'));
    t.querySelector('.close').addEventListener('click', () => t.remove());
    box.appendChild(t);
    while (box.children.length > 5) box.removeChild(box.firstChild);
    setTimeout(() => t.remove(), 15000);
    return t;
  }

  function notifyEnabled() {
    return state.notify && 'Notification' in window && Notification.permission === 'granted';
  }

  function setupNotifications() {
    const btn = $('#notify-btn');
    if (!('Notification' in window)) {
      btn.hidden = true;
      return;
    }
    const sync = () => {
      state.notify = Notification.permission === 'granted' && localStorage.getItem('nc_notify') !== 'off';
      btn.textContent = state.notify ? 'Notifications on' : Notification.permission === 'denied' ? 'Notifications blocked' : 'Enable notifications';
      btn.classList.toggle('on', state.notify);
    };
    sync();
    btn.addEventListener('click', async () => {
      if (state.notify) {
        localStorage.setItem('nc_notify', 'off');
        return sync();
      }
      localStorage.removeItem('nc_notify');
      try {
        await Notification.requestPermission();
      } catch (e) { /* ignored */ }
      sync();
    });
  }

  function notify(title, body, href) {
    if (!notifyEnabled()) return;
    try {
      const n = new Notification(title, { body, tag: 'nightcore-' + Date.now() });
      n.onclick = () => { window.focus(); if (href) location.hash = href; };
    } catch (e) { /* ignored */ }
  }

  /* ---------- live events ---------- */

  // Server-Sent Events read with fetch (EventSource cannot send the session header).
  let es = null;
  function setConn(s) {
    const c = $('#conn');
    if (!c) return;
    c.className = 'conn conn-' + s;
    c.textContent = { live: 'live', connecting: 'connecting', offline: 'offline — retrying', expired: 'no session' }[s] || s;
    c.dataset.state = s;
  }

  const EVENT_TYPES = ['submission.created', 'submission.rejected', 'approval.created', 'approval.revoked', 'run.started', 'run.finished', 'alert'];

  // Parses an event stream into (type, data) calls; returns how the stream ended.
  async function readEvents(body, signal, onOpen) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let type = null;
    let data = [];
    onOpen();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) return;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data.length) {
            const t = type && EVENT_TYPES.includes(type) ? type : null;
            if (type === null || t || type === 'message') onEvent(t, data.join('\n'));
          }
          type = null;
          data = [];
        } else if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        // comments (": keepalive") and retry: lines are ignored
      }
      if (buf.length > 2 * 1024 * 1024) return; // a line that never ends: reconnect
    }
  }

  function connectEvents() {
    if (es) es.close();
    if (!state.secret) return;
    const ctl = new AbortController();
    const conn = { closed: false, close() { this.closed = true; ctl.abort(); } };
    es = conn;
    setConn('connecting');
    (async () => {
      try {
        const res = await fetch('/api/events', { credentials: 'omit', headers: Object.assign({ Accept: 'text/event-stream' }, authHeaders()), cache: 'no-store', signal: ctl.signal });
        if (res.status === 401) return sessionLost();
        if (!res.ok || !res.body) throw new Error('events: ' + res.status);
        await readEvents(res.body, ctl.signal, () => setConn('live'));
      } catch (e) { /* reconnect below */ }
      if (conn.closed || es !== conn) return;
      setConn('offline');
      setTimeout(() => { if (es === conn) connectEvents(); }, 3000);
    })();
  }

  function onEvent(type, data) {
    let ev;
    try { ev = JSON.parse(data); } catch (e) { return; }
    if (ev && ev.event && typeof ev.event === 'object') ev = ev.event;
    type = type || ev.type;
    if (!type) return;
    setConn('live');
    if (type === 'submission.created') {
      const s = ev.submission || {};
      const agent = s.agent || (typeof s.source === 'string' && s.source.startsWith('agent:') ? s.source.slice(6) : null);
      if (agent) {
        const text = `agent ${agent} submitted ${s.name} — review`;
        toast(text, 'info', '#/inbox/' + encodeURIComponent(s.id || ''));
        notify('Night Core: module submitted', text, '#/inbox/' + encodeURIComponent(s.id || ''));
      }
      bumpPending();
    } else if (type === 'alert') {
      const text = `alert ${ev.kind || ''}: ${ev.message || ''}`;
      toast(text, 'bad');
      if (ev.kind !== 'refused') notify('Night Core alert', text);
    } else if (type === 'run.finished' && state.route.page === 'runs' && state.route.id) {
      const r = ev.run || {};
      if (r.id === state.route.id) return render({ keepScroll: true });
    }
    if (type === 'submission.rejected' || type === 'approval.created') bumpPending();
    scheduleRefresh();
  }

  // the pending count in the nav, refreshed (debounced) from the dashboard endpoint's cheaper sibling
  let pendingTimer = null;
  function bumpPending() {
    if (pendingTimer) return;
    pendingTimer = setTimeout(() => {
      pendingTimer = null;
      api('/api/inbox' + qs({ status: 'pending', limit: 1, offset: 0 })).then((d) => updatePendingCount(d.total)).catch(() => {});
    }, REFRESH_MIN_MS);
  }

  /* ---------- the banner: what the operator must know about the setup ---------- */

  async function refreshBanner() {
    const box = $('#banner');
    let st;
    try {
      st = await api('/api/status');
    } catch (e) {
      return;
    }
    clear(box);
    const t = st.trust || {};
    if (st.dev_mode)
      append(box, el('div', { class: 'banner bad', id: 'banner-dev', role: 'alert' },
        'DEVELOPMENT MODE: the worker runs with --insecure-dev, so this console signs with approver keys that have no passphrase. Never use it like this with real agents.'));
    if (t.problem)
      append(box, el('div', { class: 'banner bad', id: 'banner-trust', role: 'alert' }, 'Trust store: ' + String(t.problem)));
    if (!t.root || !t.active_keys)
      append(box, el('div', { class: 'banner warn', id: 'banner-nokey' },
        'No approver key yet: nothing can be approved. On a terminal run `nightcore init --generate-key`, or use an existing OpenSSH or FIDO key with `nightcore init --approver-key KEY.pub`.'));
    if (st.deployment && st.deployment.note)
      append(box, el('div', { class: 'banner note', id: 'banner-deployment' }, String(st.deployment.note)));
  }

  /* ---------- start ---------- */

  /* ---------- no session: how to get a link ---------- */

  // Shown for "/" without a session, a used or expired link, and any 401 inside the page.
  function showNoSession(kind, message) {
    const main = $('#main');
    clear(main);
    main.dataset.page = 'no-session';
    for (const n of ['#nav', '#banner', '#notify-btn']) { const x = $(n); if (x) x.hidden = true; }
    $('#app').classList.add('bare');
    clear($('#worker-info'));
    const why = {
      none: 'This tab has no console session.',
      used: 'This link was already used or has expired: a console link works once, within 10 minutes of being made.',
      expired: 'This tab\'s console session has ended (the console restarted, or the session expired).',
    }[kind] || 'This tab has no console session.';
    append(main, el('section', { class: 'panel no-session', id: 'no-session' },
      el('h1', null, 'Night Core console: open a new link'),
      el('p', { id: 'no-session-why' }, why),
      message && kind !== 'none' ? el('p', { class: 'muted' }, String(message)) : null,
      el('p', null, 'On this machine, in a terminal of the user who runs the console, ask it for a new one-time link and open it in this browser:'),
      el('pre', { class: 'out', id: 'no-session-cmd' }, 'nightcore-console link'),
      el('p', { class: 'muted' }, 'Add --home DIR when the home is not $NIGHTCORE_HOME or ~/.nightcore. `make run` prints a new link too. Each link works once: the tab that opens it keeps its session across reloads; another tab needs its own link.')));
  }

  // ?token= in the address: take it out of the address bar at once, then exchange it (once).
  async function exchangeToken() {
    const params = new URLSearchParams(location.search);
    if (!params.has('token')) return 'none';
    const token = params.get('token') || '';
    history.replaceState(null, '', '/' + location.hash);
    let res;
    try {
      res = await fetch('/api/session', { method: 'POST', credentials: 'omit', cache: 'no-store', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ token }) });
    } catch (e) {
      return 'used';
    }
    if (!res.ok) return 'used';
    const s = await res.json();
    if (!s || typeof s.session !== 'string') return 'used';
    state.secret = s.session;
    try { sessionStorage.setItem(SESSION_KEY, s.session); } catch (e) { /* this tab only, then */ }
    return 'ok';
  }

  /* ---------- start ---------- */

  async function start() {
    setupNotifications();
    const exchanged = await exchangeToken();
    if (exchanged !== 'ok') {
      try { state.secret = sessionStorage.getItem(SESSION_KEY); } catch (e) { state.secret = null; }
    }
    if (!state.secret) {
      setConn('expired');
      return showNoSession(exchanged === 'used' ? 'used' : 'none');
    }
    window.addEventListener('hashchange', () => { if (state.secret) render(); });
    try {
      await loadSession();
    } catch (e) {
      if (e.status === 401) return; // sessionLost() has said what to do
      clear($('#main'));
      append($('#main'), [el('h1', null, 'Night Core console'), errorBox(e)]);
      return;
    }
    if (!location.hash) history.replaceState(null, '', '#/dashboard');
    refreshBanner();
    setInterval(() => { if (state.secret) refreshBanner(); }, 30000);
    connectEvents();
    bumpPending();
    render();
  }

  window.NightCore = { el, version: 1 }; // for tests and the curious; holds no secrets
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
