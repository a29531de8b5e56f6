#!/usr/bin/env bash
# Installs code-server (a real VS Code, served to a browser) into .vscode-test/ for the editor tests.
# Not a package.json dependency: it is 400+ MB with native modules. Idempotent: returns at once when present.
#
# Fixes needed on machines without GitHub access (only the npm registry and Debian apt are reachable):
# - code-server's postinstall runs `npm install` in lib/vscode, whose @vscode/ripgrep downloads `rg` from
#   GitHub; its download cache ($TMPDIR/vscode-ripgrep-cache-<version>/<asset>.tar.gz) is seeded here
#   with the `rg` binary of the npm package @vscode/ripgrep-linux-x64.
# - native modules build against the system Node headers (npm_config_nodedir=/usr) and kerberos needs
#   libkrb5-dev (scripts/setup-system.sh).
# - the repo's .npmrc says ignore-scripts=true; code-server needs its scripts, so it is installed in its own
#   prefix with its own npm config.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION=${CODE_SERVER_VERSION:-4.100.3}
DEST=$ROOT/.vscode-test/code-server-$VERSION
BIN=$DEST/node_modules/code-server/out/node/entry.js
MARK=$DEST/.installed

if [ -f "$MARK" ] && [ -f "$BIN" ]; then
  echo "code-server $VERSION: present at $DEST"
  exit 0
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" != 20 ]; then
  echo "code-server $VERSION needs Node 20 (found $(node -v))" >&2
  exit 1
fi

echo "code-server $VERSION: installing into $DEST (several minutes: native modules compile)"
rm -rf "$DEST"
mkdir -p "$DEST"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seed @vscode/ripgrep's download cache for the version code-server's VS Code pins.
(
  cd "$work"
  npm pack --silent "code-server@$VERSION" >/dev/null
  tar xzf "code-server-$VERSION.tgz" package/lib/vscode/npm-shrinkwrap.json
  rg_version=$(node -p 'require("./package/lib/vscode/npm-shrinkwrap.json").packages["node_modules/@vscode/ripgrep"].version')
  npm pack --silent "@vscode/ripgrep@$rg_version" >/dev/null
  tar xzf vscode-ripgrep-"$rg_version".tgz package/lib/postinstall.js
  rg_asset_version=$(sed -n "s/^const VERSION = '\(.*\)';/\1/p" package/lib/postinstall.js)
  npm pack --silent @vscode/ripgrep-linux-x64 >/dev/null
  mkdir rgx && tar xzf vscode-ripgrep-linux-x64-*.tgz -C rgx
  cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$rg_version"
  mkdir -p "$cache"
  tar czf "$cache/ripgrep-$rg_asset_version-x86_64-unknown-linux-musl.tar.gz" -C rgx/package/bin rg
  echo "seeded ripgrep cache $cache ($rg_asset_version)"
)

cat > "$DEST/package.json" <<EOF
{ "name": "e2code-code-server", "private": true, "description": "code-server for e2code's editor tests" }
EOF
# Its own npm config, so the repo's ignore-scripts=true does not apply.
printf 'ignore-scripts=false\nfund=false\naudit=false\n' > "$DEST/.npmrc"
(
  cd "$DEST"
  export npm_config_unsafe_perm=true npm_config_yes=true
  # Build native modules against the installed Node's headers (node-gyp would otherwise download them).
  if [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
  export npm_config_userconfig="$DEST/.npmrc"
  npm install --no-save --ignore-scripts=false --omit=dev "code-server@$VERSION"
)
test -f "$BIN"
test -x "$DEST/node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"
date -u +%FT%TZ > "$MARK"
echo "code-server $VERSION: installed"
