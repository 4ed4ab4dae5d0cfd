#!/usr/bin/env node
// run-ext-tests.js — run an extension's Mocha integration tests (the @vscode/test-electron
// contract: a module exporting run(): Promise<void> that uses the `vscode` API) inside
// code-server's Node extension host, and return their result as this process's exit code.
//
// How: code-server's CLI has no --extensionDevelopmentPath/--extensionTestsPath (it rejects
// unknown options), but VS Code's web workbench reads them from the `payload` URL parameter
// (as vscode-remote:// URIs). The remote extension host then loads the extension under
// development, requires the tests module and calls run(); when it settles the workbench calls
// window.codeAutomationExit(code) — exposed here with Playwright — and forwards the extension
// host's console (Mocha's reporter output) through window.codeAutomationLog(level, args).
// A browser tab is required: the server starts an extension host only for a connected window.
//
// usage: node run-ext-tests.js --code-server DIR --extension DEV_DIR --tests TESTS_MODULE
//            --workspace DIR [--timeout SECONDS=300] [--env KEY=VALUE ...] [--run-dir DIR]
//            [--keep] [--verbose]
//   TESTS_MODULE is an absolute path without .js, e.g. DEV_DIR/dist/test/suite/index
//   --env values reach the extension host (set on the code-server process).
// exit code: the tests' (0 pass, 1 fail), 124 on timeout, 2 on harness errors.
// Run it from a folder where playwright-core is installed (it is resolved from the cwd).
//
// Copied from the team's shared recipe ../shared/e2e/ (proven by its selftest.sh) so that users
// and CI of Big Shrink do not depend on ../shared; changes from the original are marked "Big Shrink:".
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');
const w = require('./vscode-web'); // Big Shrink: vscode-web.js sits beside this script

const argv = process.argv.slice(2);
const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const all = (k) => argv.flatMap((a, i) => (a === k ? [argv[i + 1]] : []));
const cs = opt('--code-server'); const dev = opt('--extension'); const tests = opt('--tests'); const ws = opt('--workspace');
if (!cs || !dev || !tests || !ws) {
  console.error('usage: run-ext-tests.js --code-server DIR --extension DIR --tests MODULE --workspace DIR [--timeout S] [--env K=V]... [--run-dir DIR] [--keep] [--verbose]');
  process.exit(2);
}
const timeoutS = Number(opt('--timeout', '300'));
const verbose = argv.includes('--verbose');
const runDir = opt('--run-dir') || fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-ext-tests-'));
const env = { ...process.env };
for (const kv of all('--env')) { const i = kv.indexOf('='); env[kv.slice(0, i)] = kv.slice(i + 1); }
const abs = (p) => path.resolve(p);

// Workbench chatter that codeAutomationLog also forwards; hidden unless --verbose.
const NOISE = /^(Resolving connection token|Resolved connection token|Creating a socket|Ignoring fetching additional builtin|\[Service Worker\]|ChatSessionStore|Updating additional builtin|Extension host \(Remote\) is unresponsive|Extension host \(Remote\) is responsive)/;

(async () => {
  const t0 = Date.now();
  const started = execFileSync('bash', [path.join(__dirname, 'start-code-server.sh'), cs, runDir, abs(ws)], { env, encoding: 'utf8' }).trim();
  console.log(`[run-ext-tests] code-server ${started} run-dir=${runDir}`);
  const base = fs.readFileSync(path.join(runDir, 'url'), 'utf8').trim();
  let code = 2;
  let browser;
  try {
    browser = await w.launchChromium();
    const page = await browser.newPage();
    let resolveExit;
    const exited = new Promise((r) => (resolveExit = r));
    await page.exposeFunction('codeAutomationLog', (level, args) => {
      const line = util.format(...(Array.isArray(args) ? args : [args]));
      if (!verbose && NOISE.test(line)) return;
      // Mocha's reporter arrives at level "info": print it bare, so a CI that reads the
      // closing "N passed, N failed" line sees it alone on its line.
      console.log(level === 'info' ? line : `[${level}] ${line}`);
    });
    await page.exposeFunction('codeAutomationExit', (c) => resolveExit(c));
    if (verbose) page.on('console', (m) => console.log(`[browser ${m.type()}] ${m.text()}`));
    const payload = [
      ['extensionDevelopmentPath', w.remoteUri(base, abs(dev))],
      ['extensionTestsPath', w.remoteUri(base, abs(tests))],
    ];
    await page.goto(w.workbenchUrl(base, abs(ws), payload));
    const result = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), timeoutS * 1000))]);
    if (result === 'timeout') { console.log(`[run-ext-tests] no result after ${timeoutS}s`); code = 124; }
    else code = Number(result);
  } catch (e) {
    console.log(`[run-ext-tests] harness error: ${e.stack || e}`);
    code = 2;
  } finally {
    if (browser) await browser.close().catch(() => {});
    execFileSync('bash', [path.join(__dirname, 'stop-code-server.sh'), runDir]);
    const guard = path.join(runDir, 'net-guard.log');
    if (fs.existsSync(guard) && fs.statSync(guard).size) console.log(`[run-ext-tests] net-guard refused lookups:\n${fs.readFileSync(guard, 'utf8')}`);
    if (!argv.includes('--keep') && !opt('--run-dir')) fs.rmSync(runDir, { recursive: true, force: true });
  }
  console.log(`[run-ext-tests] exit code ${code} after ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  process.exit(code);
})();
