// End-to-end test of the web console (src/console/web) in a real browser: Debian's chromium
// driven by playwright-core (never `playwright install`). Run by node, not by the Playwright
// test runner; tests/integration/test_console_e2e.py starts the worker and the console and drives it.
//
// Environment:
//   NC_CONSOLE_URL  the console URL with its start-up token (first stdout line of nightcore-console)
//   NC_HOME, NC_BIN the Night Core home and bin dir (informational: the wrapper does the worker calls)
//   NC_ARTIFACTS    where screenshots go (default build/e2e-artifacts/)
//   NC_CHROMIUM     the browser (default /usr/bin/chromium)
//   NC_DOCS_IMG     when set, a directory (docs/img) that gets a screenshot of every page at 1280 and
//                   at 390 px wide (console-PAGE.png, console-PAGE-390.png): scripts/console-screenshots
//
// Every page is also checked with axe-core (no serious or critical violation), at 390 px wide (no
// horizontal overflow, no word broken in the middle), for its title, aria-current and focus.
//
// The wrapper and this script take turns over stdio: the script prints `STEP <name> <json>` and
// waits for one line `GO <json>` on stdin (the wrapper did the step: submitted, ran, seeded);
// `LOG ...` lines are progress; the last line is `SUMMARY <json>`. Exit 0 when every check passed.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';

const URL_ = process.env.NC_CONSOLE_URL || process.argv[2];
const ARTIFACTS = process.env.NC_ARTIFACTS || path.join('build', 'e2e-artifacts');
const CHROMIUM = process.env.NC_CHROMIUM || '/usr/bin/chromium';
const XSS = '<img src=x onerror="window.__xss=1">';
const T = 15000;
const DOCS_IMG = process.env.NC_DOCS_IMG || '';
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TZ = 'Asia/Kolkata'; // +05:30: a zone whose offset cannot be mistaken for UTC

if (!URL_) {
  console.error('usage: NC_CONSOLE_URL=http://127.0.0.1:PORT/?token=... node console.spec.mjs');
  process.exit(2);
}
fs.mkdirSync(ARTIFACTS, { recursive: true });

const rl = readline.createInterface({ input: process.stdin });
const lines = [];
let waiter = null;
rl.on('line', (l) => { if (waiter) { const w = waiter; waiter = null; w(l); } else lines.push(l); });
async function step(name, data) {
  process.stdout.write(`STEP ${name} ${JSON.stringify(data || {})}\n`);
  const line = lines.length ? lines.shift() : await new Promise((res) => { waiter = res; });
  if (!line.startsWith('GO')) throw new Error(`wrapper refused step ${name}: ${line}`);
  const rest = line.slice(2).trim();
  return rest ? JSON.parse(rest) : {};
}
const log = (...a) => process.stdout.write('LOG ' + a.join(' ') + '\n');

const summary = { ok: false, checks: {}, screenshots: [], api_requests: 0, list_requests: [], console_errors: [], csp_violations: [], axe: {}, widths: {}, error: null };
const check = (name, cond, detail) => {
  summary.checks[name] = !!cond;
  if (!cond) throw new Error(`check failed: ${name}${detail ? ': ' + detail : ''}`);
};

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: TZ });
  // A stand-in for the Notification API (headless has no notification centre): records what the
  // page shows; and a recorder for CSP violations.
  await context.addInitScript(() => {
    window.__notes = [];
    window.__csp = [];
    let perm = 'default';
    class FakeNotification {
      constructor(title, opts) { window.__notes.push({ title, body: opts && opts.body }); }
      static get permission() { return perm; }
      static requestPermission() { perm = 'granted'; return Promise.resolve(perm); }
    }
    window.Notification = FakeNotification;
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
  });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') summary.console_errors.push(m.text()); });
  page.on('pageerror', (e) => summary.console_errors.push('pageerror: ' + e.message));
  page.on('dialog', (d) => d.accept());
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!u.pathname.startsWith('/api/')) return;
    summary.api_requests++;
    if (/^\/api\/(inbox|runs|approvals)$/.test(u.pathname))
      summary.list_requests.push({ path: u.pathname, limit: u.searchParams.get('limit'), offset: u.searchParams.get('offset') });
  });

  const shot = async (name) => {
    const file = path.join(ARTIFACTS, name + '.png');
    await page.evaluate(() => { for (const t of document.querySelectorAll('#toasts .toast')) t.remove(); });
    await page.screenshot({ path: file, fullPage: true });
    summary.screenshots.push(file);
  };
  // Navigates and waits for that page's own render (not the one already on screen).
  const go = async (hash, pageAttr) => {
    const before = await page.evaluate(() => document.querySelector('#main').dataset.rendered || '');
    await page.evaluate((h) => {
      if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
      else location.hash = h;
    }, hash);
    await page.waitForFunction(([p, b]) => { const m = document.querySelector('#main'); return m.dataset.page === p && m.dataset.rendered !== b; },
      [pageAttr, before], { timeout: T });
  };
  const noInjectedImg = () => page.evaluate(() => document.querySelectorAll('main img, #toasts img').length === 0 && !window.__xss);

  // 1. the dashboard renders; the token left the address bar; live updates connect
  await page.goto(URL_);
  await page.waitForSelector('#main[data-page="dashboard"] #card-pending', { timeout: T });
  check('dashboard_renders', await page.isVisible('#card-audit'));
  check('token_not_in_address_bar', !page.url().includes('token='), page.url());
  await page.waitForSelector('#conn[data-state="live"]', { timeout: T });
  check('events_connected', true);

  // 1b. the session: a per-tab secret in sessionStorage, no cookie at all. A page on another port of
  // 127.0.0.1 (cookies are not scoped by port) receives nothing; reloading keeps the session.
  const origin = new URL(URL_).origin;
  const secret = await page.evaluate(() => sessionStorage.getItem('nc_session'));
  check('session_in_session_storage', /^[0-9a-f]{64}$/.test(secret || ''), String(secret));
  check('no_cookies', (await context.cookies()).length === 0, JSON.stringify(await context.cookies()));
  check('nothing_in_local_storage', await page.evaluate(() => localStorage.getItem('nc_session') === null));
  const seen = [];
  const other = http.createServer((req, res) => { seen.push({ url: req.url, headers: req.headers }); res.end('<p>another local user\'s page</p>'); });
  await new Promise((r) => other.listen(0, '127.0.0.1', r));
  await page.goto(`http://127.0.0.1:${other.address().port}/`);
  await page.goto(origin + '/#/dashboard');
  await page.waitForSelector('#main[data-page="dashboard"] #card-pending', { timeout: T });
  other.close();
  const leaked = JSON.stringify(seen);
  check('other_port_gets_no_credential', seen.length >= 1 && !leaked.includes(secret) && seen.every((r) => !r.headers.cookie && !r.headers.authorization), leaked);
  await page.reload();
  await page.waitForSelector('#main[data-page="dashboard"] #card-pending', { timeout: T });
  check('reload_keeps_session', !page.url().includes('token='), page.url());
  await page.waitForSelector('#conn[data-state="live"]', { timeout: T });
  await page.click('#notify-btn');
  await page.waitForFunction(() => document.querySelector('#notify-btn').textContent === 'Notifications on', null, { timeout: T });

  // 2. an agent submits: a toast (and a notification) appear without reloading
  const sub = await step('submit_agent', {});
  const toastText = `agent ${sub.agent} submitted ${sub.name} — review`;
  await page.waitForSelector(`.toast:has-text("${toastText}")`, { timeout: T });
  check('toast_on_agent_submission', true);
  const notes = await page.evaluate(() => window.__notes);
  check('browser_notification', notes.some((n) => n.body === toastText), JSON.stringify(notes));

  // 3. the inbox lists it; the detail shows the analysis; the description is text
  await page.click('#nav a[data-page="inbox"]');
  await page.waitForSelector(`#main[data-page="inbox"] tr[data-id="${sub.id}"]`, { timeout: T });
  await shot('inbox');
  await page.click(`tr[data-id="${sub.id}"] a.sub-name`);
  await page.waitForSelector('#main[data-page="inbox-detail"] #sub-name', { timeout: T });
  check('description_rendered_as_text', (await page.textContent('#sub-description')) === sub.description);
  check('no_injected_img_description', await noInjectedImg());
  check('analysis_shown', (await page.textContent('#main')).includes('Imports by capability'));
  check('caps_compare_shown', await page.isVisible('#caps-compare table.caps'));

  // 4. prepare: the exact statement in words, JSON and bytes; then sign (passphrase-less key)
  await page.click('#btn-prepare');
  await page.waitForSelector('#statement-words', { timeout: T });
  const stmtText = await page.evaluate(() => document.querySelector('#statement-bytes').textContent);
  const stmt = JSON.parse(stmtText);
  check('statement_subject', stmt.subject[0].digest.sha256 === sub.sha256 && stmt.subject[0].name === sub.name);
  const words = await page.textContent('#statement-words');
  check('statement_in_words', words.includes(sub.sha256) && words.includes('at most 10 runs') && words.includes('operator'), words);
  await shot('inbox-detail');
  // the worker runs with --insecure-dev for this passphrase-less key: the page says so in red
  check('dev_mode_banner', await page.isVisible('#banner-dev'));
  await page.click('#btn-sign');
  await page.waitForSelector('#approved', { timeout: 60000 });
  check('approved', (await page.textContent('#approved')).includes('Approved'));
  check('passphrase_cleared', (await page.inputValue('#f-passphrase')) === '');

  // 5. the runs page updates live when the module runs (CLI)
  await go('#/runs', 'runs');
  const run = await step('run', { name: sub.name });
  await page.waitForSelector(`tr.run-row[data-id="${run.id}"] [data-outcome="ok"]`, { timeout: T });
  check('run_appears_live', true);
  await shot('runs');
  await page.click(`tr.run-row[data-id="${run.id}"] a`);
  await page.waitForSelector('#main[data-page="runs-detail"] #run-stdout', { timeout: T });
  check('run_stdout', (await page.textContent('#run-stdout')) === run.stdout);
  await page.waitForSelector('#receipt dl', { timeout: T });
  check('receipt_shown', (await page.textContent('#receipt')).includes('inclusion proof') && (await page.locator('#receipt pre.checkpoint').count()) === 1);
  await shot('run-detail');

  // 6. audit: verify now
  await go('#/audit', 'audit');
  await page.click('#btn-verify');
  await page.waitForSelector('#audit-report[data-verified="1"] #audit-status', { timeout: T });
  check('audit_verified', (await page.textContent('#audit-status')).includes('intact'));
  check('audit_export_links', (await page.getAttribute('#export-jsonl', 'data-path')) === '/api/audit/export?format=jsonl');
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.click('#export-jsonl')]);
  const dlText = fs.readFileSync(await dl.path(), 'utf8').trim().split('\n');
  check('audit_export_downloads', JSON.parse(dlText[dlText.length - 1]).verify.ok === true, dlText[dlText.length - 1]);
  await shot('audit');

  // 7. a rejection reason with markup renders as text
  const sub2 = await step('submit_agent_2', {});
  await go('#/inbox/' + sub2.id, 'inbox-detail');
  await page.fill('#f-reason', XSS);
  await page.click('#btn-reject');
  await page.waitForSelector('#sub-reason', { timeout: T });
  check('reason_rendered_as_text', (await page.textContent('#sub-reason')) === XSS);
  check('no_injected_img_reason', await noInjectedImg());

  // 8. modules: every name; a module's page has its versions and approvals, revoke after a confirmation
  await go('#/modules', 'modules');
  await page.waitForSelector(`tr.module-row[data-name="${sub.name}"] a.module-link`, { timeout: T });
  await shot('modules');

  // 9. pagination: more pending submissions than a page
  // ... while the modules page is open: a burst of events must not become a burst of requests
  const before = summary.api_requests;
  const seeded = await step('seed', {});
  await page.waitForTimeout(2500);
  summary.burst = { events: seeded.seeded, api_requests: summary.api_requests - before };
  check('burst_debounced', summary.burst.api_requests <= 12, JSON.stringify(summary.burst));
  await go('#/inbox?status=pending', 'inbox');
  await page.waitForSelector('table.inbox tbody tr[data-id]', { timeout: T });
  const rows1 = await page.locator('table.inbox tbody tr[data-id]').count();
  const info1 = await page.textContent('.pager-info');
  check('inbox_first_page_50', rows1 === 50, String(rows1));
  check('inbox_pager_total', info1.includes(`1–50 of ${seeded.pending}`), info1);
  await page.click('.pager a.next');
  await page.waitForFunction((n) => document.querySelectorAll('table.inbox tbody tr[data-id]').length === n, seeded.pending - 50, { timeout: T });
  check('inbox_second_page', true);
  await shot('inbox-page2');

  // 10. the read views
  for (const p of ['trust', 'agents', 'policies']) {
    await go('#/' + p, p);
    check(p + '_renders', (await page.locator('#main h1').count()) === 1 && !(await page.isVisible('#main .error')));
    if (p === 'agents') check('agent_listed', (await page.textContent('table.agents')).includes(sub.agent));
    await shot(p);
  }

  // 11. revoke (confirm dialog accepted) on the module's page
  await go('#/modules/' + sub.name, 'modules-detail');
  await page.click(`section.version[data-sha256="${sub.sha256}"] button.revoke`);
  await page.waitForSelector(`section.version[data-sha256="${sub.sha256}"] .badge.b-bad:has-text("revoked")`, { timeout: T });
  check('revoked', true);
  // its only approval revoked: the submission is not shown green as "approved"
  await go('#/inbox?status=approved', 'inbox');
  const revokedBadge = await page.locator(`tr[data-id="${sub.id}"] [data-status]`);
  const rbText = await revokedBadge.textContent();
  const rbClass = await revokedBadge.getAttribute('class');
  check('revoked_not_green', rbText === 'approved · revoked' && !rbClass.includes('b-good'), rbText + ' ' + rbClass);

  // 12. the dashboard with data: charts drawn as SVG
  await go('#/dashboard', 'dashboard');
  await page.waitForSelector('#runs-chart rect.bar', { timeout: T });
  await page.waitForSelector('#score-chart rect.bar', { timeout: T });
  check('charts_drawn', true);
  await shot('dashboard');


  // ===== issue #15: numbers, alerts, refusals, the review page, the missing pages, time, a11y =====
  const scen = await step('scenario', {});
  const wait = (sel) => page.waitForSelector(sel, { timeout: T });

  // times carry their zone: local with the offset, UTC on hover
  await go('#/runs', 'runs');
  const ts = await page.evaluate(() => [...document.querySelectorAll('main time.ts')].slice(0, 5).map((t) => [t.textContent, t.title]));
  check('times_have_zone', ts.length > 0 && ts.every(([t, u]) => /\+05:30$/.test(t) && /^UTC: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/.test(u)), JSON.stringify(ts));

  // the dashboard: true counts from the worker's aggregates; charts with one colour per outcome
  await go('#/dashboard', 'dashboard');
  await wait('#runs-chart rect.bar');
  const dash = await page.evaluate(async () => {
    const r = await fetch('/api/dashboard', { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('nc_session') } });
    return r.json();
  });
  const shownRuns = Number(await page.textContent('#card-runs .card-value'));
  const apiRuns = Object.values(dash.runs_today).reduce((a, b) => a + b, 0);
  check('runs_today_true', shownRuns === apiRuns && apiRuns >= 2, `${shownRuns} vs ${apiRuns}`);
  const legend = await page.evaluate(() => {
    const sw = [...document.querySelectorAll('#runs-chart + .legend .swatch')].map((s) => [s.dataset.outcome, getComputedStyle(s).backgroundColor]);
    const bars = [...document.querySelectorAll('#runs-chart rect.bar')].map((b) => [b.dataset.outcome, getComputedStyle(b).fill]);
    return { sw, bars };
  });
  const colours = new Set(legend.sw.map(([, c]) => c));
  check('legend_colours_distinct', legend.sw.length >= 3 && colours.size === legend.sw.length, JSON.stringify(legend.sw));
  // and every outcome the worker knows has a colour of its own (cancelled too)
  const allColours = await page.evaluate(() => {
    const out = {};
    for (const o of ['ok', 'exit', 'trap', 'timeout', 'fuel', 'memory', 'output_limit', 'cancelled', 'crash', 'interrupted', 'running']) {
      const s = document.createElement('span');
      s.className = 'swatch oc-' + o;
      document.body.appendChild(s);
      out[o] = getComputedStyle(s).backgroundColor;
      s.remove();
    }
    return out;
  });
  check('outcome_colours_distinct', new Set(Object.values(allColours)).size === 11, JSON.stringify(allColours));
  check('legend_matches_bars', legend.bars.every(([o, f]) => legend.sw.some(([so, c]) => so === o && c === f)), JSON.stringify(legend));
  const hist = await page.evaluate(() => [...document.querySelectorAll('#score-chart rect.bar')].reduce((a, b) => a + Number(b.dataset.n), 0));
  check('histogram_of_submissions', hist === dash.submissions.total && hist > 0, `${hist} vs ${dash.submissions.total}`);
  check('alerts_card_counts_open', Number(await page.textContent('#card-alerts .card-value')) === dash.alerts_open && dash.alerts_open >= 1);

  // alerts: the drift submission is an alert naming and linking the module; acknowledging it is recorded
  await go('#/alerts', 'alerts');
  const driftRow = `tr.alert-row[data-id="drift-${scen.drift.id}"]`;
  await wait(driftRow);
  check('alert_names_module', await page.locator(`${driftRow} a[href="#/modules/hello"]`).count() === 1);
  await page.click(`${driftRow} button.ack`);
  await page.waitForSelector(driftRow, { state: 'detached', timeout: T });
  await go('#/alerts?all=1', 'alerts');
  check('alert_acknowledged', (await page.textContent(driftRow)).includes('acknowledged'));
  const acked = await step('check_ack', { alert: 'drift-' + scen.drift.id });
  check('ack_in_audit_log', acked.found === true, JSON.stringify(acked));

  // refusals that matter, on their own page, with filters
  await go('#/refusals', 'refusals');
  await wait('tr.refusal-row');
  await page.selectOption('#ref-socket', 'agent');
  await page.click('form.filters button[type=submit]');
  await page.waitForFunction(() => location.hash.includes('socket=agent') && document.querySelector('#main').dataset.page === 'refusals', null, { timeout: T });
  await wait('tr.refusal-row');
  const refusalFrom = await page.evaluate(() => [...document.querySelectorAll('tr.refusal-row td:nth-child(2)')].map((t) => t.textContent));
  check('refusals_filtered', refusalFrom.length >= 1 && refusalFrom.every((t) => t.includes('agent socket')), JSON.stringify(refusalFrom));
  await go('#/dashboard', 'dashboard');
  check('refusals_card_links', (await page.getAttribute('#card-refused', 'href')).startsWith('#/refusals'));

  // the review page: the decision first; danger visible before signing
  await go('#/inbox/' + scen.net.id, 'inbox-detail');
  const decisionY = await page.evaluate(() => ({ d: document.querySelector('#decision').getBoundingClientRect().top,
    btn: document.querySelector('#btn-go-approve').getBoundingClientRect().bottom,
    analysis: [...document.querySelectorAll('h2')].find((h) => h.textContent === 'Analysis').getBoundingClientRect().top }));
  check('decision_first', decisionY.btn < 900 && decisionY.d < decisionY.analysis, JSON.stringify(decisionY));
  const danger = await page.textContent('#dangers');
  check('danger_imports_fail', /sock_\w+/.test(danger) && danger.includes('Imports that will fail'), danger);
  check('score_in_words', /of 100 — (low|medium|high)/.test(await page.textContent('#decision .score-line')));
  await shot('review-danger');

  // drift: the previous version, its author and approvals, what `run NAME` will do, a diff
  await go('#/inbox/' + scen.drift.id, 'inbox-detail');
  await wait('#drift-details');
  check('drift_prev_author', (await page.textContent('#prev-author')) === 'agent ' + sub.agent, await page.textContent('#prev-author'));
  check('drift_prev_link', await page.locator('#drift-details a.prev-version').count() === 1);
  check('drift_run_name', (await page.textContent('#run-name-change')).includes('run hello'));
  const diff = await page.textContent('table.drift-diff');
  check('drift_diff', diff.includes('wasi_snapshot_preview1.path_open') && diff.includes('size'), diff);
  // one marker per line of the diff: the sign, no list bullet beside it
  const markers = await page.evaluate(() => [...document.querySelectorAll('table.drift-diff ul.added li, table.drift-diff ul.removed li')]
    .map((li) => [getComputedStyle(li).listStyleType, getComputedStyle(li, '::before').content]));
  check('drift_diff_markers', markers.length > 0 && markers.every(([bullet, sign]) => bullet === 'none' && /^"[+−] "$/.test(sign)), JSON.stringify(markers));
  // factor names in words, never raw ids
  const factors = await page.evaluate(() => [...document.querySelectorAll('table.factors td[data-label="factor"]')].map((t) => t.textContent));
  check('factors_in_words', factors.includes('same name as before, different bytes (drift)') && factors.every((f) => !f.includes('_')), JSON.stringify(factors));

  // approving from the top: the new state at the top, the approval as a link
  await go('#/inbox/' + scen.fresh.id, 'inbox-detail');
  await page.click('#btn-go-approve');
  await page.click('#btn-prepare');
  await wait('#statement-validity');
  const validity = await page.evaluate(() => [...document.querySelectorAll('#statement-validity time')].map((t) => t.textContent));
  check('validity_window_has_zone', validity.length === 2 && validity.every((t) => t.endsWith('+05:30')), JSON.stringify(validity));
  await page.click('#btn-sign');
  await page.waitForSelector('#decision #approved a.approval-link', { timeout: 60000 });
  const top = await page.evaluate(() => ({ y: document.querySelector('#approved').getBoundingClientRect().top, scroll: window.scrollY,
    status: document.querySelector('h1 [data-status]').textContent }));
  check('approved_state_on_top', top.y < 700 && top.scroll === 0 && top.status === 'approved', JSON.stringify(top));
  check('approvals_as_links', await page.locator('#approvals-now a.approval-link').count() === 1);

  // a module compiling for an approval signed elsewhere (the CLI's way): the review page says
  // so while the compile child is held stopped, and the approval appears once it finishes
  const held = await step('compile_hold', {});
  await go('#/inbox/' + held.id, 'inbox-detail');
  await page.waitForSelector('#compile-status[data-phase="compiling"]', { timeout: T });
  const compiling = await page.textContent('#compile-status');
  check('compile_progress_shown', compiling.includes('compiling the module') && compiling.includes('so far'), compiling);
  await shot('review-compiling');
  await step('compile_release', {});
  await page.waitForSelector('#compile-status[data-phase="compiled"]', { timeout: 60000 });
  check('compiled_shown', (await page.textContent('#compile-status')).startsWith('Compiled in'));
  // a page with a form is not re-rendered under the operator's hands: open it again
  await go('#/inbox', 'inbox');
  await go('#/inbox/' + held.id, 'inbox-detail');
  check('compiled_then_approved', (await page.textContent('h1 [data-status]')) === 'approved' &&
    (await page.getAttribute('#compile-status', 'data-phase')) === 'compiled');

  // runs: one-line cause, the backtrace behind a toggle, no exit code for a trap
  await go('#/runs/' + scen.trap.id, 'runs-detail');
  check('trap_exit_dash', (await page.textContent('#run-exit')) === '—');
  const cause = await page.textContent('#run-cause .cause');
  check('one_line_cause', cause.length > 0 && cause.length <= 200 && !cause.includes('\n'), cause);
  if (scen.trap.multiline) check('backtrace_toggle', await page.evaluate(() => !!document.querySelector('#run-backtrace') && !document.querySelector('#run-backtrace').open));
  // the receipt: checked by the console (worker key) and here (hashes); downloadable
  await wait('#receipt-proof');
  check('receipt_verified', (await page.getAttribute('#receipt-proof', 'data-ok')) === '1', await page.textContent('#receipt'));
  const [rdl] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.click('#receipt-download')]);
  const rjson = JSON.parse(fs.readFileSync(await rdl.path(), 'utf8'));
  check('receipt_download', rjson.run === scen.trap.id && rjson.proof && rjson.checkpoint.startsWith('nightcore/') && rjson.verifier_key, JSON.stringify(rjson).slice(0, 300));

  // filters and sorting: runs by outcome, invoker, module, time; inbox by score, age, search
  await go('#/runs?outcome=trap', 'runs');
  let outs = await page.evaluate(() => [...document.querySelectorAll('tr.run-row [data-outcome]')].map((b) => b.dataset.outcome));
  check('runs_filter_outcome', outs.length >= 1 && outs.every((o) => o === 'trap'), JSON.stringify(outs));
  await go('#/runs?name=hello&invoker=operator', 'runs');
  outs = await page.evaluate(() => [...document.querySelectorAll('tr.run-row td[data-label="module"]')].map((t) => t.textContent));
  check('runs_filter_module', outs.length >= 1 && outs.every((o) => o === 'hello'), JSON.stringify(outs));
  const future = Math.floor(Date.now() / 1000) + 86400;
  await go('#/runs?from=' + future, 'runs');
  check('runs_filter_time', (await page.locator('tr.run-row').count()) === 0 && (await page.textContent('#runs-total')).startsWith('0 runs'));
  await go('#/runs?sort=duration:desc', 'runs');
  check('runs_sorted', (await page.inputValue('#runs-sort')) === 'duration:desc');
  await go('#/inbox?status=all&q=greeter', 'inbox');
  outs = await page.evaluate(() => [...document.querySelectorAll('table.inbox a.sub-name')].map((a) => a.textContent));
  check('inbox_search', outs.length >= 1 && outs.every((n) => n === 'greeter'), JSON.stringify(outs));
  await go('#/inbox?status=all&min_score=10&sort=score:desc', 'inbox');
  const scores = await page.evaluate(() => [...document.querySelectorAll('table.inbox .badge.score')].map((b) => Number(b.textContent)));
  check('inbox_score_sorted', scores.length >= 1 && scores.every((x) => x >= 10) && scores.every((x, i) => !i || scores[i - 1] >= x), JSON.stringify(scores));
  await go('#/inbox?status=all&age=-604800', 'inbox');
  check('inbox_age', (await page.locator('table.inbox tr[data-id]').count()) === 0);

  // a module's page: every version, its approvals and runs
  await go('#/modules/hello', 'modules-detail');
  const versions = await page.locator('section.version').count();
  check('module_versions', versions >= 2, String(versions));
  check('module_runs', (await page.locator('table.module-runs tbody tr').count()) >= 1);

  // the audit log browser: filters, each entry's proof, links to what it is about
  await go('#/audit?kind=approval', 'audit');
  const types = await page.evaluate(() => [...document.querySelectorAll('tr.entry-row')].map((r) => r.dataset.type));
  check('audit_filter_kind', types.length >= 1 && types.every((t) => t === 'approval'), JSON.stringify(types));
  check('audit_entry_links', await page.locator('tr.entry-row a[href^="#/modules/"]').count() >= 1);
  const seq = await page.getAttribute('tr.entry-row', 'data-seq');
  await page.click(`tr.entry-row[data-seq="${seq}"] button.proof-btn`);
  await page.waitForSelector(`#entry-${seq}-proof`, { timeout: T });
  check('audit_entry_proof', (await page.getAttribute(`#entry-${seq}-proof`, 'data-ok')) === '1');
  check('one_verified_at', (await page.evaluate(() => document.body.textContent.split('Verified at').length - 1)) === 1);
  await go('#/audit?actor=operator&name=hello', 'audit');
  check('audit_filter_actor_module', (await page.locator('tr.entry-row').count()) >= 1);

  // management: remove an agent, revoke a key (the last admin key is refused, and says why),
  // a policy signed as the CLI signs it
  await go('#/agents', 'agents');
  await page.click(`tr[data-name="${scen.agent}"] button.agent-remove`);
  await page.waitForSelector(`tr[data-name="${scen.agent}"] .badge:has-text("removed")`, { timeout: T });
  check('agent_removed', true);
  await go('#/trust', 'trust');
  await page.click('button.key-revoke');
  await page.waitForSelector('.toast:has-text("last admin key")', { timeout: T });
  check('key_revoke_refused_last_admin', true);
  await go('#/policies', 'policies');
  await page.fill('#f-policy-json', JSON.stringify({ name: 'console-made', capabilities: { args: true } }));
  await page.click('#btn-policy-prepare');
  await wait('#policy-statement');
  await page.click('#btn-policy-sign');
  await page.waitForSelector('.toast:has-text("Policy console-made is now version 1")', { timeout: 60000 });
  check('policy_added_signed', true);

  // every page: axe-core, title, aria-current, focus on the heading, fits 390 px without broken words
  const PAGES = [['dashboard', '#/dashboard', 'dashboard'], ['inbox', '#/inbox?status=all', 'inbox'], ['review', '#/inbox/' + scen.drift.id, 'inbox-detail'],
    ['runs', '#/runs', 'runs'], ['run', '#/runs/' + scen.trap.id, 'runs-detail'], ['modules', '#/modules', 'modules'], ['module', '#/modules/hello', 'modules-detail'],
    ['alerts', '#/alerts?all=1', 'alerts'], ['refusals', '#/refusals', 'refusals'], ['audit', '#/audit', 'audit'], ['trust', '#/trust', 'trust'],
    ['agents', '#/agents', 'agents'], ['policies', '#/policies', 'policies']];
  const axeBad = {};
  for (const [name, hash, attr] of PAGES) {
    await page.setViewportSize({ width: 1280, height: 900 });
    await go(hash, attr);
    await page.waitForTimeout(400);
    const a11y = await page.evaluate(() => ({
      title: document.title, h1: document.querySelector('main h1') && document.querySelector('main h1').textContent,
      focus: document.activeElement && document.activeElement.tagName,
      current: [...document.querySelectorAll('#nav a[aria-current="page"]')].map((a) => a.dataset.page),
      skip: document.querySelector('a.skip') === document.querySelector('body a, body button, body input'),
      live: document.querySelector('#conn').getAttribute('aria-live'),
    }));
    check('title_' + name, a11y.title.startsWith(a11y.h1.trim()) && a11y.title.endsWith('Night Core console'), JSON.stringify(a11y));
    check('focus_' + name, a11y.focus === 'H1', JSON.stringify(a11y));
    check('aria_current_' + name, a11y.current.length === 1 && hash.startsWith('#/' + a11y.current[0]), JSON.stringify(a11y));
    check('skip_link_' + name, a11y.skip && a11y.live === 'polite');
    await page.evaluate(AXE);
    const v = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
      .filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => x.id + ' ' + x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')));
    summary.axe[name] = v;
    if (v.length) axeBad[name] = v;
    if (DOCS_IMG) {
      await page.evaluate(() => { for (const t of document.querySelectorAll('#toasts .toast')) t.remove(); });
      await page.screenshot({ path: path.join(DOCS_IMG, `console-${name}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const fit = await page.evaluate(() => {
      const width = document.documentElement.scrollWidth;
      // a word split over two lines: its range has rects on two lines (identifiers, hashes and
      // code may break anywhere: they are not words)
      const broken = [];
      const walker = document.createTreeWalker(document.querySelector('#app'), NodeFilter.SHOW_TEXT);
      let n, seen = 0;
      while ((n = walker.nextNode()) && seen < 4000) {
        const p = n.parentElement;
        if (!p || p.closest('pre, code, .hash, .mono, svg, textarea, select, [hidden], details:not([open]) > :not(summary), thead, .sr-only')) continue;
        if (!p.getClientRects().length) continue;
        const re = /[^\s\-\/]{4,}/g;
        let m;
        while ((m = re.exec(n.data)) && seen < 4000) {
          seen++;
          const r = document.createRange();
          r.setStart(n, m.index);
          r.setEnd(n, m.index + m[0].length);
          const tops = new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top)));
          if (tops.size > 1) broken.push(m[0]);
        }
      }
      const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 391)
        .slice(-5).map((e) => `${e.tagName}.${e.className}#${e.id} ${(e.textContent || '').slice(0, 50)}`);
      return { width, broken: broken.slice(0, 10), wide };
    });
    summary.widths[name] = fit.width;
    check('fits_390_' + name, fit.width <= 390, JSON.stringify(fit));
    check('no_broken_words_' + name, fit.broken.length === 0, JSON.stringify(fit.broken));
    if (DOCS_IMG) {
      await page.evaluate(() => { for (const t of document.querySelectorAll('#toasts .toast')) t.remove(); });
      await page.screenshot({ path: path.join(DOCS_IMG, `console-${name}-390.png`), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  check('axe_no_serious', Object.keys(axeBad).length === 0, JSON.stringify(axeBad));

  // the header tells the truth: the worker stopped is "worker down", and live again once it is back
  await go('#/dashboard', 'dashboard');
  await page.waitForSelector('#conn[data-state="live"]', { timeout: T });
  await step('stop_worker', {});
  await page.waitForSelector('#conn[data-state="down"]', { timeout: 30000 });
  check('header_worker_down', (await page.textContent('#conn')) === 'worker down');
  await step('start_worker', {});
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 30000 });
  check('header_worker_back', true);

  // every list request is paginated at most one page
  check('list_requests_paginated', summary.list_requests.length > 0 &&
    summary.list_requests.every((r) => r.limit !== null && Number(r.limit) >= 1 && Number(r.limit) <= 50),
    JSON.stringify(summary.list_requests.filter((r) => !(Number(r.limit) <= 50))));
  check('no_injected_img_end', await noInjectedImg());

  // 13. without a session: a page that says how to get a new link, never raw JSON
  const fresh = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => summary.console_errors.push('pageerror: ' + e.message));
    return [ctx, p];
  };
  const noSession = async (p, why) => {
    await p.waitForSelector('#main[data-page="no-session"] #no-session', { timeout: T });
    const cmd = await p.textContent('#no-session-cmd');
    const text = await p.textContent('#no-session-why');
    return cmd === 'nightcore-console link' && text.includes(why) ? text : null;
  };
  let [ctx2, p2] = await fresh();
  await p2.goto(origin + '/');
  check('no_token_shows_link_help', await noSession(p2, 'no console session'));
  await p2.screenshot({ path: path.join(ARTIFACTS, 'no-session.png'), fullPage: true });
  await p2.goto(URL_);   // the link this test logged in with: used once already
  check('used_link_refused', await noSession(p2, 'already used'));
  check('used_link_not_in_address_bar', !p2.url().includes('token='), p2.url());
  // a fresh link (nightcore-console link) opens a session in another tab
  const linked = await step('link', {});
  await p2.goto(linked.url);
  await p2.waitForSelector('#main[data-page="dashboard"] #card-pending', { timeout: T });
  check('fresh_link_works', !p2.url().includes('token='));
  // a 401 inside the page (the session is gone): the same page, not an error box
  await p2.evaluate(() => sessionStorage.setItem('nc_session', '0'.repeat(64)));
  await p2.reload();
  check('api_401_shows_link_help', await noSession(p2, 'session has ended'));
  await ctx2.close();
  // log out: the session ends on the console too (its secret opens nothing afterwards)
  const oldSecret = await page.evaluate(() => sessionStorage.getItem('nc_session'));
  await page.click('#logout-btn');
  check('logout_page', !!(await noSession(page, 'logged out')));
  const after = await page.evaluate(async (s) => (await fetch('/api/status', { headers: { Authorization: 'Bearer ' + s } })).status, oldSecret);
  check('logout_ends_session', after === 401 && (await page.evaluate(() => sessionStorage.getItem('nc_session'))) === null, String(after));
  summary.csp_violations = await page.evaluate(() => window.__csp);
  check('no_csp_violations', summary.csp_violations.length === 0, summary.csp_violations.join('; '));
  summary.ok = true;
} catch (e) {
  summary.error = String(e && e.stack ? e.stack : e);
  if (page) {
    try {
      const file = path.join(ARTIFACTS, 'failure.png');
      await page.screenshot({ path: file, fullPage: true });
      summary.screenshots.push(file);
    } catch (e2) { /* ignored */ }
  }
} finally {
  await browser.close();
  process.stdout.write('SUMMARY ' + JSON.stringify(summary) + '\n');
  rl.close();
  process.exit(summary.ok ? 0 : 1);
}
