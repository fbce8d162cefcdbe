// End-to-end test of the web console (src/console/web) in a real browser: Debian's chromium
// driven by playwright-core (never `playwright install`). Run by node, not by the Playwright
// test runner; tests/integration/test_console_e2e.py starts the worker and the console and drives it.
//
// Environment:
//   NC_CONSOLE_URL  the console URL with its start-up token (first stdout line of nightcore-console)
//   NC_HOME, NC_BIN the Night Core home and bin dir (informational: the wrapper does the worker calls)
//   NC_ARTIFACTS    where screenshots go (default build/e2e-artifacts/)
//   NC_CHROMIUM     the browser (default /usr/bin/chromium)
//
// The wrapper and this script take turns over stdio: the script prints `STEP <name> <json>` and
// waits for one line `GO <json>` on stdin (the wrapper did the step: submitted, ran, seeded);
// `LOG ...` lines are progress; the last line is `SUMMARY <json>`. Exit 0 when every check passed.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';

const URL_ = process.env.NC_CONSOLE_URL || process.argv[2];
const ARTIFACTS = process.env.NC_ARTIFACTS || path.join('build', 'e2e-artifacts');
const CHROMIUM = process.env.NC_CHROMIUM || '/usr/bin/chromium';
const XSS = '<img src=x onerror="window.__xss=1">';
const T = 15000;

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

const summary = { ok: false, checks: {}, screenshots: [], api_requests: 0, list_requests: [], console_errors: [], csp_violations: [], error: null };
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
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
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
  const go = async (hash, pageAttr) => {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.waitForSelector(`#main[data-page="${pageAttr}"]`, { timeout: T });
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

  // 8. modules: approvals grouped by name, revoke after a confirmation
  await go('#/modules', 'modules');
  await page.waitForSelector(`section.module[data-name="${sub.name}"] button.revoke`, { timeout: T });
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

  // 11. revoke (confirm dialog accepted)
  await go('#/modules', 'modules');
  await page.click(`section.module[data-name="${sub.name}"] button.revoke`);
  await page.waitForSelector(`section.module[data-name="${sub.name}"] .badge.b-bad:has-text("revoked")`, { timeout: T });
  check('revoked', true);

  // 12. the dashboard with data: charts drawn as SVG
  await go('#/dashboard', 'dashboard');
  await page.waitForSelector('#runs-chart rect.bar', { timeout: T });
  await page.waitForSelector('#score-chart rect.bar', { timeout: T });
  check('charts_drawn', true);
  await shot('dashboard');

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
