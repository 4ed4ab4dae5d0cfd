// net-guard.cjs — preloaded into code-server and everything it forks (NODE_OPTIONS=--require,
// which VS Code passes on to the extension host). Refuses DNS lookups of non-loopback names
// and records each attempt, so a test run provably talks to nobody but 127.0.0.1, and any
// phone-home (telemetry, experiments, marketplace) shows up in RUN_DIR/net-guard.log.
// IP-literal connections do not go through dns.lookup and are not covered.
//
// Copied from the team's shared recipe ../shared/e2e/ (proven by its selftest.sh) so that users
// and CI of Big Shrink do not depend on ../shared; changes from the original are marked "Big Shrink:".
'use strict';
const dns = require('dns');
const fs = require('fs');
const LOG = process.env.E2E_NET_GUARD_LOG;
const allowed = (h) => !h || h === 'localhost' || /^127\./.test(h) || h === '::1' || h === '[::1]';
const refuse = (h) => {
  const line = `[net-guard] pid ${process.pid} refused lookup of ${h}\n`;
  try { if (LOG) fs.appendFileSync(LOG, line); else process.stderr.write(line); } catch { /* ignore */ }
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${h} (refused by e2e net-guard)`), { code: 'ENOTFOUND', hostname: h });
};
const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (allowed(hostname)) return lookup.apply(this, arguments);
  const cb = typeof options === 'function' ? options : callback;
  const err = refuse(hostname);
  process.nextTick(() => cb(err));
  return {};
};
const plookup = dns.promises.lookup;
dns.promises.lookup = function (hostname, ...rest) {
  return allowed(hostname) ? plookup.call(this, hostname, ...rest) : Promise.reject(refuse(hostname));
};
