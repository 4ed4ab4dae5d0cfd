#!/usr/bin/env bash
# install-code-server.sh — offline, idempotent install of code-server 4.100.3
# (the VS Code 1.100.3 web workbench + server) from the npm registry, so that a
# VS Code extension can be loaded and tested in a real VS Code on a machine that
# reaches only the npm registry and Debian's apt repositories.
#
# usage:  install-code-server.sh [CACHE_DIR]
#         CACHE_DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/vscode-e2e/code-server-4.100.3
# output: the last line on stdout is the code-server package folder (it holds
#         out/node/entry.js); progress goes to stderr, npm's log to CACHE_DIR/install.log.
#
# Requirements: Linux x86_64, Node 20 (code-server 4.100.x refuses other majors; newer
# code-server releases need Node 22), root for apt-get (as in CI). ~310 MB of disk.
#
# Why each workaround (nothing is fetched from any host but the npm registry):
#  * @vscode/ripgrep@1.15.11 (lib/vscode) downloads rg from GitHub in its postinstall,
#    unless $TMPDIR/vscode-ripgrep-cache-1.15.11/<asset>.tar.gz exists ("Using cached
#    download"). We build that tarball from Debian's /usr/bin/rg (package ripgrep 13.0.0):
#    the postinstall untars it and expects a top-level `rg`.
#  * argon2 (node-pre-gyp) and kerberos (prebuild-install) first try GitHub for prebuilt
#    binaries. npm_config_build_from_source=true makes both skip the download and compile
#    (needs g++/make/python3, and libkrb5-dev for kerberos). It also makes @parcel/watcher
#    compile itself (harmless).
#  * node-gyp fetches Node headers from nodejs.org unless nodedir is set: we point it at
#    the headers installed with node (<prefix>/include/node).
#  * node-pty's postinstall runs `npx node-gyp configure` (a dev nicety); npx fetches
#    node-gyp from the npm registry and needs npm_config_yes=true to do so unattended.
#  * code-server's own postinstall.sh refuses to run as root unless
#    npm_config_unsafe_perm=true (npm 11 warns the key is unknown but passes it on).
#  * npm 11's "install-scripts ... not yet covered by allowScripts" lines are warnings
#    only: the scripts still run (verified in install.log: "> ... postinstall").
#
# Copied from the team's shared recipe ../shared/e2e/ (proven by its selftest.sh) so that users
# and CI of Big Shrink do not depend on ../shared; changes from the original are marked "Big Shrink:".
set -euo pipefail

VERSION=4.100.3
RG_NPM_VERSION=1.15.11                       # pinned by lib/vscode/npm-shrinkwrap.json
RG_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
CACHE_DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/vscode-e2e/code-server-$VERSION}
CS_DIR=$CACHE_DIR/node_modules/code-server
MARKER=$CACHE_DIR/.e2e-install-complete
OUR_NAME=vscode-e2e-code-server
say() { echo "[install-code-server] $*" >&2; }

# ---- one install at a time: a second caller waits for the first, then finds it done ----------
# Big Shrink: two test runs (or a test run and npm start) started together used to remove each other's
# half-finished install.
mkdir -p "$(dirname "$CACHE_DIR")"
exec 9> "$CACHE_DIR.lock"
flock 9

# ---- already there? ---------------------------------------------------------------
if [ -f "$MARKER" ] && [ -f "$CS_DIR/out/node/entry.js" ]; then
  say "code-server $VERSION already installed in $CACHE_DIR"
  echo "$CS_DIR"
  exit 0
fi

# ---- preconditions ----------------------------------------------------------------
[ "$(uname -m)" = x86_64 ] || { say "only x86_64 is supported (ripgrep asset name)"; exit 1; }
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" = 20 ] || { say "code-server $VERSION needs Node 20, found $(node -v)"; exit 1; }
NODE_PREFIX=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
[ -f "$NODE_PREFIX/include/node/node_api.h" ] || {
  say "Node headers not found in $NODE_PREFIX/include/node; node-gyp would try to download them."
  exit 1
}

# Debian packages: compilers for the native modules, Kerberos headers, ripgrep.
need=()
for p in build-essential python3 libkrb5-dev ripgrep; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  [ "$(id -u)" = 0 ] || { say "need root to apt-get install ${need[*]}"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${need[@]}" >&2; }
fi
RG_BIN=$(command -v rg)

# ---- a clean folder of our own --------------------------------------------------------
if [ -e "$CACHE_DIR" ]; then
  if [ -f "$CACHE_DIR/package.json" ] && grep -q "\"$OUR_NAME\"" "$CACHE_DIR/package.json"; then
    say "removing incomplete previous install in $CACHE_DIR"
    rm -rf "$CACHE_DIR"
  elif [ -n "$(ls -A "$CACHE_DIR")" ]; then
    say "$CACHE_DIR exists, is not empty and was not made by this script; refusing to touch it"
    exit 1
  fi
fi
mkdir -p "$CACHE_DIR"
cd "$CACHE_DIR"
printf '{ "name": "%s", "private": true, "description": "code-server for VS Code extension e2e tests" }\n' "$OUR_NAME" > package.json

# ---- ripgrep download cache seeded from Debian's rg ------------------------------------
TMP=$CACHE_DIR/.tmp
RG_CACHE=$TMP/vscode-ripgrep-cache-$RG_NPM_VERSION
mkdir -p "$RG_CACHE/stage"
cp "$RG_BIN" "$RG_CACHE/stage/rg"
tar czf "$RG_CACHE/$RG_ASSET" -C "$RG_CACHE/stage" rg
rm -rf "$RG_CACHE/stage"

# ---- npm install (runs code-server's postinstall, which npm-installs lib/vscode and
#      lib/vscode/extensions; those nested installs inherit this environment) ----------
say "npm install code-server@$VERSION (log: $CACHE_DIR/install.log) ..."
start=$(date +%s)
if ! env TMPDIR="$TMP" \
    npm_config_build_from_source=true \
    npm_config_nodedir="$NODE_PREFIX" \
    npm_config_unsafe_perm=true \
    npm_config_yes=true \
    npm_config_foreground_scripts=true \
    npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false \
    npm install "code-server@$VERSION" > install.log 2>&1; then
  tail -40 install.log >&2
  say "npm install failed; full log: $CACHE_DIR/install.log"
  exit 1
fi

# ---- checks ------------------------------------------------------------------------------
grep -q "Using cached download: .*$RG_ASSET" install.log || { say "ripgrep did not use the seeded cache?"; exit 1; }
[ -x "$CS_DIR/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ] || { say "rg missing"; exit 1; }
got=$(XDG_CONFIG_HOME=$TMP XDG_DATA_HOME=$TMP XDG_CACHE_HOME=$TMP node "$CS_DIR/out/node/entry.js" --version 2>&1 || true)
echo "$got" | grep -q "^$VERSION .* with Code " || { say "unexpected --version output: $got"; exit 1; }

rm -rf "$TMP"
date -u +%FT%TZ > "$MARKER"
say "installed code-server $VERSION in $(( $(date +%s) - start ))s, $(du -sh "$CACHE_DIR" | cut -f1) on disk"
echo "$CS_DIR"
