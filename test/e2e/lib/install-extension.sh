#!/usr/bin/env bash
# install-extension.sh CODE_SERVER_DIR RUN_DIR VSIX... — install VSIX files into RUN_DIR/ext
# with code-server's CLI (same folders start-code-server.sh uses). Offline: a local VSIX needs
# no marketplace. Run it before start-code-server.sh, or restart code-server afterwards.
#
# Copied from the team's shared recipe ../shared/e2e/ (proven by its selftest.sh) so that users
# and CI of Big Shrink do not depend on ../shared; changes from the original are marked "Big Shrink:".
set -euo pipefail
CS=$(readlink -f "${1:?usage: install-extension.sh CODE_SERVER_DIR RUN_DIR VSIX...}"); RUN=${2:?}; shift 2
mkdir -p "$RUN"/{ud,ext,xdg-config,xdg-data,xdg-cache}; RUN=$(readlink -f "$RUN")
[ -f "$RUN/config.yaml" ] || : > "$RUN/config.yaml"
args=(); for v in "$@"; do args+=(--install-extension "$(readlink -f "$v")"); done
XDG_CONFIG_HOME="$RUN/xdg-config" XDG_DATA_HOME="$RUN/xdg-data" XDG_CACHE_HOME="$RUN/xdg-cache" EXTENSIONS_GALLERY='{}' \
  node "$CS/out/node/entry.js" --config "$RUN/config.yaml" --user-data-dir "$RUN/ud" --extensions-dir "$RUN/ext" \
  --force "${args[@]}"
