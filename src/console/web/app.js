/* Night Core console: single-page UI. Vanilla JS, no build step, no external assets.
 *
 * Every string that comes from the worker is attacker-controlled (module names, agent names,
 * descriptions, outputs, reasons): it is only ever inserted as text (el() / textContent), never as
 * HTML: this file uses no HTML-parsing DOM API and no eval.
 * Every list request is paginated (PAGE rows at most), and live updates are debounced. Counts and
 * charts come from the worker's aggregate queries (/api/dashboard), never from a page of rows.
 *
 * The session: the one-time link's token (?token=) leaves the address bar at once and is exchanged
 * (POST /api/session) for a session secret this tab keeps in sessionStorage and sends as
 * "Authorization: Bearer ..." on every API call. There is no cookie: nothing the browser would send
 * on its own (to another port of 127.0.0.1, say) is a credential. Reloading the tab keeps the
 * session; another tab needs its own link (nightcore-console link). Log out ends it on the console.
 *
 * Accessibility: every page sets the document title and moves focus to its heading; the nav marks
 * the current page (aria-current); the connection badge is a live region; every input has a label;
 * tables become labelled cards on narrow screens (CSS), so no page is wider than a phone. */
'use strict';

(function () {
  const PAGE = 50;
  const REFRESH_MIN_MS = 1000;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const OUTCOMES = ['ok', 'exit', 'trap', 'timeout', 'fuel', 'memory', 'output_limit', 'cancelled', 'crash', 'interrupted', 'running'];
  const EXPIRIES = [['1 hour', 3600], ['24 hours', 86400], ['7 days', 604800]];
  const SESSION_KEY = 'nc_session';
  const ENTRY_TYPES = ['submission', 'approval', 'rejection', 'revocation', 'run.start', 'run.end', 'run.refund',
    'artifact.rebuilt', 'alert', 'alert.ack', 'refused', 'refused.summary', 'trust.root', 'trust.add', 'trust.revoke',
    'trust.restore', 'agent.add', 'agent.remove', 'policy.set', 'worker.start', 'worker.stop'];

  const state = {
    secret: null,   // the session secret (sessionStorage); never in a URL, a cookie or the DOM
    session: null,
    policies: null,
    renderSeq: 0,
    refreshTimer: null,
    lastRefresh: 0,
    notify: false,
    route: { page: 'dashboard', id: null, params: new URLSearchParams() },
    live: true, // whether the current view refreshes on events
    events: 'connecting', // the console's event stream
    worker: 'unknown',    // up, down, unknown: what the worker itself is
    compiles: new Map(),  // submission id -> its latest approval.progress event
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
  let uid = 0;
  const nextId = (p) => (p || 'f') + '-' + (++uid);

  /* ---------- formatting: every time with its zone ---------- */

  const pad = (n) => String(n).padStart(2, '0');

  function offsetText(d) {
    const m = -d.getTimezoneOffset();
    const s = m >= 0 ? '+' : '−';
    return `${s}${pad(Math.floor(Math.abs(m) / 60))}:${pad(Math.abs(m) % 60)}`;
  }

  function localText(t) {
    const d = new Date(t * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${offsetText(d)}`;
  }

  function utcText(t) {
    return new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  // Text form: local time with its offset (the tooltip of timeEl shows UTC).
  function fmtTime(t) {
    if (t === null || t === undefined || !Number.isFinite(Number(t))) return '—';
    return localText(Number(t));
  }

  // <time>: local with the offset, UTC on hover and for screen readers' details.
  function timeEl(t, extra) {
    if (t === null || t === undefined || !Number.isFinite(Number(t))) return '—';
    t = Number(t);
    return el('time', { datetime: new Date(t * 1000).toISOString(), title: 'UTC: ' + utcText(t), class: 'ts' },
      localText(t), extra ? [' ', el('span', { class: 'muted' }, extra)] : null);
  }

  function fmtAge(t) {
    if (!t) return '—';
    const s = Math.max(0, Math.floor(Date.now() / 1000 - t));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }

  function ageEl(t) {
    if (!t) return '—';
    return el('time', { datetime: new Date(t * 1000).toISOString(), title: localText(t) + ' (UTC: ' + utcText(t) + ')', class: 'ts' }, fmtAge(t));
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

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : (many || one + 's')}`;
  }

  // A datetime-local value (the browser's zone) to unix seconds, and back.
  function fromLocalInput(v) {
    if (!v) return '';
    const d = new Date(v);
    return isNaN(d.getTime()) ? '' : String(Math.floor(d.getTime() / 1000));
  }

  function toLocalInput(t) {
    if (!t) return '';
    const d = new Date(Number(t) * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function localMidnight() {
    const d = new Date();
    d.setHours(0, 0, 0, 0);
    return Math.floor(d.getTime() / 1000);
  }

  /* ---------- words for what the worker says ---------- */

  const FACTOR_WORDS = {
    capability_network: 'imports network (socket) functions',
    capability_outside_wasi: 'imports functions outside WASI',
    capability_signals: 'can raise signals (proc_raise)',
    capability_filesystem: 'imports filesystem functions',
    capability_env: 'reads environment variables',
    capability_args: 'reads its arguments',
    capability_poll: 'polls or yields',
    capability_clocks: 'reads clocks',
    capability_random: 'reads random numbers',
    ungranted_capabilities: 'asks for capabilities the grant does not cover',
    requested_dirs: 'asks for directories',
    requested_rw_dirs: 'asks for read-write directories',
    requested_env: 'asks for environment variables',
    granted_rw_dirs: 'was granted read-write directories',
    granted_sensitive_dir: 'was granted a sensitive directory',
    granted_env: 'was granted environment variables',
    initial_memory: 'large initial memory',
    maximum_memory: 'declares a memory maximum above 64 MiB',
    unusual_memory: 'unusual memories (several, 64-bit or shared)',
    large_table: 'a very large table',
    module_size: 'a large module',
    many_imports: 'many imports',
    start_function: 'a start function (runs while loading)',
    unusual_custom_sections: 'unusual custom sections',
    unusual_custom_bytes: 'many bytes in unusual custom sections',
    suspicious_names: 'names with control or bidirectional characters',
    drift: 'same name as before, different bytes (drift)',
    drift_imports_added: 'imports added since the previous version',
    new_submitter: 'the first submission from this source',
    denied_calls: 'calls refused for lack of a capability',
    tried_network: 'tried to use the network',
    tried_escape: 'tried to leave its directories',
    tried_signal: 'tried to raise a signal',
    trap: 'the run trapped',
    timeout: 'the run timed out',
    crash: 'the sandbox crashed',
    limits_hit: 'resource limits hit',
    output_truncated: 'output cut at its limit',
  };

  function factorWords(id) {
    return FACTOR_WORDS[id] || String(id).replace(/_/g, ' ');
  }

  const ALERT_WORDS = {
    drift: 'Drift: new bytes under a known name',
    tamper: 'Tampering detected',
    hash_mismatch: 'Module bytes do not match their approval',
    artifact_rebuilt: 'Compiled artifact rebuilt',
    refused_signature: 'Signed request refused',
  };

  function scoreLevel(s) {
    return s >= 50 ? ['high', 'bad'] : s >= 20 ? ['medium', 'warn'] : ['low', 'good'];
  }

  function outcomeClass(o) {
    if (o === 'ok') return 'good';
    if (o === 'crash' || o === 'interrupted') return 'bad';
    if (o === 'running') return 'info';
    if (o === 'cancelled') return 'muted';
    return 'warn';
  }

  function badge(text, kind, extra) {
    return el('span', Object.assign({ class: ['badge', kind ? 'b-' + kind : null] }, extra || {}), text);
  }

  function outcomeBadge(o) {
    return el('span', { class: ['badge', 'outcome', 'b-' + outcomeClass(o)], dataset: { outcome: String(o) } }, String(o || '?'));
  }

  function scoreBadge(s) {
    if (typeof s !== 'number') return badge('—');
    const [lvl, k] = scoreLevel(s);
    return el('span', { class: ['badge', 'score', 'b-' + k], title: `${lvl} (0–19 low, 20–49 medium, 50–100 high)` }, String(s));
  }

  function driftBadge(d) {
    const st = d && d.state;
    if (st === 'drift') return badge('drift', 'bad');
    if (st === 'new') return badge('new', 'info');
    if (st === 'known') return badge('known', 'muted');
    return badge(st ? String(st) : '—');
  }

  // The status the operator can trust: an approved submission whose approvals can no longer run is
  // not shown green.
  function effectiveStatus(sub, approvalState) {
    const s = sub.status;
    if (s !== 'approved') return [String(s || '?'), { pending: 'info', rejected: 'bad', expired: 'muted' }[s] || 'muted'];
    const st = approvalState && approvalState.state;
    if (!st || st === 'active') return ['approved', 'good'];
    const words = { revoked: 'approved · revoked', expired: 'approved · expired', used_up: 'approved · used up', none: 'approved · no approval' };
    return [words[st] || 'approved · ' + st, st === 'revoked' ? 'bad' : 'muted'];
  }

  function statusBadge(sub, approvalState) {
    const [t, k] = effectiveStatus(sub, approvalState);
    return badge(t, k, { dataset: { status: t } });
  }

  function sourceText(sub) {
    if (sub.agent) return 'agent ' + sub.agent;
    return String(sub.source || '—');
  }

  function kv(rows, cls) {
    return el('dl', { class: ['kv', cls] }, rows.filter(Boolean).map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  // A table whose cells carry their column's name: on a narrow screen each row is a card.
  function table(headers, rows, cls, caption) {
    for (const tr of rows) {
      let i = 0;
      for (const td of tr.children) {
        if (td.tagName === 'TD' && headers[i] && !td.dataset.label) td.dataset.label = headers[i];
        i += Number(td.getAttribute('colspan') || 1);
      }
    }
    return el('table', { class: ['tbl', cls] },
      caption ? el('caption', { class: 'sr-only' }, caption) : null,
      el('thead', null, el('tr', null, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, rows.length ? rows : el('tr', null, el('td', { class: 'empty', colspan: headers.length }, 'Nothing here.'))));
  }

  function section(title, ...children) {
    const id = nextId('sec');
    return el('section', { class: 'panel', 'aria-labelledby': id }, el('h2', { id }, title), children);
  }

  function pre(text, cls) {
    return el('pre', { class: ['out', cls], tabindex: '0' }, text === null || text === undefined ? '' : String(text));
  }

  function link(href, text, cls) {
    return el('a', { href, class: cls }, text);
  }

  function moduleLink(name, cls) {
    if (!name) return '—';
    return link('#/modules/' + encodeURIComponent(name), String(name), cls);
  }

  function errorBox(err) {
    const code = err && err.code ? err.code : 'error';
    const msg = err && err.message ? err.message : String(err);
    return el('div', { class: 'error', role: 'alert' }, el('strong', null, code + ': '), msg);
  }

  // A labelled control: <label for> + the control (every input has a label).
  function field(label, control, cls) {
    if (!control.id) control.id = nextId('f');
    return el('div', { class: ['field', cls] }, el('label', { for: control.id }, label), control);
  }

  function select(options, value, attrs) {
    return el('select', attrs || null, options.map(([v, t]) => el('option', { value: v, selected: String(v) === String(value ?? '') }, t)));
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

  // A 401 means this tab's session is gone (the console restarted, the session expired, or this
  // tab logged out): forget it and say how to get a new link.
  function sessionLost(message, kind) {
    state.secret = null;
    state.renderSeq++; // renders under way are dropped
    try { sessionStorage.removeItem(SESSION_KEY); } catch (e) { /* ignored */ }
    if (es) es.close();
    setConn('expired');
    showNoSession(kind || 'expired', message);
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
    if (res.status === 502) setWorker('down');
    else if (res.ok) setWorker('up');
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

  // GET a file with the session header and hand it to the browser as a download.
  async function download(path, filename) {
    const res = await fetch(path, { credentials: 'omit', headers: authHeaders(), cache: 'no-store' });
    if (res.status === 401) return sessionLost();
    if (!res.ok) {
      let e = {};
      try { e = (await res.json()).error || {}; } catch (x) { /* not JSON */ }
      throw new ApiError(res.status, e.code || 'http_' + res.status, e.message || 'download failed (' + res.status + ')');
    }
    saveBlob(await res.blob(), filename);
  }

  function saveBlob(blob, filename) {
    const url = URL.createObjectURL(blob);
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
    append(info, ['worker ', el('code', null, String(s.worker_id || '?')), el('span', { class: 'version' }, ' · ' + String(s.version || ''))]);
    return s;
  }

  async function getPolicies(fresh) {
    if (!state.policies || fresh) {
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
    return el('nav', { class: 'pager', 'aria-label': 'Pages of results' },
      page > 1 ? link(hrefFor(page - 1), '← Previous', 'btn small prev') : el('span', { class: 'btn small disabled', 'aria-disabled': 'true' }, '← Previous'),
      el('span', { class: 'pager-info' }, `${first}–${last} of ${total || 0}`, ' · page ', String(page), ' of ', String(pages)),
      page < pages ? link(hrefFor(page + 1), 'Next →', 'btn small next') : el('span', { class: 'btn small disabled', 'aria-disabled': 'true' }, 'Next →'));
  }

  function listHref(base, params) {
    return '#/' + base + qs(params);
  }

  // A filter form whose values become the page's address (so a filtered view can be linked and
  // reloaded). fields: [[name, control]]; each control's value is read on submit.
  function filterForm(base, fields, label) {
    const form = el('form', { class: 'filters', role: 'search', 'aria-label': label || 'Filter' },
      fields.map(([, f]) => f),
      el('div', { class: 'filter-actions' },
        el('button', { class: 'btn small primary', type: 'submit' }, 'Apply'),
        link('#/' + base, 'Clear', 'btn small')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const p = {};
      for (const [name, f] of fields) {
        const c = f.querySelector('input, select') || f;
        let v = c.value;
        if (c.type === 'datetime-local') v = fromLocalInput(v);
        if (v !== '' && v !== undefined) p[name] = v.trim ? v.trim() : v;
      }
      location.hash = listHref(base, p);
    });
    return form;
  }

  /* ---------- routing ---------- */

  function parseRoute() {
    const h = location.hash.replace(/^#\/?/, '');
    const [pathPart, query] = h.split('?');
    const parts = pathPart.split('/').filter(Boolean).map((x) => { try { return decodeURIComponent(x); } catch (e) { return x; } });
    return { page: parts[0] || 'dashboard', id: parts[1] || null, params: new URLSearchParams(query || '') };
  }

  const PAGES = {
    dashboard: { title: 'Dashboard', render: renderDashboard, live: true },
    inbox: { title: 'Inbox', render: renderInbox, detail: renderSubmission, live: true },
    runs: { title: 'Runs', render: renderRuns, detail: renderRun, live: true },
    modules: { title: 'Modules', render: renderModules, detail: renderModule, live: true },
    alerts: { title: 'Alerts', render: renderAlerts, live: true },
    refusals: { title: 'Refusals', render: renderRefusals, live: false },
    audit: { title: 'Audit log', render: renderAudit, live: false },
    trust: { title: 'Trust store', render: renderTrust, live: false },
    agents: { title: 'Agents', render: renderAgents, live: true },
    policies: { title: 'Policies', render: renderPolicies, live: false },
  };

  function titleOf(route) {
    const def = PAGES[route.page];
    if (!def) return 'Not found';
    if (route.id && def.detail) return def.title + ': ' + route.id;
    return def.title;
  }

  async function render(opts) {
    opts = opts || {};
    const route = parseRoute();
    state.route = route;
    const def = PAGES[route.page];
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.page === route.page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const main = $('#main');
    const seq = ++state.renderSeq;
    const fn = !def ? renderNotFound : route.id && def.detail ? def.detail : def.render;
    // detail pages hold forms: they are not re-rendered by live updates (they update parts themselves)
    state.live = !!def && def.live && !(route.id && def.detail);
    let node;
    try {
      node = await fn(route);
    } catch (e) {
      node = el('div', null, el('h1', null, titleOf(route)), errorBox(e));
    }
    if (!state.secret) return; // the session ended meanwhile: the no-session page stays
    if (seq !== state.renderSeq) return; // a newer render started meanwhile
    const scroll = opts.keepScroll ? window.scrollY : 0;
    const active = document.activeElement && main.contains(document.activeElement) ? document.activeElement : null;
    const focused = active ? active.id : null;
    const headingFocused = !!active && active.tagName === 'H1';
    clear(main);
    main.appendChild(node);
    main.dataset.page = route.page + (route.id && def && def.detail ? '-detail' : '');
    main.dataset.rendered = String(seq);
    const h1 = main.querySelector('h1');
    document.title = (h1 ? h1.textContent.trim() : titleOf(route)) + ' · Night Core console';
    if (opts.keepScroll) {
      window.scrollTo(0, scroll);
      if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
      else if (headingFocused && h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: true }); }
    } else {
      window.scrollTo(0, 0);
      // a new page: focus its heading, so keyboard and screen-reader users start there
      if (h1) {
        h1.setAttribute('tabindex', '-1');
        h1.focus({ preventScroll: true });
      }
    }
  }

  async function renderNotFound() {
    return el('div', null, el('h1', null, 'Not found'), el('p', null, 'No such page. ', link('#/dashboard', 'Dashboard')));
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

  function sumValues(o) {
    return Object.values(o || {}).reduce((a, b) => a + (Number(b) || 0), 0);
  }

  async function renderDashboard() {
    const d = await api('/api/dashboard' + qs({ day_start: localMidnight() }));
    updatePendingCount(d.pending);
    const runsToday = d.runs_today || {};
    const totalToday = sumValues(runsToday);
    const audit = d.audit || {};
    const alerts = Array.isArray(d.alerts) ? d.alerts : [];
    const open = Number(d.alerts_open) || 0;
    const today = localMidnight();
    const card = (attrs, label, value, valueCls, sub) => el(attrs.href ? 'a' : 'div', Object.assign({ class: 'card' }, attrs),
      el('span', { class: 'card-label' }, label), el('span', { class: ['card-value', valueCls] }, value),
      sub ? el('span', { class: 'card-sub' }, sub) : null);
    const cards = el('div', { class: 'cards' },
      card({ href: '#/inbox', id: 'card-pending' }, 'Pending review', String(d.pending || 0), d.pending ? 'warn' : null,
        d.submissions && d.submissions.pending_drift ? plural(d.submissions.pending_drift, 'in drift') : null),
      card({ href: listHref('runs', { from: today }), id: 'card-runs' }, 'Runs today', String(totalToday), null,
        Object.keys(runsToday).length
          ? OUTCOMES.filter((o) => runsToday[o]).concat(Object.keys(runsToday).filter((o) => !OUTCOMES.includes(o)))
            .map((o) => el('span', { class: 'chip' }, outcomeBadge(o), ' ', String(runsToday[o])))
          : 'no runs yet'),
      card({ href: listHref('refusals', { from: today }), id: 'card-refused' }, 'Refusals today', String(d.refused_today || 0),
        d.refused_today ? 'warn' : null, 'agents, signatures, runs'),
      card({ href: '#/alerts', id: 'card-alerts' }, 'Open alerts', String(open), open ? 'bad' : 'good',
        open ? 'acknowledge them on the alerts page' : 'none open'),
      card({ href: '#/audit', id: 'card-audit' }, 'Audit chain', audit.ok ? 'intact' : 'BROKEN', audit.ok ? 'good' : 'bad',
        [String(audit.entries || 0) + ' entries', audit.error ? el('span', { class: 'bad' }, ' ' + String(audit.error)) : null]));

    const w = d.worker || {};
    const iso = w.isolation || {};
    const q = w.queue || {};
    const statusPanel = section('Worker', kv([
      ['uptime', w.uptime_s !== undefined ? Math.floor(w.uptime_s / 60) + ' min' : '—'],
      ['queue', `${q.running || 0} running, ${q.queued || 0} queued (limit ${q.limit ?? '?'}, queue ${q.queue_limit ?? '?'})`],
      ['isolation', Object.entries(iso).map(([k, v]) => el('span', { class: 'chip' }, k + ': ' + String(v)))],
      ['tiers', (Array.isArray(w.tiers) ? w.tiers : []).map((t) => el('div', { class: 'tier' },
        badge(String(t.tier), t.available ? 'good' : 'bad'), ' ',
        t.available ? 'available' : 'not available',
        t.accel && t.accel !== 'none' ? ` · accelerator ${t.accel}` : '',
        t.pool_size ? ` · pool ${t.pool_ready}/${t.pool_size} ready` : '',
        t.note ? el('div', { class: 'muted' }, String(t.note)) : ''))],
      ['trust store version', String(w.trust_version ?? '—')],
      ['totals', `${d.submissions ? d.submissions.total : '?'} submissions · ${d.runs_total ?? '?'} runs`],
    ]));

    const risky = ((d.submissions && d.submissions.riskiest_pending) || []).map((s) => el('li', null,
      scoreBadge(s.threat && s.threat.score), ' ', link('#/inbox/' + encodeURIComponent(s.id), String(s.name)), ' ',
      el('span', { class: 'muted' }, sourceText(s), ' · ', ageEl(s.created_at)), s.drift && s.drift.state === 'drift' ? [' ', driftBadge(s.drift)] : null));

    return el('div', null,
      el('h1', null, 'Dashboard'),
      cards,
      el('div', { class: 'grid2' },
        section('Runs per hour, last 24 hours', runsChart(d.runs_by_hour || [], 'hour', 'runs-chart')),
        section('Threat scores of submissions', scoreHistogram(d.score_histogram || []),
          el('p', { class: 'muted small' }, 'Every submission ever made, by its score at submission (0–19 low, 20–49 medium, 50–100 high).'))),
      el('div', { class: 'grid2' },
        section('Runs per day, last 30 days', runsChart(d.runs_by_day || [], 'day', 'days-chart')),
        section('Riskiest pending submissions', risky.length ? el('ul', { class: 'plain', id: 'riskiest' }, risky) : el('p', { class: 'muted' }, 'Nothing pending.'))),
      section('Open alerts', alertsTable(alerts, true),
        el('p', null, link('#/alerts?all=1', 'All alerts, acknowledged ones too'))),
      statusPanel);
  }

  function relatedLinks(a) {
    const out = [];
    if (a.name) out.push(moduleLink(a.name));
    if (a.submission) out.push(link('#/inbox/' + encodeURIComponent(a.submission), 'submission'));
    if (a.run) out.push(link('#/runs/' + encodeURIComponent(a.run), 'run'));
    if (a.kind === 'refused_signature') out.push(link('#/refusals', 'refusals'));
    if (a.seq !== null && a.seq !== undefined) out.push(link(listHref('audit', { seq: a.seq }), 'audit entry ' + a.seq));
    return out.length ? out.map((x, i) => [i ? ' · ' : null, x]) : '—';
  }

  function alertsTable(alerts, withAck) {
    const rows = alerts.slice(0, PAGE).map((a) => {
      const ack = a.acknowledged;
      const btn = !ack && withAck ? el('button', { type: 'button', class: 'btn small ack', dataset: { id: String(a.id) } }, 'Acknowledge') : null;
      if (btn) btn.addEventListener('click', () => acknowledge(a, btn));
      return el('tr', { dataset: { id: String(a.id) }, class: 'alert-row' },
        el('td', null, badge(ALERT_WORDS[a.kind] || String(a.kind || 'alert'), a.kind === 'artifact_rebuilt' ? 'warn' : 'bad')),
        el('td', null, String(a.message || '')),
        el('td', null, relatedLinks(a)),
        el('td', null, timeEl(a.at)),
        el('td', null, ack ? el('span', { class: 'acked' }, 'acknowledged ', timeEl(ack.at), ' (audit entry ', String(ack.seq), ')') : btn || 'open'));
    });
    return table(['alert', 'what happened', 'about', 'when', 'state'], rows, 'alerts', 'Alerts');
  }

  async function acknowledge(a, btn) {
    btn.disabled = true;
    try {
      const r = await api('/api/alerts/' + encodeURIComponent(a.id) + '/ack', { method: 'POST', body: {} });
      toast(`Acknowledged: ${ALERT_WORDS[a.kind] || a.kind} (audit entry ${r.acknowledged && r.acknowledged.seq})`, 'info');
      render({ keepScroll: true });
    } catch (e) {
      btn.disabled = false;
      toast(e.code + ': ' + e.message, 'bad');
    }
  }

  // Stacked bars per hour or day, one colour per outcome, with a legend of the same colours.
  function runsChart(rows, unit, id) {
    const W = 640, H = 220, padL = 44, padB = 28, padT = 10, padR = 8;
    const present = new Set();
    for (const r of rows) for (const k of Object.keys(r)) if (k !== unit && Number(r[k]) > 0) present.add(k);
    if (!rows.length || !present.size) return el('p', { class: 'muted chart-empty', id: id + '-empty' }, 'No runs in this period.');
    const order = OUTCOMES.filter((o) => present.has(o)).concat([...present].filter((o) => !OUTCOMES.includes(o)));
    const totals = rows.map((r) => order.reduce((a, o) => a + (Number(r[o]) || 0), 0));
    const max = Math.max(1, ...totals);
    const plotW = W - padL - padR, plotH = H - padT - padB;
    const bw = plotW / rows.length;
    const total = totals.reduce((a, b) => a + b, 0);
    const g = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', id,
      'aria-label': `runs per ${unit} by outcome: ${total} in all, at most ${max} in one ${unit}` });
    for (const t of niceTicks(max)) {
      const y = padT + plotH - (t / max) * plotH;
      g.appendChild(svg('line', { x1: padL, x2: W - padR, y1: y, y2: y, class: 'grid' }));
      g.appendChild(svg('text', { x: padL - 4, y: y + 4, class: 'axis', 'text-anchor': 'end' }, String(t)));
    }
    const every = Math.ceil(rows.length / (unit === 'day' ? 10 : 12));
    rows.forEach((r, i) => {
      let y = padT + plotH;
      const x = padL + i * bw + bw * 0.12;
      const w = Math.max(1, bw * 0.76);
      for (const o of order) {
        const n = Number(r[o]) || 0;
        if (!n) continue;
        const h = (n / max) * plotH;
        y -= h;
        g.appendChild(svg('rect', { x, y, width: w, height: h, class: 'bar oc-' + o, dataset: { outcome: o, n: String(n) } },
          svg('title', null, `${bucketLabel(r[unit], unit)}: ${n} ${o}`)));
      }
      if (i % every === 0)
        g.appendChild(svg('text', { x: padL + i * bw + bw / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, bucketShort(r[unit], unit)));
    });
    g.appendChild(svg('line', { x1: padL, x2: W - padR, y1: padT + plotH, y2: padT + plotH, class: 'axisline' }));
    const legend = el('ul', { class: 'legend', 'aria-label': 'outcomes' }, order.map((o) => el('li', { class: 'chip' },
      el('span', { class: 'swatch oc-' + o, dataset: { outcome: o }, 'aria-hidden': 'true' }), o, ' ',
      el('span', { class: 'muted' }, String(rows.reduce((a, r) => a + (Number(r[o]) || 0), 0))))));
    return el('div', null, g, legend);
  }

  function bucketLabel(t, unit) {
    if (typeof t !== 'number') return String(t);
    return unit === 'day' ? fmtTime(t).slice(0, 10) + ' ' + offsetText(new Date(t * 1000)) : fmtTime(t).slice(0, 16) + ' ' + offsetText(new Date(t * 1000));
  }

  function bucketShort(t, unit) {
    if (typeof t !== 'number') return String(t);
    const d = new Date(t * 1000);
    return unit === 'day' ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())}` : pad(d.getHours()) + 'h';
  }

  function niceTicks(max) {
    const step = max <= 5 ? 1 : Math.ceil(max / 4 / Math.pow(10, Math.floor(Math.log10(max / 4)))) * Math.pow(10, Math.floor(Math.log10(max / 4)));
    const out = [];
    for (let t = 0; t <= max; t += step) out.push(t);
    return out;
  }

  // Submissions by score bucket, stacked by status (the riskiest pending ones are on it).
  function scoreHistogram(buckets) {
    const W = 640, H = 220, padL = 44, padB = 28, padT = 10, padR = 8;
    const statuses = ['pending', 'approved', 'rejected', 'expired'];
    const rows = Array.from({ length: 10 }, (_, i) => (buckets[i] && typeof buckets[i] === 'object' ? buckets[i] : {}));
    const keys = new Set();
    for (const r of rows) for (const k of Object.keys(r)) if (k !== 'bucket' && Number(r[k]) > 0) keys.add(k);
    const order = statuses.filter((s) => keys.has(s)).concat([...keys].filter((k) => !statuses.includes(k)));
    const totals = rows.map((r) => order.reduce((a, k) => a + (Number(r[k]) || 0), 0));
    const total = totals.reduce((a, b) => a + b, 0);
    if (!total) return el('p', { class: 'muted chart-empty' }, 'No submissions yet.');
    const max = Math.max(1, ...totals);
    const plotW = W - padL - padR, plotH = H - padT - padB, bw = plotW / 10;
    const g = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', id: 'score-chart',
      'aria-label': `threat scores of ${total} submissions in ten buckets` });
    for (const t of niceTicks(max)) {
      const y = padT + plotH - (t / max) * plotH;
      g.appendChild(svg('line', { x1: padL, x2: W - padR, y1: y, y2: y, class: 'grid' }));
      g.appendChild(svg('text', { x: padL - 4, y: y + 4, class: 'axis', 'text-anchor': 'end' }, String(t)));
    }
    rows.forEach((r, i) => {
      const lo = i * 10, hi = i === 9 ? 100 : i * 10 + 9;
      let y = padT + plotH;
      for (const k of order) {
        const n = Number(r[k]) || 0;
        if (!n) continue;
        const h = (n / max) * plotH;
        y -= h;
        g.appendChild(svg('rect', { x: padL + i * bw + bw * 0.1, y, width: bw * 0.8, height: h, class: 'bar st-' + k, dataset: { status: k, n: String(n) } },
          svg('title', null, `score ${lo}–${hi}: ${n} ${k}`)));
      }
      g.appendChild(svg('text', { x: padL + i * bw + bw / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, `${lo}–${hi}`));
    });
    g.appendChild(svg('line', { x1: padL, x2: W - padR, y1: padT + plotH, y2: padT + plotH, class: 'axisline' }));
    const legend = el('ul', { class: 'legend', 'aria-label': 'statuses' }, order.map((k) => el('li', { class: 'chip' },
      el('span', { class: 'swatch st-' + k, 'aria-hidden': 'true' }), k, ' ',
      el('span', { class: 'muted' }, String(rows.reduce((a, r) => a + (Number(r[k]) || 0), 0))))));
    return el('div', null, g, legend);
  }

  function updatePendingCount(n) {
    const c = $('#nav-pending');
    if (c) {
      c.textContent = n ? String(n) : '';
      c.setAttribute('aria-label', n ? plural(n, 'pending submission') : '');
    }
  }

  /* ---------- inbox ---------- */

  const AGES = [['', 'any age'], ['3600', 'last hour'], ['86400', 'last 24 hours'], ['604800', 'last 7 days'], ['2592000', 'last 30 days'], ['-604800', 'older than 7 days']];
  const INBOX_SORTS = [['age:desc', 'newest first'], ['age:asc', 'oldest first'], ['score:desc', 'highest score first'], ['score:asc', 'lowest score first'], ['name:asc', 'name A–Z']];

  async function renderInbox(route) {
    const P = route.params;
    const status = P.get('status') || 'pending';
    const page = pageOf(P);
    const q = P.get('q') || '', minScore = P.get('min_score') || '', age = P.get('age') || '', sort = P.get('sort') || 'age:desc';
    const [sortKey, order] = sort.split(':');
    const now = Math.floor(Date.now() / 1000);
    const ageN = parseInt(age, 10);
    const from = ageN > 0 ? now - ageN : '', to = ageN < 0 ? now + ageN : '';
    const data = await api('/api/inbox' + qs({ status, q, min_score: minScore, from, to, sort: sortKey, order, limit: PAGE, offset: (page - 1) * PAGE }));
    const items = (data.items || []).slice(0, PAGE);
    if (status === 'pending' && !q && !minScore && !age) updatePendingCount(data.total);
    const rows = items.map((s) => el('tr', { class: 'rowlink', dataset: { id: String(s.id) }, onclick: (e) => { if (e.target.tagName !== 'A') location.hash = '#/inbox/' + encodeURIComponent(s.id); } },
      el('td', null, link('#/inbox/' + encodeURIComponent(s.id), String(s.name), 'sub-name')),
      el('td', null, sourceText(s)),
      el('td', { class: 'num' }, fmtBytes(s.size)),
      el('td', null, driftBadge(s.drift)),
      el('td', null, scoreBadge(s.threat && s.threat.score)),
      el('td', null, statusBadge(s, s.approval_state)),
      el('td', null, ageEl(s.created_at))));
    const keep = { q, min_score: minScore, age, sort: sort === 'age:desc' ? '' : sort };
    const tabs = el('nav', { class: 'tabs', 'aria-label': 'Status' },
      ['pending', 'approved', 'rejected', 'all'].map((s) => el('a', { href: listHref('inbox', Object.assign({ status: s }, keep)), class: s === status ? 'tab active' : 'tab', 'aria-current': s === status ? 'true' : null }, s)));
    const filters = filterForm('inbox', [
      ['status', el('input', { type: 'hidden', value: status })],
      ['q', field('Search', el('input', { type: 'search', value: q, placeholder: 'name, source, description, sha256', id: 'inbox-q' }))],
      ['min_score', field('Score at least', select([['', 'any'], ['20', '20 (medium)'], ['50', '50 (high)'], ['80', '80']], minScore, { id: 'inbox-score' }))],
      ['age', field('Submitted', select(AGES, age, { id: 'inbox-age' }))],
      ['sort', field('Sort', select(INBOX_SORTS, sort, { id: 'inbox-sort' }))],
    ], 'Filter submissions');
    return el('div', null,
      el('h1', null, 'Inbox'),
      el('p', { class: 'muted' }, 'Modules submitted by agents and by the operator. Nothing runs until you approve it by signing.'),
      tabs, filters,
      table(['name', 'source', 'size', 'drift', 'score', 'status', 'age'], rows, 'inbox', 'Submissions'),
      pager(data.total, page, (p) => listHref('inbox', Object.assign({ status, page: p }, keep))));
  }

  function capsWords(c) {
    if (!c) return ['—'];
    const out = [];
    out.push(c.args ? 'arguments' : 'no arguments');
    out.push(c.stdin ? 'standard input' : 'no standard input');
    const env = c.env && typeof c.env === 'object' ? Object.keys(c.env) : [];
    out.push(env.length ? 'environment ' + env.map((k) => `${k}=${c.env[k] === null ? '(chosen at approval)' : c.env[k]}`).join(', ') : 'no environment');
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

  // Which of the module's import capability groups a grant covers (docs/threat-score.md).
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

  const NEVER = { network: 'Night Core grants no network: every socket call is refused',
    signals: 'proc_raise is always refused',
    outside_wasi: 'nothing outside WASI is provided: the module will not instantiate' };

  // What is dangerous or will not work, before anything is signed.
  function dangers(sub, policy) {
    const out = [];
    const a = sub.analysis || {};
    const pc = (policy && policy.capabilities) || {};
    for (const cap of Object.keys(NEVER)) {
      const imps = (a.imports || []).filter((i) => i.capability === cap).map((i) => `${i.module}.${i.name}`);
      if (imps.length) out.push(['bad', 'Imports that will fail', `${imps.join(', ')}: ${NEVER[cap]}.`]);
    }
    if (a.wasi_unstable) out.push(['bad', 'Imports that will fail', 'legacy wasi_unstable imports: the module will not instantiate.']);
    for (const cap of a.capabilities || []) {
      if (!NEVER[cap] && !covered(cap, pc))
        out.push(['warn', 'Asked but not granted', `it imports ${cap} functions, which policy ${policy ? policy.name : '?'} does not grant: those calls will be refused.`]);
    }
    const req = sub.requested || {};
    const g = (sub.grantable || []).find((x) => policy && x.policy === policy.name);
    if (g && !g.allows_request) out.push(['warn', 'Asked but not granted', `the submission asks for more than policy ${g.policy} allows: ${g.why_not || ''}`]);
    for (const d of req.dirs || []) if (d.mode === 'rw') out.push(['bad', 'Read-write grant', `asks to write to ${d.host} (as ${d.guest}).`]);
    for (const d of pc.dirs || []) if (d.mode === 'rw') out.push(['bad', 'Read-write grant', `policy ${policy.name} grants write access to ${d.host} (as ${d.guest}).`]);
    if (a.has_start) out.push(['warn', 'Runs while loading', 'it has a start function, which runs during instantiation, before _start.']);
    return out;
  }

  // What the module may touch if approved under this policy, in words.
  function touchWords(sub, policy) {
    const pc = (policy && policy.capabilities) || {};
    const lim = policy && policy.limits;
    return el('ul', { class: 'touch' },
      capsWords(pc).map((w) => el('li', { class: /READ-WRITE/.test(w) ? 'bad' : null }, w)),
      el('li', null, 'no network, nothing outside WASI'),
      lim ? el('li', null, 'limits: ' + limitsWords(lim)) : null);
  }

  function topFactors(threat, n) {
    const f = ((threat && threat.factors) || []).slice().sort((a, b) => b.points - a.points).slice(0, n);
    if (!f.length) return el('p', { class: 'muted' }, 'No factor adds to the score.');
    return el('ol', { class: 'factors-top' }, f.map((x) => el('li', null, el('strong', null, factorWords(x.factor)), ` (+${x.points})`,
      x.detail ? el('span', { class: 'muted' }, ': ' + String(x.detail)) : null)));
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
      el('td', null, covered(c, pc) ? badge('covered', 'good') : badge(NEVER[c] ? 'will fail' : 'not granted', NEVER[c] ? 'bad' : 'warn'))));
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
        a.counts ? ['counts', Object.entries(a.counts).map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`).join(' · ')] : null,
      ]),
      el('h3', null, 'Imports by capability'),
      impBlocks.length ? impBlocks : el('p', { class: 'muted' }, 'No imports.'),
      el('h3', null, 'Exports'),
      (a.exports || []).length ? el('ul', { class: 'mono inline' }, a.exports.map((e) => el('li', null, String(e.name), ' ', el('span', { class: 'muted' }, String(e.kind))))) : el('p', { class: 'muted' }, 'No exports.'),
      el('h3', null, 'Memory'),
      table(['min pages', 'max pages', 'initial', 'flags'], mems, 'mems'),
      customs.length ? [el('h3', null, 'Custom sections'), table(['name', 'size', 'kind'], customs, 'customs')] : null);
  }

  function factorsTable(threat) {
    const f = (threat && threat.factors) || [];
    const s = threat && threat.score;
    return el('div', null,
      el('p', null, 'Score ', scoreBadge(s), typeof s === 'number' ? ` of 100: ${scoreLevel(s)[0]}` : null,
        el('span', { class: 'muted' }, ' (0–19 low, 20–49 medium, 50–100 high). The score helps review; it never approves anything.')),
      table(['factor', 'points', 'detail'], f.map((x) => el('tr', null, el('td', { title: String(x.factor) }, factorWords(x.factor)), el('td', { class: 'num' }, '+' + String(x.points)), el('td', null, String(x.detail || '')))), 'factors'));
  }

  function approvalState(a) {
    const now = Date.now() / 1000;
    if (a.revoked) return ['revoked', 'bad'];
    if (a.expires_at && a.expires_at <= now) return ['expired', 'muted'];
    if (a.not_before && a.not_before > now) return ['not yet valid', 'info'];
    if (a.max_runs && a.runs >= a.max_runs) return ['used up', 'muted'];
    return ['active', 'good'];
  }

  function approvalLink(a) {
    return link('#/modules/' + encodeURIComponent(a.name) + '?approval=' + encodeURIComponent(a.id), shortHash(a.id, 12), 'approval-link');
  }

  // The approvals' own state: a submission whose approvals are all revoked is not "approved".
  function approvalsSummary(aps) {
    const st = { active: 0, total: aps.length, revoked: 0, expired: 0, used_up: 0 };
    for (const a of aps) {
      const [s] = approvalState(a);
      if (s === 'active') st.active++;
      else if (s === 'revoked') st.revoked++;
      else if (s === 'expired') st.expired++;
      else st.used_up++;
    }
    st.state = !st.total ? 'none' : st.active ? 'active' : st.revoked === st.total ? 'revoked' : st.expired && st.expired + st.revoked === st.total ? 'expired' : 'used_up';
    return st;
  }

  /* ---------- the review page: the decision first ---------- */

  // An approval of this submission while the worker compiles its module (approval.progress
  // events, whoever signed: this page, another tab, the CLI): the approval exists only once
  // the compile has finished.
  function showCompile(box, ev) {
    clear(box);
    box.className = '';
    box.dataset.phase = ev ? String(ev.phase) : '';
    if (!ev) return;
    const secs = (ms) => (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s';
    const size = fmtBytes(ev.module_bytes);
    if (ev.phase === 'queued' || ev.phase === 'compiling') {
      box.className = 'working';
      append(box, ev.phase === 'queued'
        ? ['Signed. Waiting to compile the module (', size, '): other modules are compiling; ', secs(ev.elapsed_ms), ' so far.']
        : ['Signed. The worker is compiling the module (', size, ') in its sandbox: ', secs(ev.elapsed_ms), ' so far. ',
          el('span', { class: 'muted' }, 'The approval is recorded once this finishes; everything else keeps working meanwhile.')]);
    } else if (ev.phase === 'compiled') {
      box.className = 'success';
      append(box, ['Compiled in ', secs(ev.elapsed_ms), ' (artifact ', fmtBytes(ev.artifact_bytes), ').']);
    } else if (ev.phase === 'failed') {
      box.className = 'error';
      const err = ev.error && typeof ev.error === 'object' ? ev.error : {};
      append(box, ['Compiling failed (', String(err.code || 'internal'), '): ', String(err.message || ''), '. Nothing was approved.']);
    }
  }

  function onCompileProgress(ev) {
    if (typeof ev.submission !== 'string') return;
    state.compiles.set(ev.submission, ev);
    const box = document.getElementById('compile-status');
    if (box && box.dataset.submission === ev.submission) showCompile(box, ev);
  }

  async function renderSubmission(route) {
    const id = route.id;
    const [sub, policies, agents] = await Promise.all([
      api('/api/submissions/' + encodeURIComponent(id)),
      getPolicies().catch(() => []),
      api('/api/agents').then((a) => (a.items || []).filter((x) => !x.removed)).catch(() => []),
    ]);
    const named = await api('/api/approvals' + qs({ name: sub.name, limit: PAGE })).catch(() => ({ items: [] }));
    const mine = (named.items || []).filter((a) => a.submission === sub.id);
    const apState = approvalsSummary(mine);
    const notice = state.flash && state.flash.id === sub.id ? state.flash : null;
    state.flash = null;

    const policySel = select(policies.map((p) => [p.name, `${p.name} (v${p.version ?? 1})`]), 'default', { id: 'f-policy', name: 'policy' });
    const policyNow = () => policies.find((p) => p.name === policySel.value);
    const touchBox = el('div', { id: 'touch' });
    const dangerBox = el('div', { id: 'dangers' });
    const compareBox = el('div', { id: 'caps-compare' });
    const showPolicy = () => {
      const pol = policyNow();
      clear(touchBox);
      append(touchBox, [el('h3', null, 'If approved under ', pol ? pol.name : '?', ', it can touch'), touchWords(sub, pol)]);
      clear(dangerBox);
      const ds = dangers(sub, pol);
      if (ds.length)
        append(dangerBox, el('div', { class: 'dangers', role: 'alert' }, el('h3', null, 'Before you sign'),
          el('ul', null, ds.map(([k, t, d]) => el('li', { class: 'danger-' + k, dataset: { kind: t } }, badge(t, k), ' ', d)))));
      else append(dangerBox, el('p', { class: 'good', id: 'no-dangers' }, 'Nothing it imports will fail under this policy, and it asks for nothing the policy does not grant.'));
      clear(compareBox);
      compareBox.appendChild(capsCompare(sub, pol));
    };
    showPolicy();
    policySel.addEventListener('change', showPolicy);

    const score = sub.threat && sub.threat.score;
    const drift = sub.drift || {};
    const canApprove = sub.status === 'pending' || sub.status === 'approved';
    const approveBox = canApprove ? approveForm(sub, policySel, agents) : null;
    const rejectBox = sub.status === 'pending' ? rejectForm(sub) : null;
    const jump = (target, label, cls, idAttr) => {
      const b = el('button', { type: 'button', class: ['btn', cls], id: idAttr }, label);
      b.addEventListener('click', () => {
        const t = document.getElementById(target);
        if (t) { t.scrollIntoView({ block: 'start' }); const f = t.querySelector('select, input, textarea, button'); if (f) f.focus(); }
      });
      return b;
    };

    const compileBox = el('div', { id: 'compile-status', role: 'status', 'aria-live': 'polite', dataset: { submission: sub.id } });
    showCompile(compileBox, state.compiles.get(sub.id));
    const summary = el('section', { class: ['panel', 'decision', 'dec-' + sub.status], id: 'decision', 'aria-labelledby': 'decision-h' },
      el('h2', { id: 'decision-h' }, 'Decision'),
      notice ? el('div', { class: 'success', id: 'approved', role: 'status' }, notice.text, ' ', notice.links) : null,
      compileBox,
      el('div', { class: 'decision-grid' },
        el('div', null,
          el('h3', null, 'Threat score'),
          el('p', { class: 'score-line' }, scoreBadge(score), typeof score === 'number' ? ` ${score} of 100 — ${scoreLevel(score)[0]}` : ' not scored',
            el('span', { class: 'muted' }, ' (0–19 low, 20–49 medium, 50–100 high)')),
          topFactors(sub.threat, 3),
          el('h3', null, 'Drift'),
          el('p', { id: 'drift-line' }, driftBadge(drift), ' ', drift.state === 'drift'
            ? ['this name was approved or submitted before with other bytes: ', link('#drift-details', 'what changed')]
            : drift.state === 'known' ? 'these exact bytes were approved before under this name'
              : 'the first submission of this name')),
        el('div', null, touchBox)),
      dangerBox,
      sub.status === 'approved' ? el('div', { id: 'approvals-now' }, el('h3', null, 'Approvals'),
        mine.length ? el('ul', { class: 'plain' }, mine.map((a) => { const [st, k] = approvalState(a); return el('li', null, approvalLink(a), ' ', badge(st, k), ` ${a.runs ?? 0} of ${a.max_runs} runs used, `, 'expires ', timeEl(a.expires_at), ', by ', String(a.approver || '?')); }))
          : el('p', { class: 'muted' }, 'none')) : null,
      sub.status === 'rejected' ? el('p', null, 'Rejected: ', el('span', { class: 'desc', id: 'sub-reason' }, String(sub.reason || ''))) : null,
      el('div', { class: 'actions' },
        canApprove ? jump('approve-panel', sub.status === 'approved' ? 'Approve again…' : 'Approve…', 'primary', 'btn-go-approve') : null,
        sub.status === 'pending' ? jump('reject-panel', 'Reject…', 'danger', 'btn-go-reject') : null,
        !canApprove ? el('span', { class: 'muted' }, 'Nothing to decide: this submission is ' + sub.status + '.') : null));

    const header = el('div', { class: 'subhead' },
      el('p', { class: 'crumbs' }, link('#/inbox', '← Inbox'), ' · ', moduleLink(sub.name)),
      el('h1', null, 'Review ', el('span', { id: 'sub-name' }, String(sub.name)), ' ', statusBadge(sub, apState)),
      kv([
        ['submitted by', sourceText(sub)],
        ['submitted', timeEl(sub.created_at, '(' + fmtAge(sub.created_at) + ')')],
        ['sha256', el('code', { class: 'hash' }, String(sub.sha256))],
        ['size', fmtBytes(sub.size)],
        ['id', el('code', null, String(sub.id))],
        ['description', sub.description ? el('div', { class: 'desc', id: 'sub-description' }, String(sub.description)) : el('span', { class: 'muted' }, 'none')],
      ], 'compact'));

    const driftBox = drift.state === 'drift' ? await driftDetails(sub, named.items || []) : null;
    return el('div', null,
      header,
      summary,
      approveBox,
      rejectBox,
      driftBox,
      section('Threat factors', factorsTable(sub.threat)),
      section('Requested capabilities and the policy', compareBox),
      section('Analysis', analysisView(sub.analysis)));
  }

  // Drift: the previous version, who sent it, what is approved for it, what approving this one
  // changes for `run NAME`, and a diff of the two modules.
  async function driftDetails(sub, approvals) {
    const d = sub.drift || {};
    const prevSha = d.previous_sha256;
    let prev = null;
    if (prevSha) {
      const r = await api('/api/inbox' + qs({ name: sub.name, sha256: prevSha, status: 'all', limit: 1 })).catch(() => null);
      const p = r && r.items && r.items[0];
      if (p) prev = await api('/api/submissions/' + encodeURIComponent(p.id)).catch(() => p);
    }
    const prevAps = approvals.filter((a) => a.sha256 === prevSha);
    const active = prevAps.filter((a) => approvalState(a)[0] === 'active');
    const invokersOld = [...new Set(active.flatMap((a) => a.invokers || []))];
    const ch = d.changes || {};
    const a1 = (prev && prev.analysis) || {}, a2 = sub.analysis || {};
    const names = (xs, f) => new Set((xs || []).map(f));
    const diffRow = (what, olds, news) => {
      const added = [...news].filter((x) => !olds.has(x)), removed = [...olds].filter((x) => !news.has(x));
      return el('tr', null, el('td', null, what),
        el('td', null, added.length ? el('ul', { class: 'mono added' }, added.map((x) => el('li', null, x))) : el('span', { class: 'muted' }, 'none')),
        el('td', null, removed.length ? el('ul', { class: 'mono removed' }, removed.map((x) => el('li', null, x))) : el('span', { class: 'muted' }, 'none')));
    };
    const imp = (i) => `${i.module}.${i.name}`;
    const rows = prev && prev.analysis ? [
      diffRow('imports', names(a1.imports, imp), names(a2.imports, imp)),
      diffRow('exports', names(a1.exports, (e) => `${e.name} (${e.kind})`), names(a2.exports, (e) => `${e.name} (${e.kind})`)),
      diffRow('custom sections', names(a1.custom_sections, (c) => `${c.name} (${fmtBytes(c.size)})`), names(a2.custom_sections, (c) => `${c.name} (${fmtBytes(c.size)})`)),
      el('tr', null, el('td', null, 'size'), el('td', { colspan: 2 }, `${fmtBytes(prev.size)} → ${fmtBytes(sub.size)} (${fmtDelta(sub.size - prev.size)})`)),
      el('tr', null, el('td', null, 'initial memory'), el('td', { colspan: 2 },
        `${fmtBytes(((a1.memories || [])[0] || {}).min_pages * 65536 || 0)} → ${fmtBytes(((a2.memories || [])[0] || {}).min_pages * 65536 || 0)}`)),
    ] : [
      diffRow('imports', new Set(ch.imports_removed || []), new Set(ch.imports_added || [])),
      el('tr', null, el('td', null, 'size'), el('td', { colspan: 2 }, fmtDelta(ch.size_delta))),
    ];
    return el('section', { class: 'panel', id: 'drift-details', 'aria-labelledby': 'drift-h' },
      el('h2', { id: 'drift-h' }, 'Drift: what changed since the previous version'),
      kv([
        ['previous version', prev ? [link('#/inbox/' + encodeURIComponent(prev.id), shortHash(prevSha, 16), 'prev-version'), ' (', String(prev.status), ')']
          : el('code', null, shortHash(prevSha, 16))],
        ['its author', prev ? el('strong', { id: 'prev-author' }, sourceText(prev)) : 'unknown', prev ? [' on ', timeEl(prev.created_at)] : null],
        ['this version', [el('code', null, shortHash(sub.sha256, 16)), ' by ', el('strong', null, sourceText(sub)),
          prev && sourceText(prev) !== sourceText(sub) ? [' ', badge('another author', 'bad')] : null]],
        ['its active approvals', active.length ? el('ul', { class: 'plain', id: 'prev-approvals' }, active.map((a) => el('li', null, approvalLink(a), ` ${a.runs ?? 0} of ${a.max_runs} runs used, expires `, timeEl(a.expires_at), ', may be run by ', (a.invokers || []).join(', '))))
          : 'none active'],
      ]),
      el('h3', null, 'What approving this version changes'),
      el('p', { id: 'run-name-change' }, active.length
        ? ['Today ', el('code', null, 'run ' + sub.name), ' runs the previous version (', el('code', null, shortHash(prevSha, 12)), ') for ',
          invokersOld.join(', '), '. Once you approve this one, ', el('code', null, 'run ' + sub.name), ' runs ', el('strong', null, 'this version'),
          ' (', el('code', null, shortHash(sub.sha256, 12)), ') for whoever you let run it: the newest approval that passes every check wins. ',
          'The previous version\'s approvals stay valid: they still run by approval id or sha256 prefix, and by name for anyone this approval does not name. Revoke them on the module page if this version replaces them.']
        : ['No approval of the previous version is active: approving this one makes ', el('code', null, 'run ' + sub.name), ' run this version.']),
      el('h3', null, 'Module diff'),
      table(['', 'added in this version', 'removed'], rows, 'drift-diff'));
  }

  function approveForm(sub, policySel, agents) {
    const maxRuns = el('input', { id: 'f-maxruns', type: 'number', min: '1', max: '1000000000', value: '10', required: true });
    const expiry = select(EXPIRIES.map(([t, s]) => [s, t]), 86400, { id: 'f-expiry' });
    const invokerBoxes = [el('label', { class: 'check' }, el('input', { type: 'checkbox', value: 'operator', checked: true, class: 'f-invoker' }), ' operator (you, CLI and console)')];
    const names = new Set(agents.map((a) => a.name));
    if (sub.agent) names.add(sub.agent);
    for (const n of [...names].sort())
      invokerBoxes.push(el('label', { class: 'check' }, el('input', { type: 'checkbox', value: 'agent:' + n, class: 'f-invoker' }), ' agent ', el('strong', null, n), n === sub.agent ? el('span', { class: 'muted' }, ' (the submitter)') : null));
    const pass = el('input', { id: 'f-passphrase', type: 'password', autocomplete: 'off', spellcheck: 'false' });
    const signerBox = el('div', { class: 'signer', id: 'signer' });
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
    const msg = el('div', { id: 'approve-msg', role: 'status' });
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

    const prepareBtn = el('button', { type: 'button', class: 'btn', id: 'btn-prepare' }, 'Prepare the statement');
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

    return el('section', { class: 'panel', id: 'approve-panel', 'aria-labelledby': 'approve-h' },
      el('h2', { id: 'approve-h' }, 'Approve'),
      el('form', { class: 'form', id: 'approve-form', onsubmit: (e) => e.preventDefault() },
        field('Policy', policySel),
        field('Max runs', maxRuns),
        field('Expires after', expiry),
        el('fieldset', null, el('legend', null, 'Who may run it'), invokerBoxes),
        grantsSet,
        signerBox,
        field('Key passphrase (for a key that has one)', pass),
        el('div', { class: 'actions' }, prepareBtn)),
      out, msg);
  }

  async function sha256hex(data) {
    if (!(window.crypto && crypto.subtle)) return null;
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const buf = await crypto.subtle.digest('SHA-256', bytes);
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
        el('li', { id: 'statement-validity' }, 'valid from ', timeEl(p.not_before ?? s.not_before), ' until ', el('strong', null, timeEl(p.expires_at ?? s.expires_at)),
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
    append(msg, el('p', { class: 'muted', id: 'approve-wait' }, 'Signing; then the worker compiles the module (its progress shows under Decision, above).'));
    try {
      const a = await api('/api/submissions/' + encodeURIComponent(sub.id) + '/approve', { method: 'POST', body });
      body.passphrase = undefined;
      // the new state at the top: the page again, with the approval as a link
      state.flash = { id: sub.id, text: ['Approved ', el('strong', null, String(a.name || sub.name)), ': approval '],
        links: [approvalLink(a), ', ', String(a.max_runs), ' runs, expires ', timeEl(a.expires_at), '.'] };
      await render();
    } catch (e) {
      body.passphrase = undefined;
      clear(msg);
      append(msg, errorBox(e));
      btn.disabled = false;
    }
  }

  function rejectForm(sub) {
    const reason = el('textarea', { id: 'f-reason', rows: '2', maxlength: '1000' });
    const msg = el('div', { id: 'reject-msg', role: 'status' });
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
    return el('section', { class: 'panel', id: 'reject-panel', 'aria-labelledby': 'reject-h' }, el('h2', { id: 'reject-h' }, 'Reject'),
      el('form', { class: 'form', onsubmit: (e) => e.preventDefault() },
        field('Reason (recorded in the audit log and shown to the agent)', reason, 'wide'), el('div', { class: 'actions' }, btn)), msg);
  }

  /* ---------- runs ---------- */

  const RUN_SORTS = [['started:desc', 'newest first'], ['started:asc', 'oldest first'], ['duration:desc', 'longest first'], ['score:desc', 'highest score first']];

  function exitText(r) {
    return r.exit_code === undefined || r.exit_code === null ? '—' : String(r.exit_code);
  }

  async function renderRuns(route) {
    const P = route.params;
    const page = pageOf(P);
    const f = { name: P.get('name') || '', outcome: P.get('outcome') || '', invoker: P.get('invoker') || '', from: P.get('from') || '', to: P.get('to') || '', sort: P.get('sort') || 'started:desc' };
    const [sortKey, order] = f.sort.split(':');
    const data = await api('/api/runs' + qs({ name: f.name, outcome: f.outcome, invoker: f.invoker, from: f.from, to: f.to, sort: sortKey, order, limit: PAGE, offset: (page - 1) * PAGE }));
    const items = (data.items || []).slice(0, PAGE);
    const rows = items.map((r) => el('tr', { class: ['rowlink', 'run-row'], dataset: { id: String(r.id) }, onclick: (e) => { if (e.target.tagName !== 'A') location.hash = '#/runs/' + encodeURIComponent(r.id); } },
      el('td', null, el('a', { href: '#/runs/' + encodeURIComponent(r.id), class: 'run-link' }, timeEl(r.started_at))),
      el('td', null, moduleLink(r.name)),
      el('td', null, String(r.invoker || '—')),
      el('td', null, outcomeBadge(r.outcome)),
      el('td', { class: 'num' }, exitText(r)),
      el('td', { class: 'num' }, r.duration_ms === undefined ? '—' : r.duration_ms + ' ms'),
      el('td', { class: 'num' }, r.denied_calls ? badge(String(r.denied_calls), 'warn') : '0'),
      el('td', null, scoreBadge(r.threat && r.threat.score))));
    const filters = filterForm('runs', [
      ['name', field('Module', el('input', { type: 'search', value: f.name, id: 'runs-filter', placeholder: 'module name' }))],
      ['outcome', field('Outcome', select([['', 'any']].concat(OUTCOMES.map((o) => [o, o])), f.outcome, { id: 'runs-outcome' }))],
      ['invoker', field('Invoker', el('input', { type: 'text', value: f.invoker, id: 'runs-invoker', placeholder: 'operator or agent:NAME' }))],
      ['from', field('From', el('input', { type: 'datetime-local', value: toLocalInput(f.from), id: 'runs-from' }))],
      ['to', field('Until', el('input', { type: 'datetime-local', value: toLocalInput(f.to), id: 'runs-to' }))],
      ['sort', field('Sort', select(RUN_SORTS, f.sort, { id: 'runs-sort' }))],
    ], 'Filter runs');
    const keep = Object.assign({}, f, { sort: f.sort === 'started:desc' ? '' : f.sort });
    return el('div', null,
      el('h1', null, 'Runs'),
      el('p', { class: 'muted' }, 'Every run, newest first; updates live. Times are local (', offsetText(new Date()), '); hover a time for UTC.'),
      filters,
      el('p', { class: 'count', id: 'runs-total' }, plural(data.total || 0, 'run'), f.name || f.outcome || f.invoker || f.from || f.to ? ' match' : ''),
      table(['started', 'module', 'invoker', 'outcome', 'exit', 'duration', 'denied', 'score'], rows, 'runs', 'Runs'),
      pager(data.total, page, (p) => listHref('runs', Object.assign({ page: p }, keep))));
  }

  // The engine's message: its first line is the cause; the rest (a backtrace) behind a toggle.
  function causeView(r) {
    const m = String(r.message || '').trim();
    if (!m) return null;
    const lines = m.split('\n');
    let cause = lines[0].replace(/^error while executing at wasm backtrace:\s*/i, '').trim();
    const rest = lines.slice(1).join('\n').trim();
    const trap = lines.find((l) => /^Caused by:|^\s*\d+: /.test(l) === false && /trap|unreachable|out of bounds|overflow|divide|stack|fuel|interrupt/i.test(l));
    if (/backtrace/i.test(lines[0]) && trap && trap !== lines[0]) cause = trap.trim();
    if (cause.length > 200) cause = cause.slice(0, 197) + '…';
    return el('div', { id: 'run-cause' }, el('span', { class: 'cause' }, cause),
      rest ? el('details', { id: 'run-backtrace' }, el('summary', null, 'Engine message in full'), pre(m, 'backtrace')) : null);
  }

  function fuelText(r) {
    if (r.fuel_used === undefined || r.fuel_used === null) return '—';
    if (r.fuel_used === 0 && r.outcome === 'timeout') return 'not known (the deadline stopped it outside a host call)';
    return String(r.fuel_used);
  }

  async function renderRun(route) {
    const id = route.id;
    const r = await api('/api/runs/' + encodeURIComponent(id));
    const receiptBox = el('div', { id: 'receipt' }, el('p', { class: 'muted' }, 'Loading the receipt…'));
    if (r.outcome === 'running') {
      clear(receiptBox);
      append(receiptBox, el('p', { class: 'muted' }, 'The run is in progress; the receipt exists once it finishes.'));
    } else {
      api('/api/runs/' + encodeURIComponent(id) + '/receipt').then(async (rc) => {
        clear(receiptBox);
        append(receiptBox, await proofView(rc, 'receipt'));
        const dl = el('button', { type: 'button', class: 'btn small', id: 'receipt-download' }, 'Download the receipt (JSON)');
        dl.addEventListener('click', () => saveBlob(new Blob([JSON.stringify({
          run: rc.run, seq: rc.seq, entry: rc.entry, leaf: rc.leaf, size: rc.size, proof: rc.proof, checkpoint: rc.checkpoint,
          verifier_key: rc.verifier_key,
          how_to_check: 'leaf = sha256(0x00 || entry); fold the proof (RFC 9162 2.1.3.2) to the root on the checkpoint\'s third line; check the note\'s signature with verifier_key (a C2SP signed note); or run: nightcore runs show RUN --receipt',
        }, null, 2)], { type: 'application/json' }), 'nightcore-receipt-' + rc.run + '.json'));
        append(receiptBox, el('div', { class: 'actions' }, dl));
      }).catch((e) => { clear(receiptBox); append(receiptBox, errorBox(e)); });
    }
    const denied = (r.denied || []).map((d) => el('tr', null, el('td', { class: 'mono' }, String(d.call)), el('td', null, String(d.reason || '')), el('td', null, String(d.detail || ''))));
    const wasi = Object.entries(r.wasi_calls || {}).sort((a, b) => b[1] - a[1]).map(([k, v]) => el('tr', null, el('td', { class: 'mono' }, k), el('td', { class: 'num' }, String(v))));
    const iso = r.isolation && typeof r.isolation === 'object' ? Object.entries(r.isolation).map(([k, v]) => [k.replace(/_/g, ' '), anyValue(k, v)]) : [];
    const outBlock = (label, text, trunc, oid) => el('div', { class: 'stream' },
      el('h3', null, label, trunc ? badge('truncated', 'warn') : null, text ? el('span', { class: 'muted' }, ` ${new TextEncoder().encode(text).length} bytes`) : null),
      el('pre', { class: 'out', id: oid, tabindex: '0' }, text ? String(text) : ''));
    return el('div', null,
      el('p', { class: 'crumbs' }, link('#/runs', '← Runs'), ' · ', moduleLink(r.name)),
      el('h1', null, 'Run of ', String(r.name), ' ', outcomeBadge(r.outcome)),
      causeView(r),
      kv([
        ['id', el('code', null, String(r.id))],
        ['module sha256', el('code', { class: 'hash' }, String(r.sha256 || '—'))],
        ['approval', r.approval_id ? link('#/modules/' + encodeURIComponent(r.name) + '?approval=' + encodeURIComponent(r.approval_id), shortHash(r.approval_id, 16)) : '—'],
        ['invoker', String(r.invoker || '—')],
        ['exit code', el('span', { id: 'run-exit', title: r.exit_code === null || r.exit_code === undefined ? 'no exit code: the module did not exit (a trap, a limit or a crash ended it)' : null }, exitText(r))],
        r.trap_kind ? ['trap', String(r.trap_kind)] : null,
        ['started', timeEl(r.started_at)],
        ['finished', timeEl(r.finished_at)],
        ['duration', r.duration_ms === undefined ? '—' : r.duration_ms + ' ms'],
        ['fuel used', el('span', { id: 'run-fuel' }, fuelText(r))],
        ['peak memory', fmtBytes(r.peak_memory_bytes)],
        ['limits hit', (r.limits_hit || []).length ? r.limits_hit.map((l) => badge(String(l), 'warn')) : 'none'],
        ['denied calls', String(r.denied_calls || 0)],
      ]),
      el('div', { class: 'grid2' }, outBlock('stdout', r.stdout, r.stdout_truncated, 'run-stdout'), outBlock('stderr', r.stderr, r.stderr_truncated, 'run-stderr')),
      el('div', { class: 'grid2' },
        section('Denied calls', table(['call', 'reason', 'detail'], denied, 'denied')),
        section('WASI calls', table(['call', 'count'], wasi, 'wasi'))),
      el('div', { class: 'grid2' },
        section('Isolation', iso.length ? kv(iso) : el('p', { class: 'muted' }, '—')),
        section('Threat factors', factorsTable(r.threat))),
      section('Receipt', receiptBox));
  }

  /* ---------- proofs, checked twice: by the console (worker key) and here (hashes) ---------- */

  function hexBytes(h) {
    const out = new Uint8Array(h.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
    return out;
  }

  function b64Bytes(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function nodeHash(l, r) {
    const b = new Uint8Array(65);
    b[0] = 1;
    b.set(l, 1);
    b.set(r, 33);
    return hexBytes(await sha256hex(b));
  }

  // RFC 9162 2.1.3.2: the root from a leaf and its inclusion proof.
  async function rootFromProof(seq, size, leaf, proof) {
    if (seq >= size) return null;
    let fn = seq, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  // Leaf and proof recomputed in this browser; the checkpoint's signature is the console's check.
  async function browserCheck(rc) {
    try {
      const entry = new TextEncoder().encode(rc.entry);
      const b = new Uint8Array(entry.length + 1);
      b.set(entry, 1);
      const leafHex = await sha256hex(b);
      const lines = String(rc.checkpoint || '').split('\n');
      const size = parseInt(lines[1], 10);
      const root = b64Bytes(lines[2] || '');
      const got = await rootFromProof(Number(rc.seq), size, hexBytes(leafHex), (rc.proof || []).map(hexBytes));
      const same = got && got.length === root.length && got.every((x, i) => x === root[i]);
      return { leaf: leafHex === rc.leaf, proof: !!same };
    } catch (e) {
      return { leaf: false, proof: false, error: String(e.message || e) };
    }
  }

  async function proofView(rc, idp) {
    const v = rc.verification || {};
    const mine = await browserCheck(rc);
    const ok = v.ok && mine.leaf && mine.proof;
    const mark = (b) => (b ? badge('checks', 'good') : badge('FAILS', 'bad'));
    return el('div', { class: 'proof', id: idp + '-proof', dataset: { ok: ok ? '1' : '0' } },
      el('p', { class: ['big', ok ? 'good' : 'bad'], id: idp + '-status' }, ok ? '✔ Verified: this entry is in the signed log' : '✘ Does not verify'),
      kv([
        ['audit entry', String(rc.seq)],
        ['leaf', el('code', { class: 'hash' }, String(rc.leaf || '—'))],
        ['log size', String(rc.size ?? '—')],
        ['inclusion proof', `${(rc.proof || []).length} hashes`],
        ['checkpoint signature (worker key)', mark(v.signature)],
        ['leaf = sha256(0x00 ‖ entry)', [mark(v.leaf), ' console, ', mark(mine.leaf), ' this browser']],
        ['proof leads to the signed root', [mark(v.proof), ' console, ', mark(mine.proof), ' this browser']],
        v.error ? ['problem', el('span', { class: 'bad' }, String(v.error))] : null,
        rc.verifier_key ? ['verifier key', el('code', { class: 'hash' }, String(rc.verifier_key))] : null,
      ]),
      el('details', null, el('summary', null, 'Checkpoint note'), pre(typeof rc.checkpoint === 'string' ? rc.checkpoint : JSON.stringify(rc.checkpoint), 'checkpoint')),
      el('details', null, el('summary', null, 'Proof hashes'), el('ol', { class: 'mono hashes' }, (rc.proof || []).map((h) => el('li', null, el('code', { class: 'hash' }, String(h)))))),
      rc.entry ? el('details', null, el('summary', null, 'The entry'), pre(prettyJson(rc.entry))) : null);
  }

  function prettyJson(s) {
    try { return JSON.stringify(JSON.parse(s), null, 2); } catch (e) { return String(s); }
  }

  // A value of an object whose fields are not all known here: times as times, the rest as text.
  function anyValue(k, v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'number' && /_at$/.test(k)) return timeEl(v);
    if (typeof v === 'object') return el('code', null, JSON.stringify(v));
    return String(v);
  }

  /* ---------- modules ---------- */

  async function renderModules(route) {
    const P = route.params;
    const page = pageOf(P);
    const q = P.get('q') || '';
    const data = await api('/api/modules' + qs({ q, limit: PAGE, offset: (page - 1) * PAGE }));
    const rows = (data.items || []).slice(0, PAGE).map((m) => el('tr', { class: 'module-row', dataset: { name: String(m.name) } },
      el('td', null, moduleLink(m.name, 'module-link')),
      el('td', { class: 'num' }, String(m.versions)),
      el('td', null, m.pending ? badge(plural(m.pending, 'pending', 'pending'), 'info') : null, m.approved ? [' ', badge(`${m.approved} approved`, 'good')] : null,
        m.rejected ? [' ', badge(`${m.rejected} rejected`, 'bad')] : null),
      el('td', { class: 'num' }, String(m.active_approvals)),
      el('td', { class: 'num' }, String(m.runs)),
      el('td', null, scoreBadge(m.max_score)),
      el('td', null, ageEl(Math.max(m.last_submitted_at || 0, m.last_run_at || 0)))));
    return el('div', null,
      el('h1', null, 'Modules'),
      el('p', { class: 'muted' }, 'Every module name ever submitted: its versions, approvals and runs. Open one for the whole history.'),
      filterForm('modules', [['q', field('Name contains', el('input', { type: 'search', value: q, id: 'modules-q' }))]], 'Filter modules'),
      table(['module', 'versions', 'submissions', 'active approvals', 'runs', 'highest score', 'last activity'], rows, 'modules', 'Modules'),
      pager(data.total, page, (p) => listHref('modules', { q, page: p })));
  }

  async function renderModule(route) {
    const name = route.id;
    const m = await api('/api/module' + qs({ name }));
    const subs = (m.versions && m.versions.items) || [];
    const aps = (m.approvals && m.approvals.items) || [];
    const runs = (m.runs && m.runs.items) || [];
    const focus = route.params.get('approval');
    const bySha = new Map();
    for (const s of subs) { if (!bySha.has(s.sha256)) bySha.set(s.sha256, []); bySha.get(s.sha256).push(s); }
    const versionBlocks = [...bySha.entries()].map(([sha, ss]) => {
      const va = aps.filter((a) => a.sha256 === sha);
      return el('section', { class: 'panel version', dataset: { sha256: sha }, 'aria-label': 'version ' + shortHash(sha, 12) },
        el('h2', null, 'Version ', el('code', null, shortHash(sha, 16)), ' ', scoreBadge(ss[0].threat && ss[0].threat.score)),
        el('ul', { class: 'plain' }, ss.map((s) => el('li', null, link('#/inbox/' + encodeURIComponent(s.id), 'submission ' + s.id), ' ',
          statusBadge(s, s.approval_state), ' by ', sourceText(s), ', ', timeEl(s.created_at), ' ', driftBadge(s.drift)))),
        va.length ? approvalsTable(va, focus) : el('p', { class: 'muted' }, 'No approvals of this version.'));
    });
    const runRows = runs.map((r) => el('tr', null,
      el('td', null, el('a', { href: '#/runs/' + encodeURIComponent(r.id) }, timeEl(r.started_at))), el('td', null, String(r.invoker || '—')),
      el('td', null, outcomeBadge(r.outcome)), el('td', { class: 'num' }, exitText(r)), el('td', null, el('code', null, shortHash(r.sha256, 12)))));
    return el('div', null,
      el('p', { class: 'crumbs' }, link('#/modules', '← Modules')),
      el('h1', null, 'Module ', el('span', { id: 'module-name' }, String(m.name))),
      el('p', { class: 'muted' }, `${plural(bySha.size, 'version')}, ${plural(subs.length, 'submission')}, ${plural(aps.length, 'approval')}, ${plural(m.runs ? m.runs.total : 0, 'run')}.`),
      versionBlocks,
      section('Latest runs', table(['started', 'invoker', 'outcome', 'exit', 'version'], runRows, 'module-runs'),
        el('p', null, link(listHref('runs', { name: m.name }), 'All runs of ' + m.name))));
  }

  function approvalsTable(aps, focus) {
    return table(['approval', 'approver', 'policy', 'may run', 'runs', 'expires', 'state', 'action'], aps.map((a) => {
      const [st, k] = approvalState(a);
      const btn = !a.revoked ? el('button', { type: 'button', class: 'btn small danger revoke', dataset: { id: String(a.id) }, 'aria-label': 'Revoke approval ' + shortHash(a.id, 12) }, 'Revoke') : null;
      if (btn) btn.addEventListener('click', () => revoke(a, btn));
      return el('tr', { dataset: { id: String(a.id) }, class: focus === a.id ? 'focus-row' : null, id: 'approval-' + a.id },
        el('td', { title: String(a.id) }, el('code', null, shortHash(a.id, 12))),
        el('td', null, String(a.approver || '—')),
        el('td', null, String(a.policy || '—')),
        el('td', null, (a.invokers || []).join(', ')),
        el('td', { class: 'num' }, `${a.runs ?? 0} / ${a.max_runs ?? '?'}`),
        el('td', null, timeEl(a.expires_at)),
        el('td', null, badge(st, k)),
        el('td', null, btn));
    }), 'approvals', 'Approvals');
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

  /* ---------- audit: verification, then the entries ---------- */

  function auditReport(r) {
    if (!r) return el('p', { class: 'muted' }, '—');
    const cp = r.checkpoint;
    const note = cp && typeof cp === 'object' ? cp.note : cp;
    return el('div', null,
      el('p', { id: 'audit-status', class: ['big', r.ok ? 'good' : 'bad'] }, r.ok ? '✔ Chain intact' : '✘ Chain BROKEN'),
      kv([
        ['entries', String(r.entries ?? '—')],
        ['checkpoints', String(r.checkpoints ?? '—')],
        ['entries after the last checkpoint', String(r.unsigned_tail ?? '—')],
        r.bad_seq !== null && r.bad_seq !== undefined ? ['first bad entry', link(listHref('audit', { seq: r.bad_seq }), String(r.bad_seq))] : null,
        r.error ? ['error', el('span', { class: 'bad' }, String(r.error))] : null,
        ['anchor', r.anchor ? el('code', null, String(r.anchor)) : 'none'],
      ]),
      el('h3', null, 'Latest checkpoint'),
      note ? pre(note, 'checkpoint') : el('p', { class: 'muted' }, 'No checkpoint yet.'),
      cp && typeof cp === 'object' ? kv([['size', String(cp.size ?? '—')], ['signed', timeEl(cp.created_at)],
        ['verifier key', el('code', { class: 'hash' }, String(cp.verifier_key || '—'))]]) : null);
  }

  function entryLinks(e) {
    const out = [];
    if (e.name) out.push(moduleLink(e.name));
    if (e.submission) out.push(link('#/inbox/' + encodeURIComponent(e.submission), 'submission'));
    if (e.run) out.push(link('#/runs/' + encodeURIComponent(e.run), 'run'));
    if (e.approval_id && e.name) out.push(link('#/modules/' + encodeURIComponent(e.name) + '?approval=' + encodeURIComponent(e.approval_id), 'approval'));
    if (e.type === 'refused' || e.type === 'refused.summary') out.push(link('#/refusals', 'refusals'));
    if (/^trust\./.test(e.type)) out.push(link('#/trust', 'trust store'));
    if (/^agent\./.test(e.type)) out.push(link('#/agents', 'agents'));
    if (e.type === 'alert' || e.type === 'alert.ack') out.push(link('#/alerts?all=1', 'alerts'));
    return out.length ? out.map((x, i) => [i ? ' · ' : null, x]) : '—';
  }

  async function renderAudit(route) {
    const P = route.params;
    const page = pageOf(P);
    const f = { kind: P.get('kind') || '', actor: P.get('actor') || '', name: P.get('name') || '', from: P.get('from') || '', to: P.get('to') || '', seq: P.get('seq') || '' };
    const [report, entries] = await Promise.all([api('/api/audit'),
      api('/api/audit/entries' + qs(Object.assign({}, f, { limit: PAGE, offset: (page - 1) * PAGE })))]);
    let verifications = 0;
    const box = el('div', { id: 'audit-report', dataset: { verified: '0' } }, auditReport(report));
    const when = el('p', { class: 'muted', id: 'verified-at' }, 'Verified at ', timeEl(report.verified_at || Date.now() / 1000));
    const btn = el('button', { type: 'button', class: 'btn primary', id: 'btn-verify' }, 'Verify now');
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        const r = await api('/api/audit?fresh=1');
        clear(box);
        box.appendChild(auditReport(r));
        box.dataset.verified = String(++verifications);
        clear(when);
        append(when, ['Verified at ', timeEl(r.verified_at || Date.now() / 1000)]);
      } catch (e) {
        clear(box);
        box.appendChild(errorBox(e));
      } finally {
        btn.disabled = false;
      }
    });
    const rows = [];
    for (const e of (entries.items || []).slice(0, PAGE)) {
      const proofBox = el('td', { colspan: 6, class: 'proof-cell' });
      const proofRow = el('tr', { class: 'proof-row', hidden: true, dataset: { seq: String(e.seq) } }, proofBox);
      const pbtn = el('button', { type: 'button', class: 'btn small proof-btn', 'aria-expanded': 'false', dataset: { seq: String(e.seq) } }, 'Proof');
      pbtn.addEventListener('click', async () => {
        const open = pbtn.getAttribute('aria-expanded') === 'true';
        pbtn.setAttribute('aria-expanded', open ? 'false' : 'true');
        proofRow.hidden = open;
        if (open || proofBox.dataset.loaded) return;
        proofBox.dataset.loaded = '1';
        append(proofBox, el('p', { class: 'muted' }, 'Checking…'));
        try {
          const rc = await api('/api/audit/proof' + qs({ seq: e.seq }));
          clear(proofBox);
          append(proofBox, await proofView(rc, 'entry-' + e.seq));
        } catch (err) {
          clear(proofBox);
          append(proofBox, errorBox(err));
        }
      });
      rows.push(el('tr', { class: 'entry-row', dataset: { seq: String(e.seq), type: String(e.type) } },
        el('td', { class: 'num' }, String(e.seq)),
        el('td', null, timeEl(e.time)),
        el('td', null, el('span', { class: 'etype' }, String(e.type))),
        el('td', null, String(e.actor || '—')),
        el('td', null, entryLinks(e)),
        el('td', null, pbtn, ' ', el('details', { class: 'inline' }, el('summary', null, 'Entry'), pre(prettyJson(e.entry))))), proofRow);
    }
    const filters = filterForm('audit', [
      ['kind', field('Kind', select([['', 'any']].concat(ENTRY_TYPES.map((t) => [t, t])), f.kind, { id: 'audit-kind' }))],
      ['actor', field('Actor', el('input', { type: 'text', value: f.actor, id: 'audit-actor', placeholder: 'operator, worker, agent:NAME, a principal' }))],
      ['name', field('Module', el('input', { type: 'text', value: f.name, id: 'audit-module' }))],
      ['from', field('From', el('input', { type: 'datetime-local', value: toLocalInput(f.from), id: 'audit-from' }))],
      ['to', field('Until', el('input', { type: 'datetime-local', value: toLocalInput(f.to), id: 'audit-to' }))],
      ['seq', field('Entry number', el('input', { type: 'number', min: '0', value: f.seq, id: 'audit-seq' }))],
    ], 'Filter audit entries');
    const keep = Object.assign({}, f);
    return el('div', null,
      el('h1', null, 'Audit log'),
      el('p', { class: 'muted' }, 'A Merkle log of every decision, checked read-only by the console. Each entry has its inclusion proof in a signed checkpoint.'),
      el('div', { class: 'toolbar' }, btn, when, el('span', { class: 'spacer' }),
        exportButton('jsonl', 'nightcore-audit.jsonl', 'Export JSONL'),
        exportButton('html', 'nightcore-audit.html', 'Export HTML')),
      section('Verification', box),
      el('section', { class: 'panel', 'aria-labelledby': 'entries-h' },
        el('h2', { id: 'entries-h' }, 'Entries'),
        filters,
        el('p', { class: 'count', id: 'entries-total' }, plural(entries.total || 0, 'entry', 'entries'), ', newest first'),
        table(['#', 'time', 'kind', 'actor', 'about', 'check'], rows, 'entries', 'Audit entries'),
        pager(entries.total, page, (p) => listHref('audit', Object.assign({ page: p }, keep)))));
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

  /* ---------- refusals, alerts ---------- */

  const REFUSAL_OPS = ['run', 'approval.submit', 'trust.add', 'policy.add', 'submit', 'hello', 'submission.get', 'submissions.list', 'run.get'];

  async function renderRefusals(route) {
    const P = route.params;
    const page = pageOf(P);
    const f = { socket: P.get('socket') || '', request: P.get('request') || '', code: P.get('code') || '', from: P.get('from') || '', to: P.get('to') || '' };
    const data = await api('/api/refusals' + qs(Object.assign({}, f, { limit: PAGE, offset: (page - 1) * PAGE })));
    const rows = (data.items || []).slice(0, PAGE).map((r) => el('tr', { class: 'refusal-row', dataset: { seq: String(r.seq) } },
      el('td', null, timeEl(r.time)),
      el('td', null, r.socket === 'agent' ? badge('agent socket', 'warn') : badge('control socket', 'muted'), r.uid !== null ? ' uid ' + r.uid : ''),
      el('td', null, r.type === 'refused.summary' ? el('em', null, `${r.count} more, not recorded one by one`) : el('code', null, String(r.op || '—'))),
      el('td', null, r.code ? badge(String(r.code), 'bad') : '—'),
      el('td', null, String(r.message || '')),
      el('td', null, link(listHref('audit', { seq: r.seq }), 'entry ' + r.seq))));
    const byCode = Object.entries(data.by_code || {}).sort((a, b) => b[1] - a[1]);
    const keep = Object.assign({}, f);
    return el('div', null,
      el('h1', null, 'Refusals'),
      el('p', { class: 'muted' }, 'Requests the worker refused that matter: anything an agent asked, runs, and signed statements (approvals, trust and policy changes). The operator\'s own lookups are not counted.'),
      filterForm('refusals', [
        ['socket', field('Socket', select([['', 'any'], ['agent', 'agent'], ['control', 'control (operator)']], f.socket, { id: 'ref-socket' }))],
        ['request', field('Request', select([['', 'any']].concat(REFUSAL_OPS.map((o) => [o, o])), f.request, { id: 'ref-op' }))],
        ['code', field('Code', el('input', { type: 'text', value: f.code, id: 'ref-code', placeholder: 'e.g. unauthorized' }))],
        ['from', field('From', el('input', { type: 'datetime-local', value: toLocalInput(f.from), id: 'ref-from' }))],
        ['to', field('Until', el('input', { type: 'datetime-local', value: toLocalInput(f.to), id: 'ref-to' }))],
      ], 'Filter refusals'),
      el('p', { class: 'count', id: 'refusals-total' }, plural(data.refusals || 0, 'refusal'), ' (', plural(data.total || 0, 'entry', 'entries'), ')',
        byCode.length ? [': ', byCode.map(([c, n], i) => [i ? ', ' : null, link(listHref('refusals', Object.assign({}, f, { code: c === 'summary' ? '' : c })), `${c} ${n}`)])] : null),
      table(['time', 'from', 'request', 'code', 'message', 'audit'], rows, 'refusals', 'Refusals'),
      pager(data.total, page, (p) => listHref('refusals', Object.assign({ page: p }, keep))));
  }

  async function renderAlerts(route) {
    const P = route.params;
    const all = P.get('all') === '1';
    const page = pageOf(P);
    const data = await api('/api/alerts' + qs({ all: all ? 1 : '', limit: PAGE, offset: (page - 1) * PAGE }));
    return el('div', null,
      el('h1', null, 'Alerts'),
      el('p', { class: 'muted' }, 'Raised by the worker (tampering, module bytes that do not match their approval, rebuilt artifacts), refused signatures, and pending submissions in drift. They come from the audit log and the inbox, so they survive restarts; acknowledging one is recorded in the audit log.'),
      el('nav', { class: 'tabs', 'aria-label': 'Which alerts' },
        el('a', { href: '#/alerts', class: all ? 'tab' : 'tab active', 'aria-current': all ? null : 'true' }, `open (${data.open || 0})`),
        el('a', { href: '#/alerts?all=1', class: all ? 'tab active' : 'tab', 'aria-current': all ? 'true' : null }, 'all')),
      alertsTable(data.items || [], true),
      pager(data.total, page, (p) => listHref('alerts', { all: all ? 1 : '', page: p })));
  }

  /* ---------- trust, agents, policies: read, and change where the worker allows it ---------- */

  async function renderTrust() {
    const t = await api('/api/trust');
    const prot = { fido: ['security key (touch)', 'good'], passphrase: ['passphrase', 'good'], none: ['NO PASSPHRASE', 'bad'], unknown: ['cannot tell', 'warn'] };
    const keys = (t.keys || []).map((k) => {
      const [ptext, pkind] = prot[k.protection] || [String(k.protection || '?'), 'muted'];
      const btn = !k.revoked ? el('button', { type: 'button', class: 'btn small danger key-revoke', dataset: { fingerprint: String(k.fingerprint) }, 'aria-label': 'Revoke key ' + (k.principals || []).join(', ') }, 'Revoke') : null;
      if (btn) btn.addEventListener('click', async () => {
        if (!window.confirm(`Revoke the key of ${(k.principals || []).join(', ')} (${k.fingerprint})? Its approvals stop verifying at once.`)) return;
        btn.disabled = true;
        try {
          await api('/api/trust/revoke', { method: 'POST', body: { fingerprint: k.fingerprint } });
          toast('Revoked ' + k.fingerprint, 'info');
          render({ keepScroll: true });
        } catch (e) {
          btn.disabled = false;
          toast(e.code + ': ' + e.message, 'bad');
        }
      });
      return el('tr', { dataset: { fingerprint: String(k.fingerprint) } },
        el('td', null, (k.principals || []).join(', ')),
        el('td', null, String(k.type || '')),
        el('td', null, el('code', { class: 'hash' }, String(k.fingerprint || ''))),
        el('td', null, k.admin ? 'admin' : 'approver'),
        el('td', null, k.valid_after || k.valid_before ? [k.valid_after ? timeEl(k.valid_after) : '…', ' → ', k.valid_before ? timeEl(k.valid_before) : '…'] : 'always'),
        el('td', null, badge(ptext, pkind)),
        el('td', null, k.added === 'root' ? 'root of trust' : k.added === 'signed' ? ['signed by ', el('code', null, String(k.added_by || '?'))] : '—'),
        el('td', null, k.revoked ? badge('revoked', 'bad') : badge('trusted', 'good')),
        el('td', null, btn));
    });
    return el('div', null, el('h1', null, 'Trust store'),
      t.problem ? errorBox({ code: 'tampered', message: String(t.problem) }) : null,
      el('p', { class: 'muted' }, `Version ${t.version ?? '?'}. Keys whose signatures approve modules; admin keys also sign trust changes. Adding a key is signed by an admin key (nightcore trust add on a terminal); revoking needs no signature and can be done here. The last admin key can only be revoked on a terminal (nightcore trust revoke --force).`),
      table(['principals', 'type', 'fingerprint', 'role', 'valid', 'proves a human by', 'added', 'status', 'action'], keys, 'trust', 'Trusted keys'));
  }

  async function renderAgents() {
    const a = await api('/api/agents');
    const rows = (a.items || []).slice(0, 1000).map((x) => {
      const btn = !x.removed ? el('button', { type: 'button', class: 'btn small danger agent-remove', dataset: { name: String(x.name) }, 'aria-label': 'Remove agent ' + x.name }, 'Remove') : null;
      if (btn) btn.addEventListener('click', async () => {
        if (!window.confirm(`Remove agent ${x.name}? Its token stops working at once; what it submitted stays in the inbox.`)) return;
        btn.disabled = true;
        try {
          await api('/api/agents/' + encodeURIComponent(x.name) + '/remove', { method: 'POST', body: {} });
          toast('Removed agent ' + x.name, 'info');
          render({ keepScroll: true });
        } catch (e) {
          btn.disabled = false;
          toast(e.code + ': ' + e.message, 'bad');
        }
      });
      return el('tr', { dataset: { name: String(x.name) } },
        el('td', null, el('strong', null, String(x.name))),
        el('td', null, x.removed ? badge('removed', 'muted') : badge('active', 'good')),
        el('td', null, timeEl(x.created_at)),
        el('td', { class: 'num' }, x.pending ? link(listHref('inbox', { q: 'agent:' + x.name }), String(x.pending)) : '0'),
        el('td', null, x.last_submission_at ? ageEl(x.last_submission_at) : '—'),
        el('td', { class: 'num' }, x.runs ? link(listHref('runs', { invoker: 'agent:' + x.name }), String(x.runs)) : '0'),
        el('td', null, btn));
    });
    return el('div', null, el('h1', null, 'Agents'),
      el('p', { class: 'muted' }, 'Agent identities. Agents can submit and run what you approved for them; nothing else. Add one on a terminal (nightcore agent add NAME: the token is shown once); remove one here or there.'),
      table(['name', 'state', 'added', 'pending', 'last submission', 'runs', 'action'], rows, 'agents', 'Agents'));
  }

  async function renderPolicies() {
    const ps = await getPolicies(true);
    return el('div', null, el('h1', null, 'Policies'),
      el('p', { class: 'muted' }, 'Ceilings an approval grants: capabilities and limits. A new policy, or one that widens, is signed with your approver key as nightcore policy add signs it; one that only narrows needs no signature.'),
      ps.map((p) => section(`${p.name} (version ${p.version ?? 1}${p.builtin ? ', built in' : ''})`, kv([
        ['capabilities', capsWords(p.capabilities).join('; ')],
        ['limits', limitsWords(p.limits)],
        ['isolation', String(p.isolation || 'process')],
        p.description ? ['description', String(p.description)] : null,
      ]))),
      policyForm());
  }

  function policyForm() {
    const example = { name: 'my-policy', description: 'what it is for', capabilities: { args: true, stdin: false, env: {}, dirs: [] },
      limits: { timeout_ms: 5000, memory_bytes: 67108864, fuel: null, stdout_bytes: 1048576, stderr_bytes: 1048576 } };
    const text = el('textarea', { id: 'f-policy-json', rows: '12', spellcheck: 'false', class: 'mono' }, JSON.stringify(example, null, 2));
    const pass = el('input', { id: 'f-policy-pass', type: 'password', autocomplete: 'off' });
    const out = el('div', { id: 'policy-prepared' });
    const msg = el('div', { id: 'policy-msg', role: 'status' });
    const prep = el('button', { type: 'button', class: 'btn', id: 'btn-policy-prepare' }, 'Prepare');
    prep.addEventListener('click', async () => {
      clear(out);
      clear(msg);
      let policy;
      try { policy = JSON.parse(text.value); } catch (e) { return append(msg, errorBox({ code: 'form', message: 'not JSON: ' + e.message })); }
      prep.disabled = true;
      try {
        const r = await api('/api/policies/prepare', { method: 'POST', body: { policy } });
        const sg = r.signer || {};
        const go = el('button', { type: 'button', class: 'btn primary', id: 'btn-policy-sign', disabled: r.signature_needed && sg.can_sign === false },
          r.signature_needed ? 'Sign and set the policy' : 'Set the policy (it only narrows: no signature)');
        go.addEventListener('click', async () => {
          const p = pass.value;
          pass.value = '';
          go.disabled = true;
          clear(msg);
          try {
            const body = { statement_id: r.statement_id };
            if (p) body.passphrase = p;
            const res = await api('/api/policies/sign', { method: 'POST', body });
            state.policies = null;
            toast(`Policy ${res.name} is now version ${res.version}`, 'info');
            render();
          } catch (e) {
            append(msg, errorBox(e));
          }
        });
        append(out, el('div', { class: 'statement', id: 'policy-statement' },
          el('p', null, r.signature_needed ? 'You are about to sign this change:' : 'This change only narrows the policy:'),
          kv((r.words || []).map(([k, v]) => [String(k), String(v)])),
          el('details', null, el('summary', null, 'Exact bytes signed'), pre(r.statement, 'bytes')),
          el('div', { class: 'actions' }, go),
          r.signature_needed && sg.can_sign === false ? errorBox({ code: 'human_required', message: sg.problem || 'this console cannot sign with your key' }) : null));
      } catch (e) {
        append(msg, errorBox(e));
      } finally {
        prep.disabled = false;
      }
    });
    return el('section', { class: 'panel', id: 'policy-add', 'aria-labelledby': 'policy-add-h' },
      el('h2', { id: 'policy-add-h' }, 'Add or change a policy'),
      el('form', { class: 'form', onsubmit: (e) => e.preventDefault() },
        field('Policy (JSON, as in docs/policies.md)', text, 'wide'),
        field('Key passphrase (for a key that has one)', pass),
        el('div', { class: 'actions' }, prep)),
      out, msg);
  }

  /* ---------- toasts, notifications ---------- */

  function toast(text, kind, href) {
    const box = $('#toasts');
    const t = el('div', { class: ['toast', kind ? 't-' + kind : null] },
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
      btn.setAttribute('aria-pressed', state.notify ? 'true' : 'false');
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

  /* ---------- live events and the header's truth ---------- */

  // Server-Sent Events read with fetch (EventSource cannot send the session header).
  let es = null;

  // The badge says what is true: the worker down is "worker down", whatever the stream does.
  function showConn() {
    const c = $('#conn');
    if (!c) return;
    let s = state.events;
    if (s !== 'expired' && state.worker === 'down') s = 'down';
    const words = { live: 'live', connecting: 'connecting', offline: 'console unreachable — retrying', expired: 'no session', down: 'worker down' };
    const text = words[s] || s;
    c.className = 'conn conn-' + s;
    c.dataset.state = s;
    if (c.textContent !== text) c.textContent = text;
    c.title = s === 'down' ? 'The worker is not running: start it with nightcore worker start' : s === 'live' ? 'Live updates from the worker' : '';
  }

  function setConn(s) {
    state.events = s;
    showConn();
  }

  function setWorker(s) {
    if (state.worker === s) return;
    state.worker = s;
    showConn();
  }

  const EVENT_TYPES = ['submission.created', 'submission.rejected', 'approval.created', 'approval.progress', 'approval.revoked', 'run.started', 'run.finished', 'alert', 'alert.acknowledged', 'trust.changed', 'console.worker'];

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
    if (type === 'console.worker') {
      setWorker(ev.connected ? 'up' : 'down');
      if (ev.connected) scheduleRefresh();
      return;
    }
    setWorker('up');
    if (type === 'approval.progress') return onCompileProgress(ev);   // updated in place: no reload every second
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
      const text = `${ALERT_WORDS[ev.kind] || 'alert ' + (ev.kind || '')}: ${ev.message || ''}`;
      toast(text, 'bad', '#/alerts');
      notify('Night Core alert', text, '#/alerts');
    } else if (type === 'run.finished' && state.route.page === 'runs' && state.route.id) {
      const r = ev.run || {};
      if (r.id === state.route.id) return render({ keepScroll: true });
    }
    if (type === 'submission.rejected' || type === 'approval.created') bumpPending();
    scheduleRefresh();
  }

  // the pending count in the nav, refreshed (debounced) with a limit=1 request
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
      if (e.status === 502) {
        clear(box);
        append(box, el('div', { class: 'banner bad', id: 'banner-down', role: 'alert' }, 'The worker is not running: nothing can run or be approved. Start it with ', el('code', null, 'nightcore worker start'), '.'));
      }
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

  /* ---------- no session: how to get a link ---------- */

  // Shown for "/" without a session, a used or expired link, any 401 inside the page, and log-out.
  function showNoSession(kind, message) {
    const main = $('#main');
    clear(main);
    main.dataset.page = 'no-session';
    for (const n of ['#nav', '#banner', '#notify-btn', '#logout-btn']) { const x = $(n); if (x) x.hidden = true; }
    $('#app').classList.add('bare');
    clear($('#worker-info'));
    const why = {
      none: 'This tab has no console session.',
      used: 'This link was already used or has expired: a console link works once, within 10 minutes of being made.',
      expired: 'This tab\'s console session has ended (the console restarted, or the session expired).',
      logout: 'You logged out: this tab\'s session has ended on the console.',
    }[kind] || 'This tab has no console session.';
    document.title = 'Open a new link · Night Core console';
    append(main, el('section', { class: 'panel no-session', id: 'no-session', 'aria-labelledby': 'no-session-h' },
      el('h1', { id: 'no-session-h', tabindex: '-1' }, 'Night Core console: open a new link'),
      el('p', { id: 'no-session-why' }, why),
      message && kind !== 'none' && kind !== 'logout' ? el('p', { class: 'muted' }, String(message)) : null,
      el('p', null, 'On this machine, in a terminal of the user who runs the console, ask it for a new one-time link and open it in this browser:'),
      el('pre', { class: 'out', id: 'no-session-cmd', tabindex: '0' }, 'nightcore-console link'),
      el('p', { class: 'muted' }, 'Add --home DIR when the home is not $NIGHTCORE_HOME or ~/.nightcore. `make run` prints a new link too. Each link works once: the tab that opens it keeps its session across reloads; another tab needs its own link.')));
    $('#no-session-h').focus({ preventScroll: true });
  }

  async function logout() {
    try {
      await api('/api/session/end', { method: 'POST', body: {}, noSessionPage: true });
    } catch (e) { /* gone already: forget it all the same */ }
    sessionLost(null, 'logout');
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

  // In-page links (#main, #drift-details) move focus; they are not routes.
  function onInPageLink(e) {
    const a = e.target.closest && e.target.closest('a[href^="#"]');
    if (!a) return;
    const h = a.getAttribute('href');
    if (h.startsWith('#/') || h === '#') return;
    const t = document.getElementById(h.slice(1));
    if (!t) return;
    e.preventDefault();
    if (!t.hasAttribute('tabindex')) t.setAttribute('tabindex', '-1');
    t.focus({ preventScroll: true });
    t.scrollIntoView({ block: 'start' });
  }

  /* ---------- start ---------- */

  async function start() {
    setupNotifications();
    document.addEventListener('click', onInPageLink);
    const exchanged = await exchangeToken();
    if (exchanged !== 'ok') {
      try { state.secret = sessionStorage.getItem(SESSION_KEY); } catch (e) { state.secret = null; }
    }
    if (!state.secret) {
      setConn('expired');
      return showNoSession(exchanged === 'used' ? 'used' : 'none');
    }
    $('#logout-btn').addEventListener('click', logout);
    window.addEventListener('hashchange', () => { if (state.secret) render(); });
    try {
      await loadSession();
    } catch (e) {
      if (e.status === 401) return; // sessionLost() has said what to do
      clear($('#main'));
      append($('#main'), [el('h1', null, 'Night Core console'), errorBox(e)]);
      return;
    }
    if (!location.hash || location.hash === '#main') history.replaceState(null, '', '#/dashboard');
    refreshBanner();
    // the worker's state, even with nothing happening: every 10 s
    setInterval(() => { if (state.secret) refreshBanner(); }, 10000);
    connectEvents();
    bumpPending();
    render();
  }

  window.NightCore = { el, version: 2 }; // for tests and the curious; holds no secrets
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
