// vscode-web.js — small helpers to drive code-server's VS Code web workbench with
// playwright-core and Debian's /usr/bin/chromium (`npx playwright install` cannot work
// offline). playwright-core is resolved from the current directory first, so install it as
// a devDependency of the project that runs the tests.
//
// Copied from the team's shared recipe ../shared/e2e/ (proven by its selftest.sh) so that users
// and CI of Big Shrink do not depend on ../shared; changes from the original are marked "Big Shrink:".
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function loadPlaywright() {
  const p = require.resolve('playwright-core', { paths: [process.cwd(), __dirname] });
  return require(p);
}

/** Launch headless Debian Chromium. Playwright gives it a fresh temporary profile
 *  (--user-data-dir may not be passed in args); HOME/XDG dirs point into a temp folder
 *  too, so nothing lands in ~/.config/chromium (crashpad) or ~/.cache. Host resolution is
 *  limited to loopback: the page cannot reach any other host even if it tried. */
async function launchChromium() {
  const { chromium } = loadPlaywright();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-chromium-home-'));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  browser.on('disconnected', () => fs.rmSync(home, { recursive: true, force: true }));
  return browser;
}

/** Record every request the page (and its iframes/workers) makes to a non-loopback host. */
function watchExternalRequests(page) {
  const external = [];
  page.context().on('request', (r) => {
    try {
      const u = new URL(r.url());
      // Big Shrink: webview resources (asWebviewUri) use the synthetic host
      // <authority>.vscode-resource.vscode-cdn.net, which the webview's service worker answers from
      // code-server on 127.0.0.1; they never reach the network (and --host-resolver-rules would stop them).
      if ((u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:')
        && !/^(127\.|localhost$|\[::1\]$)/.test(u.hostname)
        && !u.hostname.endsWith('.vscode-resource.vscode-cdn.net')) external.push(r.url());
    } catch { /* data:, blob: ... */ }
  });
  return external;
}

/** URL that opens `folder` (a path on the code-server machine). `payload` is VS Code web's
 *  list of [key, value] pairs, e.g. extensionDevelopmentPath / extensionTestsPath. */
function workbenchUrl(baseUrl, folder, payload) {
  let url = `${baseUrl}?folder=${encodeURIComponent(folder)}`;
  if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return url;
}

/** code-server's remote authority is the host:port the browser uses; server paths become
 *  vscode-remote://host:port/abs/path URIs. */
function remoteUri(baseUrl, absPath) {
  return `vscode-remote://${new URL(baseUrl).host}${absPath}`;
}

function explorerItem(page, name) {
  return page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
}

/** Ctrl+P, type `name`, Enter. File search is served by the remote extension host, which
 *  registers its search provider a few seconds after the workbench shows, so retry. */
async function quickOpen(page, name, { attempts = 10 } = {}) {
  for (let i = 1; ; i++) {
    await page.keyboard.press('Control+P');
    try { await page.locator('.quick-input-widget input').waitFor({ timeout: 5000 }); } catch {
      // The key never reached the workbench (seen after a click inside a webview): focus the side
      // bar's title and press it again.
      if (i >= attempts) throw new Error(`Ctrl+P never opened quick open (looking for ${name})`);
      await page.locator('.part.sidebar .composite.title').first().click().catch(() => undefined);
      continue;
    }
    await page.keyboard.type(name);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
    try { await row.waitFor({ timeout: 3000 }); } catch {
      await page.keyboard.press('Escape');
      if (i >= attempts) throw new Error(`quick open never listed ${name}`);
      continue;
    }
    await page.keyboard.press('Enter');
    return i;
  }
}

/** Wait until the command palette lists `title` (a command contributed by the extension's
 *  package.json). The workbench learns remote extensions' contributions a few seconds after
 *  it shows; a .onnx file opened before that opens in the plain text editor ("binary
 *  file") instead of the custom editor. Call this before opening files. */
async function waitForCommand(page, title, { timeoutMs = 60000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').waitFor();
    await page.keyboard.type(title);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    const found = await row.waitFor({ timeout: 2000 }).then(() => true, () => false);
    await page.keyboard.press('Escape');
    if (found) return;
    if (Date.now() > deadline) throw new Error(`command palette never listed "${title}"`);
    await page.waitForTimeout(500);
  }
}

/** F1, type the command's title, Enter. */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').waitFor();
  await page.keyboard.type(title);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

/** Webviews are two nested iframes: <iframe class="webview ready"> (VS Code's host page,
 *  .../webview/browser/pre/index.html) → <iframe id="active-frame"> (fake.html, holding the
 *  extension's HTML). Returns the frame, at any depth, that contains `selector`.
 *  Equivalent locator chain:
 *    page.frameLocator('iframe.webview.ready').frameLocator('#active-frame').locator(selector) */
async function findWebviewFrame(page, selector, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  // frame.$() can stall on a frame that is being navigated or swapped (VS Code loads the
  // content into a pending iframe and then promotes it): bound each probe.
  const probe = (f) => Promise.race([
    f.$(selector).then((h) => !!h, () => false),
    new Promise((r) => setTimeout(() => r(false), 1000)),
  ]);
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      if (f === page.mainFrame() || !f.url().includes('/webview/')) continue;
      if (await probe(f)) return f;
    }
    await page.waitForTimeout(200);
  }
  throw new Error(`no webview frame contains ${selector} after ${timeoutMs} ms`);
}

/** Right-click `name` in the explorer and click the context-menu entry `label`. */
async function explorerContextCommand(page, name, label, { screenshot } = {}) {
  await explorerItem(page, name).click({ button: 'right' });
  const item = page.locator('.monaco-menu .action-item', { hasText: label }).first();
  await item.waitFor({ timeout: 10000 });
  if (screenshot) { await page.waitForTimeout(300); await page.screenshot({ path: screenshot }); } // menus fade in
  await item.click();
}

/** Wait for a notification toast containing `text`; returns its first line. Toasts slide
 *  in: wait a little before a screenshot. */
async function waitForNotification(page, text, timeoutMs = 15000) {
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  await toast.waitFor({ timeout: timeoutMs });
  return (await toast.innerText()).split('\n')[0];
}

module.exports = {
  loadPlaywright, launchChromium, watchExternalRequests, workbenchUrl, remoteUri, explorerItem,
  quickOpen, waitForCommand, runCommand, findWebviewFrame, explorerContextCommand, waitForNotification,
};
