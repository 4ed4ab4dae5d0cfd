#!/usr/bin/env node
// run-e2e.js — runs every end-to-end module dist/test/e2e/*.e2e.js as test/e2e/CONTRACT.md says:
// per module a fresh workspace (sample model, test/models copies, an invalid file), the VSIX
// installed into a fresh code-server on 127.0.0.1, one headless Chromium, then run(ctx).
//
// usage: node test/e2e/lib/run-e2e.js --vsix FILE.vsix [--code-server DIR] [--keep] [NAME...]
//   NAME      only these modules (file name without .e2e.js); also env BIG_SHRINK_E2E_ONLY=a,b
//   --keep    keep the scratch folders (also env BIG_SHRINK_E2E_KEEP=1)
// env: BIG_SHRINK_E2E_TIMEOUT seconds per module (600).
// Prints "e2e NAME: N passed, N failed" per module and "e2e: N passed, N failed" last; exit 1 if any
// failed, 2 on harness errors (no VSIX, code-server will not start, ...).
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const web = require('./vscode-web');
const { makeWorkspace, testModelsDir } = require('./make-workspace');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '../../..');
const argv = process.argv.slice(2);
const opt = (k) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : undefined;
};
const valued = new Set(['--vsix', '--code-server']);
const names = argv.filter((a, i) => !a.startsWith('--') && !valued.has(argv[i - 1]));
const only = [...names, ...(process.env.BIG_SHRINK_E2E_ONLY || '').split(',').filter(Boolean)];
const keep = argv.includes('--keep') || process.env.BIG_SHRINK_E2E_KEEP === '1';
const timeoutS = Number(process.env.BIG_SHRINK_E2E_TIMEOUT || 600);
const testModels = testModelsDir();
const resultsRoot = path.join(ROOT, 'test-results', 'e2e');
const cli = path.join(ROOT, 'dist', 'cli.js');

function die(msg) {
  console.log(`[e2e] ${msg}`);
  console.log('e2e: 0 passed, 1 failed');
  process.exit(2);
}

const vsix = opt('--vsix') && path.resolve(opt('--vsix'));
if (!vsix || !fs.existsSync(vsix)) die(`no VSIX: pass --vsix FILE (npm run package makes one); got ${vsix}`);
const cs =
  opt('--code-server') ||
  execFileSync('bash', [path.join(HERE, 'install-code-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop();

const e2eDir = path.join(ROOT, 'dist', 'test', 'e2e');
const modules = (fs.existsSync(e2eDir) ? fs.readdirSync(e2eDir) : [])
  .filter((f) => f.endsWith('.e2e.js'))
  .sort()
  .map((f) => ({ name: f.slice(0, -'.e2e.js'.length), file: path.join(e2eDir, f) }))
  .filter((m) => only.length === 0 || only.includes(m.name));
if (modules.length === 0)
  die(`no e2e modules in ${path.relative(ROOT, e2eDir)}${only.length ? ` named ${only.join(', ')}` : ''}`);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-e2e.'));
fs.mkdirSync(resultsRoot, { recursive: true });
const metricsFile = path.join(resultsRoot, 'metrics.json');
fs.writeFileSync(metricsFile, '[]\n');

function copyLogs(runDir, dest) {
  fs.mkdirSync(dest, { recursive: true });
  for (const f of ['code-server.log', 'net-guard.log']) {
    if (fs.existsSync(path.join(runDir, f))) fs.copyFileSync(path.join(runDir, f), path.join(dest, f));
  }
  const logs = path.join(runDir, 'ud', 'logs');
  if (fs.existsSync(logs)) fs.cpSync(logs, path.join(dest, 'workbench'), { recursive: true });
}

/** Install the VSIX into a fresh run dir and start code-server; returns its base URL. */
function startCodeServer(runDir, ws) {
  const inst = spawnSync('bash', [path.join(HERE, 'install-extension.sh'), cs, runDir, vsix], {
    encoding: 'utf8',
  });
  if (inst.status !== 0) throw new Error(`installing ${vsix} failed:\n${inst.stdout}${inst.stderr}`);
  const env = { ...process.env };
  try {
    execFileSync('bash', [path.join(HERE, 'start-code-server.sh'), cs, runDir, ws], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  } catch (e) {
    execFileSync('bash', [path.join(HERE, 'stop-code-server.sh'), runDir]);
    throw e;
  }
  return fs.readFileSync(path.join(runDir, 'url'), 'utf8').trim();
}

function withTimeout(promise, seconds) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no result after ${seconds}s (BIG_SHRINK_E2E_TIMEOUT)`)),
      seconds * 1000,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function runModule(mod) {
  const t0 = Date.now();
  const at = () => `${((Date.now() - t0) / 1000).toFixed(2)}s`;
  const dir = path.join(scratch, mod.name);
  const runDir = path.join(dir, 'run');
  const ws = path.join(dir, 'ws');
  const resultsDir = path.join(resultsRoot, mod.name);
  fs.rmSync(resultsDir, { recursive: true, force: true });
  fs.mkdirSync(resultsDir, { recursive: true });
  const tally = { passed: 0, failed: 0 };
  const check = (name, ok, detail = '') => {
    ok ? tally.passed++ : tally.failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
    return ok;
  };

  makeWorkspace(ws);
  const url = startCodeServer(runDir, ws);
  console.log(`[e2e] ${mod.name}: code-server ${url} (run dir ${runDir})`);

  let browser;
  const external = [];
  const ctx = {
    name: mod.name,
    root: ROOT,
    url,
    workspace: ws,
    workbenchUrl: web.workbenchUrl(url, ws),
    runDir,
    resultsDir,
    cli,
    testModels,
    web,
    async newPage(options = {}) {
      browser = browser || (await web.launchChromium());
      const page = await browser.newPage({ viewport: { width: 1400, height: 850 }, ...options });
      const seen = web.watchExternalRequests(page);
      external.push(seen);
      return page;
    },
    check,
    log: (...args) => console.log(`[${at()}]`, ...args),
    metric(name, value, unit, target) {
      console.log(`metric ${name}: ${value} ${unit}${target ? ` (target ${target})` : ''}`);
      const all = JSON.parse(fs.readFileSync(metricsFile, 'utf8'));
      all.push({ module: mod.name, name, value, unit, target: target ?? null });
      fs.writeFileSync(metricsFile, `${JSON.stringify(all, null, 2)}\n`);
    },
    async inspect(modelPath, args = []) {
      const r = spawnSync('node', [cli, 'inspect', modelPath, '--json', ...args], {
        encoding: 'utf8',
        maxBuffer: 1 << 30,
      });
      if (r.status !== 0)
        throw new Error(`big-shrink inspect ${modelPath} exited ${r.status}: ${r.stderr.trim()}`);
      return JSON.parse(r.stdout);
    },
    async makeModel(file, { megabytes, external: ext = false }) {
      const args = [
        path.join(ROOT, 'scripts', 'make-sample-model.js'),
        file,
        '--megabytes',
        String(megabytes),
      ];
      execFileSync('node', ext ? [...args, '--external'] : args, { stdio: ['ignore', 'ignore', 'inherit'] });
    },
    async setColorTheme(page, theme) {
      // F1 "Preferences: Color Theme" (clicked by its exact label: typing the title also lists
      // "Browse Color Themes in Marketplace" first), then the theme's row: its label is e.g. "Dark
      // Modern" and its description the setting value "Default Dark Modern".
      const exact = (t) => new RegExp(`^${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').waitFor();
      await page.keyboard.type('Preferences: Color Theme');
      await page
        .locator('.quick-input-list .monaco-list-row[aria-label^="Preferences: Color Theme"]')
        .filter({ visible: true })
        .first()
        .click();
      await page
        .locator('.quick-input-widget input[placeholder*="Theme"]')
        .filter({ visible: true })
        .waitFor();
      await page.keyboard.type(theme);
      await page
        .locator('.quick-input-list .monaco-list-row')
        .filter({ visible: true })
        .filter({ has: page.locator('.label-name, .label-description', { hasText: exact(theme) }) })
        .first()
        .click();
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
      // The picker previews themes while it is open: wait until the workbench's classes settle.
      let last = '';
      for (let same = 0; same < 3; await page.waitForTimeout(200)) {
        const now = await page.locator('.monaco-workbench').getAttribute('class');
        same = now === last ? same + 1 : 0;
        last = now;
      }
      await page.waitForTimeout(300); // webviews repaint with the new theme variables
    },
    setUserSettings(settings) {
      const f = path.join(runDir, 'ud', 'User', 'settings.json');
      const now = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {};
      fs.writeFileSync(f, `${JSON.stringify({ ...now, ...settings }, null, 2)}\n`);
    },
  };

  let result;
  try {
    const m = require(mod.file);
    if (typeof m.run !== 'function') throw new Error(`${path.relative(ROOT, mod.file)} exports no run(ctx)`);
    const returned = await withTimeout(m.run(ctx), timeoutS);
    result =
      returned && typeof returned.passed === 'number'
        ? { passed: returned.passed, failed: returned.failed }
        : tally;
  } catch (e) {
    console.log(`FAIL ${mod.name}: ${e && e.stack ? e.stack : e}`);
    result = { passed: tally.passed, failed: tally.failed + 1 };
    const pages = browser ? browser.contexts().flatMap((c) => c.pages()) : [];
    await Promise.all(
      pages.map((p, i) =>
        p.screenshot({ path: path.join(resultsDir, `failure-${i + 1}.png`) }).catch(() => {}),
      ),
    );
  } finally {
    if (browser) await browser.close().catch(() => {});
    execFileSync('bash', [path.join(HERE, 'stop-code-server.sh'), runDir]);
    copyLogs(runDir, path.join(resultsDir, 'logs'));
  }
  const left = external.flat();
  if (left.length) {
    result.failed++;
    console.log(`FAIL ${mod.name}: requests left 127.0.0.1: ${left.slice(0, 5).join(' ')}`);
  }
  const guard = path.join(runDir, 'net-guard.log');
  if (fs.existsSync(guard) && fs.statSync(guard).size) {
    result.failed++;
    console.log(`FAIL ${mod.name}: net-guard refused lookups:\n${fs.readFileSync(guard, 'utf8').trim()}`);
  }
  console.log(
    `e2e ${mod.name}: ${result.passed} passed, ${result.failed} failed (${at()}; screenshots and logs in ${path.relative(ROOT, resultsDir)})`,
  );
  return result;
}

(async () => {
  let passed = 0;
  let failed = 0;
  console.log(`[e2e] code-server ${cs}\n[e2e] VSIX ${vsix}\n[e2e] scratch ${scratch}`);
  for (const mod of modules) {
    let r;
    try {
      r = await runModule(mod);
    } catch (e) {
      console.log(`FAIL ${mod.name}: harness error: ${e && e.stack ? e.stack : e}`);
      r = { passed: 0, failed: 1 };
    }
    passed += r.passed;
    failed += r.failed;
  }
  if (keep) console.log(`[e2e] kept ${scratch}`);
  else fs.rmSync(scratch, { recursive: true, force: true });
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
