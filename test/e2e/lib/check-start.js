#!/usr/bin/env node
// check-start.js — tests the README's main job as a newcomer meets it: runs scripts/start.sh (as
// `npm start` does) in a fresh state folder, opens the URL it prints in Chromium, expects the sample
// model in the Big Shrink model editor (a webview showing EXPECT; by default LayerNormalization, an
// operator of the sample that only a parsed model shows), then presses "Ctrl+C" (SIGINT to start.sh's
// process group) and expects a clean stop; then starts `npm start` once more and stops it with SIGTERM
// to the npm process alone (as `kill PID` or a process manager does), expecting code-server gone too.
//
// usage: node test/e2e/lib/check-start.js [--expect TEXT] [--skip-build]
//   --skip-build  BIG_SHRINK_SKIP_BUILD=1: reuse dist/ and big-shrink-linux-x64.vsix (run-all.sh)
// Screenshot: test-results/main-job/start.png. Last line: "main-job: N passed, N failed".
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const web = require('./vscode-web');

const ROOT = path.resolve(__dirname, '../../..');
const argv = process.argv.slice(2);
const expectIdx = argv.indexOf('--expect');
const expected = expectIdx >= 0 ? argv[expectIdx + 1] : 'LayerNormalization';
const results = path.join(ROOT, 'test-results', 'main-job');
fs.rmSync(results, { recursive: true, force: true });
fs.mkdirSync(results, { recursive: true });
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-start.'));

let passed = 0;
let failed = 0;
const check = (name, ok, detail = '') => {
  ok ? passed++ : failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
};
const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);

/** The first webview frame whose text contains `text`. */
async function webviewWithText(page, text, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      if (!f.url().includes('/webview/')) continue;
      const body = await Promise.race([
        f.evaluate(() => document.body?.innerText ?? '').catch(() => ''),
        new Promise((r) => setTimeout(() => r(''), 1000)),
      ]);
      if (body.includes(text)) return f;
    }
    await page.waitForTimeout(250);
  }
  return null;
}

/** Whether process group `pid` still has a live process. */
function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `npm start` (not start.sh) stopped by SIGTERM to the npm process alone, as a process manager or
 * `kill PID` does: npm forwards it, and code-server must be gone afterwards (the build is reused).
 */
async function stopThroughNpm() {
  const home2 = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-start.'));
  const env = { ...process.env, BIG_SHRINK_HOME: home2, BIG_SHRINK_SKIP_BUILD: '1' };
  const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout.on('data', (d) => (out += d));
  npm.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => npm.on('exit', (code, signal) => r({ code, signal })));
  const deadline = Date.now() + 300 * 1000;
  while (!/Press Ctrl\+C to stop/.test(out) && Date.now() < deadline && npm.exitCode === null)
    await new Promise((r) => setTimeout(r, 200));
  const pidFile = path.join(home2, 'run', 'pid');
  const csPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
  check(
    'npm start serves (second start, for SIGTERM)',
    csPid > 0,
    csPid ? '' : out.split('\n').slice(-10).join('\n'),
  );
  npm.kill('SIGTERM');
  const end = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 30000))]);
  // code-server's group may take a moment after npm returns.
  for (let i = 0; i < 50 && csPid && groupAlive(csPid); i++) await new Promise((r) => setTimeout(r, 200));
  check(
    'SIGTERM to the npm process stops npm start and code-server',
    end !== null && !!csPid && !groupAlive(csPid) && /\[start\] stopped/.test(out),
    end ? `npm exit ${end.code ?? end.signal}` : 'npm still running after 30s',
  );
  if (csPid && groupAlive(csPid)) process.kill(-csPid, 'SIGKILL');
  if (end === null) npm.kill('SIGKILL');
  fs.writeFileSync(path.join(results, 'npm-start-sigterm.log'), out);
  fs.rmSync(home2, { recursive: true, force: true });
}

(async () => {
  const env = { ...process.env, BIG_SHRINK_HOME: home };
  if (argv.includes('--skip-build')) env.BIG_SHRINK_SKIP_BUILD = '1';
  // detached: start.sh leads its own process group, so SIGINT reaches it as Ctrl+C in a terminal would.
  const child = spawn('bash', [path.join(ROOT, 'scripts', 'start.sh')], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));

  const deadline = Date.now() + 900 * 1000; // a cold code-server install takes a few minutes
  let url;
  while (!url && Date.now() < deadline && child.exitCode === null) {
    url = (out.match(/Open this URL[^\n]*\n\s*\n\s*(http\S+)/) || [])[1];
    await new Promise((r) => setTimeout(r, 200));
  }
  check(
    'npm start prints the URL',
    !!url,
    url ? `${url} after ${secs()}s` : out.split('\n').slice(-15).join('\n'),
  );

  let browser;
  if (url) {
    try {
      browser = await web.launchChromium();
      const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
      const external = web.watchExternalRequests(page);
      const tOpen = Date.now();
      await page.goto(url);
      const frame = await webviewWithText(page, expected, 120000);
      check(
        `the URL shows the sample model in a webview containing "${expected}"`,
        !!frame,
        frame ? `${((Date.now() - tOpen) / 1000).toFixed(1)}s after opening the URL` : '',
      );
      const tab = await page
        .locator('.tabs-container .tab.active')
        .innerText()
        .catch(() => '');
      check(
        'the active editor tab is sample-mlp.onnx',
        tab.trim() === 'sample-mlp.onnx',
        JSON.stringify(tab),
      );
      await page.waitForTimeout(1000);
      await page.screenshot({ path: path.join(results, 'start.png') });
      check('no request left 127.0.0.1', external.length === 0, external.slice(0, 3).join(' '));
    } catch (e) {
      check('browser session', false, e.message.split('\n')[0]);
    } finally {
      if (browser) await browser.close().catch(() => {});
    }
  }

  const pidFile = path.join(home, 'run', 'pid');
  const csPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
  try {
    process.kill(-child.pid, 'SIGINT');
  } catch {
    /* already gone */
  }
  const end = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 30000))]);
  check(
    'Ctrl+C stops npm start',
    end !== null && /\[start\] stopped/.test(out),
    end ? `exit ${end.code ?? end.signal}` : 'still running after 30s',
  );
  let alive = false;
  try {
    if (csPid) process.kill(-csPid, 0);
    alive = !!csPid;
  } catch {
    alive = false;
  }
  check('code-server and its children are gone', !alive);
  if (end === null) process.kill(-child.pid, 'SIGKILL');
  fs.writeFileSync(path.join(results, 'start.log'), out);
  fs.rmSync(home, { recursive: true, force: true });
  await stopThroughNpm();
  console.log(
    `main-job: ${passed} passed, ${failed} failed (${secs()}s; screenshot and log in test-results/main-job)`,
  );
  process.exit(failed ? 1 : 0);
})();
